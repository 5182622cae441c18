//! The merkle root of a backup's data folder, by the `merkle_hash` crate (blake3, names
//! hashed): one value that changes when any file in the folder is changed, added, removed or
//! renamed. It complements the per-file sha256 of the manifest, which cannot see a file the
//! manifest does not list. Blocking: call from `fsio::blocking`.
//!
//! Cost: the crate reads each file whole into memory to hash it, so while the root is computed
//! the process holds the largest data file (the SQLite copy, about the store's size) once more;
//! the buffer is freed (and, being one large allocation, returned to the system) right after.

use std::collections::BTreeSet;
use std::path::Path;

use merkle_hash::{Algorithm, MerkleTree};

use super::error::BackupError;

/// The lowercase hex root of `dir` (names hashed, blake3).
pub fn folder_root(dir: &Path) -> Result<String, BackupError> {
    let Some(s) = dir.to_str() else {
        return Err(BackupError::Refused(format!(
            "{} is not a UTF-8 path; the backup folder hash needs one",
            dir.display()
        )));
    };
    let tree =
        MerkleTree::builder(s).algorithm(Algorithm::Blake3).hash_names(true).build().map_err(|e| BackupError::Io {
            what: "hashing the folder",
            path: dir.to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        })?;
    Ok(hex::encode(&tree.root.item.hash))
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
