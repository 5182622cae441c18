//! The channel actor: a thin shell around the pure connection machine (`connection`). It feeds
//! the machine the sessions' reports and timers, and carries out its effects: open a session
//! (a task reading the socket), close one, schedule a reconnect or the end of a RECONNECT
//! overlap, and show the channel's state on the board and in metrics. Sessions are tied to the
//! actor by drop guards, so a crashed actor leaves no orphan connection behind.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::connection::{Connection, ConnectionCfg, Effect, Ending, Input};
use super::session::{run_session, EndReason, SessionCfg, SessionEvent, SERVER_RECONNECT};
use super::status::{ChannelBoard, ChannelState};
use crate::telemetry::names as m;

/// A session that stayed joined this long resets the reconnect backoff.
const HEALTHY_AFTER: Duration = Duration::from_secs(60);

/// What a channel actor starts with; one template for all channels, specialised by
/// [`ChannelArgs::for_channel`].
#[derive(Debug, Clone)]
pub struct ChannelArgs {
    /// The settings of every session this actor opens (its `channel` names the channel).
    pub session: Arc<SessionCfg>,
    /// Where the actor shows the channel's state (`/v1/status`).
    pub board: ChannelBoard,
    /// First reconnect delay (`twitch.reconnect_min`).
    pub reconnect_min: Duration,
    /// Longest reconnect delay, and the wait after a refused join (`twitch.reconnect_max`).
    pub reconnect_max: Duration,
    /// How long the old and new sessions both read after a RECONNECT.
    pub overlap: Duration,
}

impl ChannelArgs {
    /// The same arguments for channel `name` (the channel supervisor's template use).
    pub fn for_channel(&self, name: &str) -> ChannelArgs {
        let mut session = (*self.session).clone();
        session.channel = Arc::from(name);
        ChannelArgs { session: Arc::new(session), ..self.clone() }
    }
}

/// Messages of a channel actor.
pub enum ChannelMsg {
    /// Open a session now if none runs (sent at start and when a backoff delay ends).
    Connect,
    /// A report of one of its sessions.
    Session(SessionEvent),
    /// Stop the old session after a RECONNECT overlap.
    DropOld(u64),
    /// Stop reading chat: end every session (each reports its coverage end), then reply.
    Shutdown(RpcReplyPort<()>),
}

struct Running {
    _guard: DropGuard,
    handle: JoinHandle<()>,
}

/// A channel actor's state: its arguments, the connection machine and the running sessions by
/// generation.
pub struct ChannelActorState {
    args: ChannelArgs,
    conn: Connection,
    sessions: BTreeMap<u64, Running>,
}

/// The actor that reads one Twitch channel (see the module doc).
pub struct ChannelActor;

/// Test builds: the failpoint `channel.pre_start` fails the start of every channel actor, or,
/// configured as `return(NAME)`, only that channel's.
fn failpoint_pre_start(_channel: &str) -> Result<(), ActorProcessingErr> {
    #[cfg(feature = "failpoints")]
    if let Some(only) = fail::eval("channel.pre_start", |arg| arg) {
        if only.as_deref().is_none_or(|c| c == _channel) {
            return Err(format!("failpoint channel.pre_start ({_channel})").into());
        }
    }
    Ok(())
}

impl Actor for ChannelActor {
    type Msg = ChannelMsg;
    type State = ChannelActorState;
    type Arguments = ChannelArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<ChannelMsg>,
        args: ChannelArgs,
    ) -> Result<ChannelActorState, ActorProcessingErr> {
        failpoint_pre_start(&args.session.channel)?;
        myself.cast(ChannelMsg::Connect)?;
        let conn = Connection::new(ConnectionCfg {
            reconnect_min: args.reconnect_min,
            reconnect_max: args.reconnect_max,
            overlap: args.overlap,
            healthy_after: HEALTHY_AFTER,
        });
        Ok(ChannelActorState { args, conn, sessions: BTreeMap::new() })
    }

    async fn handle(
        &self,
        myself: ActorRef<ChannelMsg>,
        msg: ChannelMsg,
        st: &mut ChannelActorState,
    ) -> Result<(), ActorProcessingErr> {
        let unit = rand::random::<f64>();
        match msg {
            ChannelMsg::Connect => {
                let effects = st.conn.on(Input::Connect, unit);
                st.apply(&myself, effects, None);
            }
            ChannelMsg::Session(SessionEvent::Joined { gen, at_ms, room_id }) => {
                let effects = st.conn.on(Input::Joined { gen }, unit);
                if effects.is_empty() {
                    tracing::debug!(channel = %st.args.session.channel, gen, "join of a stale session ignored");
                }
                st.apply(&myself, effects, Some(&Context::Joined { at_ms, room_id }));
            }
            ChannelMsg::Session(SessionEvent::ServerReconnect { gen }) => {
                let effects = st.conn.on(Input::ServerReconnect { gen }, unit);
                st.apply(&myself, effects, None);
            }
            ChannelMsg::DropOld(gen) => {
                let effects = st.conn.on(Input::DropOld { gen }, unit);
                st.apply(&myself, effects, None);
            }
            ChannelMsg::Session(SessionEvent::Ended { gen, reason, was_joined_for }) => {
                st.sessions.remove(&gen);
                let ending = if matches!(reason, EndReason::Refused(_)) { Ending::Refused } else { Ending::Lost };
                let effects = st.conn.on(Input::Ended { gen, ending, joined_for: was_joined_for }, unit);
                st.apply(&myself, effects, Some(&Context::Ended(reason)));
            }
            ChannelMsg::Shutdown(reply) => {
                let effects = st.conn.on(Input::Shutdown, unit);
                // Closing drops the guards; wait for each session to report its coverage end.
                let mut handles = Vec::new();
                for e in &effects {
                    if let Effect::Close { gen } = e {
                        if let Some(Running { _guard, handle }) = st.sessions.remove(gen) {
                            drop(_guard);
                            handles.push(handle);
                        }
                    }
                }
                for h in handles {
                    let _ = tokio::time::timeout(Duration::from_secs(5), h).await;
                }
                st.apply(&myself, effects, None);
                let _ = reply.send(());
            }
        }
        Ok(())
    }
}

/// What came with the input, for the board and the log.
enum Context {
    Joined { at_ms: i64, room_id: Option<String> },
    Ended(EndReason),
}

impl ChannelActorState {
    fn apply(&mut self, myself: &ActorRef<ChannelMsg>, effects: Vec<Effect>, ctx: Option<&Context>) {
        let channel = self.args.session.channel.clone();
        for effect in effects {
            match effect {
                Effect::Open { gen } => {
                    let running = self.spawn_session(myself, gen);
                    self.sessions.insert(gen, running);
                    if self.conn.previous().is_none() {
                        self.set_state(ChannelState::Connecting);
                    }
                }
                Effect::Close { gen } => {
                    // Dropping the guard cancels the session; it reports Ended by itself.
                    self.sessions.remove(&gen);
                }
                Effect::ShowJoined { .. } => {
                    let (at_ms, room_id) = match ctx {
                        Some(Context::Joined { at_ms, room_id }) => (Some(*at_ms), room_id.clone()),
                        _ => (None, None),
                    };
                    tracing::info!(channel = %channel, room_id = ?room_id, "joined");
                    self.args.board.update(&channel, |s| {
                        s.state = ChannelState::Joined;
                        s.joined_since_ms = at_ms;
                        if room_id.is_some() {
                            s.room_id.clone_from(&room_id);
                        }
                        s.last_error = None;
                    });
                    metrics::gauge!(m::CHANNEL_STATE, "channel" => channel.to_string())
                        .set(ChannelState::Joined.gauge());
                }
                Effect::DropOldAfter { gen, after } => {
                    myself.send_after(after, move || ChannelMsg::DropOld(gen));
                }
                Effect::Reconnecting => {
                    tracing::info!(channel = %channel, "server asked to reconnect: opening the new connection before closing the old");
                    metrics::counter!(m::RECONNECTS_TOTAL, "reason" => SERVER_RECONNECT).increment(1);
                    self.args.board.update(&channel, |s| s.reconnects += 1);
                }
                Effect::RetryAfter { after, ending } => {
                    let reason = match ctx {
                        Some(Context::Ended(r)) => r.clone(),
                        _ => EndReason::Closed,
                    };
                    let state = match ending {
                        Ending::Refused => ChannelState::Refused,
                        Ending::Lost => ChannelState::BackingOff,
                    };
                    match &reason {
                        EndReason::Refused(id) => {
                            tracing::warn!(channel = %channel, msg_id = %id, retry_in = ?after, "join refused by the server")
                        }
                        other => {
                            tracing::warn!(channel = %channel, reason = ?other, retry_in = ?after, "chat connection ended; reconnecting")
                        }
                    }
                    metrics::counter!(m::RECONNECTS_TOTAL, "reason" => reason.label()).increment(1);
                    self.args.board.update(&channel, |s| {
                        s.state = state;
                        s.joined_since_ms = None;
                        s.reconnects += 1;
                        s.last_error = Some(format!("{reason:?}"));
                    });
                    metrics::gauge!(m::CHANNEL_STATE, "channel" => channel.to_string()).set(state.gauge());
                    myself.send_after(after, || ChannelMsg::Connect);
                }
                Effect::Stopped => self.set_state(ChannelState::Disconnected),
            }
        }
    }

    fn spawn_session(&self, myself: &ActorRef<ChannelMsg>, gen: u64) -> Running {
        let token = CancellationToken::new();
        let me = myself.clone();
        let handle = tokio::spawn(run_session(self.args.session.clone(), gen, token.clone(), move |ev| {
            let _ = me.cast(ChannelMsg::Session(ev));
        }));
        Running { _guard: token.drop_guard(), handle }
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
