//! One owner per store. A daemon takes ownership of its store at start and keeps it until it
//! exits; a second daemon (or a command that would replace the store) is refused, naming the
//! owner. SQLite: an exclusive `flock` on a lock file beside the database (`lockfile`), which
//! the OS releases with the process, so a kill -9 never blocks the restart. PostgreSQL: a row
//! per daemon in `store_member`, heartbeated on the database's clock, expired after its lease
//! (`lease`); nothing depends on session-level state, so a transaction-pooling proxy cannot
//! break it (the session check only lets a daemon's own restart in before its lease ends).
//! Who may join beside whom is a pure rule (`admit`).

pub mod admit;
pub mod lease;
pub mod lockfile;
pub mod roles;
pub mod slots;
pub mod slots_plan;

use serde::{Deserialize, Serialize};
use std::time::{Duration, UNIX_EPOCH};

use crate::error::StoreError;

/// Who owns (or wants to own) a store: enough for an operator to find the process.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerInfo {
    /// The member name (`cluster.instance`, else the host name).
    pub instance: String,
    /// The host name it runs on.
    pub host: String,
    /// Its process id on that host.
    pub pid: u32,
    /// Unix milliseconds since when it owns the store (the database's clock on PostgreSQL).
    pub since_ms: i64,
    /// Its HTTP address (`http.listen`), or the command it runs.
    pub http: String,
    /// A member of a cluster (several members share the store by design).
    pub clustered: bool,
}

impl OwnerInfo {
    /// This process, about to own a store.
    pub fn this_process(instance: &str, http: &str, clustered: bool) -> OwnerInfo {
        let host = host_name();
        OwnerInfo {
            instance: if instance.is_empty() { host.clone() } else { instance.to_owned() },
            host,
            pid: std::process::id(),
            since_ms: now_ms(),
            http: http.to_owned(),
            clustered,
        }
    }
}

impl std::fmt::Display for OwnerInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let since = UNIX_EPOCH + Duration::from_millis(self.since_ms.max(0) as u64);
        write!(
            f,
            "{} {:?} on host {:?}, pid {}, serving {}, since {}",
            if self.clustered { "cluster member" } else { "daemon" },
            self.instance,
            self.host,
            self.pid,
            self.http,
            humantime::format_rfc3339_seconds(since)
        )
    }
}

/// Why ownership could not be taken or was lost.
#[derive(Debug, thiserror::Error)]
pub enum OwnershipError {
    /// Another live daemon owns the store (exit 75).
    #[error("the store {store} is owned by another live chatseal {owner}; {check}. Stop that daemon first (or point this one at another store)")]
    Owned {
        /// The store: the database path, or the URL with its password masked.
        store: String,
        /// The owner, as its lock file or member row records it.
        owner: Box<OwnerInfo>,
        /// How the operator can check the owner (a command to run).
        check: String,
    },
    /// Cluster members own the store and this daemon is not in a cluster (exit 75).
    #[error("the store {store} is owned by {owners} cluster member(s) ({first}); a daemon without `cluster.enabled = true` cannot share it. {check}")]
    ClusterOwned {
        /// The store URL, password masked.
        store: String,
        /// Live cluster members on the store.
        owners: usize,
        /// The first of them.
        first: Box<OwnerInfo>,
        /// How the operator can check the members (a query to run).
        check: String,
    },
    /// This daemon's membership expired or was taken while it ran; it stops (exit 75).
    #[error(
        "this daemon lost ownership of the store {store}: {detail}; it stops so that two daemons never write one store"
    )]
    Lost {
        /// The store URL, password masked.
        store: String,
        /// What was found: its member row released or taken by another daemon.
        detail: String,
    },
    /// The SQLite lock file cannot be created, locked or written.
    #[error("lock file {path}: {detail}; check that its directory exists and is writable by the chatseal user")]
    LockFile {
        /// Path of the lock file (beside the database).
        path: String,
        /// The I/O error.
        detail: String,
    },
    /// The store failed while taking or keeping ownership.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl OwnershipError {
    /// True when another live daemon holds the store (exit 75), as opposed to an I/O failure.
    pub fn is_owned(&self) -> bool {
        matches!(self, OwnershipError::Owned { .. } | OwnershipError::ClusterOwned { .. } | OwnershipError::Lost { .. })
    }
}

/// The host name (Linux: /proc/sys/kernel/hostname), or `localhost` when it cannot be read.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "localhost".to_owned())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
