//! Cluster mode (cluster.md) on top of the store lease: every third of `cluster.lease_ttl` the
//! member claims or renews the sealer and backup roles (a free role, or one whose holder's
//! lease ran out, is taken and its fencing number grows) and publishes what it holds to the
//! sealer and the backup actor through watch channels; it runs a round of the channel-slot
//! plan and publishes the channels it must read (`reading`, which the channel supervisor
//! follows), and reports the channels it now reads so hand-overs to it complete. A graceful
//! stop first hands the channel slots over make before break (another member reads each
//! channel before this one stops), then gives the roles up at once, so the next holder need not
//! wait for the lease.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chatseal_actors::channel::status::{ChannelBoard, ChannelState};
use chatseal_actors::sealer::SealerCluster;
use chatseal_actors::telemetry::{labels, names as m};
use chatseal_schema::ownership::lease::Lease;
use chatseal_schema::ownership::roles::{Fence, BACKUP, ROLES, SEALER};
use chatseal_schema::ownership::slots_plan::reading;
use chatseal_schema::Store;
use tokio::sync::watch;

use crate::settings::Settings;

/// `kind` of `chatseal_cluster_takeovers_total`: a channel slot, or a role, taken over from a
/// member whose lease ran out.
const TAKEOVER_SLOT: &str = "slot";
const TAKEOVER_ROLE: &str = "role";

/// Creates the cluster series (once per process: the recorder is global), so they exist from
/// the first scrape. A single daemon is a one-member cluster that reads every channel itself;
/// a cluster member overwrites the values as it plans its rounds.
pub fn register_series() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        labels::TAKEOVERS_BY_KIND.register([TAKEOVER_SLOT, TAKEOVER_ROLE]);
        labels::ROLE_HELD_BY_ROLE.register(ROLES);
        labels::ROLE_FENCE_BY_ROLE.register(ROLES);
        for g in [m::CLUSTER_SLOTS_HELD, m::CLUSTER_UNOWNED_SLOTS, m::CLUSTER_UNOWNED_SECONDS] {
            metrics::gauge!(g).set(0.0);
        }
        metrics::gauge!(m::CLUSTER_MEMBERS).set(1.0);
        metrics::gauge!(m::CLUSTER_REPLICAS).set(1.0);
    });
}

/// The roles this member holds, as watch channels the actors read.
pub struct Roles {
    /// The sealer role's fence while this member holds it; None otherwise.
    pub sealer: watch::Receiver<Option<Fence>>,
    /// The backup role's fence while this member holds it; None otherwise.
    pub backup: watch::Receiver<Option<Fence>>,
    /// The channels this member must read: slots it holds or is taking over.
    pub reading: watch::Receiver<BTreeSet<String>>,
    task: tokio::task::JoinHandle<()>,
    store: Store,
    instance: String,
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

    /// A graceful stop, make before break: stops this member's slot rounds (so it takes no new
    /// slot) and names another live member as the next holder of each slot it holds, then
    /// waits, up to `within`, until they hold them (each joins the channel and reports it at
    /// its next round). Meanwhile this member keeps reading every channel it had, so a channel
    /// is never left without a reader; it stops reading them when it stops. Slots nobody else
    /// can take, and those still moving after `within`, move when this member has left.
    pub async fn hand_over(&self, within: Duration) {
        self.task.abort();
        let started = tokio::time::Instant::now();
        let mut announced = false;
        loop {
            match self.store.hand_over_slots(&self.instance).await {
                Ok(0) => {
                    if announced {
                        tracing::info!(after = ?started.elapsed(), "channel slots handed over; this member stops reading them");
                    }
                    return;
                }
                Ok(moving) => {
                    if !announced {
                        tracing::info!(
                            slots = moving,
                            "handing channel slots over before stopping (make before break)"
                        );
                        announced = true;
                    }
                    if started.elapsed() >= within {
                        tracing::warn!(slots = moving, within = ?within, "channel slots not handed over in time; they move when this member has left");
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "handing channel slots over failed; they move when this member has left");
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
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

/// What the slot rounds need besides the store and the lease.
pub struct SlotInputs {
    /// The cluster's channel set.
    pub channels: watch::Receiver<BTreeSet<String>>,
    /// `cluster.replicas`: slots (readers) per channel.
    pub replicas: u32,
    /// Channel states of this member (which channels are joined).
    pub board: ChannelBoard,
}

/// Starts claiming the roles and planning the slots for the member holding `lease`.
pub fn start(
    store: &Store,
    lease: Arc<Lease>,
    inputs: SlotInputs,
    reading_tx: watch::Sender<BTreeSet<String>>,
) -> Roles {
    let (sealer_tx, sealer) = watch::channel(None);
    let (backup_tx, backup) = watch::channel(None);
    let reading = reading_tx.subscribe();
    metrics::gauge!(m::CLUSTER_REPLICAS).set(inputs.replicas as f64);
    let instance = lease.me().instance.clone();
    let task = tokio::spawn(claim_loop(store.clone(), lease, sealer_tx, backup_tx, reading_tx, inputs));
    Roles { sealer, backup, reading, task, store: store.clone(), instance }
}

async fn claim_loop(
    store: Store,
    lease: Arc<Lease>,
    sealer: watch::Sender<Option<Fence>>,
    backup: watch::Sender<Option<Fence>>,
    reading_tx: watch::Sender<BTreeSet<String>>,
    inputs: SlotInputs,
) {
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
                            Some(f) => {
                                tracing::info!(role, fence = f.number, "this member holds the role");
                                metrics::gauge!(m::CLUSTER_ROLE_FENCE, "role" => role).set(f.number as f64);
                                if f.number > 1 {
                                    metrics::counter!(m::CLUSTER_TAKEOVERS_TOTAL, "kind" => TAKEOVER_ROLE).increment(1);
                                }
                            }
                            None => tracing::info!(role, "another member holds the role"),
                        }
                        metrics::gauge!(m::CLUSTER_ROLE_HELD, "role" => role).set(if held.is_some() {
                            1.0
                        } else {
                            0.0
                        });
                        let _ = tx.send(held);
                    }
                }
                // Unreachable store: keep what we believe; the store's fence check refuses a
                // stale holder's writes anyway.
                Err(e) => tracing::warn!(role, error = %e, "claiming a cluster role failed; retrying"),
            }
        }
        slot_round(&store, &instance, &inputs, &reading_tx).await;
    }
}

/// One slot round: report what this member now reads (completing hand-overs to it), plan,
/// publish the channels to read, and the metrics.
async fn slot_round(store: &Store, me: &str, inputs: &SlotInputs, reading_tx: &watch::Sender<BTreeSet<String>>) {
    let joined: BTreeSet<String> =
        inputs.board.snapshot().into_iter().filter(|c| c.state == ChannelState::Joined).map(|c| c.channel).collect();
    if let Err(e) = store.mark_slots_ready(me, &joined).await {
        tracing::warn!(error = %e, "reporting joined channels failed; retrying");
    }
    let channels = inputs.channels.borrow().clone();
    let round = match store.plan_slots(&channels, inputs.replicas).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "planning the channel slots failed; keeping the channels read now");
            return;
        }
    };
    let plain: Vec<_> = round.slots.iter().map(|r| r.slot.clone()).collect();
    let mine = reading(&plain, me);
    for (channel, slot, to) in &round.notes.taken_over {
        if to == me {
            tracing::info!(channel = %channel, slot, "took over a channel slot of a member whose lease ran out");
            metrics::counter!(m::CLUSTER_TAKEOVERS_TOTAL, "kind" => TAKEOVER_SLOT).increment(1);
        }
    }
    metrics::gauge!(m::CLUSTER_MEMBERS).set(round.live_members.len() as f64);
    metrics::gauge!(m::CLUSTER_SLOTS_HELD).set(plain.iter().filter(|s| s.holder.as_deref() == Some(me)).count() as f64);
    let unowned: Vec<i64> = round.slots.iter().filter_map(|r| r.unowned_since_ms).collect();
    metrics::gauge!(m::CLUSTER_UNOWNED_SLOTS).set(unowned.len() as f64);
    let oldest = unowned.iter().min().map_or(0.0, |since| (round.now_ms - since).max(0) as f64 / 1000.0);
    metrics::gauge!(m::CLUSTER_UNOWNED_SECONDS).set(oldest);
    for c in &channels {
        let readers = plain.iter().filter(|s| &s.channel == c && s.holder.is_some()).count();
        metrics::gauge!(m::CLUSTER_CHANNEL_READERS, "channel" => c.clone()).set(readers as f64);
    }
    if *reading_tx.borrow() != mine {
        tracing::info!(channels = ?mine, "channels this member reads changed");
        let _ = reading_tx.send(mine);
    }
}
