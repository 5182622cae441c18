//! The channel supervisor: one channel actor per name of a desired set, started and stopped at
//! run time. It follows a `watch` of channel names (in a single daemon the store's channel
//! set; in a cluster the slots this member holds: whoever feeds the watch decides) and applies
//! `reconcile`'s plan. Stopping a channel is a hand-over: its sessions stop reading and send
//! their coverage end, the aggregator flushes what they sent, and only then is the actor
//! stopped and the channel reported gone (the `held` watch and the board). Its children fail
//! and restart one_for_one with a budget per channel (`ChannelRestarts`), never the pipeline's;
//! past a channel's budget that channel waits the longer penalty, and the process goes on.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use ractor::{Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use tokio::sync::watch;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::reconcile::{reconcile, ChannelDecision, ChannelRestartPolicy, ChannelRestarts, Slot};
use crate::aggregator::AggregatorMsg;
use crate::channel::{ChannelActor, ChannelArgs, ChannelMsg, ChannelState};
use crate::routes::Routes;
use crate::telemetry::names as m;

/// How long a channel's sessions get to stop, and the aggregator to flush, in a hand-over.
const HAND_OVER_TIMEOUT: Duration = Duration::from_secs(10);

/// The value of the channel state gauge for a channel this process no longer reads.
pub const NOT_READ_GAUGE: f64 = -1.0;

/// The `actor` label of `chatseal_actor_restarts_total` for a channel actor's restart.
pub const CHANNEL_ACTOR: &str = "channel";

/// What the channel supervisor starts with.
#[derive(Clone)]
pub struct ChannelSupervisorArgs {
    /// The daemon's routes: the channel actors' registered names, and the aggregator flushed in a hand-over.
    pub routes: Routes,
    /// Everything a channel actor needs; the channel name is replaced per channel.
    pub template: ChannelArgs,
    /// The channel names that should be read.
    pub desired: watch::Receiver<BTreeSet<String>>,
    /// The names that have an actor (running, or failed and waiting for its restart); a name
    /// leaves it only once its hand-over is done.
    pub held: watch::Sender<BTreeSet<String>>,
    /// The per-channel restart budget and penalty.
    pub policy: ChannelRestartPolicy,
}

/// Messages of the channel supervisor.
pub enum ChannelSupMsg {
    /// The desired set changed (from the watch).
    Desired(BTreeSet<String>),
    /// Start a failed channel again, unless it was removed or restarted since (`attempt`).
    Respawn {
        /// The channel login.
        name: String,
        /// The restart this message belongs to; a stale one is ignored.
        attempt: u64,
    },
    /// Hand over every channel and stop following the desired set; replies with the problems.
    Shutdown(RpcReplyPort<Vec<String>>),
    /// The names that have an actor right now, and whether it runs (false: waiting to restart).
    Slots(RpcReplyPort<Vec<(String, bool)>>),
}

enum Have {
    Running(ActorCell),
    Waiting { attempt: u64 },
}

/// The channel supervisor's state: its children by name and id, their restart histories and the
/// desired set it follows.
pub struct ChannelSupervisorState {
    args: ChannelSupervisorArgs,
    have: BTreeMap<String, Have>,
    by_id: HashMap<ActorId, String>,
    restarts: ChannelRestarts,
    desired: BTreeSet<String>,
    next_attempt: u64,
    shutting_down: bool,
    _follow: DropGuard,
}

/// The actor that keeps one channel actor per desired channel (see the module doc).
pub struct ChannelSupervisor;

impl Actor for ChannelSupervisor {
    type Msg = ChannelSupMsg;
    type State = ChannelSupervisorState;
    type Arguments = ChannelSupervisorArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<ChannelSupMsg>,
        args: ChannelSupervisorArgs,
    ) -> Result<ChannelSupervisorState, ActorProcessingErr> {
        // Forwards the desired set (its current value first) for as long as this actor lives.
        let token = CancellationToken::new();
        let (mut rx, me, stop) = (args.desired.clone(), myself.clone(), token.clone());
        tokio::spawn(async move {
            loop {
                let set = rx.borrow_and_update().clone();
                if me.cast(ChannelSupMsg::Desired(set)).is_err() {
                    break;
                }
                tokio::select! {
                    r = rx.changed() => if r.is_err() { break },
                    _ = stop.cancelled() => break,
                }
            }
        });
        let restarts = ChannelRestarts::new(args.policy.clone());
        Ok(ChannelSupervisorState {
            args,
            have: BTreeMap::new(),
            by_id: HashMap::new(),
            restarts,
            desired: BTreeSet::new(),
            next_attempt: 1,
            shutting_down: false,
            _follow: token.drop_guard(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<ChannelSupMsg>,
        msg: ChannelSupMsg,
        st: &mut ChannelSupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            ChannelSupMsg::Desired(set) => {
                if !st.shutting_down {
                    st.desired = set;
                    st.reconcile(&myself).await;
                }
            }
            ChannelSupMsg::Respawn { name, attempt } => {
                let current = matches!(st.have.get(&name), Some(Have::Waiting { attempt: a }) if *a == attempt);
                if current && !st.shutting_down && st.desired.contains(&name) {
                    st.have.remove(&name);
                    metrics::counter!(m::ACTOR_RESTARTS_TOTAL, "actor" => CHANNEL_ACTOR).increment(1);
                    if st.spawn(&myself, &name).await {
                        tracing::info!(actor = "channel", channel = %name, "actor restarted");
                    }
                }
            }
            ChannelSupMsg::Shutdown(reply) => {
                st.shutting_down = true;
                let running: Vec<String> =
                    st.have.iter().filter(|(_, h)| matches!(h, Have::Running(_))).map(|(n, _)| n.clone()).collect();
                st.have.retain(|_, h| matches!(h, Have::Running(_)));
                // The root supervisor flushes the aggregator after this (with retries).
                let problems = st.hand_over(running, false).await;
                let _ = reply.send(problems);
            }
            ChannelSupMsg::Slots(reply) => {
                let _ = reply.send(st.have.iter().map(|(n, h)| (n.clone(), matches!(h, Have::Running(_)))).collect());
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<ChannelSupMsg>,
        evt: SupervisionEvent,
        st: &mut ChannelSupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        let (cell, why) = match evt {
            SupervisionEvent::ActorFailed(cell, err) => (cell, format!("failed: {err}")),
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                (cell, format!("stopped by itself: {}", reason.unwrap_or_default()))
            }
            _ => return Ok(()),
        };
        // Actors this supervisor stopped (hand-over) are no longer listed.
        let Some(name) = st.by_id.remove(&cell.get_id()) else { return Ok(()) };
        st.have.remove(&name);
        if !st.shutting_down && st.desired.contains(&name) {
            st.on_failure(&myself, &name, why);
        }
        st.publish();
        Ok(())
    }
}

impl ChannelSupervisorState {
    /// Tells whoever follows `held` which names have an actor now.
    fn publish(&self) {
        let names: BTreeSet<String> = self.have.keys().cloned().collect();
        self.args.held.send_if_modified(|held| {
            let changed = *held != names;
            if changed {
                *held = names;
            }
            changed
        });
    }

    async fn reconcile(&mut self, myself: &ActorRef<ChannelSupMsg>) {
        let slots: BTreeMap<String, Slot> = self
            .have
            .iter()
            .map(|(n, h)| (n.clone(), if matches!(h, Have::Running(_)) { Slot::Running } else { Slot::Waiting }))
            .collect();
        let plan = reconcile(&slots, &self.desired);
        if plan.is_empty() {
            return;
        }
        tracing::info!(start = ?plan.start, stop = ?plan.stop, "channel set changed");
        for name in &plan.forget {
            self.have.remove(name);
            self.restarts.forget(name);
            self.forget_channel(name);
            tracing::info!(channel = %name, "channel removed while waiting for a restart");
        }
        if !plan.stop.is_empty() {
            for p in self.hand_over(plan.stop.clone(), true).await {
                tracing::warn!("channel hand-over: {p}");
            }
            for name in &plan.stop {
                self.restarts.forget(name);
            }
        }
        for name in &plan.start {
            self.args.template.board.update(name, |_| {});
            metrics::gauge!(m::CHANNEL_STATE, "channel" => name.clone()).set(ChannelState::Disconnected.gauge());
            if self.spawn(myself, name).await {
                tracing::info!(channel = %name, "channel actor started");
            }
        }
        self.publish();
    }

    /// Starts the actor of `name`; a failed start is handled like a crash. True when it runs.
    async fn spawn(&mut self, myself: &ActorRef<ChannelSupMsg>, name: &str) -> bool {
        let args = self.args.template.for_channel(name);
        let registered = self.args.routes.name(&format!("channel.{name}"));
        match Actor::spawn_linked(Some(registered), ChannelActor, args, myself.get_cell()).await {
            Ok((actor, _)) => {
                let cell = actor.get_cell();
                self.by_id.insert(cell.get_id(), name.to_string());
                self.have.insert(name.to_string(), Have::Running(cell));
                true
            }
            Err(e) => {
                self.on_failure(myself, name, format!("did not start: {e}"));
                false
            }
        }
    }

    fn on_failure(&mut self, myself: &ActorRef<ChannelSupMsg>, name: &str, why: String) {
        let decision = self.restarts.on_failure(name, Instant::now(), rand::random::<f64>());
        let attempt = self.next_attempt;
        self.next_attempt += 1;
        self.have.insert(name.to_string(), Have::Waiting { attempt });
        let delay = decision.delay();
        match decision {
            ChannelDecision::Restart(_) => {
                tracing::warn!(actor = "channel", channel = %name, reason = %why, restart_in = ?delay, "channel actor failed; restarting")
            }
            ChannelDecision::Penalty { restarts, .. } => {
                let window = self.restarts.policy().restart.window;
                tracing::error!(
                    actor = "channel", channel = %name, reason = %why, restart_in = ?delay,
                    "channel actor failed after {restarts} restarts within {window:?} (daemon.channel_restart_limit): \
                     waiting daemon.channel_restart_penalty before the next start; the other channels and the pipeline go on"
                );
                let note = format!("the channel actor keeps failing ({why}); next start in {}s", delay.as_secs());
                self.args.template.board.update(name, |s| {
                    s.state = ChannelState::BackingOff;
                    s.joined_since_ms = None;
                    s.last_error = Some(note);
                });
                metrics::gauge!(m::CHANNEL_STATE, "channel" => name.to_string()).set(ChannelState::BackingOff.gauge());
            }
        }
        let name = name.to_string();
        myself.send_after(delay, move || ChannelSupMsg::Respawn { name, attempt });
    }

    /// The hand-over of `names`: every session stops reading and sends its coverage end, the
    /// aggregator makes what they sent durable (when `flush`), then the actors stop. Returns
    /// what did not go cleanly.
    async fn hand_over(&mut self, names: Vec<String>, flush: bool) -> Vec<String> {
        let mut problems = Vec::new();
        let mut cells = Vec::new();
        for name in names {
            if let Some(Have::Running(cell)) = self.have.remove(&name) {
                self.by_id.remove(&cell.get_id());
                cells.push((name, cell));
            }
        }
        let asks = cells.iter().map(|(name, cell)| {
            let actor: ActorRef<ChannelMsg> = cell.clone().into();
            async move { (name.clone(), actor.call(ChannelMsg::Shutdown, Some(HAND_OVER_TIMEOUT)).await) }
        });
        for (name, answer) in futures::future::join_all(asks).await {
            if !matches!(answer, Ok(ractor::rpc::CallResult::Success(()))) {
                problems.push(format!(
                    "#{name} did not confirm it stopped reading; its coverage may end at its last heartbeat"
                ));
            }
        }
        if flush && !cells.is_empty() {
            let flushed = match self.args.routes.aggregator() {
                Some(agg) => matches!(
                    agg.call(|reply| AggregatorMsg::Flush { close_through: None, reply }, Some(HAND_OVER_TIMEOUT))
                        .await,
                    Ok(ractor::rpc::CallResult::Success(Ok(())))
                ),
                None => false,
            };
            if !flushed {
                problems.push("the aggregator did not confirm the hand-over flush (restarting, or the store away): the lines of the stopped channels stay in memory until its next flush".into());
            }
        }
        for (name, cell) in cells {
            if cell.stop_and_wait(Some("channel removed".into()), Some(HAND_OVER_TIMEOUT)).await.is_err() {
                cell.kill();
            }
            self.forget_channel(&name);
            tracing::info!(channel = %name, "channel stopped (handed over)");
        }
        self.publish();
        problems
    }

    /// A channel this process no longer reads leaves the board (so /readyz and /v1/status
    /// follow the set) and its state gauge shows it as not read here.
    fn forget_channel(&self, name: &str) {
        self.args.template.board.remove(name);
        metrics::gauge!(m::CHANNEL_STATE, "channel" => name.to_string()).set(NOT_READ_GAUGE);
    }
}
