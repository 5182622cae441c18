//! Cluster mode (cluster.md, issue 15) with REAL processes: several `chatseal run` members on one
//! fresh PostgreSQL database and one fake Twitch server that, like Twitch, writes a channel's
//! lines to every connection joined to it. The harness: [`members`] (start, kill -9, SIGTERM,
//! restart, logs, waits on `/healthz` and `/v1/cluster`), [`netns`] (network namespaces and TCP
//! forwarders, to cut a member off for real) and [`ledger`] (every line written, the
//! exactly-once and seal checkers). [`selftest`] shows the harness itself works on what exists
//! without cluster mode; one file per scenario of cluster.md "What the tests must show".

pub mod ledger;
pub mod members;
pub mod netns;

#[cfg(feature = "failpoints")]
mod cut_in_txn;
mod failover;
mod handover;
mod partition;
mod rolling;
mod selftest;
mod spread;

use std::sync::Arc;
use std::time::Duration;

use ledger::Ledger;

/// Waits (bounded) until `n` more lines than `from` were delivered to some connection.
pub async fn wait_lines(ledger: &Arc<Ledger>, from: usize, n: usize) -> usize {
    let target = from + n;
    crate::harness::wait_for(&format!("{target} delivered lines"), Duration::from_secs(30), || async move {
        let d = ledger.delivered();
        (d >= target).then_some(d)
    })
    .await
}

/// Waits (bounded) until every delivered line of each of `phases` is durable in the store.
pub async fn wait_durable(ledger: &Ledger, store: &chatseal_schema::Store, phases: &[u32], within: Duration) {
    crate::harness::wait_for(&format!("the lines of phases {phases:?} durable in the store"), within, || async move {
        for p in phases {
            if !ledger.phase_durable(store, *p).await {
                return None;
            }
        }
        Some(())
    })
    .await
}
