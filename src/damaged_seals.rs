//! The seals this process found not to match their digest since it started (the background
//! digest check, or a tree or bundle built from rows that do not hash to the digest), and the
//! state of the digest check. One place for what an operator sees when that happens: an ERROR
//! log per seal, the gauge `chatseal_seals_damaged` (alert `ChatsealSealsDamaged`), the seals
//! refused for proofs and publishing from then on, and a marker in the store's `meta` table so
//! the next start checks them before it is ready and takes the recovery path
//! (`backup.on_corruption`, `daemon::recovery`). See docs/operations.md, "Start-up checks".

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

use chatseal_actors::telemetry::names as m;
use chatseal_schema::{SealKey, Store};

/// The `meta` key listing the seals found damaged (one `epoch channel` a line); cleared by a
/// full digest check that finds every seal intact.
pub const DAMAGED_SEALS_KEY: &str = "damaged_seals";

/// The marker's text for `seals`.
pub fn encode_marker(seals: &[SealKey]) -> String {
    seals.iter().map(|(e, c)| format!("{e} {c}\n")).collect()
}

/// The seals of a marker's text; lines that do not parse are skipped (the marker is advice:
/// the seals it names are checked again, never trusted).
pub fn decode_marker(text: &str) -> Vec<SealKey> {
    text.lines()
        .filter_map(|l| {
            let (e, c) = l.trim().split_once(' ')?;
            let c = c.trim();
            (!c.is_empty()).then_some((e.parse().ok()?, c.to_owned()))
        })
        .collect()
}

/// Seals found damaged, shared by the digest check and the HTTP routes.
#[derive(Debug, Default)]
pub struct DamagedSeals {
    seals: RwLock<BTreeSet<SealKey>>,
    checked: AtomicBool,
    /// Whether [`DamagedSeals::report`] writes the marker (the daemon; not a one-off command).
    mark_store: bool,
}

impl DamagedSeals {
    /// The daemon's: reports also write the marker in the store; its gauges start at 0.
    pub fn marking() -> DamagedSeals {
        metrics::gauge!(m::SEALS_DAMAGED).set(0.0);
        metrics::gauge!(m::DIGEST_CHECK_DONE).set(0.0);
        DamagedSeals { mark_store: true, ..DamagedSeals::default() }
    }

    /// True when (epoch, channel) was found damaged: no proof, bundle or publication from it.
    pub fn contains(&self, epoch: i64, channel: &str) -> bool {
        let seals = self.seals.read().unwrap_or_else(|p| p.into_inner());
        // BTreeSet<(i64, String)> cannot be asked with a borrowed &str; the set is tiny.
        seals.range((epoch, String::new())..).take_while(|(e, _)| *e == epoch).any(|(_, c)| c == channel)
    }

    /// The seals found damaged so far, in key order.
    pub fn list(&self) -> Vec<SealKey> {
        self.seals.read().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect()
    }

    /// True once every seal present at start-up has been checked against its digest.
    pub fn fully_checked(&self) -> bool {
        self.checked.load(Ordering::Relaxed)
    }

    /// Records that the full digest check has finished.
    pub fn set_fully_checked(&self) {
        self.checked.store(true, Ordering::Relaxed);
        metrics::gauge!(m::DIGEST_CHECK_DONE).set(1.0);
    }

    /// Adds `found` (seals whose rows do not match their digest, found by `by`), says so once
    /// per seal (ERROR log, gauge) and (the daemon's) keeps the marker in the store current. The seals are
    /// refused from the moment this returns or the marker write fails (which is logged).
    pub async fn report(&self, store: &Store, found: &[SealKey], by: &str) {
        let (added, all) = {
            let mut seals = self.seals.write().unwrap_or_else(|p| p.into_inner());
            let added: Vec<SealKey> = found.iter().filter(|k| seals.insert((*k).clone())).cloned().collect();
            (added, seals.iter().cloned().collect::<Vec<_>>())
        };
        if added.is_empty() {
            return;
        }
        metrics::gauge!(m::SEALS_DAMAGED).set(all.len() as f64);
        for (epoch, channel) in &added {
            tracing::error!(
                epoch,
                channel = %channel,
                found_by = by,
                "SEALED EPOCH DAMAGED: its stored rows no longer match its digest; its proofs, bundle and publication are refused from now on, and the next start restores or refuses the store (backup.on_corruption); see docs/alerts.md"
            );
        }
        if !self.mark_store {
            return;
        }
        if let Err(e) = store.set_meta(DAMAGED_SEALS_KEY, &encode_marker(&all)).await {
            tracing::error!(error = %e, "cannot record the damaged seals in the store's meta table: the next start finds them only when its digest check reaches them");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_round_trips_and_skips_what_does_not_parse() {
        let seals = vec![(3600, "alpha".to_string()), (7200, "b_2".to_string())];
        assert_eq!(decode_marker(&encode_marker(&seals)), seals);
        assert_eq!(decode_marker(""), vec![]);
        assert_eq!(decode_marker("x alpha\n7200\n \n10 c\n"), vec![(10, "c".to_string())]);
    }

    #[test]
    fn contains_matches_epoch_and_channel() {
        let d = DamagedSeals::default();
        d.seals.write().unwrap().extend([(10, "b".to_string()), (11, "a".to_string())]);
        assert!(d.contains(10, "b") && d.contains(11, "a"));
        assert!(!d.contains(10, "a") && !d.contains(11, "b") && !d.contains(9, "b"));
        assert!(!d.fully_checked());
    }
}
