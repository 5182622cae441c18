//! SQLite's owner: an exclusive advisory lock (`flock`, std's `File::try_lock`) on
//! `<database>.owner`, held for the owner's lifetime. The file holds the owner as JSON so a
//! refused daemon can name it. A separate file, not the database: SQLite's own POSIX locks on
//! the database are released when ANY descriptor of it closes in the process, and backups and
//! recovery move the database files while the owner keeps running. The OS drops the lock with
//! the process, so a kill -9 or a power loss never blocks a restart.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::{OwnerInfo, OwnershipError};

/// A held store lock; dropping it releases the store.
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
    path: PathBuf,
}

impl StoreLock {
    /// The lock file of the database at `db`.
    pub fn path_for(db: &Path) -> PathBuf {
        let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        name.push(".owner");
        db.with_file_name(name)
    }

    /// Takes the store at `db` for `me`, or says who holds it. Creates the lock file (and its
    /// directory) when missing.
    pub fn acquire(db: &Path, me: &OwnerInfo) -> Result<StoreLock, OwnershipError> {
        let path = Self::path_for(db);
        // A full volume is said as such and is an outage (exit 69), like the store's own writes.
        let io = |e: std::io::Error| {
            if crate::error::is_disk_full(&e) {
                OwnershipError::Store(crate::StoreError::DiskFull {
                    url: db.display().to_string(),
                    what: format!("writing its lock file {}", path.display()),
                    detail: e.to_string(),
                })
            } else {
                OwnershipError::LockFile { path: path.display().to_string(), detail: e.to_string() }
            }
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let owner = serde_json::from_str::<OwnerInfo>(text.trim()).unwrap_or_else(|_| OwnerInfo {
                    instance: "unknown".into(),
                    host: "unknown".into(),
                    pid: 0,
                    since_ms: 0,
                    http: "unknown".into(),
                    clustered: false,
                });
                return Err(OwnershipError::Owned {
                    store: db.display().to_string(),
                    check: format!(
                        "its lock file {} is held (check with `fuser -v {}` or `ps -p {}`)",
                        path.display(),
                        path.display(),
                        owner.pid
                    ),
                    owner: Box::new(owner),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        let json = serde_json::to_string(me).map_err(|e| io(std::io::Error::other(e)))?;
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.write_all(json.as_bytes()).map_err(io)?;
        file.write_all(b"\n").map_err(io)?;
        file.sync_data().map_err(io)?;
        Ok(StoreLock { _file: file, path })
    }

    /// Path of the lock file (the database path + `.owner`).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me(pid: u32) -> OwnerInfo {
        OwnerInfo {
            instance: "a".into(),
            host: "h".into(),
            pid,
            since_ms: 1_700_000_000_000,
            http: "127.0.0.1:1".into(),
            clustered: false,
        }
    }

    #[test]
    fn a_second_lock_is_refused_naming_the_owner_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("sub/chatseal.db");
        let held = StoreLock::acquire(&db, &me(4242)).unwrap();
        assert!(held.path().ends_with("sub/chatseal.db.owner"));
        match StoreLock::acquire(&db, &me(1)) {
            Err(OwnershipError::Owned { owner, check, .. }) => {
                assert_eq!(owner.pid, 4242);
                assert!(check.contains("chatseal.db.owner"), "{check}");
            }
            other => panic!("expected Owned, got {other:?}"),
        }
        drop(held);
        let again = StoreLock::acquire(&db, &me(7)).unwrap();
        let text = std::fs::read_to_string(again.path()).unwrap();
        assert!(text.contains("\"pid\":7"), "{text}");
    }
}
