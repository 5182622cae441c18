//! The supervisor: starts the pipeline (clock, aggregator, sealer, backup) and one actor per channel,
//! linked to itself; restarts a failed child with the policy's backoff (a child that fails in
//! pre_start is retried the same way); escalates past the intensity limit by reporting a fatal
//! error and stopping, so the process exits non-zero instead of spinning. Children register
//! under names (`Routes`), so messages reach a restarted child, never a stale reference.
//! `Shutdown` runs the graceful order: stop reading chat, drain the aggregator, let a seal in
//! flight finish.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use tokio::sync::watch;

use super::policy::{Decision, RestartPolicy, RestartTracker};
use crate::aggregator::{AggregatorActor, AggregatorArgs, AggregatorMsg};
use crate::backup::{BackupActor, BackupArgs};
use crate::channel::{ChannelActor, ChannelArgs, ChannelMsg};
use crate::clock::{ClockActor, ClockArgs};
use crate::routes::Routes;
use crate::sealer::{SealerActor, SealerArgs, SealerMsg};
use crate::telemetry::names as m;

/// Everything needed to (re)start every child.
#[derive(Clone)]
pub struct SupervisorArgs {
    pub routes: Routes,
    pub clock: ClockArgs,
    pub aggregator: AggregatorArgs,
    pub sealer: SealerArgs,
    pub backup: BackupArgs,
    pub channels: Vec<ChannelArgs>,
    pub policy: RestartPolicy,
    /// Set to the reason when the supervisor gives up.
    pub fatal: watch::Sender<Option<String>>,
}

/// The kinds of children, in start order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Child {
    Clock,
    Aggregator,
    Sealer,
    Backup,
    Channel(usize),
}

impl Child {
    pub fn kind(&self) -> &'static str {
        match self {
            Child::Clock => "clock",
            Child::Aggregator => "aggregator",
            Child::Sealer => "sealer",
            Child::Backup => "backup",
            Child::Channel(_) => "channel",
        }
    }
}

pub enum SupervisorMsg {
    Respawn(Child),
    /// Graceful stop; replies when chat reading stopped, the aggregator drained and no seal is
    /// in flight. The reply carries what did not go cleanly.
    Shutdown(RpcReplyPort<Vec<String>>),
    /// Test hook and admin: which children run right now.
    Children(RpcReplyPort<Vec<(String, ActorCell)>>),
}

pub struct SupervisorState {
    args: SupervisorArgs,
    running: HashMap<ActorId, (Child, ActorCell)>,
    tracker: RestartTracker,
    shutting_down: bool,
}

pub struct Supervisor;

impl Actor for Supervisor {
    type Msg = SupervisorMsg;
    type State = SupervisorState;
    type Arguments = SupervisorArgs;

    async fn pre_start(&self, myself: ActorRef<SupervisorMsg>, args: SupervisorArgs) -> Result<SupervisorState, ActorProcessingErr> {
        let mut st = SupervisorState { tracker: RestartTracker::new(args.policy.clone()), args, running: HashMap::new(), shutting_down: false };
        let mut order = vec![Child::Clock, Child::Aggregator, Child::Sealer, Child::Backup];
        order.extend((0..st.args.channels.len()).map(Child::Channel));
        for child in order {
            // A child that cannot start now is retried by the policy, like a crash.
            if let Err(e) = st.spawn(&myself, child.clone()).await {
                st.on_failure(&myself, child, e);
            }
        }
        Ok(st)
    }

    async fn handle(&self, myself: ActorRef<SupervisorMsg>, msg: SupervisorMsg, st: &mut SupervisorState) -> Result<(), ActorProcessingErr> {
        match msg {
            SupervisorMsg::Respawn(child) => {
                if st.shutting_down {
                    return Ok(());
                }
                metrics::counter!(m::ACTOR_RESTARTS_TOTAL, "actor" => child.kind()).increment(1);
                if let Err(e) = st.spawn(&myself, child.clone()).await {
                    st.on_failure(&myself, child, e);
                }
            }
            SupervisorMsg::Shutdown(reply) => {
                st.shutting_down = true;
                let problems = st.graceful().await;
                let _ = reply.send(problems);
            }
            SupervisorMsg::Children(reply) => {
                let _ = reply.send(st.running.values().map(|(c, cell)| (format!("{c:?}"), cell.clone())).collect());
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(&self, myself: ActorRef<SupervisorMsg>, evt: SupervisionEvent, st: &mut SupervisorState) -> Result<(), ActorProcessingErr> {
        let (cell, why) = match evt {
            SupervisionEvent::ActorFailed(cell, err) => (cell, format!("failed: {err}")),
            SupervisionEvent::ActorTerminated(cell, _, reason) => (cell, format!("stopped: {}", reason.unwrap_or_default())),
            _ => return Ok(()),
        };
        let Some((child, _)) = st.running.remove(&cell.get_id()) else { return Ok(()) };
        if st.shutting_down {
            return Ok(());
        }
        st.on_failure(&myself, child, why);
        Ok(())
    }
}

impl SupervisorState {
    async fn spawn(&mut self, myself: &ActorRef<SupervisorMsg>, child: Child) -> Result<(), String> {
        let sup = myself.get_cell();
        let routes = &self.args.routes;
        let cell = match &child {
            Child::Clock => Actor::spawn_linked(Some(routes.name("clock")), ClockActor, self.args.clock.clone(), sup)
                .await
                .map(|(r, _)| r.get_cell()),
            Child::Aggregator => {
                Actor::spawn_linked(Some(routes.name("aggregator")), AggregatorActor, self.args.aggregator.clone(), sup)
                    .await
                    .map(|(r, _)| r.get_cell())
            }
            Child::Sealer => Actor::spawn_linked(Some(routes.name("sealer")), SealerActor, self.args.sealer.clone(), sup)
                .await
                .map(|(r, _)| r.get_cell()),
            Child::Backup => Actor::spawn_linked(Some(routes.name("backup")), BackupActor, self.args.backup.clone(), sup)
                .await
                .map(|(r, _)| r.get_cell()),
            Child::Channel(i) => {
                let args = self.args.channels[*i].clone();
                let name = routes.name(&format!("channel.{}", args.session.channel));
                Actor::spawn_linked(Some(name), ChannelActor, args, sup).await.map(|(r, _)| r.get_cell())
            }
        }
        .map_err(|e| format!("{} did not start: {e}", child.kind()))?;
        self.running.insert(cell.get_id(), (child, cell));
        Ok(())
    }

    fn on_failure(&mut self, myself: &ActorRef<SupervisorMsg>, child: Child, why: String) {
        match self.tracker.on_failure(Instant::now(), rand::random::<f64>()) {
            Decision::Restart(delay) => {
                tracing::warn!(actor = child.kind(), reason = %why, restart_in = ?delay, "actor failed; restarting");
                myself.send_after(delay, move || SupervisorMsg::Respawn(child));
            }
            Decision::Escalate { restarts } => {
                let msg = format!(
                    "{} failed ({why}) after {restarts} restarts within {:?}: giving up so the service manager restarts the process",
                    child.kind(),
                    self.args.policy.window
                );
                tracing::error!("{msg}");
                let _ = self.args.fatal.send(Some(msg.clone()));
                self.shutting_down = true;
                myself.stop(Some(msg));
            }
        }
    }

    fn find(&self, pred: impl Fn(&Child) -> bool) -> Vec<ActorCell> {
        self.running.values().filter(|(c, _)| pred(c)).map(|(_, cell)| cell.clone()).collect()
    }

    /// Stop reading chat, drain the aggregator, let a seal in flight finish, stop children.
    async fn graceful(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        let t = Some(Duration::from_secs(10));
        for cell in self.find(|c| matches!(c, Child::Channel(_))) {
            let r: ActorRef<ChannelMsg> = cell.into();
            if r.call(ChannelMsg::Shutdown, t).await.is_err() {
                problems.push("a channel actor did not confirm its stop".into());
            }
        }
        // Drain until everything received is durable (retrying while the store recovers).
        if let Some(agg) = self.args.routes.aggregator() {
            let mut drained = false;
            for _ in 0..3 {
                match agg.call(|reply| AggregatorMsg::Flush { close_through: None, reply }, t).await {
                    Ok(ractor::rpc::CallResult::Success(Ok(()))) => {
                        drained = true;
                        break;
                    }
                    Ok(ractor::rpc::CallResult::Success(Err(e))) => problems.push(format!("final flush failed: {e}")),
                    _ => problems.push("the aggregator did not answer the final flush".into()),
                }
            }
            if !drained {
                problems.push("events received in the last flush interval may not be durable".into());
            }
        } else {
            problems.push("the aggregator was not running at shutdown".into());
        }
        if let Some(sealer) = self.args.routes.sealer() {
            if sealer.call(SealerMsg::Idle, t).await.is_err() {
                problems.push("the sealer did not confirm it was idle".into());
            }
        }
        for (_, (_, cell)) in self.running.drain() {
            cell.stop(Some("shutdown".into()));
        }
        problems
    }
}
