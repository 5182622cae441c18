//! The channel actor: owns the sessions of one channel. It starts a session, and when one ends
//! it reconnects after a jittered exponential backoff (a refused join waits the maximum, never
//! hammering). On the server's RECONNECT it makes before it breaks: a new session joins first,
//! both read for `overlap`, then the old one is stopped; the aggregator drops the duplicates by
//! message id. Sessions are tied to the actor by drop guards, so a crashed actor leaves no
//! orphan connection behind.

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::backoff::Backoff;
use super::session::{run_session, EndReason, SessionCfg, SessionEvent};
use super::status::{ChannelBoard, ChannelState};
use crate::telemetry::names as m;

#[derive(Debug, Clone)]
pub struct ChannelArgs {
    pub session: Arc<SessionCfg>,
    pub board: ChannelBoard,
    pub reconnect_min: Duration,
    pub reconnect_max: Duration,
    /// How long the old and new sessions both read after a RECONNECT.
    pub overlap: Duration,
}

pub enum ChannelMsg {
    Connect,
    Session(SessionEvent),
    /// Stop the old session after a RECONNECT overlap.
    DropOld(u64),
    /// Stop reading chat: end every session (each reports its coverage end), then reply.
    Shutdown(RpcReplyPort<()>),
}

struct Running {
    gen: u64,
    guard: DropGuard,
    handle: JoinHandle<()>,
}

pub struct ChannelActorState {
    args: ChannelArgs,
    next_gen: u64,
    current: Option<Running>,
    previous: Option<Running>,
    backoff: Backoff,
    stopping: bool,
}

pub struct ChannelActor;

impl Actor for ChannelActor {
    type Msg = ChannelMsg;
    type State = ChannelActorState;
    type Arguments = ChannelArgs;

    async fn pre_start(&self, myself: ActorRef<ChannelMsg>, args: ChannelArgs) -> Result<ChannelActorState, ActorProcessingErr> {
        fail::fail_point!("channel.pre_start", |_| Err("failpoint channel.pre_start".into()));
        myself.cast(ChannelMsg::Connect)?;
        let backoff = Backoff::new(args.reconnect_min, args.reconnect_max);
        Ok(ChannelActorState { args, next_gen: 1, current: None, previous: None, backoff, stopping: false })
    }

    async fn handle(&self, myself: ActorRef<ChannelMsg>, msg: ChannelMsg, st: &mut ChannelActorState) -> Result<(), ActorProcessingErr> {
        let channel = st.args.session.channel.clone();
        match msg {
            ChannelMsg::Connect => {
                if st.current.is_none() && !st.stopping {
                    st.current = Some(st.start(&myself));
                    st.set_state(ChannelState::Connecting);
                }
            }
            ChannelMsg::Session(SessionEvent::Joined { gen, at_ms, room_id }) => {
                if st.current.as_ref().is_some_and(|r| r.gen == gen) {
                    tracing::info!(channel = %channel, room_id = ?room_id, "joined");
                    st.args.board.update(&channel, |s| {
                        s.state = ChannelState::Joined;
                        s.joined_since_ms = Some(at_ms);
                        if room_id.is_some() {
                            s.room_id.clone_from(&room_id);
                        }
                        s.last_error = None;
                    });
                    metrics::gauge!(m::CHANNEL_STATE, "channel" => channel.to_string()).set(ChannelState::Joined.gauge());
                    if let Some(old) = &st.previous {
                        myself.send_after(st.args.overlap, { let g = old.gen; move || ChannelMsg::DropOld(g) });
                    }
                } else if st.current.as_ref().is_none_or(|r| r.gen != gen) && st.previous.as_ref().is_none_or(|r| r.gen != gen) {
                    tracing::debug!(channel = %channel, gen, "join of a stale session ignored");
                }
            }
            ChannelMsg::Session(SessionEvent::ServerReconnect { gen }) => {
                if st.current.as_ref().is_some_and(|r| r.gen == gen) && st.previous.is_none() && !st.stopping {
                    tracing::info!(channel = %channel, "server asked to reconnect: opening the new connection before closing the old");
                    metrics::counter!(m::RECONNECTS_TOTAL, "reason" => "server_reconnect").increment(1);
                    st.args.board.update(&channel, |s| s.reconnects += 1);
                    st.previous = st.current.take();
                    st.current = Some(st.start(&myself));
                }
            }
            ChannelMsg::DropOld(gen) => {
                if st.previous.as_ref().is_some_and(|r| r.gen == gen) {
                    // Dropping the guard cancels the session; it reports Ended by itself.
                    st.previous.take();
                }
            }
            ChannelMsg::Session(SessionEvent::Ended { gen, reason, was_joined_for }) => {
                if st.previous.as_ref().is_some_and(|r| r.gen == gen) {
                    st.previous = None;
                } else if st.current.as_ref().is_some_and(|r| r.gen == gen) {
                    st.current = None;
                    if st.stopping {
                        return Ok(());
                    }
                    if was_joined_for.is_some_and(|d| d > Duration::from_secs(60)) {
                        st.backoff.reset();
                    }
                    let (delay, state) = match &reason {
                        EndReason::Refused(_) => (st.args.reconnect_max, ChannelState::Refused),
                        _ => (st.backoff.next(), ChannelState::BackingOff),
                    };
                    match &reason {
                        EndReason::Refused(id) => tracing::warn!(channel = %channel, msg_id = %id, retry_in = ?delay, "join refused by the server"),
                        other => tracing::warn!(channel = %channel, reason = ?other, retry_in = ?delay, "chat connection ended; reconnecting"),
                    }
                    metrics::counter!(m::RECONNECTS_TOTAL, "reason" => reason.label()).increment(1);
                    st.args.board.update(&channel, |s| {
                        s.state = state;
                        s.joined_since_ms = None;
                        s.reconnects += 1;
                        s.last_error = Some(format!("{reason:?}"));
                    });
                    metrics::gauge!(m::CHANNEL_STATE, "channel" => channel.to_string()).set(state.gauge());
                    myself.send_after(delay, || ChannelMsg::Connect);
                }
            }
            ChannelMsg::Shutdown(reply) => {
                st.stopping = true;
                let mut handles = Vec::new();
                for r in [st.current.take(), st.previous.take()].into_iter().flatten() {
                    let Running { guard, handle, .. } = r;
                    drop(guard);
                    handles.push(handle);
                }
                for h in handles {
                    let _ = tokio::time::timeout(Duration::from_secs(5), h).await;
                }
                st.set_state(ChannelState::Disconnected);
                let _ = reply.send(());
            }
        }
        Ok(())
    }
}

impl ChannelActorState {
    fn start(&mut self, myself: &ActorRef<ChannelMsg>) -> Running {
        let gen = self.next_gen;
        self.next_gen += 1;
        let token = CancellationToken::new();
        let me = myself.clone();
        let handle = tokio::spawn(run_session(self.args.session.clone(), gen, token.clone(), move |ev| {
            let _ = me.cast(ChannelMsg::Session(ev));
        }));
        Running { gen, guard: token.drop_guard(), handle }
    }

    fn set_state(&self, state: ChannelState) {
        let channel = self.args.session.channel.clone();
        self.args.board.update(&channel, |s| {
            s.state = state;
            if state != ChannelState::Joined {
                s.joined_since_ms = None;
            }
        });
        metrics::gauge!(m::CHANNEL_STATE, "channel" => channel.to_string()).set(state.gauge());
    }
}
