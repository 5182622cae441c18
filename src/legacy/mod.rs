//! `chatseal migrate --legacy`: imports a database of the OLD system (SQLite or PostgreSQL,
//! tables channel_participation, user_signals, sealed_epochs, sealed_participants,
//! user_mapping) into a chatseal store, keeping every sealed root exactly as it was.
//!
//! * user_mapping → users (login = the username lowercased);
//! * channel_participation → participation (last_seen = the later of first_seen and the
//!   user's latest signal in that epoch and channel);
//! * user_signals → signals, summed per kind (message/chat, bits/cheer, sub, resub,
//!   gift/subgift, raid); other types are counted and reported, not imported;
//! * sealed_epochs + sealed_participants → seals with the old root as-is, claim_root NULL,
//!   leaves recomputed ([`reseal`]); a root the leaves do not reproduce is kept and reported;
//!   the store computes the digests. Coverage is unknown and stored as 0; `published` is not
//!   kept.
//!
//! Hashes may be stored with or without `0x` and in any case. The import streams the old
//! tables and writes in batches of about [`BATCH_ROWS`] rows, one transaction each, with
//! `ON CONFLICT DO NOTHING`: it can be run again. Afterwards every imported seal is looked up in
//! the target (same root, same participant count) and the target's digests are checked.

pub mod convert;
pub mod group;
pub mod read;
pub mod reseal;

use futures::StreamExt;

use chatseal_schema::copy::{table_spec, ImportBatch, ImportWritten};
use chatseal_schema::{Store, StoreError};
use sea_orm::Value;

use convert::{user_row, Notes};
use group::{convert_group, SealLog, SealOutcome};
use read::{GroupRow, LegacyDb, GROUPS_SQL, USERS_SQL};

/// Rows written per transaction, about.
pub const BATCH_ROWS: usize = 5_000;

/// Why a legacy import could not run.
#[derive(Debug, thiserror::Error)]
pub enum LegacyError {
    /// `--from` is not a usable URL (exit 64); the message names it, password masked.
    #[error("{0}")]
    Usage(String),
    /// The old database cannot be opened or reached.
    #[error("the old database {url} is unavailable: {detail}; check the URL and that the file or server exists")]
    Unavailable {
        /// The URL with its password masked.
        url: String,
        /// The driver's error, with secrets scrubbed.
        detail: String,
    },
    /// The database opens but lacks one of the old system's tables (exit 64).
    #[error("{url} is not a database of the old system: table {table} cannot be read ({detail}); --legacy expects channel_participation, user_signals, sealed_epochs, sealed_participants and user_mapping")]
    NotLegacy {
        /// The URL with its password masked.
        url: String,
        /// The first old table that could not be read.
        table: &'static str,
        /// The driver's error, with secrets scrubbed.
        detail: String,
    },
    /// A read from the old database failed mid-import.
    #[error("reading the old database {url} failed: {detail}")]
    Read {
        /// The URL with its password masked.
        url: String,
        /// The driver's error, with secrets scrubbed.
        detail: String,
    },
    /// Writing the target store failed; what was written stays and the import can be rerun.
    #[error("writing the target failed: {0}; what was written stays, and the import can be run again")]
    Store(#[from] StoreError),
}

/// What the import did and found.
#[derive(Debug, Default)]
pub struct LegacyReport {
    /// The old database's URL, password masked.
    pub from: String,
    /// Rows read from the old tables (user_mapping and the grouped tables together).
    pub rows_read: u64,
    /// Rows new to the target, per table (rows already there are not counted).
    pub written: ImportWritten,
    /// What could not be imported as it was (unknown signal kinds, bad hashes, ...).
    pub notes: Notes,
    /// Every old seal met, with its outcome.
    pub seals: SealLog,
    /// Imported seals that the target does not hold as imported.
    pub verify_failures: Vec<String>,
    /// Target seals whose rows do not match their digest.
    pub bad_digests: Vec<(i64, String)>,
    /// Participation rows whose user has no login (no user_mapping row, not in a seal).
    pub participation_without_login: u64,
}

impl LegacyReport {
    /// True when every old seal is in the target with its root (reproducible or not).
    pub fn ok(&self) -> bool {
        self.verify_failures.is_empty()
            && self.bad_digests.is_empty()
            && self.seals.count(|o| matches!(o, SealOutcome::Skipped(_))) == 0
    }

    /// The report printed by the command.
    pub fn render(&self) -> String {
        let w = &self.written;
        let s = &self.seals;
        let mut out = format!(
            "legacy import from {}: {} rows read\n  new rows: users {}, participation {}, signals {}, seals {}, sealed participants {}\n  seals: {} ({} reproduced, {} root kept with leaves not reproducible, {} not imported)\n",
            self.from,
            self.rows_read,
            w.users,
            w.participation,
            w.signals,
            w.seals,
            w.sealed_participants,
            s.records.len(),
            s.count(|o| *o == SealOutcome::Reproduced),
            s.count(|o| *o == SealOutcome::RootKeptLeavesNotReproducible),
            s.count(|o| matches!(o, SealOutcome::Skipped(_))),
        );
        for r in &s.records {
            match &r.outcome {
                SealOutcome::Reproduced => {}
                SealOutcome::RootKeptLeavesNotReproducible => out.push_str(&format!(
                    "  epoch {} #{}: root kept, leaves not reproducible (format_version 0, root 0x{})\n",
                    r.epoch,
                    r.channel,
                    r.root.as_deref().unwrap_or("none")
                )),
                SealOutcome::Skipped(why) => {
                    out.push_str(&format!("  epoch {} #{}: NOT imported: {why}\n", r.epoch, r.channel))
                }
            }
        }
        let n = &self.notes;
        if !n.unknown_kinds.is_empty() {
            let kinds: Vec<String> = n.unknown_kinds.iter().map(|(k, v)| format!("{k:?} {v}")).collect();
            out.push_str(&format!("  signal types with no chatseal kind (not imported): {}\n", kinds.join(", ")));
        }
        for (count, what) in [
            (n.invalid_hashes, "rows skipped: user hash not a 32-byte hash"),
            (n.bad_values, "rows skipped: number or time unreadable"),
            (n.users_without_name, "user_mapping rows skipped: no username"),
            (
                self.participation_without_login,
                "participation rows whose user has no login (their epochs cannot be sealed until a users row exists)",
            ),
        ] {
            if count > 0 {
                out.push_str(&format!("  {what}: {count}\n"));
            }
        }
        for g in &n.skipped_groups {
            out.push_str(&format!("  group skipped (epoch or channel unreadable): {g}\n"));
        }
        if self.verify_failures.is_empty() && self.bad_digests.is_empty() {
            out.push_str("  check: every imported seal is in the target with its old root; digests intact\n");
        }
        for f in &self.verify_failures {
            out.push_str(&format!("  check FAILED: {f}\n"));
        }
        for (e, c) in &self.bad_digests {
            out.push_str(&format!("  check FAILED: epoch {e} #{c}: rows do not match the digest\n"));
        }
        out
    }
}

async fn write(target: &Store, batch: &mut ImportBatch, written: &mut ImportWritten) -> Result<(), StoreError> {
    if !batch.is_empty() {
        written.add(&target.import_batch(batch).await?);
        *batch = ImportBatch::default();
    }
    Ok(())
}

fn append(into: &mut ImportBatch, b: ImportBatch) {
    into.users.extend(b.users);
    into.participation.extend(b.participation);
    into.signals.extend(b.signals);
    into.seals.extend(b.seals);
}

/// Imports the old database `old` ([`LegacyDb::open`]) into `target` (see the module doc);
/// `progress` hears the number of old rows read so far.
pub async fn import(old: LegacyDb, target: &Store, progress: &mut dyn FnMut(u64)) -> Result<LegacyReport, LegacyError> {
    old.check_tables().await?;
    let mut rep = LegacyReport { from: old.url.clone(), ..LegacyReport::default() };
    let mut batch = ImportBatch::default();

    let mut users = old.rows(USERS_SQL, 3);
    while let Some(r) = users.next().await {
        let r = r?;
        rep.rows_read += 1;
        if let Some(u) = user_row(r[0].as_deref(), r[1].as_deref(), r[2].as_deref(), &mut rep.notes) {
            batch.users.push(u);
        }
        if batch.len() >= BATCH_ROWS {
            write(target, &mut batch, &mut rep.written).await?;
            progress(rep.rows_read);
        }
    }
    drop(users);
    write(target, &mut batch, &mut rep.written).await?;

    let mut groups = old.rows(GROUPS_SQL, 7);
    let mut run: Vec<GroupRow> = Vec::new();
    loop {
        let next = groups.next().await.transpose()?.map(GroupRow::from_text);
        let ends_run = match (&next, run.first()) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(n), Some(f)) => (&n.epoch, &n.channel) != (&f.epoch, &f.channel),
        };
        if ends_run {
            let (e, c) = (run[0].epoch.clone(), run[0].channel.clone());
            append(&mut batch, convert_group(e.as_deref(), c.as_deref(), &run, &mut rep.notes, &mut rep.seals));
            run.clear();
            if batch.len() >= BATCH_ROWS {
                write(target, &mut batch, &mut rep.written).await?;
                progress(rep.rows_read);
            }
        }
        let Some(n) = next else { break };
        rep.rows_read += 1;
        run.push(n);
    }
    drop(groups);
    write(target, &mut batch, &mut rep.written).await?;
    progress(rep.rows_read);
    old.close().await;

    verify(target, &mut rep).await?;
    Ok(rep)
}

/// Looks every imported seal up in the target; checks digests; counts logins missing.
async fn verify(target: &Store, rep: &mut LegacyReport) -> Result<(), StoreError> {
    let spec = table_spec("sealed_epochs")?;
    let (root_at, n_at) = match (spec.position("root"), spec.position("participants")) {
        (Some(r), Some(n)) => (r, n),
        _ => {
            return Err(StoreError::Invalid {
                what: "sealed_epochs spec",
                detail: "no root or participants column".into(),
            })
        }
    };
    let kept: Vec<_> = rep.seals.records.iter().filter(|r| !matches!(r.outcome, SealOutcome::Skipped(_))).collect();
    for chunk in kept.chunks(2_000) {
        let keys: Vec<Vec<Value>> =
            chunk.iter().map(|r| vec![Value::from(r.epoch), Value::from(r.channel.clone())]).collect();
        let found = target.rows_by_keys(&spec, &keys).await?;
        for (r, k) in chunk.iter().zip(&keys) {
            let want = (Value::String(r.root.clone()), Value::BigInt(Some(r.participants as i64)));
            match found.get(k) {
                None => rep.verify_failures.push(format!("epoch {} #{}: not in the target", r.epoch, r.channel)),
                Some(row) if (row[root_at].clone(), row[n_at].clone()) != want => rep.verify_failures.push(format!(
                    "epoch {} #{}: the target holds another seal (root or participant count differs); it was there before the import and was kept",
                    r.epoch, r.channel
                )),
                Some(_) => {}
            }
        }
    }
    rep.bad_digests = target.verify_digests().await?;
    rep.participation_without_login = target.participation_without_login().await?;
    Ok(())
}
