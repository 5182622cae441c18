//! What the daemon knows about its backups and its last recovery, shared with the HTTP status
//! page: the last successful backup, the last failure, how many failed, and what the start-up
//! recovery did. It lives outside the backup actor, so it survives the actor's restarts and
//! `/v1/status` never waits on a backup in flight.

use std::sync::{Arc, RwLock};

use chatseal_schema::SalvageReport;
use serde::Serialize;

use super::manifest::Manifest;

/// The last successful backup, as `/v1/status` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LastBackup {
    /// The backup id (its folder name in `backup.dir`).
    pub id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Total size of its files, bytes.
    pub size_bytes: u64,
    /// Sealed (epoch, channel)s it holds.
    pub sealed_epochs: i64,
    /// Its newest sealed epoch, Unix seconds.
    pub newest_sealed_epoch: Option<i64>,
    /// How it was made: [`Method::as_str`](super::manifest::Method::as_str).
    pub method: &'static str,
    /// How long taking it took, milliseconds.
    pub duration_ms: u64,
}

impl From<&Manifest> for LastBackup {
    fn from(m: &Manifest) -> Self {
        LastBackup {
            id: m.id.clone(),
            created_at: m.created_at,
            size_bytes: m.size_bytes,
            sealed_epochs: m.sealed_epochs,
            newest_sealed_epoch: m.newest_sealed_epoch,
            method: m.method.as_str(),
            duration_ms: m.duration_ms,
        }
    }
}

/// A backup that failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastFailure {
    /// Unix seconds.
    pub at: i64,
    /// The error, as the operator reads it in the log.
    pub error: String,
}

/// What the recovery at start-up did about a damaged store: the `outcome` of
/// `chatseal_recoveries_total`, and of the recovery record shown over HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecoveryOutcome {
    /// A verified backup replaced the damaged store.
    Restored,
    /// `backup.on_corruption = "refuse"`: the daemon did not start, nothing moved.
    Refused,
    /// A restore was asked for and could not be done.
    Failed,
}

impl RecoveryOutcome {
    /// Every outcome, for pre-registering metric label values.
    pub const ALL: [RecoveryOutcome; 3] =
        [RecoveryOutcome::Restored, RecoveryOutcome::Refused, RecoveryOutcome::Failed];

    /// Metric label (the same word as its JSON form).
    pub fn as_str(self) -> &'static str {
        match self {
            RecoveryOutcome::Restored => "restored",
            RecoveryOutcome::Refused => "refused",
            RecoveryOutcome::Failed => "failed",
        }
    }
}

/// What the recovery at start-up did about a damaged store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecoveryRecord {
    /// Unix seconds.
    pub at: i64,
    /// Restored, refused or failed.
    pub outcome: RecoveryOutcome,
    /// What was found wrong with the store.
    pub damage: String,
    /// Where the damaged files were moved (never deleted).
    pub quarantine: Option<String>,
    /// The backup restored.
    pub backup_id: Option<String>,
    /// What was merged back from the damaged file.
    pub salvage: Option<SalvageReport>,
}

/// The board's contents at one moment (what `/v1/status` serializes).
#[derive(Debug, Clone, Default)]
pub struct BoardState {
    /// The newest successful backup, taken by this daemon or found on disk at start.
    pub last_success: Option<LastBackup>,
    /// The last backup that failed since the daemon started.
    pub last_failure: Option<LastFailure>,
    /// Backups that failed since the daemon started.
    pub failures: u64,
    /// What the recovery at start-up did, if the store was found damaged.
    pub last_recovery: Option<RecoveryRecord>,
}

/// Shared handle (cheap to clone).
#[derive(Debug, Clone, Default)]
pub struct BackupBoard(Arc<RwLock<BoardState>>);

impl BackupBoard {
    /// A copy of the current state.
    pub fn snapshot(&self) -> BoardState {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn update(&self, f: impl FnOnce(&mut BoardState)) {
        f(&mut self.0.write().unwrap_or_else(|p| p.into_inner()));
    }

    /// Records a backup just taken as the last success.
    pub fn succeeded(&self, m: &Manifest) {
        self.update(|s| s.last_success = Some(m.into()));
    }

    /// Sets the last success from a backup found on disk, unless a newer one is known.
    pub fn found_on_disk(&self, m: &Manifest) {
        self.update(|s| {
            if s.last_success.as_ref().is_none_or(|l| l.created_at < m.created_at) {
                s.last_success = Some(m.into());
            }
        });
    }

    /// Counts a failed backup and records it as the last failure (`at`: Unix seconds).
    pub fn failed(&self, at: i64, error: String) {
        self.update(|s| {
            s.failures += 1;
            s.last_failure = Some(LastFailure { at, error });
        });
    }

    /// Records what the start-up recovery did.
    pub fn recovered(&self, r: RecoveryRecord) {
        self.update(|s| s.last_recovery = Some(r));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_recovery_outcome_is_listed_and_its_label_is_its_json() {
        for o in RecoveryOutcome::ALL {
            // Exhaustive: a new outcome breaks the build here until `ALL` lists it.
            match o {
                RecoveryOutcome::Restored | RecoveryOutcome::Refused | RecoveryOutcome::Failed => {}
            }
            assert_eq!(serde_json::to_value(o).ok(), Some(serde_json::json!(o.as_str())), "{o:?}");
        }
        let labels: Vec<&str> = RecoveryOutcome::ALL.iter().map(|o| o.as_str()).collect();
        assert_eq!(labels, ["restored", "refused", "failed"]);
    }
}
