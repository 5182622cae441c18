//! The seal digests at start-up: a budgeted check before the daemon is ready, the rest in the
//! background after it (docs/operations.md, "Start-up checks"). SQLite's `quick_check` stays
//! whole at open, before anything is written: it is what says the file's b-trees can be
//! written to at all. The digests only say whether sealed rows were changed, and nothing the
//! daemon writes touches sealed rows, so they can finish after ready as long as no sealed row
//! is handed out unchecked: every proof tree, bundle and publication record is checked against
//! its own seal's digest when it is made (`crate::proofs`, `crate::export`, `http::publish`).
//!
//! Before ready: the seals a previous run found damaged (the `meta` marker of
//! `crate::damaged_seals`), each read the exact way, then pages of seals in key order until
//! [`START_BUDGET`] has passed (at least one page, so a small store is checked whole before
//! ready, as before; `RunOptions::digest_budget` of zero leaves every page to the background). Damage found there takes the recovery path (`recovery::recover`).
//! After ready: the remaining pages, one at a time; damage found there is reported through
//! [`DamagedSeals::report`] (ERROR log, gauge and alert, refused for proofs and publishing, the
//! marker for the next start), and a clean full pass clears an old marker.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chatseal_schema::{DigestCheck, SealKey, Store, StoreError};

use crate::damaged_seals::{decode_marker, DamagedSeals, DAMAGED_SEALS_KEY};

/// How long the start-up part of the digest check may run before the daemon gets ready (the
/// bar: ready within 5 s of a cold start with a 1 GB store, quick_check included).
pub const START_BUDGET: Duration = Duration::from_secs(1);

/// Seals per step of the check (a few tens of milliseconds of hashing on a big store).
const PAGE: u64 = 64;

/// How long the background check waits before trying a page again after a store error.
const RETRY_AFTER: Duration = Duration::from_secs(10);

/// What is left for the background part after start-up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Rest {
    /// Nothing: every seal was checked.
    #[default]
    Done,
    /// The seals after where this check stands.
    After(DigestCheck),
}

/// What the start-up part found.
#[derive(Debug, Default)]
pub struct StartCheck {
    /// Seals whose rows do not match their digest (the store is damaged).
    pub bad: Vec<SealKey>,
    /// What the background part checks.
    pub rest: Rest,
    /// The marker named seals (checked again here).
    pub marked: usize,
    /// Seals and leaves checked.
    pub seals: u64,
    /// Frozen leaves of those seals.
    pub leaves: i64,
}

/// Whether the start-up check takes another page: while within budget, and the first page
/// whatever it takes (a budget of zero: none, everything in the background).
pub fn another_page(pages_done: usize, elapsed: Duration, budget: Duration) -> bool {
    !budget.is_zero() && (pages_done == 0 || elapsed < budget)
}

/// The start-up part: the marked seals, then pages until `budget` has passed or damage is found.
pub async fn at_start(store: &Store, budget: Duration) -> Result<StartCheck, StoreError> {
    let marked = store.get_meta(DAMAGED_SEALS_KEY).await?.map(|t| decode_marker(&t)).unwrap_or_default();
    let mut out = StartCheck { marked: marked.len(), ..StartCheck::default() };
    if !marked.is_empty() {
        tracing::warn!(
            seals = marked.len(),
            "a previous run found sealed epochs damaged; checking them again before anything else"
        );
        out.bad = store.verify_seals(&marked).await?;
        if !out.bad.is_empty() {
            return Ok(out);
        }
    }
    let started = Instant::now();
    let mut check = DigestCheck::default();
    let mut pages = 0;
    loop {
        if !another_page(pages, started.elapsed(), budget) {
            out.rest = Rest::After(check);
            return Ok(out);
        }
        let page = store.verify_digest_page(&mut check, PAGE).await?;
        pages += 1;
        out.seals += page.seals;
        out.leaves += page.leaves;
        out.bad.extend(page.bad);
        if page.last.is_none() || !out.bad.is_empty() {
            return Ok(out);
        }
    }
}

/// The background part: every seal after `after`, then the check is marked done. Runs until
/// it finishes or the task is aborted (the daemon's `run` returns).
pub fn spawn(
    store: Store,
    damaged: Arc<DamagedSeals>,
    check: DigestCheck,
    marked: bool,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let started = Instant::now();
        let (mut seals, mut leaves) = (0u64, 0i64);
        let mut check = check;
        loop {
            match store.verify_digest_page(&mut check, PAGE).await {
                Ok(page) => {
                    seals += page.seals;
                    leaves += page.leaves;
                    if !page.bad.is_empty() {
                        damaged.report(&store, &page.bad, "the background digest check").await;
                    }
                    if page.last.is_none() {
                        break;
                    }
                }
                Err(e) => {
                    let (epoch, channel) = check.after().cloned().unwrap_or_default();
                    tracing::warn!(error = %e, after_epoch = epoch, after_channel = %channel, "the background digest check could not read the next seals; trying again in {RETRY_AFTER:?}");
                    tokio::time::sleep(RETRY_AFTER).await;
                }
            }
        }
        finished(&store, &damaged, marked).await;
        tracing::info!(
            elapsed = ?started.elapsed(),
            seals,
            leaves,
            damaged = damaged.list().len(),
            "the background digest check has finished: every seal present at start-up was checked"
        );
    })
}

/// Every seal has been checked: says so, and clears an old marker when none was found damaged.
pub async fn finished(store: &Store, damaged: &DamagedSeals, marked: bool) {
    if marked && damaged.list().is_empty() {
        if let Err(e) = store.set_meta(DAMAGED_SEALS_KEY, "").await {
            tracing::warn!(error = %e, "every seal verified, but the old damage marker could not be cleared");
        }
    }
    damaged.set_fully_checked();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_page_is_checked_then_the_budget_decides() {
        let b = Duration::from_secs(1);
        assert!(another_page(0, Duration::from_secs(5), b), "a small store is checked whole at start");
        assert!(another_page(3, Duration::from_millis(999), b));
        assert!(!another_page(3, b, b));
        assert!(!another_page(0, Duration::ZERO, Duration::ZERO), "a zero budget: all in the background");
    }
}
