//! The merkle root of a backup's data folder (blake3, names hashed; the construction of the
//! `merkle_hash` crate, which manifests name): one value that changes when any file in the
//! folder is changed, added, removed or renamed. It complements the per-file sha256 of the
//! manifest, which cannot see a file the manifest does not list. Blocking: call from
//! `fsio::blocking`.
//!
//! The construction: a file is blake3(name || blake3(contents)); a folder is blake3(name ||
//! merkle(children sorted by name)), where merkle hashes pairs as blake3(left || right), pairs
//! an odd one with itself, passes one child up as it is, and is blake3("") for an empty folder.
//! The crate reads each file whole into memory to hash it (so a backup held the SQLite copy, the
//! store's size, once more); here every file is hashed streaming, in [`READ_CHUNK`] pieces, so
//! the memory a root takes is one buffer plus 32 bytes per entry of a folder. A test pins the
//! result to the crate's on a real folder (the crate is a dev-dependency only).

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::Read;
use std::path::Path;

use super::error::BackupError;

/// Bytes read at a time while a file is hashed.
pub const READ_CHUNK: usize = 256 * 1024;

type Hash = [u8; 32];

fn hash_pair(first: &[u8], second: &[u8]) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(first);
    h.update(second);
    *h.finalize().as_bytes()
}

/// The pairwise root of `level` (the children's hashes in order); None when empty.
fn merkle(mut level: Vec<Hash>) -> Option<Hash> {
    while level.len() > 1 {
        level = level.chunks(2).map(|pair| hash_pair(&pair[0], pair.get(1).unwrap_or(&pair[0]))).collect();
    }
    level.pop()
}

/// blake3 of the file at `path`, read in pieces.
fn file_contents_hash(path: &Path, buf: &mut [u8]) -> Result<Hash, BackupError> {
    let mut f = std::fs::File::open(path).map_err(BackupError::io("hashing the folder", path))?;
    let mut h = blake3::Hasher::new();
    loop {
        let n = match f.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(BackupError::io("hashing the folder", path)(e)),
        };
        h.update(&buf[..n]);
    }
    Ok(*h.finalize().as_bytes())
}

/// The hash of the file or folder at `path` (its name included).
fn node_hash(path: &Path, buf: &mut [u8]) -> Result<Hash, BackupError> {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return Err(BackupError::Refused(format!(
            "{} has no UTF-8 file name; the backup folder hash needs one",
            path.display()
        )));
    };
    // Follows symbolic links, as the crate does (`Path::is_dir`, `fs::read`).
    let contents = if path.is_dir() {
        let mut names: Vec<OsString> = Vec::new();
        for e in std::fs::read_dir(path).map_err(BackupError::io("hashing the folder", path))? {
            names.push(e.map_err(BackupError::io("hashing the folder", path))?.file_name());
        }
        // The crate orders children by their path; under one folder that is by name (bytes).
        names.sort();
        let mut level = Vec::with_capacity(names.len());
        for n in names {
            level.push(node_hash(&path.join(n), buf)?);
        }
        merkle(level).unwrap_or_else(|| *blake3::hash(b"").as_bytes())
    } else {
        file_contents_hash(path, buf)?
    };
    Ok(hash_pair(name.as_bytes(), &contents))
}

/// The lowercase hex root of `dir` (names hashed, blake3), read streaming.
pub fn folder_root(dir: &Path) -> Result<String, BackupError> {
    let mut buf = vec![0u8; READ_CHUNK];
    Ok(hex::encode(node_hash(dir, &mut buf)?))
}

/// The names directly in `dir`, sorted (for saying which file a manifest does not list).
pub fn names_in(dir: &Path) -> Result<BTreeSet<String>, BackupError> {
    let mut out = BTreeSet::new();
    for e in std::fs::read_dir(dir).map_err(BackupError::io("listing", dir))? {
        let e = e.map_err(BackupError::io("listing", dir))?;
        out.insert(e.file_name().to_string_lossy().into_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b3(parts: &[&[u8]]) -> [u8; 32] {
        let mut h = blake3::Hasher::new();
        for p in parts {
            h.update(p);
        }
        *h.finalize().as_bytes()
    }

    #[test]
    fn the_root_is_the_documented_construction() {
        // Pins the format a manifest records, computed here without the crate: a file is
        // blake3(name || blake3(contents)); a folder is blake3(name || merkle(children sorted by
        // path)), pairs hashed as blake3(left || right), an odd one paired with itself, one
        // child passed up as it is. A crate upgrade that changes this fails here, before any
        // backup written by an older build stops verifying.
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::fs::write(data.join("a.jsonl"), b"one\n").unwrap();
        std::fs::write(data.join("b.jsonl"), b"two\n").unwrap();
        std::fs::write(data.join("c.db"), b"three").unwrap();
        let file = |name: &str, body: &[u8]| b3(&[name.as_bytes(), &b3(&[body])]);
        let (a, b, c) = (file("a.jsonl", b"one\n"), file("b.jsonl", b"two\n"), file("c.db", b"three"));
        let level = (b3(&[&a, &b]), b3(&[&c, &c]));
        let merkle = b3(&[&level.0, &level.1]);
        let want = hex::encode(b3(&[b"data", &merkle]));
        assert_eq!(folder_root(&data).unwrap(), want);
    }

    /// The crate's root of `dir`, as the manifests of earlier builds recorded it.
    fn crate_root(dir: &Path) -> String {
        let tree = merkle_hash::MerkleTree::builder(dir.to_str().unwrap())
            .algorithm(merkle_hash::Algorithm::Blake3)
            .hash_names(true)
            .build()
            .unwrap();
        hex::encode(&tree.root.item.hash)
    }

    #[test]
    fn the_streamed_root_is_the_crates_on_a_real_folder() {
        // Files larger than the read piece and exactly on its edges, empty files, an empty
        // folder, a nested folder, names whose byte order differs from any locale order, and
        // odd and even numbers of children at each level.
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(data.join("nested/deeper")).unwrap();
        std::fs::create_dir(data.join("empty")).unwrap();
        let big: Vec<u8> = (0..READ_CHUNK * 3 + 17).map(|i| (i * 31 % 251) as u8).collect();
        std::fs::write(data.join("chatseal.db"), &big).unwrap();
        std::fs::write(data.join("edge"), &big[..READ_CHUNK]).unwrap();
        std::fs::write(data.join("Zed"), b"capital").unwrap();
        std::fs::write(data.join("_under"), b"").unwrap();
        std::fs::write(data.join("nested/a"), b"a").unwrap();
        std::fs::write(data.join("nested/deeper/b"), &big[..READ_CHUNK + 1]).unwrap();
        std::fs::write(data.join("nested/deeper/c"), b"c").unwrap();
        std::fs::write(data.join("nested/deeper/d"), b"d").unwrap();
        assert_eq!(folder_root(&data).unwrap(), crate_root(&data));
        let one = dir.path().join("one");
        std::fs::create_dir(&one).unwrap();
        assert_eq!(folder_root(&one).unwrap(), crate_root(&one), "an empty folder");
        std::fs::write(one.join("only"), b"x").unwrap();
        assert_eq!(folder_root(&one).unwrap(), crate_root(&one), "one child");
    }

    #[test]
    fn the_root_sees_contents_names_and_extra_files() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::fs::write(data.join("a.jsonl"), b"one\n").unwrap();
        std::fs::write(data.join("b.jsonl"), b"two\n").unwrap();
        let root = folder_root(&data).unwrap();
        assert_eq!(root.len(), 64);
        assert_eq!(folder_root(&data).unwrap(), root, "the same folder hashes the same");

        std::fs::write(data.join("b.jsonl"), b"twO\n").unwrap();
        let changed = folder_root(&data).unwrap();
        assert_ne!(changed, root, "a changed byte");
        std::fs::write(data.join("b.jsonl"), b"two\n").unwrap();
        assert_eq!(folder_root(&data).unwrap(), root);

        std::fs::write(data.join("extra"), b"").unwrap();
        assert_ne!(folder_root(&data).unwrap(), root, "an added empty file");
        std::fs::remove_file(data.join("extra")).unwrap();
        std::fs::rename(data.join("b.jsonl"), data.join("c.jsonl")).unwrap();
        assert_ne!(folder_root(&data).unwrap(), root, "a renamed file");
        assert_eq!(names_in(&data).unwrap().into_iter().collect::<Vec<_>>(), ["a.jsonl", "c.jsonl"]);
    }
}
