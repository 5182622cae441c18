//! Keeps the daemon's opt-outs in memory current with opt-outs written by another process
//! (`chatseal opt-out`, another cluster member's `POST /v1/admin/opt-out`): every
//! [`SYNC_EVERY`] it counts the store's opt-outs and, when the count changed, merges the list
//! (see `crate::opt_outs` for why the set may then answer alone, and for how long). The same
//! set feeds the channel readers, so such a user's lines are dropped at ingest from then on too.
//! A failed sync is retried at the next tick; meanwhile the set stops answering alone once
//! `opt_outs::MAX_AGE` has passed, and proofs ask the store.

use std::sync::Arc;
use std::time::Instant;

use chatseal_schema::Store;

use crate::opt_outs::{OptOuts, SYNC_EVERY};

async fn sync_once(store: &Store, opt_outs: &OptOuts) -> Result<(), chatseal_schema::StoreError> {
    let started = Instant::now();
    let rows = store.opt_out_count().await?;
    if opt_outs.counted(rows, started) {
        let all = store.opted_out_logins().await?;
        opt_outs.merge(all, started);
    }
    Ok(())
}

/// Runs the sync until the task is aborted (the daemon's `run` returns).
pub fn spawn(store: Store, opt_outs: Arc<OptOuts>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SYNC_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tick.tick().await;
            match sync_once(&store, &opt_outs).await {
                Ok(()) if failing => {
                    failing = false;
                    tracing::info!("opt-outs read from the store again");
                }
                Ok(()) => {}
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(error = %e, "cannot read the opt-outs from the store; proofs ask the store for each opt-out until it answers");
                }
                Err(_) => {}
            }
        }
    })
}
