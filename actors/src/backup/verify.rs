//! Checking a backup before trusting it (`backup verify`, `restore`, recovery at start-up):
//! the manifest is sound, every file it lists has its size and sha256, the data folder's
//! `merkle_hash` root is the manifest's (so no file was added, removed or renamed; format 2),
//! and the data itself
//! holds: a SQLite copy passes quick_check, every sealed epoch's digest and the manifest's row
//! counts; a pg_dump archive is readable by `pg_restore --list` with every table's data; a
//! JSON-lines export has the manifest's row count per table.

use std::io::BufRead;
use std::path::Path;

use chatseal_schema::entity::TABLES;

use super::catalog::read_manifest;
use super::error::BackupError;
use super::folder_hash::{folder_root, names_in};
use super::fsio::{blocking, sha256_file};
use super::manifest::{
    Manifest, Method, DATA_DIR, MANIFEST_FILE, MANIFEST_FORMAT, MANIFEST_FORMAT_V1, PG_DUMP_FILE, SQLITE_FILE,
};
use super::pg::{find_on_path, missing_in_archive};
use super::sqlite::inspect;

/// Verifies the backup in `folder`; its manifest when every check passed, else `Damaged`
/// naming the first check that failed.
pub async fn verify(folder: &Path) -> Result<Manifest, BackupError> {
    let m = read_manifest(folder)?;
    // The folder's own name, never the manifest's word, names the backup in errors: the
    // manifest's id is what is being checked.
    let folder_name = folder.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
    if m.id != folder_name {
        return Err(BackupError::Damaged {
            id: folder_name.clone(),
            detail: format!(
                "the manifest's id {:?} is not its folder's name {folder_name:?}: a manifest belongs to the folder named by its id (a copied or forged manifest, or a path in the id, is refused); restore from the folder the backup was written to",
                m.id
            ),
        });
    }
    let damaged = |detail: String| BackupError::Damaged { id: folder_name.clone(), detail };
    if let Some(p) = m.problems().into_iter().next() {
        return Err(damaged(p));
    }
    if let Some(p) = blocking({
        let (m, folder) = (m.clone(), folder.to_path_buf());
        move || Ok(layout_problem(&m, &folder))
    })
    .await?
    {
        return Err(damaged(p));
    }
    let data = m.data_dir(folder);
    for f in &m.files {
        let path = data.join(&f.name);
        let found = blocking(move || sha256_file(&path).map_err(BackupError::io("reading", &path))).await;
        match found {
            Ok((size, sha)) if size == f.size && sha == f.sha256 => {}
            Ok((size, sha)) => {
                return Err(damaged(format!(
                    "{}: {size} bytes with sha256 {sha}, but the manifest says {} bytes with sha256 {}",
                    f.name, f.size, f.sha256
                )))
            }
            Err(e) => return Err(damaged(format!("{}: {e}", f.name))),
        }
    }
    if let Some(want) = &m.merkle_hash {
        let d = data.clone();
        let found = blocking(move || folder_root(&d)).await.map_err(|e| damaged(e.to_string()))?;
        if found != want.root {
            let d = data.clone();
            let names = blocking(move || names_in(&d)).await.unwrap_or_default();
            let extra: Vec<&String> = names.iter().filter(|n| m.file(n).is_none()).collect();
            let detail = if extra.is_empty() {
                String::new()
            } else {
                format!(" ({} holds files the manifest does not list: {extra:?})", want.folder)
            };
            return Err(damaged(format!(
                "the merkle_hash root of {}/ is {found}, but the manifest says {}{detail}",
                want.folder, want.root
            )));
        }
    }
    match m.method {
        Method::VacuumInto => {
            if m.file(SQLITE_FILE).is_none() {
                return Err(damaged(format!("the manifest lists no {SQLITE_FILE}")));
            }
            let found = match inspect(&data.join(SQLITE_FILE)).await {
                Ok(f) => f,
                Err(e @ (BackupError::Store(_) | BackupError::SealsDamaged { .. })) => {
                    return Err(damaged(e.to_string()))
                }
                Err(e) => return Err(e),
            };
            if found.row_counts != m.row_counts {
                return Err(damaged(format!(
                    "row counts {:?} differ from the manifest's {:?}",
                    found.row_counts, m.row_counts
                )));
            }
        }
        Method::PgDump => {
            if m.file(PG_DUMP_FILE).is_none() {
                return Err(damaged(format!("the manifest lists no {PG_DUMP_FILE}")));
            }
            if let Some(pr) = find_on_path("pg_restore") {
                let path = data.join(PG_DUMP_FILE);
                match blocking(move || missing_in_archive(&pr, &path)).await {
                    Ok(missing) if missing.is_empty() => {}
                    Ok(missing) => {
                        return Err(damaged(format!("the archive holds no data for {}", missing.join(", "))))
                    }
                    Err(e) => return Err(damaged(e.to_string())),
                }
            }
        }
        Method::JsonLines => {
            for table in TABLES {
                // A table a later migration added is absent from older backups' manifests.
                if !m.row_counts.contains_key(table) {
                    continue;
                }
                let path = data.join(format!("{table}.jsonl"));
                if !m.row_counts.contains_key(table) && !path.exists() {
                    continue; // a table added after this backup was taken
                }
                let lines = blocking(move || {
                    let f = std::fs::File::open(&path).map_err(BackupError::io("reading", &path))?;
                    Ok(std::io::BufReader::new(f).lines().count() as i64)
                })
                .await
                .map_err(|e| damaged(e.to_string()))?;
                let want = m.row_counts.get(table).copied().unwrap_or(0);
                if lines != want {
                    return Err(damaged(format!("{table}.jsonl holds {lines} rows, the manifest says {want}")));
                }
            }
        }
    }
    Ok(m)
}

/// Format 1 has no folder root, so its rules must not become a way around format 2's: a
/// manifest that says format 1 in a folder with any mark of format 2 (a `data/` folder, a
/// `merkle_hash`) is a rewritten format-2 manifest and refused; and a true format-1 folder must
/// hold exactly its manifest and the files it lists (what the folder root ensures in format 2).
fn layout_problem(m: &Manifest, folder: &Path) -> Option<String> {
    if m.format != MANIFEST_FORMAT_V1 {
        return None;
    }
    if m.merkle_hash.is_some() || folder.join(DATA_DIR).exists() {
        return Some(format!(
            "the manifest says format {MANIFEST_FORMAT_V1}, but the backup has the format {MANIFEST_FORMAT} layout (a {DATA_DIR}/ folder or a merkle_hash): a format {MANIFEST_FORMAT} manifest rewritten to format {MANIFEST_FORMAT_V1} would skip the data folder's root check, so it is refused"
        ));
    }
    let names = match names_in(folder) {
        Ok(n) => n,
        Err(e) => return Some(e.to_string()),
    };
    let extra: Vec<&String> = names.iter().filter(|n| n.as_str() != MANIFEST_FILE && m.file(n).is_none()).collect();
    (!extra.is_empty()).then(|| {
        format!("the format {MANIFEST_FORMAT_V1} backup folder holds files the manifest does not list: {extra:?}")
    })
}
