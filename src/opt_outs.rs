//! The opt-outs held in memory, so a proof needs no store round trip to know whether its user
//! opted out. The set of logins is the one the channel readers drop lines by. It is kept
//! current two ways:
//! * an opt-out this process writes (`POST /v1/admin/opt-out`) is added before the route answers;
//! * opt-outs written by another process (`chatseal opt-out`, another cluster member's admin
//!   route) are read back by the daemon's sync task (`daemon::opt_out_sync`), which asks the
//!   store every [`SYNC_EVERY`] whether the number of opt-outs changed and merges the list
//!   when it did. Opt-outs are never deleted, so a merge can never drop one.
//!
//! The set answers only while it is known to be current: while the last sync that succeeded
//! STARTED at most [`MAX_AGE`] ago. Otherwise (no sync yet, the store not answering, the CLI
//! which runs no sync) [`OptOuts::answer`] says "unknown" and the caller asks the store, so an
//! opt-out committed more than [`MAX_AGE`] ago is never missed. Pure: time is passed in.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// How often the daemon asks the store whether opt-outs were written by another process.
pub const SYNC_EVERY: Duration = Duration::from_millis(250);

/// How old the last successful sync may be (from its start) for the set to answer alone.
pub const MAX_AGE: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
struct Sync {
    /// Start of the last sync that succeeded.
    at: Option<Instant>,
    /// Rows the store held at that sync (the count the next one compares with).
    rows: Option<u64>,
}

/// Opted-out logins (lowercase) with how current they are; share behind an `Arc`.
#[derive(Debug)]
pub struct OptOuts {
    logins: Arc<RwLock<HashSet<String>>>,
    sync: Mutex<Sync>,
    max_age: Duration,
}

impl OptOuts {
    /// The set over `logins` (shared with the channel readers), not current until a sync.
    pub fn new(logins: Arc<RwLock<HashSet<String>>>) -> OptOuts {
        OptOuts { logins, sync: Mutex::default(), max_age: MAX_AGE }
    }

    /// The same with another bound on the age of the last sync (tests).
    pub fn with_max_age(logins: Arc<RwLock<HashSet<String>>>, max_age: Duration) -> OptOuts {
        OptOuts { max_age, ..OptOuts::new(logins) }
    }

    /// A set that never answers alone (every lookup goes to the store): for one-off callers.
    pub fn unsynced() -> OptOuts {
        OptOuts::new(Arc::default())
    }

    /// The logins, shared with the channel readers.
    pub fn logins(&self) -> Arc<RwLock<HashSet<String>>> {
        self.logins.clone()
    }

    fn sync_state(&self) -> std::sync::MutexGuard<'_, Sync> {
        self.sync.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds an opt-out this process has just committed to the store.
    pub fn insert(&self, login: &str) {
        self.logins.write().unwrap_or_else(|p| p.into_inner()).insert(login.to_ascii_lowercase());
    }

    /// Whether `login` (lowercase) opted out, if the set is current at `now`; None: ask the store.
    pub fn answer(&self, login: &str, now: Instant) -> Option<bool> {
        let at = self.sync_state().at?;
        if now.saturating_duration_since(at) > self.max_age {
            return None;
        }
        Some(self.logins.read().unwrap_or_else(|p| p.into_inner()).contains(login))
    }

    /// What a sync started at `started` should do after counting `rows` opt-outs in the store:
    /// true when the list must be read (the count changed, or none was known), false when
    /// the set is current as of `started` (recorded).
    pub fn counted(&self, rows: u64, started: Instant) -> bool {
        let mut s = self.sync_state();
        if s.rows == Some(rows) {
            s.at = Some(s.at.map_or(started, |a| a.max(started)));
            false
        } else {
            true
        }
    }

    /// A sync started at `started` read the store's whole list: merge it (never removing: an
    /// opt-out is never deleted, and one this process added meanwhile stays) and record it.
    pub fn merge(&self, all: Vec<String>, started: Instant) {
        let rows = all.len() as u64;
        {
            let mut set = self.logins.write().unwrap_or_else(|p| p.into_inner());
            set.extend(all.into_iter().map(|l| l.to_ascii_lowercase()));
        }
        let mut s = self.sync_state();
        s.rows = Some(rows);
        s.at = Some(s.at.map_or(started, |a| a.max(started)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_only_while_a_recent_sync_vouches_for_it() {
        let o = OptOuts::unsynced();
        let t0 = Instant::now();
        o.insert("Alice");
        assert_eq!(o.answer("alice", t0), None, "never synced: ask the store");
        assert!(o.counted(0, t0), "no count known yet: read the list");
        o.merge(vec!["bob".into()], t0);
        assert_eq!(o.answer("alice", t0), Some(true), "an opt-out of this process is kept by the merge");
        assert_eq!(o.answer("bob", t0 + MAX_AGE), Some(true));
        assert_eq!(o.answer("carol", t0 + MAX_AGE), Some(false));
        assert_eq!(o.answer("carol", t0 + MAX_AGE + Duration::from_millis(1)), None, "too old: ask the store");
        // The same count later: current again without reading the list.
        let t1 = t0 + 2 * MAX_AGE;
        assert!(!o.counted(1, t1));
        assert_eq!(o.answer("carol", t1), Some(false));
        // Another process added one: the count differs, and the set stays unvouched for until
        // the list is merged.
        let t2 = t1 + MAX_AGE + Duration::from_millis(1);
        assert!(o.counted(2, t2));
        assert_eq!(o.answer("carol", t2), None);
        o.merge(vec!["bob".into(), "carol".into()], t2);
        assert_eq!(o.answer("carol", t2), Some(true));
    }

    #[test]
    fn a_slow_sync_never_moves_the_stamp_back() {
        let o = OptOuts::unsynced();
        let t0 = Instant::now();
        o.merge(vec![], t0 + Duration::from_millis(500));
        // A sync that started earlier but finished later.
        assert!(!o.counted(0, t0));
        assert_eq!(o.answer("x", t0 + Duration::from_millis(500) + MAX_AGE), Some(false));
    }
}
