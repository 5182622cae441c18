//! The reads of `chatseal doctor`, each turned into checks by `judge`: the store (engine,
//! schema, quick_check, every seal's digest, durability settings), the sealing backlog and
//! cursor, the coverage of the last closed epochs, and the newest backup in `backup.dir`
//! (manifest and file sizes only: the full verify is `chatseal backup verify`). Only reads:
//! the store is opened read-only by the caller, and `backup.dir` is listed and stat'ed.

use std::collections::BTreeSet;
use std::path::Path;

use chatseal_actors::backup::catalog::list as list_backups;
use chatseal_actors::backup::fsio::blocking;
use chatseal_actors::backup::BackupError;
use chatseal_actors::sealer::actor::CURSOR_KEY;
use chatseal_schema::migration::latest_migration;
use chatseal_schema::{Backend, Store, StoreError};
use serde_json::json;

use super::judge::{self, NewestBackup};
use super::report::Check;

/// A check that could not be made because a read failed.
fn errored(name: &'static str, what: &str, e: &StoreError) -> Check {
    let action = if e.is_corrupt() {
        "the store is damaged: stop the daemon and restore the newest verified backup (`chatseal restore --from <id> --force`)"
    } else {
        "check that the store is reachable and run doctor again"
    };
    Check::fail(name, format!("{what} failed: {e}"), action, json!({ "error": e.to_string() }))
}

/// store.open, store.quick_check, store.digests, store.durability.
pub async fn store_checks(store: &Store, sqlite_file: Option<&Path>) -> Vec<Check> {
    let mut out = Vec::new();
    let sqlite = store.backend() == Backend::Sqlite;
    let facts = store.engine_facts(sqlite_file).await;
    match &facts {
        Ok(f) => match store.schema_version().await {
            Ok(v) => out.push(judge::opened(f, v.as_deref(), &latest_migration())),
            Err(e) => out.push(errored("store.open", "reading the schema version (seaql_migrations)", &e)),
        },
        Err(e) => out.push(errored("store.open", "reading the engine version", e)),
    }
    match store.quick_check().await {
        Ok(p) => out.push(judge::quick_check(&p, sqlite)),
        Err(e) => out.push(errored("store.quick_check", "PRAGMA quick_check", &e)),
    }
    let total = store.seal_count().await;
    match (total, store.verify_digests().await) {
        (Ok(n), Ok(bad)) => out.push(judge::digests(n, &bad)),
        (Err(e), _) | (_, Err(e)) => out.push(errored("store.digests", "re-checking the seal digests", &e)),
    }
    if let Ok(f) = &facts {
        out.push(judge::durability(f));
    }
    out
}

/// What the epoch settings say about now.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub now_ms: i64,
    pub len: i64,
    pub grace_ms: i64,
    /// The newest epoch whose end plus grace has passed.
    pub closed: i64,
}

/// The past channel-epochs with data and no seal, oldest first: participation before the next
/// epoch to close, and coverage from the sealer's cursor on (older coverage-only epochs were
/// visited by the sealer already, or predate it).
async fn unsealed(store: &Store, clock: Clock, cursor: Option<i64>) -> Result<Vec<(i64, String)>, StoreError> {
    let mut set: BTreeSet<(i64, String)> =
        store.unsealed_participation_epochs(clock.closed + clock.len).await?.into_iter().collect();
    let from = cursor.unwrap_or(clock.closed).min(clock.closed + clock.len);
    if from <= clock.closed {
        let spans: Vec<(String, i64, i64)> = store
            .coverage_spans(None, from * 1000, (clock.closed + clock.len) * 1000)
            .await?
            .into_iter()
            .map(|s| (s.channel, s.started_ms, s.until_ms))
            .collect();
        let covered = judge::covered_channel_epochs(&spans, from, clock.closed, clock.len);
        if !covered.is_empty() {
            let sealed: BTreeSet<(i64, String)> =
                store.seals_between(from, clock.closed).await?.into_iter().map(|s| (s.epoch, s.channel)).collect();
            set.extend(covered.into_iter().filter(|k| !sealed.contains(k)));
        }
    }
    Ok(set.into_iter().collect())
}

/// sealing.backlog, sealing.cursor and coverage (over the last `n` closed epochs).
pub async fn sealing_checks(store: &Store, clock: Clock, n: u32, channels: &[String]) -> Vec<Check> {
    let mut out = Vec::new();
    let cursor = match store.get_meta(CURSOR_KEY).await {
        Ok(None) => None,
        Ok(Some(v)) => {
            match v.trim().parse::<i64>() {
                Ok(c) => Some(c),
                Err(_) => {
                    out.push(Check::fail("sealing.cursor", format!("meta {CURSOR_KEY} = {v:?} is not an epoch"), "the daemon's sealer will not start on it: restore a backup, or set it to the next epoch to seal", json!({ "next_epoch": v })));
                    None
                }
            }
        }
        Err(e) => {
            out.push(errored("sealing.cursor", "reading the sealer cursor", &e));
            None
        }
    };
    let backlog = match unsealed(store, clock, cursor).await {
        Ok(b) => {
            out.push(judge::backlog(&b, clock.now_ms, clock.len, clock.grace_ms));
            b
        }
        Err(e) => {
            out.push(errored("sealing.backlog", "listing unsealed past epochs", &e));
            Vec::new()
        }
    };
    if !out.iter().any(|c| c.name == "sealing.cursor") {
        match store.seal_count().await {
            Ok(seals) => out.push(judge::cursor(cursor, clock.closed, clock.len, seals)),
            Err(e) => out.push(errored("sealing.cursor", "counting seals", &e)),
        }
    }
    let to = clock.closed;
    let from = to - i64::from(n.max(1) - 1) * clock.len;
    let window = async {
        let seals = store.seals_between(from, to).await?;
        let first = store.first_sealed_epochs().await?;
        Ok::<_, StoreError>((seals, first))
    };
    match window.await {
        Ok((seals, first)) => {
            let unsealed: BTreeSet<(i64, String)> = backlog.into_iter().collect();
            let gaps = judge::coverage_gaps(&seals, channels, &first, &unsealed, (from, to, clock.len));
            out.push(judge::coverage(&gaps, n, from, to));
        }
        Err(e) => out.push(errored("coverage", "reading the seals of the last epochs", &e)),
    }
    out
}

/// The newest backup folder of `dir` that has a manifest (readable or not), quick-verified:
/// the manifest's own checks, then every file it lists present with its size. Also how many
/// incomplete folders (no manifest yet) are newer.
pub fn newest_backup(dir: &Path) -> Result<(Option<NewestBackup>, usize), BackupError> {
    let all = list_backups(dir)?;
    let incomplete_newer = all.iter().take_while(|b| b.manifest.is_none() && b.problem.is_none()).count();
    let Some(b) = all.into_iter().find(|b| b.manifest.is_some() || b.problem.is_some()) else {
        return Ok((None, incomplete_newer));
    };
    let Some(m) = b.manifest else {
        let problems = vec![b.problem.unwrap_or_else(|| "the manifest cannot be read".into())];
        return Ok((
            Some(NewestBackup { id: b.id, created_at: None, size_bytes: 0, backend: None, problems }),
            incomplete_newer,
        ));
    };
    let mut problems = m.problems();
    for f in &m.files {
        match std::fs::metadata(m.data_file(&b.folder, &f.name)) {
            Ok(md) if md.len() == f.size => {}
            Ok(md) => problems.push(format!("{} is {} bytes, the manifest says {}", f.name, md.len(), f.size)),
            Err(e) => problems.push(format!("{} cannot be read: {e}", f.name)),
        }
    }
    Ok((
        Some(NewestBackup {
            id: b.id,
            created_at: Some(m.created_at),
            size_bytes: m.size_bytes,
            backend: Some(m.backend),
            problems,
        }),
        incomplete_newer,
    ))
}

/// The backups check.
pub async fn backup_check(dir: &Path, now_s: i64, interval_s: i64, backend: Option<&'static str>) -> Check {
    let d = dir.to_path_buf();
    let shown = dir.display().to_string();
    match blocking(move || newest_backup(&d)).await {
        Ok((newest, incomplete)) => judge::backups(&shown, newest.as_ref(), incomplete, now_s, interval_s, backend),
        Err(e) => Check::fail(
            "backups",
            format!("cannot list {shown}: {e}"),
            "check backup.dir and that the chatseal user may read it",
            json!({ "dir": shown, "error": e.to_string() }),
        ),
    }
}

/// epoch.length: the configured length against the one recorded in the store (or, for a store
/// from before the record, against its epochs). Returns the check and the length to judge the
/// store's sealing by: the recorded one, so that a changed configuration never makes doctor
/// call past epochs sealed when they are not.
pub async fn epoch_length_check(store: &Store, configured: i64) -> (Check, i64) {
    use crate::epoch_length::{judge as rule, Verdict};
    let stored = match store.recorded_epoch_length().await {
        Ok(s) => s,
        Err(e) => return (errored("epoch.length", "reading the recorded epoch length", &e), configured),
    };
    let value = json!({ "configured": configured, "recorded": stored });
    match rule(stored, configured) {
        Verdict::Same => (Check::ok("epoch.length", format!("{configured} s, as recorded in the store"), value), configured),
        Verdict::Changed { stored } => (
            Check::fail(
                "epoch.length",
                format!("epoch.length is {configured} s but the store's epochs are {stored} s long; the daemon refuses to start (exit 78); sealing below is judged with {stored} s"),
                format!("set epoch.length back to {stored} s, or point store.url at a new store for the new length (docs/input-rules.md)"),
                value,
            ),
            stored,
        ),
        Verdict::Unrecorded => match store.epoch_not_aligned_to(configured).await {
            Ok(None) => (Check::ok("epoch.length", format!("{configured} s; not recorded yet (the daemon records it at its next start)"), value), configured),
            Ok(Some(epoch)) => (
                Check::fail(
                    "epoch.length",
                    format!("epoch.length is {configured} s but the store holds epoch {epoch}, not a multiple of it: it was recorded with another length"),
                    "set epoch.length to the length the store was recorded with (docs/input-rules.md)",
                    json!({ "configured": configured, "recorded": null, "unaligned_epoch": epoch }),
                ),
                configured,
            ),
            Err(e) => (errored("epoch.length", "looking for epochs of another length", &e), configured),
        },
    }
}
