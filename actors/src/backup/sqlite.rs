//! Backing up a SQLite store: `VACUUM INTO <folder>/chatseal.db.tmp` on a read connection
//! (the writer keeps committing), fsync, the `backup.rename` failpoint, rename to
//! `chatseal.db`, fsync of the folder; then the copy is opened read-only and immutable and
//! checked like any backup ([`inspect`]): quick_check, every sealed epoch's digest, row counts.

use std::collections::BTreeMap;
use std::path::Path;

use chatseal_schema::Store;

use super::error::BackupError;
use super::fsio::{blocking, sha256_file, sync_dir, sync_file};
use super::manifest::{FileEntry, Method, SQLITE_FILE, TMP_SUFFIX};

/// What a backup's data says about itself, before the manifest is written.
#[derive(Debug, Clone, PartialEq)]
pub struct Taken {
    /// How the data was written.
    pub method: Method,
    /// The data files written, with size and sha256.
    pub files: Vec<FileEntry>,
    /// Rows per table in the copy.
    pub row_counts: BTreeMap<String, i64>,
    /// The newest sealed epoch in the copy, Unix seconds.
    pub newest_sealed_epoch: Option<i64>,
    /// The newest migration applied to the copy.
    pub schema_version: Option<String>,
    /// The checks the copy passed (e.g. "quick_check", "digests").
    pub checks: Vec<String>,
}

/// What opening a SQLite backup file found (it passed quick_check and every digest).
#[derive(Debug, Clone, PartialEq)]
pub struct Inspected {
    /// Rows per table.
    pub row_counts: BTreeMap<String, i64>,
    /// The newest sealed epoch, Unix seconds.
    pub newest_sealed_epoch: Option<i64>,
    /// The newest migration applied.
    pub schema_version: Option<String>,
}

/// Opens the SQLite file at `path` read-only and immutable (not a byte is written): quick_check
/// (a damaged file is `Store(Corrupt)`), every sealed epoch's digest (`SealsDamaged`), counts.
pub async fn inspect(path: &Path) -> Result<Inspected, BackupError> {
    let copy = Store::open_copy(path).await?;
    let result = async {
        let bad = copy.verify_digests().await?;
        if !bad.is_empty() {
            let list: Vec<String> = bad.iter().take(5).map(|(e, c)| format!("{e} #{c}")).collect();
            return Err(BackupError::SealsDamaged {
                detail: format!("{} damaged, e.g. {}", bad.len(), list.join(", ")),
            });
        }
        Ok(Inspected {
            row_counts: copy.row_counts().await?,
            newest_sealed_epoch: copy.last_sealed_epoch().await?,
            schema_version: copy.schema_version().await?,
        })
    }
    .await;
    let _ = copy.close().await;
    result
}

/// Size and sha256 of `folder/name` as a manifest entry.
pub async fn file_entry(folder: &Path, name: &str) -> Result<FileEntry, BackupError> {
    let path = folder.join(name);
    let name = name.to_owned();
    blocking(move || {
        let (size, sha256) = sha256_file(&path).map_err(BackupError::io("hashing", &path))?;
        Ok(FileEntry { name, size, sha256 })
    })
    .await
}

/// Writes, syncs, checks and hashes the copy of `store` into `folder` (which exists, empty).
pub async fn snapshot(store: &Store, folder: &Path) -> Result<Taken, BackupError> {
    let tmp = folder.join(format!("{SQLITE_FILE}{TMP_SUFFIX}"));
    let dest = folder.join(SQLITE_FILE);
    store.vacuum_into(&tmp).await?;
    {
        let (tmp, dest, folder) = (tmp.clone(), dest.clone(), folder.to_path_buf());
        blocking(move || {
            sync_file(&tmp).map_err(BackupError::io("syncing", &tmp))?;
            fail::fail_point!("backup.rename", |arg| Err(crate::backup::error::fail_action("backup.rename", arg)));
            std::fs::rename(&tmp, &dest).map_err(BackupError::io("renaming the copy to", &dest))?;
            sync_dir(&folder).map_err(BackupError::io("syncing the directory", &folder))
        })
        .await?;
    }
    let found = inspect(&dest).await?;
    let entry = file_entry(folder, SQLITE_FILE).await?;
    Ok(Taken {
        method: Method::VacuumInto,
        files: vec![entry],
        row_counts: found.row_counts,
        newest_sealed_epoch: found.newest_sealed_epoch,
        schema_version: found.schema_version,
        checks: vec!["quick_check".into(), "digests".into(), "row_counts".into()],
    })
}
