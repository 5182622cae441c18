//! Putting a verified SQLite backup in place of a store, shared by `chatseal restore` and the
//! recovery at start-up. Files already there (`chatseal.db`, `-wal`, `-shm`, `-journal`) are
//! never deleted: they are moved aside first (by rename, on the same file system). The copy is
//! written as `<name>.restore.tmp`, fsynced, renamed into place, and the directory fsynced, so
//! a crash leaves either no store or the whole restored one. Blocking: call from
//! `fsio::blocking`.

use std::path::{Path, PathBuf};

use super::error::BackupError;
use super::fsio::{copy_synced, move_aside, parent_of, sync_dir};

/// The suffixes of the files that make up a SQLite store besides the database itself.
pub const SIDE_FILES: [&str; 3] = ["-wal", "-shm", "-journal"];

/// `path` with `suffix` appended to its file name.
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The files of the store at `db` that exist: the database, then its side files.
pub fn store_files(db: &Path) -> Vec<PathBuf> {
    std::iter::once(db.to_path_buf())
        .chain(SIDE_FILES.iter().map(|s| with_suffix(db, s)))
        .filter(|p| p.exists())
        .collect()
}

/// Moves every file of the store at `db` into `dir` (created), keeping their names; returns
/// where each went. Nothing is deleted; an existing file of the same name in `dir` refuses.
pub fn move_store_into(db: &Path, dir: &Path) -> Result<Vec<PathBuf>, BackupError> {
    std::fs::create_dir_all(dir).map_err(BackupError::io("creating", dir))?;
    let mut moved = Vec::new();
    for f in store_files(db) {
        let Some(name) = f.file_name() else { continue };
        let to = dir.join(name);
        move_aside(&f, &to).map_err(BackupError::io("moving aside", &f))?;
        moved.push(to);
    }
    Ok(moved)
}

/// Renames every file of the store at `db` to `<file>.<suffix>` beside it; returns the new paths.
pub fn rename_store_aside(db: &Path, suffix: &str) -> Result<Vec<PathBuf>, BackupError> {
    let mut moved = Vec::new();
    for f in store_files(db) {
        let to = with_suffix(&f, &format!(".{suffix}"));
        move_aside(&f, &to).map_err(BackupError::io("moving aside", &f))?;
        moved.push(to);
    }
    Ok(moved)
}

/// Copies the SQLite file `from` beside `db` as `<db>.restore.tmp`, fsynced; returns its path.
/// [`commit_staged`] then renames it into place.
pub fn stage_sqlite(from: &Path, db: &Path) -> Result<PathBuf, BackupError> {
    let dir = parent_of(db);
    std::fs::create_dir_all(dir).map_err(BackupError::io("creating", dir))?;
    let tmp = with_suffix(db, ".restore.tmp");
    if tmp.exists() {
        // Left by an interrupted restore: a partial copy of a backup, not anyone's data.
        std::fs::remove_file(&tmp).map_err(BackupError::io("removing the partial copy", &tmp))?;
    }
    copy_synced(from, &tmp).map_err(BackupError::io("copying the backup to", &tmp))?;
    Ok(tmp)
}

/// Renames a staged copy to `db`, where no store file may exist any more, and fsyncs the directory.
pub fn commit_staged(tmp: &Path, db: &Path) -> Result<(), BackupError> {
    if let Some(f) = store_files(db).first() {
        return Err(BackupError::Refused(format!(
            "{} exists: move the store's files aside before restoring over it",
            f.display()
        )));
    }
    std::fs::rename(tmp, db).map_err(BackupError::io("renaming the restored copy to", db))?;
    let dir = parent_of(db);
    sync_dir(dir).map_err(BackupError::io("syncing the directory", dir))
}

/// Copies the SQLite file `from` to `db`, where no store file may exist any more.
pub fn place_sqlite(from: &Path, db: &Path) -> Result<(), BackupError> {
    if let Some(f) = store_files(db).first() {
        return Err(BackupError::Refused(format!(
            "{} exists: move the store's files aside before restoring over it",
            f.display()
        )));
    }
    let tmp = stage_sqlite(from, db)?;
    commit_staged(&tmp, db)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_aside_then_places() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("chatseal.db");
        std::fs::write(&db, b"old").unwrap();
        std::fs::write(with_suffix(&db, "-wal"), b"wal").unwrap();
        let backup = dir.path().join("backup.db");
        std::fs::write(&backup, b"new").unwrap();
        assert!(matches!(place_sqlite(&backup, &db), Err(BackupError::Refused(_))));
        let moved = rename_store_aside(&db, "replaced-1").unwrap();
        assert_eq!(moved.len(), 2);
        assert_eq!(std::fs::read(dir.path().join("chatseal.db.replaced-1")).unwrap(), b"old");
        assert_eq!(std::fs::read(dir.path().join("chatseal.db-wal.replaced-1")).unwrap(), b"wal");
        place_sqlite(&backup, &db).unwrap();
        assert_eq!(std::fs::read(&db).unwrap(), b"new");
        let q = dir.path().join("quarantine/1");
        let moved = move_store_into(&db, &q).unwrap();
        assert_eq!(moved, vec![q.join("chatseal.db")]);
        assert!(store_files(&db).is_empty());
    }
}
