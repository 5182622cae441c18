//! Taking one backup, the same path for the actor, `chatseal backup now` and the admin API:
//! a new folder `<backup.dir>/<id>/`, the engine's consistent copy into it (checked), then
//! `manifest.json` written atomically: a folder without a manifest is never a backup. A backup
//! that fails leaves nothing behind (its own folder is removed). Then retention
//! ([`prune`]) deletes what the plan says, never the backup just taken.

use std::path::{Path, PathBuf};
use std::time::Instant;

use chatseal_schema::{Backend, Store};

use super::catalog::list;
use super::error::BackupError;
use super::folder_hash::folder_root;
use super::fsio::{blocking, sync_dir, write_atomic};
use super::manifest::{backup_id, files_digest, FolderHash, Manifest, DATA_DIR, MANIFEST_FILE, MANIFEST_FORMAT};
use super::pg::PgDump;
use super::retention::{stale_incomplete, to_delete, Complete, Incomplete, Retention};

/// Creates a fresh folder for a backup taken at `now_ms`, with its empty `data/`; returns its
/// id and path.
fn new_folder(dir: &Path, now_ms: i64) -> Result<(String, PathBuf), BackupError> {
    std::fs::create_dir_all(dir).map_err(BackupError::io("creating the backup directory", dir))?;
    for attempt in 0..1000 {
        let id = backup_id(now_ms, attempt);
        let folder = dir.join(&id);
        match std::fs::create_dir(&folder) {
            Ok(()) => {
                let data = folder.join(DATA_DIR);
                std::fs::create_dir(&data).map_err(BackupError::io("creating", &data))?;
                sync_dir(&folder).map_err(BackupError::io("syncing", &folder))?;
                return Ok((id, folder));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(BackupError::Io { what: "creating", path: folder, source: e }),
        }
    }
    Err(BackupError::Refused(format!("1000 backups already exist for the second of {now_ms} ms in {}", dir.display())))
}

/// Takes a backup of `store` (reached at `url`, password included: pg_dump needs it) into
/// `dir`, at `now_ms` (Unix ms); returns its manifest. The data goes to `<id>/data/`; its
/// merkle root is computed once every file there is final, then the manifest is written.
pub async fn take_backup(
    store: &Store,
    url: &str,
    dir: &Path,
    now_ms: i64,
    pg_dump: &PgDump,
) -> Result<Manifest, BackupError> {
    let started = Instant::now();
    let (id, folder) = {
        let dir = dir.to_path_buf();
        blocking(move || new_folder(&dir, now_ms)).await?
    };
    let data = folder.join(DATA_DIR);
    let taken = match store.backend() {
        Backend::Sqlite => super::sqlite::snapshot(store, &data).await,
        Backend::Postgres => super::pg::snapshot(store, url, &data, pg_dump).await,
    };
    let taken = match taken {
        Ok(t) => {
            let d = data.clone();
            blocking(move || folder_root(&d)).await.map(|root| (t, root))
        }
        Err(e) => Err(e),
    };
    let result = match taken {
        Ok((t, root)) => {
            let manifest = Manifest {
                format: MANIFEST_FORMAT,
                id,
                created_at: now_ms.div_euclid(1000),
                source: store.redacted_url().to_owned(),
                backend: match store.backend() {
                    Backend::Sqlite => "sqlite".into(),
                    Backend::Postgres => "postgres".into(),
                },
                method: t.method,
                size_bytes: t.files.iter().map(|f| f.size).sum(),
                files_sha256: files_digest(&t.files),
                merkle_hash: Some(FolderHash::of_data(root)),
                files: t.files,
                sealed_epochs: t.row_counts.get("sealed_epochs").copied().unwrap_or(0),
                row_counts: t.row_counts,
                newest_sealed_epoch: t.newest_sealed_epoch,
                schema_version: t.schema_version,
                checks: t.checks,
                duration_ms: started.elapsed().as_millis() as u64,
            };
            write_manifest(&folder, dir, &manifest).await.map(|()| manifest)
        }
        Err(e) => Err(e),
    };
    if result.is_err() {
        let f = folder.clone();
        // Only this backup's own, unfinished folder.
        let _ = blocking(move || std::fs::remove_dir_all(&f).map_err(BackupError::io("removing", &f))).await;
    }
    result
}

async fn write_manifest(folder: &Path, dir: &Path, m: &Manifest) -> Result<(), BackupError> {
    let json = serde_json::to_vec_pretty(m)
        .map_err(|e| BackupError::Manifest { path: folder.join(MANIFEST_FILE), detail: e.to_string() })?;
    let (folder, dir) = (folder.to_path_buf(), dir.to_path_buf());
    blocking(move || {
        let path = folder.join(MANIFEST_FILE);
        write_atomic(&path, &json).map_err(BackupError::io("writing", &path))?;
        sync_dir(&dir).map_err(BackupError::io("syncing", &dir))
    })
    .await
}

/// Applies retention to `dir` at `now_s`: deletes the complete backups [`to_delete`] names for
/// `retention`, and incomplete folders older than a day; returns the ids deleted.
pub async fn prune(dir: &Path, retention: Retention, now_s: i64) -> Result<Vec<String>, BackupError> {
    let dir = dir.to_path_buf();
    blocking(move || {
        let listed = list(&dir)?;
        let complete: Vec<Complete> = listed
            .iter()
            .filter_map(|l| l.manifest.as_ref().map(|m| Complete { id: l.id.clone(), created_at: m.created_at }))
            .collect();
        // Unreadable manifests are left for an operator; only folders without one are incomplete.
        let incomplete: Vec<Incomplete> = listed
            .iter()
            .filter(|l| l.manifest.is_none() && l.problem.is_none())
            .map(|l| Incomplete { id: l.id.clone(), modified_at: l.modified_at })
            .collect();
        let mut gone = to_delete(&complete, retention);
        gone.extend(stale_incomplete(&incomplete, now_s));
        for id in &gone {
            let folder = dir.join(id);
            std::fs::remove_dir_all(&folder).map_err(BackupError::io("deleting the old backup", &folder))?;
            tracing::info!(backup = %id, "old backup deleted by retention");
        }
        if !gone.is_empty() {
            sync_dir(&dir).map_err(BackupError::io("syncing", &dir))?;
        }
        Ok(gone)
    })
    .await
}
