//! This daemon's ownership of its store (`chatseal_schema::ownership`): on SQLite the lock file
//! is taken BEFORE the store is opened (start-up recovery may move the database's files), on
//! PostgreSQL the member row is joined once the store is open (its table comes with the
//! migrations) and heartbeated every third of `cluster.lease_ttl`. Losing the lease (paused or
//! cut off longer than the lease while another daemon took over) stops this daemon: two
//! daemons never write one store.

use std::sync::Arc;

use chatseal_schema::ownership::lease::Lease;
use chatseal_schema::ownership::lockfile::StoreLock;
use chatseal_schema::ownership::{OwnerInfo, OwnershipError};
use chatseal_schema::{sqlite_path, Backend, Store};
use tokio::sync::watch;

use crate::settings::Settings;

/// Who this daemon is, as other daemons and commands are told.
pub fn me(settings: &Settings) -> OwnerInfo {
    OwnerInfo::this_process(
        &settings.cluster.instance,
        &format!("http://{}", settings.http.listen),
        settings.cluster.enabled,
    )
}

/// SQLite: takes the store's lock file (None for in-memory and PostgreSQL stores).
pub fn lock_file(settings: &Settings) -> Result<Option<StoreLock>, OwnershipError> {
    match sqlite_path(&settings.store.url) {
        Some(db) => StoreLock::acquire(&db, &me(settings)).map(Some),
        None => Ok(None),
    }
}

/// A joined PostgreSQL membership and its heartbeat.
pub struct Membership {
    /// The held membership, shared with the cluster roles and slots.
    pub lease: Arc<Lease>,
    /// Set to the reason when the lease is lost.
    pub lost: watch::Receiver<Option<String>>,
    beat: tokio::task::JoinHandle<()>,
}

impl Membership {
    /// Stops the heartbeat and leaves at once (graceful stop).
    pub async fn leave(self) {
        self.beat.abort();
        if let Err(e) = self.lease.leave().await {
            tracing::warn!(error = %e, "leaving the store's members failed; the lease runs out by itself");
        }
    }
}

/// PostgreSQL: joins the store's members (refused while another live daemon owns it).
pub async fn join(settings: &Settings, store: &Store) -> Result<Option<Membership>, OwnershipError> {
    if store.backend() != Backend::Postgres {
        return Ok(None);
    }
    let lease = Arc::new(store.join(&settings.store.url, me(settings), settings.cluster.lease_ttl).await?);
    tracing::info!(instance = %lease.me().instance, lease_ttl = ?settings.cluster.lease_ttl, "store ownership taken (PostgreSQL lease)");
    let (tx, lost) = watch::channel(None);
    let beat = tokio::spawn(heartbeat(lease.clone(), tx));
    Ok(Some(Membership { lease, lost, beat }))
}

/// Resolves with the reason once the lease is lost; never without a lease (SQLite, in memory).
pub async fn lost(rx: Option<watch::Receiver<Option<String>>>) -> String {
    if let Some(mut rx) = rx {
        if let Ok(v) = rx.wait_for(|l| l.is_some()).await {
            return v.clone().unwrap_or_default();
        }
    }
    std::future::pending().await
}

async fn heartbeat(lease: Arc<Lease>, lost: watch::Sender<Option<String>>) {
    let mut tick = tokio::time::interval(lease.interval());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match lease.heartbeat().await {
            Ok(()) => {}
            Err(OwnershipError::Lost { store, detail }) => {
                tracing::error!(store = %store, "store ownership lost: {detail}");
                let _ = lost.send(Some(detail));
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "renewing the store lease failed; retrying (the lease runs out after cluster.lease_ttl)")
            }
        }
    }
}
