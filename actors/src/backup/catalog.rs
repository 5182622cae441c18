//! The backups in `backup.dir`: one folder per backup, named by its id, complete once its
//! `manifest.json` exists. Listing reads manifests only (cheap); checking a backup's data is
//! `verify`. Blocking file I/O: call from `fsio::blocking`.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use super::error::BackupError;
use super::manifest::{is_backup_id, Manifest, MANIFEST_FILE};

/// One folder of `backup.dir`.
#[derive(Debug, Clone)]
pub struct Listed {
    /// The folder's name, a backup id.
    pub id: String,
    /// The folder's path.
    pub folder: PathBuf,
    /// None while the backup is incomplete (being written, or interrupted).
    pub manifest: Option<Manifest>,
    /// Why the manifest could not be read, when it exists but is unreadable.
    pub problem: Option<String>,
    /// Last modification of the folder, Unix seconds.
    pub modified_at: i64,
}

/// Reads and parses `folder/manifest.json`.
pub fn read_manifest(folder: &Path) -> Result<Manifest, BackupError> {
    let path = folder.join(MANIFEST_FILE);
    let bytes = std::fs::read(&path)
        .map_err(|e| BackupError::Manifest { path: path.clone(), detail: format!("cannot be read: {e}") })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| BackupError::Manifest { path, detail: format!("is not a chatseal manifest: {e}") })
}

/// Every backup folder in `dir`, newest first (a missing `dir` has none).
pub fn list(dir: &Path) -> Result<Vec<Listed>, BackupError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(BackupError::Io { what: "listing", path: dir.to_path_buf(), source: e }),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(BackupError::io("listing", dir))?;
        let Some(id) = entry.file_name().to_str().map(str::to_owned) else { continue };
        let folder = entry.path();
        if !is_backup_id(&id) || !folder.is_dir() {
            continue;
        }
        let modified_at = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs() as i64);
        let (manifest, problem) = if folder.join(MANIFEST_FILE).exists() {
            match read_manifest(&folder) {
                Ok(m) => (Some(m), None),
                Err(e) => (None, Some(e.to_string())),
            }
        } else {
            (None, None)
        };
        out.push(Listed { id, folder, manifest, problem, modified_at });
    }
    out.sort_by(|a, b| b.id.cmp(&a.id));
    Ok(out)
}

/// The folder of a backup named by its id (in `dir`) or by a path to its folder or manifest.
pub fn resolve(dir: &Path, id_or_path: &str) -> Result<PathBuf, BackupError> {
    let as_path = Path::new(id_or_path);
    let folder = if as_path.file_name().is_some_and(|n| n == MANIFEST_FILE) {
        as_path.parent().map(Path::to_path_buf).unwrap_or_default()
    } else if as_path.is_dir() {
        as_path.to_path_buf()
    } else {
        dir.join(id_or_path)
    };
    if folder.join(MANIFEST_FILE).is_file() {
        Ok(folder)
    } else {
        Err(BackupError::NotFound { id: id_or_path.to_owned(), dir: dir.to_path_buf() })
    }
}
