//! The file-system steps backups and restores are made of, each durable before the next one
//! relies on it: sha256 of a file (streamed, constant memory), fsync of a file and of a
//! directory (so a rename survives a power cut), an atomic write (tmp, fsync, rename, fsync
//! the directory), a synced copy, and a move that never deletes. Blocking: call from
//! `spawn_blocking` (see [`blocking`]).

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::error::BackupError;

/// Runs blocking file work off the async threads.
pub async fn blocking<T, F>(f: F) -> Result<T, BackupError>
where
    F: FnOnce() -> Result<T, BackupError> + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err(BackupError::Refused(format!("a backup file task did not finish: {e}"))),
    }
}

/// Size and lowercase hex sha256 of the file at `path`.
pub fn sha256_file(path: &Path) -> io::Result<(u64, String)> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        h.update(&buf[..n]);
    }
    Ok((size, hex::encode(h.finalize())))
}

/// fsync of a file's contents and metadata.
pub fn sync_file(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

/// fsync of a directory, so the entries created or renamed in it are durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The directory holding `path` ("." for a bare name).
pub fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Writes `bytes` to `path` atomically: `path.tmp`, fsync, rename, fsync of the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(super::manifest::TMP_SUFFIX);
    let tmp = Path::new(&tmp);
    {
        let mut f = File::create(tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(tmp, path)?;
    sync_dir(parent_of(path))
}

/// Copies `from` to `to` (which must not exist) and fsyncs the copy.
pub fn copy_synced(from: &Path, to: &Path) -> io::Result<u64> {
    let mut src = File::open(from)?;
    let mut dst = fs::OpenOptions::new().write(true).create_new(true).open(to)?;
    let n = io::copy(&mut src, &mut dst)?;
    dst.sync_all()?;
    Ok(n)
}

/// Moves `from` to `to` by rename (same file system; never a copy and delete), refusing to
/// replace an existing `to`, then fsyncs both directories.
pub fn move_aside(from: &Path, to: &Path) -> io::Result<()> {
    if to.exists() {
        return Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("{} already exists", to.display())));
    }
    fs::rename(from, to)?;
    sync_dir(parent_of(to))?;
    sync_dir(parent_of(from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_content() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        fs::write(&p, b"abc").unwrap();
        let (size, sha) = sha256_file(&p).unwrap();
        assert_eq!(size, 3);
        assert_eq!(sha, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn atomic_write_copy_and_move() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert!(!dir.path().join("m.json.tmp").exists());
        let c = dir.path().join("copy");
        assert_eq!(copy_synced(&p, &c).unwrap(), 3);
        assert!(copy_synced(&p, &c).is_err(), "never overwrites");
        let moved = dir.path().join("moved");
        move_aside(&c, &moved).unwrap();
        assert!(!c.exists() && moved.exists());
        assert!(move_aside(&p, &moved).is_err(), "never replaces");
        assert!(p.exists());
    }
}
