//! The sealer actor: when the clock says an epoch has closed, it asks the aggregator to make
//! everything of that epoch durable (and to treat later lines of it as late), then seals each
//! channel of the epoch. A cursor in the store (`sealer.next_epoch`) says where it stands, so a
//! restart seals every epoch left behind, oldest first, before the live schedule continues.
//! Messages are handled one at a time, so a reply to `Idle` means no seal is in flight.

use std::time::Duration;

use chatseal_schema::ownership::roles::Fence;
use chatseal_schema::Store;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use super::build::SealConfig;
use super::limits::{limit_warnings, ProgramLimits};
use super::run::{channels_of_epoch, seal_channel_epoch_fenced, FlushNotConfirmed, SealError, SealOutcome};
use crate::aggregator::AggregatorMsg;
use crate::clock::epoch::last_closed_epoch;
use crate::clock::{EpochSubscriber, SharedClock};
use crate::routes::Routes;
use crate::telemetry::names as m;

/// The `meta` key of the sealer's cursor: the next epoch it will seal (Unix seconds).
pub const CURSOR_KEY: &str = "sealer.next_epoch";

/// What the sealer actor is started with.
#[derive(Debug, Clone)]
pub struct SealerArgs {
    /// Where seals and the cursor are written.
    pub store: Store,
    /// The time source: which epochs are closed at start-up.
    pub clock: SharedClock,
    /// How the sealer reaches the aggregator it asks to flush.
    pub routes: Routes,
    /// Amounts and who is left out (`[sealing]`).
    pub cfg: SealConfig,
    /// `epoch.length`, seconds.
    pub epoch_len: i64,
    /// `epoch.grace`, milliseconds.
    pub grace_ms: i64,
    /// How long to wait for the aggregator's flush before retrying the epoch later.
    pub flush_timeout: Duration,
    /// Cluster mode: this member's identity and the sealer role's fence while it holds it.
    pub cluster: Option<SealerCluster>,
    /// The target program's limits: a seal beyond them is logged as a warning.
    pub limits: ProgramLimits,
}

/// What the sealer of a cluster member needs (cluster.md, "Roles" and "Sealing waits for
/// every reader"). Every member closes each epoch in its aggregator and publishes its
/// watermark; only the holder of the sealer role seals, once every live member's watermark
/// covers the epoch, with the role's fencing number checked in the seal's transaction.
#[derive(Debug, Clone)]
pub struct SealerCluster {
    /// This member's instance name (`cluster.instance`).
    pub instance: String,
    /// This membership's incarnation token (a restart gets another).
    pub token: i64,
    /// The sealer role's fence while this member holds the role; None otherwise.
    pub fence: tokio::sync::watch::Receiver<Option<Fence>>,
    /// Longest wait for the other members' watermarks before the epoch is retried later.
    pub wait: Duration,
}

/// The sealer actor's mailbox.
pub enum SealerMsg {
    /// The newest closed epoch, from the clock.
    EpochClosed(i64),
    /// Seal by hand (admin API); channel None = every channel of the epoch.
    SealNow {
        /// The epoch's start, Unix seconds.
        epoch: i64,
        /// The channel, or None for every channel of the epoch.
        channel: Option<String>,
        /// Gets one outcome per channel sealed.
        reply: RpcReplyPort<Result<Vec<SealOutcome>, SealError>>,
    },
    /// Replies once no seal is in flight (shutdown).
    Idle(RpcReplyPort<()>),
}

/// The sealer's subscription to the clock: each closed epoch is cast as
/// [`SealerMsg::EpochClosed`] to the sealer registered under these routes (whichever instance
/// runs now); not delivered while no sealer is registered (restarting).
#[derive(Debug, Clone)]
pub struct SealerSubscription(pub Routes);

impl EpochSubscriber for SealerSubscription {
    fn epoch_closed(&self, epoch: i64) -> bool {
        self.0.sealer().is_some_and(|sealer| sealer.cast(SealerMsg::EpochClosed(epoch)).is_ok())
    }
}

/// The sealer actor's state: its cursor and the retry schedule.
pub struct SealerState {
    args: SealerArgs,
    /// Next epoch to seal; None until the first closed epoch is seen on a fresh store.
    cursor: Option<i64>,
    /// A retry after a failed seal is scheduled (the clock announces each epoch only once).
    retry_pending: bool,
    /// Delay before the next retry; doubles up to a minute, reset by a success.
    retry_delay: std::time::Duration,
}

/// Seals each closed epoch (see the module doc).
pub struct SealerActor;

impl Actor for SealerActor {
    type Msg = SealerMsg;
    type State = SealerState;
    type Arguments = SealerArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<SealerMsg>,
        args: SealerArgs,
    ) -> Result<SealerState, ActorProcessingErr> {
        fail::fail_point!("sealer.pre_start", |_| Err("failpoint sealer.pre_start".into()));
        let cursor = match args.store.get_meta(CURSOR_KEY).await? {
            Some(v) => Some(v.parse::<i64>().map_err(|e| format!("meta {CURSOR_KEY}={v:?} is not an epoch: {e}"))?),
            None => None,
        };
        // Catch up right away with whatever closed while we were down.
        let closed = last_closed_epoch(args.clock.now_ms(), args.epoch_len, args.grace_ms);
        myself.cast(SealerMsg::EpochClosed(closed))?;
        Ok(SealerState { args, cursor, retry_pending: false, retry_delay: std::time::Duration::from_secs(1) })
    }

    async fn handle(
        &self,
        myself: ActorRef<SealerMsg>,
        msg: SealerMsg,
        st: &mut SealerState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SealerMsg::EpochClosed(closed) => {
                st.retry_pending = false;
                match st.seal_through(closed).await {
                    Ok(()) => st.retry_delay = std::time::Duration::from_secs(1),
                    Err(e) => {
                        metrics::counter!(m::SEAL_FAILURES_TOTAL).increment(1);
                        let delay = st.retry_delay;
                        tracing::warn!(error = %e, closed, retry_in = ?delay, "sealing did not complete; retrying");
                        st.retry_delay = (delay * 2).min(std::time::Duration::from_secs(60));
                        if !st.retry_pending {
                            st.retry_pending = true;
                            myself.send_after(delay, move || SealerMsg::EpochClosed(closed));
                        }
                    }
                }
            }
            SealerMsg::SealNow { epoch, channel, reply } => {
                let r = st.seal_epoch(epoch, channel.as_deref()).await;
                let _ = reply.send(r);
            }
            SealerMsg::Idle(reply) => {
                let _ = reply.send(());
            }
        }
        Ok(())
    }
}

impl SealerState {
    /// Seals every epoch from the cursor through `closed`, and any older epoch that still has
    /// unsealed participation (a replay, a manual import), oldest first.
    async fn seal_through(&mut self, closed: i64) -> Result<(), SealError> {
        let len = self.args.epoch_len;
        let mut epochs: Vec<i64> =
            self.args.store.unsealed_participation_epochs(closed + len).await?.into_iter().map(|(e, _)| e).collect();
        let start = self.cursor.unwrap_or(closed);
        let mut e = start;
        while e <= closed {
            epochs.push(e);
            e += len;
        }
        epochs.sort_unstable();
        epochs.dedup();
        metrics::gauge!(m::UNSEALED_BACKLOG).set(epochs.len() as f64);
        for (i, epoch) in epochs.iter().enumerate() {
            self.seal_epoch(*epoch, None).await?;
            if self.cursor.is_none_or(|c| *epoch + len > c) {
                self.cursor = Some(*epoch + len);
                if !self.is_follower() {
                    self.args.store.set_meta(CURSOR_KEY, &(*epoch + len).to_string()).await?;
                }
            }
            metrics::gauge!(m::UNSEALED_BACKLOG).set((epochs.len() - i - 1) as f64);
        }
        if self.cursor.is_none() {
            self.cursor = Some(closed + len);
            if !self.is_follower() {
                self.args.store.set_meta(CURSOR_KEY, &(closed + len).to_string()).await?;
            }
        }
        Ok(())
    }

    async fn seal_epoch(&mut self, epoch: i64, only: Option<&str>) -> Result<Vec<SealOutcome>, SealError> {
        self.flush_aggregator(epoch).await?;
        let fence = match &self.args.cluster {
            None => None,
            Some(c) => {
                self.args.store.publish_ack(&c.instance, c.token, epoch).await?;
                let held = c.fence.borrow().clone();
                let Some(fence) = held else {
                    // Another member holds the sealer role: this member's part is done.
                    return Ok(Vec::new());
                };
                self.wait_for_members(epoch, c.wait).await?;
                Some(fence)
            }
        };
        let len = self.args.epoch_len;
        let mut out = Vec::new();
        for channel in channels_of_epoch(&self.args.store, epoch, len).await? {
            if only.is_some_and(|c| c != channel) {
                continue;
            }
            let now_s = self.args.clock.now_ms() / 1000;
            let outcome = seal_channel_epoch_fenced(
                &self.args.store,
                &self.args.cfg,
                epoch,
                len,
                &channel,
                now_s,
                fence.as_ref(),
            )
            .await?;
            if let SealOutcome::Sealed(s) = &outcome {
                tracing::info!(epoch, channel = %channel, participants = s.participants, root = ?s.root, coverage = s.coverage, "sealed");
                for warning in limit_warnings(s.participants, s.claim_cut, &self.args.limits) {
                    tracing::warn!(epoch, channel = %channel, participants = s.participants, %warning, "sealed beyond the target program's limits: fix before publishing");
                }
                metrics::gauge!(m::LAST_SEALED_EPOCH).set(epoch as f64);
            }
            out.push(outcome);
        }
        Ok(out)
    }

    /// In a cluster, a member that does not hold the sealer role: it closes epochs and
    /// publishes its watermark, but never seals or moves the shared cursor.
    fn is_follower(&self) -> bool {
        self.args.cluster.as_ref().is_some_and(|c| c.fence.borrow().is_none())
    }

    /// Waits (at most `wait`) until every live member has made `epoch` durable (its published
    /// watermark), so nothing a live member holds becomes late. A member whose lease ran out
    /// no longer counts.
    async fn wait_for_members(&self, epoch: i64, wait: Duration) -> Result<(), SealError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let behind = self.args.store.members_behind(epoch).await?;
            if behind.is_empty() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(FlushNotConfirmed::MembersBehind { members: behind, epoch }.into());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Asks the aggregator to make everything received durable and to close epochs through
    /// `epoch`. Fails (and the seal is retried later) if the aggregator cannot confirm.
    async fn flush_aggregator(&self, epoch: i64) -> Result<(), SealError> {
        let Some(agg) = self.args.routes.aggregator() else {
            return Err(FlushNotConfirmed::NotRunning.into());
        };
        let r = agg
            .call(|reply| AggregatorMsg::Flush { close_through: Some(epoch), reply }, Some(self.args.flush_timeout))
            .await;
        match r {
            Ok(ractor::rpc::CallResult::Success(Ok(()))) => Ok(()),
            Ok(ractor::rpc::CallResult::Success(Err(e))) => Err(FlushNotConfirmed::Failed(e).into()),
            Ok(ractor::rpc::CallResult::Timeout) => {
                Err(FlushNotConfirmed::Timeout { timeout: self.args.flush_timeout, epoch }.into())
            }
            Ok(_) => Err(FlushNotConfirmed::Stopped { epoch }.into()),
            Err(_) => Err(FlushNotConfirmed::Unreachable { epoch }.into()),
        }
    }
}
