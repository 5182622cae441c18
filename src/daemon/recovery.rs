//! What the daemon does at start-up when its SQLite store is damaged (SQLite refuses it, or a
//! sealed epoch no longer matches its digest: one the start-up part of the digest check
//! reached, or one a previous run found damaged after it was ready), by `backup.on_corruption`:
//! * `refuse`: nothing is touched; the daemon exits non-zero and says what to do.
//! * `restore`: the newest backup that passes verification (sha256, quick_check, digests, row
//!   counts) is staged beside the store; the damaged files (`chatseal.db`, `-wal`, `-shm`) are
//!   moved to `<store dir>/quarantine/<time>/`, never deleted; the staged copy is renamed into
//!   place and checked again; then what the damaged file still holds of unsealed data (since
//!   the backup) is merged back from a scratch copy (`Store::salvage_from`: idempotent merges,
//!   never sealed rows; the sealer re-seals from participation). With no verified backup it
//!   refuses like `refuse`, moving nothing.
//!
//! Either way it is said loudly: an ERROR log, `chatseal_recoveries_total{outcome}`, an audit
//! entry in the restored store and `last_recovery` in `/v1/status`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chatseal_actors::backup::catalog::list;
use chatseal_actors::backup::fsio::{blocking, copy_synced};
use chatseal_actors::backup::manifest::{backup_id, Method, SQLITE_FILE};
use chatseal_actors::backup::restore::{commit_staged, move_store_into, stage_sqlite, with_suffix};
use chatseal_actors::backup::{verify, BackupError, Manifest, RecoveryOutcome, RecoveryRecord};
use chatseal_actors::telemetry::names as m;
use chatseal_schema::{sqlite_path, OpenOptions, Store, StoreError, MIN_PG_STALE_SESSION};

use super::{digest_check, DaemonError};
use crate::settings::{OnCorruption, Settings};

/// What is wrong with the store.
#[derive(Debug)]
pub enum Damage {
    /// SQLite refuses the file (quick_check, a damaged header, a page it cannot read).
    Unreadable(StoreError),
    /// Sealed (epoch, channel)s whose rows no longer match their digest.
    Seals(Vec<(i64, String)>),
}

/// "3 damaged, e.g. 1700000000 #alpha, ...".
fn seal_list(bad: &[(i64, String)]) -> String {
    let list: Vec<String> = bad.iter().take(10).map(|(e, c)| format!("{e} #{c}")).collect();
    format!("{} damaged, e.g. {}", bad.len(), list.join(", "))
}

impl Damage {
    /// One line for logs and errors: SQLite's error, or the count and first damaged seals.
    pub fn describe(&self) -> String {
        match self {
            Damage::Unreadable(e) => e.to_string(),
            Damage::Seals(bad) => DaemonError::SealsDamaged(seal_list(bad)).to_string(),
        }
    }

    fn into_refusal(self) -> DaemonError {
        match self {
            Damage::Unreadable(e) => DaemonError::Store(e),
            Damage::Seals(bad) => DaemonError::SealsDamaged(seal_list(&bad)),
        }
    }
}

/// How the daemon opens its store: on PostgreSQL, the server ends a session of this member
/// that went silent inside a transaction after one lease (`cluster.lease_ttl`, at least
/// [`MIN_PG_STALE_SESSION`]), so a member cut off mid-transaction never blocks the one that
/// takes over its roles and slots (docs/cluster.md, "Cut off mid-transaction").
pub fn store_options(settings: &Settings) -> OpenOptions {
    OpenOptions { pg_stale_session: settings.cluster.lease_ttl.max(MIN_PG_STALE_SESSION), ..OpenOptions::default() }
}

/// An opened store whose start-up checks passed.
#[derive(Debug)]
pub struct Checked {
    /// The open store.
    pub store: Store,
    /// What the digest check has left for the background.
    pub rest: digest_check::Rest,
    /// Whether a previous run's damage marker was found (and its seals checked again, intact).
    pub marked: bool,
}

/// Opens the store (SQLite's quick_check included) and checks seals against their digests for
/// `budget` (`digest_check::at_start`; `Duration::MAX`: all of them): the open store with where
/// the check stands, or what is damaged. Errors that are not damage (unreachable, bad URL)
/// come back as `Err`.
pub async fn open_checked(
    url: &str,
    opts: &OpenOptions,
    budget: Duration,
) -> Result<Result<Checked, Damage>, StoreError> {
    let store = match Store::open_with(url, opts).await {
        Ok(s) => s,
        Err(e) if e.is_corrupt() => return Ok(Err(Damage::Unreadable(e))),
        Err(e) => return Err(e),
    };
    let started = std::time::Instant::now();
    let checked = match digest_check::at_start(&store, budget).await {
        Ok(c) => c,
        Err(e) if e.is_corrupt() => {
            let _ = store.close().await;
            return Ok(Err(Damage::Unreadable(e)));
        }
        Err(e) => return Err(e),
    };
    if !checked.bad.is_empty() {
        let _ = store.close().await;
        return Ok(Err(Damage::Seals(checked.bad)));
    }
    tracing::info!(
        elapsed = ?started.elapsed(),
        seals = checked.seals,
        leaves = checked.leaves,
        complete = checked.rest == digest_check::Rest::Done,
        "sealed epochs verified against their digests{}",
        if checked.rest == digest_check::Rest::Done {
            ""
        } else {
            " for the start-up budget; the rest are checked in the background after ready"
        }
    );
    Ok(Ok(Checked { store, rest: checked.rest, marked: checked.marked > 0 }))
}

/// The newest backup in `dir` that a SQLite store can be restored from and that passes
/// verification; Err lists why each candidate was passed over.
pub async fn newest_verified(dir: &Path) -> Result<(PathBuf, Manifest), Vec<String>> {
    let owned = dir.to_path_buf();
    let listed = match blocking(move || list(&owned)).await {
        Ok(l) => l,
        Err(e) => return Err(vec![e.to_string()]),
    };
    let mut passed_over = Vec::new();
    for l in listed {
        let Some(man) = &l.manifest else { continue };
        if man.method != Method::VacuumInto {
            passed_over.push(format!("{}: a {} backup, not a SQLite file", l.id, man.method.as_str()));
            continue;
        }
        match verify(&l.folder).await {
            Ok(m) => return Ok((l.folder, m)),
            Err(e) => {
                tracing::error!(backup = %l.id, error = %e, "backup fails verification; trying an older one");
                passed_over.push(format!("{}: {e}", l.id));
            }
        }
    }
    Err(passed_over)
}

fn refused(settings: &Settings, damage: &Damage, outcome: RecoveryOutcome, why: &str) {
    metrics::counter!(m::RECOVERIES_TOTAL, "outcome" => outcome.as_str()).increment(1);
    tracing::error!(store = %chatseal_schema::redact_url(&settings.store.url), on_corruption = ?settings.backup.on_corruption, "{}; {why}", damage.describe());
}

/// Handles a damaged store per `backup.on_corruption`: the restored, checked store and the
/// record of what was done, or the error the daemon exits with (nothing moved). `at_ms` names
/// the quarantine folder and dates the record.
pub async fn recover(settings: &Settings, damage: Damage, at_ms: i64) -> Result<(Store, RecoveryRecord), DaemonError> {
    if settings.backup.on_corruption == OnCorruption::Refuse {
        refused(
            settings,
            &damage,
            RecoveryOutcome::Refused,
            "backup.on_corruption = \"refuse\": not starting; the files are untouched",
        );
        return Err(damage.into_refusal());
    }
    let fail = |why: String| {
        refused(settings, &damage, RecoveryOutcome::Failed, &format!("cannot restore: {why}"));
        DaemonError::NotRecovered { damage: damage.describe(), why }
    };
    let Some(db) = sqlite_path(&settings.store.url) else {
        return Err(fail(
            "the store is not a SQLite file; restore a PostgreSQL store by hand (`chatseal restore`, pg_restore)"
                .into(),
        ));
    };
    let dir = &settings.backup.dir;
    let (folder, manifest) = match newest_verified(dir).await {
        Ok(found) => found,
        Err(reasons) if reasons.is_empty() => {
            return Err(fail(format!(
                "there is no verified backup in {} (backup.dir); nothing was moved",
                dir.display()
            )))
        }
        Err(reasons) => {
            return Err(fail(format!(
                "there is no verified backup in {}: {}; nothing was moved",
                dir.display(),
                reasons.join("; ")
            )))
        }
    };
    let quarantine = db
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join("quarantine")
        .join(backup_id(at_ms, 0));
    let placed = {
        let (from, db, q) = (manifest.data_file(&folder, SQLITE_FILE), db.clone(), quarantine.clone());
        blocking(move || {
            let staged = stage_sqlite(&from, &db)?;
            move_store_into(&db, &q)?;
            commit_staged(&staged, &db)
        })
        .await
    };
    if let Err(e) = placed {
        return Err(fail(format!(
            "putting backup {} in place failed: {e}; check {} and {}",
            manifest.id,
            db.display(),
            quarantine.display()
        )));
    }
    // The restored copy is checked whole before it is used (it is a verified backup already).
    let store = match open_checked(&settings.store.url, &store_options(settings), Duration::MAX).await {
        Ok(Ok(c)) => c.store,
        Ok(Err(d)) => {
            return Err(fail(format!(
                "the restored backup {} does not check out either: {}",
                manifest.id,
                d.describe()
            )))
        }
        Err(e) => return Err(fail(format!("opening the restored backup {}: {e}", manifest.id))),
    };
    let salvage = salvage(&store, &db, &quarantine).await;
    let record = RecoveryRecord {
        at: at_ms.div_euclid(1000),
        outcome: RecoveryOutcome::Restored,
        damage: damage.describe(),
        quarantine: Some(quarantine.display().to_string()),
        backup_id: Some(manifest.id.clone()),
        salvage: salvage.clone(),
    };
    let merged: u64 = salvage.as_ref().map_or(0, |s| s.merged.values().sum());
    let detail = format!(
        "damage: {}; damaged files moved to {}; rows merged back from them: {merged}",
        record.damage,
        quarantine.display()
    );
    if let Err(e) = store.audit(record.at, "restore", &manifest.id, &detail).await {
        tracing::warn!(error = %e, "the recovery is done but could not be written to the audit log");
    }
    metrics::counter!(m::RECOVERIES_TOTAL, "outcome" => RecoveryOutcome::Restored.as_str()).increment(1);
    tracing::error!(
        backup = %manifest.id,
        quarantine = %quarantine.display(),
        merged,
        unreadable = salvage.as_ref().map_or(0, |s| s.unreadable.len()),
        "THE STORE WAS DAMAGED AND HAS BEEN RESTORED: {}; restored backup {} (taken at {}), then merged back {merged} rows of unsealed data from the damaged file; the damaged files are kept in {} for inspection",
        record.damage,
        manifest.id,
        manifest.created_at,
        quarantine.display()
    );
    Ok((store, record))
}

/// Merges what the quarantined file still holds into `store`, from a scratch copy (the
/// quarantined originals stay byte-identical). None when even the copy could not be made.
async fn salvage(store: &Store, db: &Path, quarantine: &Path) -> Option<chatseal_schema::SalvageReport> {
    let name = db.file_name()?.to_owned();
    let scratch = quarantine.join("salvage-scratch");
    let copied = {
        let (q, scratch, name) = (quarantine.to_path_buf(), scratch.clone(), name.clone());
        blocking(move || {
            std::fs::create_dir_all(&scratch).map_err(BackupError::io("creating", &scratch))?;
            let main = q.join(&name);
            copy_synced(&main, &scratch.join(&name)).map_err(BackupError::io("copying", &main))?;
            let wal = with_suffix(&main, "-wal");
            if wal.exists() {
                copy_synced(&wal, &with_suffix(&scratch.join(&name), "-wal"))
                    .map_err(BackupError::io("copying", &wal))?;
            }
            Ok(())
        })
        .await
    };
    let report = match copied {
        Ok(()) => match store.salvage_from(&scratch.join(&name)).await {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::error!(error = %e, "merging the damaged file's unsealed data into the restored store failed; it stays in the quarantine");
                None
            }
        },
        Err(e) => {
            tracing::error!(error = %e, "cannot copy the damaged file to salvage from it; it stays in the quarantine");
            None
        }
    };
    // The scratch copy is ours, not the damaged originals.
    let _ = std::fs::remove_dir_all(&scratch);
    report
}
