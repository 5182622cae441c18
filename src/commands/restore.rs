//! `chatseal restore --from BACKUP [--to URL] [--force]`: puts a backup back. The backup is
//! verified first (sha256 of every file, quick_check, every seal's digest, row counts) and a
//! bad one is refused. An existing store is refused without `--force`; with it, its files are
//! renamed to `<name>.replaced-<time>` (never deleted). A SQLite backup goes to a SQLite URL by
//! copying the verified file; a pg_dump backup goes to an EMPTY PostgreSQL database through
//! pg_restore; a JSON-lines backup (PostgreSQL without pg_dump) loads into an EMPTY store of
//! either engine (`restore_jsonl`). Otherwise, across engines: restore to the engine of the
//! backup, then `chatseal migrate`.
//! The restored store is opened, checked again and the restore written to its audit log.

use std::path::Path;

use chatseal_actors::backup::catalog::resolve;
use chatseal_actors::backup::fsio::blocking;
use chatseal_actors::backup::manifest::{backup_id, Method, PG_DUMP_FILE, SQLITE_FILE};
use chatseal_actors::backup::pg::restore_dump;
use chatseal_actors::backup::restore::{place_sqlite, rename_store_aside, store_files};
use chatseal_actors::backup::{verify, Manifest};
use chatseal_schema::{redact_url, sqlite_path, Store};

use super::setup::load_settings;
use crate::exit::Exit;

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A refused restore (bad backup, existing store) exits [`Exit::Failed`]; a store a live daemon
/// owns, [`Exit::Owned`].
pub async fn main(config: Option<&Path>, from: &str, to: Option<&str>, force: bool) -> Exit {
    let s = match load_settings(config) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let folder = match resolve(&s.backup.dir, from) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            return Exit::Failed;
        }
    };
    let manifest = match verify(&folder).await {
        Ok(m) => m,
        Err(e) => {
            eprintln!("refusing to restore: {e}");
            return Exit::Failed;
        }
    };
    println!(
        "backup {} verified: {} files, {} sealed epochs, taken at {} from {}",
        manifest.id,
        manifest.files.len(),
        manifest.sealed_epochs,
        manifest.created_at,
        manifest.source
    );
    let target = to.unwrap_or(&s.store.url).to_owned();
    // A live daemon owning the target is refused (75), whatever http.listen says; on SQLite
    // the lock is held until the restore is checked, so no daemon starts on a half-placed file.
    let _owner = match super::owner_guard::guard(&target, "restore").await {
        Ok(g) => g,
        Err(code) => return code,
    };
    let placed = match (manifest.method, sqlite_path(&target)) {
        (Method::VacuumInto, Some(db)) => {
            restore_sqlite(&manifest.data_file(&folder, SQLITE_FILE), &db, force, &manifest).await
        }
        (Method::PgDump, None) if target.starts_with("postgres") => {
            let (url, file) = (target.clone(), manifest.data_file(&folder, PG_DUMP_FILE));
            blocking(move || restore_dump(&url, &file)).await.map_err(|e| {
                eprintln!(
                    "refusing to restore into {}: {e}; restore into an empty database (CREATE DATABASE ...)",
                    redact_url(&target)
                );
                Exit::Failed
            })
        }
        (Method::JsonLines, db) => {
            if let Some(db) = &db {
                if let Err(code) = move_existing_aside(db, force).await {
                    return code;
                }
            }
            match super::restore_jsonl::load(&manifest.data_dir(&folder), &target).await {
                Ok(rows) => {
                    println!("restored backup {} ({rows} rows from its JSON-lines export)", manifest.id);
                    Ok(())
                }
                Err(e) => {
                    eprintln!("refusing to restore into {}: {e}", redact_url(&target));
                    Err(Exit::Failed)
                }
            }
        }
        (method, _) => {
            eprintln!(
                "a {} backup cannot be restored into {}: restore it into a store of its own engine ({}), then copy it with `chatseal migrate --from <that store> --to {}`",
                method.as_str(),
                redact_url(&target),
                if method == Method::VacuumInto { "--to sqlite://PATH" } else { "an empty PostgreSQL database" },
                redact_url(&target)
            );
            return Exit::Usage;
        }
    };
    if let Err(code) = placed {
        return code;
    }
    check_restored(&target, &manifest).await
}

/// Moves the files of an existing SQLite store at `db` aside (to `<name>.replaced-<time>`,
/// never deleted) when `force`; refuses without it. Nothing there: nothing to do.
async fn move_existing_aside(db: &Path, force: bool) -> Result<(), Exit> {
    if store_files(db).is_empty() {
        return Ok(());
    }
    if !force {
        eprintln!(
            "refusing to restore: {} holds a store; pass --force to move its files aside (to <name>.replaced-<time>, never deleted) and restore over it",
            db.display()
        );
        return Err(Exit::Failed);
    }
    let (db, suffix) = (db.to_path_buf(), format!("replaced-{}", backup_id(now_ms(), 0)));
    match blocking(move || rename_store_aside(&db, &suffix)).await {
        Ok(moved) => {
            for p in moved {
                println!("moved aside: {}", p.display());
            }
            Ok(())
        }
        Err(e) => {
            eprintln!("restore failed: {e}");
            Err(Exit::Internal)
        }
    }
}

/// Moves an existing store aside (with `force`) and copies the verified file into place.
async fn restore_sqlite(from: &Path, db: &Path, force: bool, m: &Manifest) -> Result<(), Exit> {
    move_existing_aside(db, force).await?;
    let (from, db) = (from.to_path_buf(), db.to_path_buf());
    match blocking(move || place_sqlite(&from, &db)).await {
        Ok(()) => {
            println!("restored backup {}", m.id);
            Ok(())
        }
        Err(e) => {
            eprintln!("restore failed: {e}");
            Err(Exit::Internal)
        }
    }
}

/// Opens the restored store (migrating it if the backup is older), checks every seal and the
/// row counts against the manifest, and audits the restore.
async fn check_restored(url: &str, m: &Manifest) -> Exit {
    let store = match Store::open(url).await {
        Ok(st) => st,
        Err(e) => {
            eprintln!("the restored store does not open: {e}");
            return Exit::Internal;
        }
    };
    let mut code = Exit::Ok;
    match store.verify_digests().await {
        Ok(bad) if bad.is_empty() => {}
        Ok(bad) => {
            eprintln!("the restored store has {} seals that do not match their digests", bad.len());
            code = Exit::Internal;
        }
        Err(e) => {
            eprintln!("checking the restored store's seals: {e}");
            code = Exit::Internal;
        }
    }
    match store.row_counts().await {
        Ok(c) if c == m.row_counts => {
            println!("row counts match the manifest: {} tables, {} sealed epochs", c.len(), m.sealed_epochs)
        }
        Ok(c) => {
            eprintln!("row counts {c:?} differ from the manifest's {:?}", m.row_counts);
            code = Exit::Internal;
        }
        Err(e) => {
            eprintln!("counting the restored rows: {e}");
            code = Exit::Internal;
        }
    }
    let detail = format!("restored from backup {} (taken at {} from {})", m.id, m.created_at, m.source);
    if let Err(e) = store.audit(now_ms() / 1000, "restore", &m.id, &detail).await {
        eprintln!("warning: the restore is done but could not be written to the audit log: {e}");
    }
    let _ = store.checkpoint().await;
    let _ = store.close().await;
    code
}
