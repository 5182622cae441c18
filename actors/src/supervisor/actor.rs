//! The supervisor: starts the pipeline (clock, aggregator, sealer, backup) and the channel
//! supervisor (which owns the channel actors, with its own budget: see `channels`), linked to
//! itself; restarts a child that ended, according to its restart type (see `plan`), with the
//! policy's backoff (a child that fails in pre_start is retried the same way). The pipeline
//! restarts rest_for_one in dependency order; the channel supervisor one_for_one. Past the
//! intensity limit it escalates by reporting a fatal error and stopping, so the process exits
//! non-zero instead of spinning. Children register under names (`Routes`), so messages reach a restarted
//! child, never a stale reference. `Shutdown` runs the graceful order: stop reading chat, drain
//! the aggregator, let a seal in flight finish.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use tokio::sync::watch;

use super::channels::{ChannelSupMsg, ChannelSupervisor, ChannelSupervisorArgs, CHANNEL_ACTOR};
use super::plan::{rest_for_one, Exit, RestartType};
use super::policy::{Decision, RestartPolicy, RestartTracker};
use crate::aggregator::{AggregatorActor, AggregatorArgs, AggregatorMsg};
use crate::backup::{BackupActor, BackupArgs};
use crate::clock::{ClockActor, ClockArgs};
use crate::routes::Routes;
use crate::sealer::{SealerActor, SealerArgs, SealerMsg};
use crate::telemetry::names as m;

/// Everything needed to (re)start every child.
#[derive(Clone)]
pub struct SupervisorArgs {
    /// Where each child registers, so messages reach its current instance.
    pub routes: Routes,
    /// The clock's arguments.
    pub clock: ClockArgs,
    /// The aggregator's arguments.
    pub aggregator: AggregatorArgs,
    /// The sealer's arguments.
    pub sealer: SealerArgs,
    /// The backup actor's arguments.
    pub backup: BackupArgs,
    /// The channel supervisor's arguments (the desired channel set and the channel template).
    pub channels: ChannelSupervisorArgs,
    /// `daemon.restart_limit` and `daemon.restart_window`: the budget shared by all children.
    pub policy: RestartPolicy,
    /// Set to the reason when the supervisor gives up.
    pub fatal: watch::Sender<Option<String>>,
}

/// The kinds of children, in start order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Child {
    /// [`ClockActor`].
    Clock,
    /// [`AggregatorActor`].
    Aggregator,
    /// [`SealerActor`].
    Sealer,
    /// [`BackupActor`].
    Backup,
    /// The channel supervisor.
    Channels,
}

impl Child {
    /// Every child, in start order.
    pub const ALL: [Child; 5] = [Child::Clock, Child::Aggregator, Child::Sealer, Child::Backup, Child::Channels];

    /// The `actor` label of `chatseal_actor_restarts_total`.
    pub fn kind(&self) -> &'static str {
        match self {
            Child::Clock => "clock",
            Child::Aggregator => "aggregator",
            Child::Sealer => "sealer",
            Child::Backup => "backup",
            Child::Channels => "channels",
        }
    }

    /// Every child is always restarted.
    pub fn restart_type(&self) -> RestartType {
        RestartType::Permanent
    }

    /// Position in the pipeline's dependency order, for pipeline children.
    fn pipeline_index(&self) -> Option<usize> {
        PIPELINE.iter().position(|c| c == self)
    }
}

/// Every `actor` of `chatseal_actor_restarts_total`: each child kind, and the channel actors
/// the channel supervisor restarts ([`CHANNEL_ACTOR`]).
pub fn restart_kinds() -> impl Iterator<Item = &'static str> {
    Child::ALL.iter().map(Child::kind).chain([CHANNEL_ACTOR])
}

/// The pipeline in dependency (start) order: rest_for_one.
pub const PIPELINE: [Child; 4] = [Child::Clock, Child::Aggregator, Child::Sealer, Child::Backup];

/// The supervisor's mailbox.
pub enum SupervisorMsg {
    /// Start these children again, in this order (after a restart's backoff).
    Respawn(Vec<Child>),
    /// Graceful stop; replies when chat reading stopped, the aggregator drained and no seal is
    /// in flight. The reply carries what did not go cleanly.
    Shutdown(RpcReplyPort<Vec<String>>),
    /// Test hook and admin: which children run right now.
    Children(RpcReplyPort<Vec<(String, ActorCell)>>),
}

/// The supervisor's state: the running children and their restart history.
pub struct SupervisorState {
    args: SupervisorArgs,
    running: HashMap<ActorId, (Child, ActorCell)>,
    tracker: RestartTracker,
    shutting_down: bool,
}

/// The root of the supervision tree (see the module doc).
pub struct Supervisor;

impl Actor for Supervisor {
    type Msg = SupervisorMsg;
    type State = SupervisorState;
    type Arguments = SupervisorArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<SupervisorMsg>,
        args: SupervisorArgs,
    ) -> Result<SupervisorState, ActorProcessingErr> {
        let mut st = SupervisorState {
            tracker: RestartTracker::new(args.policy.clone()),
            args,
            running: HashMap::new(),
            shutting_down: false,
        };
        let mut order = PIPELINE.to_vec();
        order.push(Child::Channels);
        // A child that cannot start now is retried by the policy, like a crash.
        st.start(&myself, order, false).await;
        Ok(st)
    }

    async fn handle(
        &self,
        myself: ActorRef<SupervisorMsg>,
        msg: SupervisorMsg,
        st: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SupervisorMsg::Respawn(children) => {
                if st.shutting_down {
                    return Ok(());
                }
                st.start(&myself, children, true).await;
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

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<SupervisorMsg>,
        evt: SupervisionEvent,
        st: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        let (cell, exit, why) = match evt {
            SupervisionEvent::ActorFailed(cell, err) => (cell, Exit::Failed, format!("failed: {err}")),
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                (cell, Exit::Normal, format!("stopped: {}", reason.unwrap_or_default()))
            }
            _ => return Ok(()),
        };
        // Children the supervisor stopped itself (shutdown, rest_for_one) are no longer listed.
        let Some((child, _)) = st.running.remove(&cell.get_id()) else { return Ok(()) };
        if st.shutting_down {
            return Ok(());
        }
        if !child.restart_type().restarts_after(exit) {
            tracing::info!(actor = child.kind(), reason = %why, "actor ended; its restart type says it stays stopped");
            return Ok(());
        }
        st.on_failure(&myself, child, why).await;
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
            Child::Sealer => {
                Actor::spawn_linked(Some(routes.name("sealer")), SealerActor, self.args.sealer.clone(), sup)
                    .await
                    .map(|(r, _)| r.get_cell())
            }
            Child::Backup => {
                Actor::spawn_linked(Some(routes.name("backup")), BackupActor, self.args.backup.clone(), sup)
                    .await
                    .map(|(r, _)| r.get_cell())
            }
            Child::Channels => {
                Actor::spawn_linked(Some(routes.name("channels")), ChannelSupervisor, self.args.channels.clone(), sup)
                    .await
                    .map(|(r, _)| r.get_cell())
            }
        }
        .map_err(|e| format!("{} did not start: {e}", child.kind()))?;
        if child == Child::Aggregator {
            self.args.routes.pause_aggregator(false);
        }
        self.running.insert(cell.get_id(), (child, cell));
        Ok(())
    }

    fn is_running(&self, child: &Child) -> bool {
        self.running.values().any(|(c, _)| c == child)
    }

    /// Starts `children` in order. A pipeline child whose predecessor is not running is left
    /// for the restart already scheduled for that predecessor (which starts the whole tail in
    /// order); a child already running is skipped. A child that fails to start is handed to
    /// the policy like a crash, and the rest of its pipeline tail waits for that restart.
    async fn start(&mut self, myself: &ActorRef<SupervisorMsg>, children: Vec<Child>, restart: bool) {
        for child in children {
            if self.shutting_down || self.is_running(&child) {
                continue;
            }
            if let Some(i) = child.pipeline_index() {
                if PIPELINE[..i].iter().any(|p| !self.is_running(p)) {
                    continue;
                }
            }
            if restart {
                metrics::counter!(m::ACTOR_RESTARTS_TOTAL, "actor" => child.kind()).increment(1);
            }
            match self.spawn(myself, child.clone()).await {
                Ok(()) => {
                    if restart {
                        tracing::info!(actor = child.kind(), "actor restarted");
                    }
                }
                Err(e) => Box::pin(self.on_failure(myself, child, e)).await,
            }
        }
    }

    /// Stops a running child on purpose (rest_for_one), after letting it finish what it must:
    /// the aggregator makes what it holds durable, the sealer finishes a seal in flight.
    async fn stop_for_restart(&mut self, child: &Child) {
        let Some(id) = self.running.iter().find(|(_, (c, _))| c == child).map(|(id, _)| *id) else { return };
        let Some((_, cell)) = self.running.remove(&id) else { return };
        let t = Some(Duration::from_secs(10));
        match child {
            Child::Aggregator => {
                // Hidden first, so the channels hold new batches (they cast to whoever is found
                // at send time); then two flushes: the first drains the mailbox in order, the
                // second whatever a reader cast just as the lookup changed. Only then is it
                // stopped, with an empty mailbox: a stop drops queued messages.
                self.args.routes.pause_aggregator(true);
                let agg: ActorRef<AggregatorMsg> = cell.clone().into();
                for _ in 0..2 {
                    if !matches!(
                        agg.call(|reply| AggregatorMsg::Flush { close_through: None, reply }, t).await,
                        Ok(ractor::rpc::CallResult::Success(Ok(())))
                    ) {
                        tracing::warn!("the aggregator could not make everything durable before its restart (store away?); what it holds in memory is lost as in a crash");
                        break;
                    }
                }
            }
            Child::Sealer => {
                let sealer: ActorRef<SealerMsg> = cell.clone().into();
                let _ = sealer.call(SealerMsg::Idle, t).await;
            }
            _ => {}
        }
        tracing::info!(actor = child.kind(), "stopping a dependant for an in-order pipeline restart");
        if cell.stop_and_wait(Some("restart of a pipeline predecessor".into()), t).await.is_err() {
            tracing::warn!(actor = child.kind(), "did not stop within 10 s; killing it");
            cell.kill();
            let _ = cell.wait(t).await;
        }
    }

    async fn on_failure(&mut self, myself: &ActorRef<SupervisorMsg>, child: Child, why: String) {
        match self.tracker.on_failure(Instant::now(), rand::random::<f64>()) {
            Decision::Restart(delay) => {
                let group = match child.pipeline_index() {
                    Some(i) => {
                        let running: Vec<bool> = PIPELINE.iter().map(|c| self.is_running(c)).collect();
                        let (stop, start) = rest_for_one(&PIPELINE, &running, i);
                        for dependant in &stop {
                            self.stop_for_restart(dependant).await;
                        }
                        start
                    }
                    None => vec![child.clone()],
                };
                let names: Vec<&str> = group.iter().map(Child::kind).collect();
                tracing::warn!(actor = child.kind(), reason = %why, restart_in = ?delay, restarts = ?names, "actor failed; restarting");
                myself.send_after(delay, move || SupervisorMsg::Respawn(group));
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
        for cell in self.find(|c| matches!(c, Child::Channels)) {
            let r: ActorRef<ChannelSupMsg> = cell.into();
            match r.call(ChannelSupMsg::Shutdown, t).await {
                Ok(ractor::rpc::CallResult::Success(p)) => problems.extend(p),
                _ => problems.push("the channel supervisor did not confirm that chat reading stopped".into()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_child_has_a_distinct_restart_label() {
        for c in Child::ALL {
            // Exhaustive: a new child breaks the build here until `ALL` lists it.
            match c {
                Child::Clock | Child::Aggregator | Child::Sealer | Child::Backup | Child::Channels => {}
            }
        }
        let kinds: Vec<&str> = restart_kinds().collect();
        let distinct: std::collections::HashSet<&str> = kinds.iter().copied().collect();
        assert_eq!((kinds.len(), distinct.len()), (6, 6), "{kinds:?}");
        assert!(PIPELINE.iter().all(|c| Child::ALL.contains(c)));
    }
}
