//! Cluster mode (cluster.md) on top of the store lease: every third of `cluster.lease_ttl` the
//! member claims or renews the sealer and backup roles (a free role, or one whose holder's
//! lease ran out, is taken and its fencing number grows) and publishes what it holds to the
//! sealer and the backup actor through watch channels. A graceful stop gives the roles up at
//! once, so the next holder need not wait for the lease.

use std::sync::Arc;
use std::time::Duration;

use chatseal_actors::sealer::SealerCluster;
use chatseal_schema::ownership::lease::Lease;
use chatseal_schema::ownership::roles::{Fence, BACKUP, SEALER};
use chatseal_schema::Store;
use tokio::sync::watch;

use crate::settings::Settings;

/// The roles this member holds, as watch channels the actors read.
pub struct Roles {
    pub sealer: watch::Receiver<Option<Fence>>,
    pub backup: watch::Receiver<Option<Fence>>,
    task: tokio::task::JoinHandle<()>,
    store: Store,
}

impl Roles {
    /// What the sealer actor needs to seal as this member.
    pub fn sealer_args(&self, lease: &Lease, settings: &Settings) -> SealerCluster {
        SealerCluster {
            instance: lease.me().instance.clone(),
            token: lease.token(),
            fence: self.sealer.clone(),
            // A member that is alive but slow gets several leases to catch up; one whose
            // lease runs out stops counting.
            wait: (settings.cluster.lease_ttl * 3).max(Duration::from_secs(10)),
        }
    }

    /// Stops claiming and gives up the roles held (graceful stop).
    pub async fn release(self) {
        self.task.abort();
        for rx in [&self.sealer, &self.backup] {
            let held = rx.borrow().clone();
            if let Some(f) = held {
                if let Err(e) = self.store.release_role(&f).await {
                    tracing::warn!(role = %f.role, error = %e, "giving up a cluster role failed; it moves when the lease runs out");
                }
            }
        }
    }
}

/// Starts claiming the roles for the member holding `lease`.
pub fn start(store: &Store, lease: Arc<Lease>) -> Roles {
    let (sealer_tx, sealer) = watch::channel(None);
    let (backup_tx, backup) = watch::channel(None);
    let task = tokio::spawn(claim_loop(store.clone(), lease, sealer_tx, backup_tx));
    Roles { sealer, backup, task, store: store.clone() }
}

async fn claim_loop(store: Store, lease: Arc<Lease>, sealer: watch::Sender<Option<Fence>>, backup: watch::Sender<Option<Fence>>) {
    let mut tick = tokio::time::interval(lease.interval());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (instance, token) = (lease.me().instance.clone(), lease.token());
    loop {
        tick.tick().await;
        for (role, tx) in [(SEALER, &sealer), (BACKUP, &backup)] {
            match store.claim_role(role, &instance, token).await {
                Ok(held) => {
                    let changed = *tx.borrow() != held;
                    if changed {
                        match &held {
                            Some(f) => tracing::info!(role, fence = f.number, "this member holds the role"),
                            None => tracing::info!(role, "another member holds the role"),
                        }
                        metrics::gauge!(chatseal_actors::telemetry::names::CLUSTER_ROLE_HELD, "role" => role).set(if held.is_some() { 1.0 } else { 0.0 });
                        if let Some(f) = &held {
                            metrics::gauge!(chatseal_actors::telemetry::names::CLUSTER_ROLE_FENCE, "role" => role).set(f.number as f64);
                        }
                        let _ = tx.send(held);
                    }
                }
                // Unreachable store: keep what we believe; the store's fence check refuses a
                // stale holder's writes anyway.
                Err(e) => tracing::warn!(role, error = %e, "claiming a cluster role failed; retrying"),
            }
        }
    }
}
