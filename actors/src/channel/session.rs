//! One connection to Twitch chat for one channel: connect (under a timeout, paced by the shared
//! limiter), CAP REQ, login, JOIN (paced), then read lines until the link ends. Each line is
//! framed with a bound, parsed, and forwarded; the socket reader never waits on the store.
//! Liveness: server PINGs are answered; our own PING every `ping_interval`, and a missing PONG
//! within `pong_timeout` ends the session as a dead link. The session reports to its channel
//! actor, which owns reconnects and backoff.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;

use super::conn::connect;
use super::forward::Forwarder;
use super::framing::LineDecoder;
use super::limiter::JoinLimiter;
use super::parse::{parse_frame, Line, ParseCtx};
use super::wire::irc_line;
use crate::clock::SharedClock;
use crate::routes::Routes;
use crate::telemetry::names as m;

/// Everything a session needs; shared by all sessions of one channel.
#[derive(Debug, Clone)]
pub struct SessionCfg {
    /// The channel login to JOIN (lowercase, without `#`).
    pub channel: Arc<str>,
    /// IRC host (`twitch.server`).
    pub server: String,
    /// IRC port (`twitch.port`): 6697 with TLS, 6667 plain.
    pub port: u16,
    /// TLS client configuration, built once per process (webpki roots plus `twitch.tls_ca_file`);
    /// None = plain TCP.
    pub tls: Option<super::tls::TlsClientConfig>,
    /// (login, token without `oauth:`); None = anonymous justinfan.
    pub credentials: Option<(String, String)>,
    /// Deadline of the TCP connect plus TLS handshake (`twitch.connect_timeout`).
    pub connect_timeout: Duration,
    /// Silence after which we send our own PING (`twitch.ping_interval`).
    pub ping_interval: Duration,
    /// Wait for the PONG before the link counts as dead (`twitch.pong_timeout`).
    pub pong_timeout: Duration,
    /// Longest line accepted, bytes (`twitch.max_line_bytes`); longer ones are rejected.
    pub max_line_bytes: usize,
    /// Epoch length, seconds: which hour a line's participation counts in.
    pub epoch_len: i64,
    /// `epoch.max_skew` in ms: a `tmi-sent-ts` further than this from the receive time is distrusted.
    pub max_skew_ms: i64,
    /// Lowercase logins never recorded (bots).
    pub excluded: Arc<HashSet<String>>,
    /// Lowercase logins that opted out; their lines are dropped. Shared with the admin API, which adds to it.
    pub opted_out: Arc<RwLock<HashSet<String>>>,
    /// The daemon's clock, for receive times.
    pub clock: SharedClock,
    /// Where the parsed events go (the aggregator, through the ingest gate).
    pub routes: Routes,
    /// Paces JOINs of every channel of the process.
    pub join_limiter: JoinLimiter,
    /// Paces logins (authentications) of every connection of the process.
    pub login_limiter: JoinLimiter,
}

/// What a session tells its channel actor.
#[derive(Debug, Clone)]
pub enum SessionEvent {
    /// The server confirmed the JOIN (JOIN echo or ROOMSTATE of the channel).
    Joined {
        /// The session's generation.
        gen: u64,
        /// Receive time of the confirmation, Unix ms on the daemon's clock.
        at_ms: i64,
        /// The channel's numeric Twitch id, when the confirmation was a ROOMSTATE carrying it.
        room_id: Option<String>,
    },
    /// The server sent RECONNECT: open a new session before this one goes.
    ServerReconnect {
        /// The session's generation.
        gen: u64,
    },
    /// The session ended; it sends nothing after this.
    Ended {
        /// The session's generation.
        gen: u64,
        /// Why it ended.
        reason: EndReason,
        /// How long it had been joined; None if it never joined.
        was_joined_for: Option<Duration>,
    },
}

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// The TCP connect or TLS handshake failed or timed out (the error's text).
    Connect(String),
    /// The server closed the connection.
    Closed,
    /// Our PING got no PONG within `pong_timeout`: a dead link.
    PingTimeout,
    /// The server refused the join (NOTICE msg-id, e.g. `msg_channel_suspended`).
    Refused(String),
    /// A read or write failed (the error's text).
    Io(String),
    /// The channel actor stopped the session.
    Stopped,
}

impl EndReason {
    /// Every kind of end (payloads empty), for pre-registering metric label values.
    pub const ALL: [EndReason; 6] = [
        EndReason::Connect(String::new()),
        EndReason::Closed,
        EndReason::PingTimeout,
        EndReason::Refused(String::new()),
        EndReason::Io(String::new()),
        EndReason::Stopped,
    ];

    /// Metric label.
    pub fn label(&self) -> &'static str {
        match self {
            EndReason::Connect(_) => "connect_failed",
            EndReason::Closed => "closed",
            EndReason::PingTimeout => "ping_timeout",
            EndReason::Refused(_) => "join_refused",
            EndReason::Io(_) => "io_error",
            EndReason::Stopped => "stopped",
        }
    }
}

/// The `reason` of a reconnect the server asked for (RECONNECT), beside the [`EndReason`] labels.
pub const SERVER_RECONNECT: &str = "server_reconnect";

/// Every `reason` of `chatseal_irc_reconnects_total`: each [`EndReason`] and [`SERVER_RECONNECT`].
pub fn reconnect_reasons() -> impl Iterator<Item = &'static str> {
    EndReason::ALL.into_iter().map(|e| e.label()).chain([SERVER_RECONNECT])
}

/// `kind` of `chatseal_irc_join_wait_seconds`: the wait for a login slot, then for a JOIN slot.
const WAIT_LOGIN: &str = "login";
const WAIT_JOIN: &str = "join";
/// Every `kind` of `chatseal_irc_join_wait_seconds`, for pre-registering the series.
pub const JOIN_WAIT_KINDS: [&str; 2] = [WAIT_LOGIN, WAIT_JOIN];

/// NOTICE msg-ids that mean the channel cannot be joined.
fn is_refusal(msg_id: &str) -> bool {
    matches!(
        msg_id,
        "msg_channel_suspended"
            | "msg_banned"
            | "msg_channel_blocked"
            | "tos_ban"
            | "msg_room_not_found"
            | "invalid_channel"
    ) || msg_id.starts_with("msg_channel_")
}

/// Runs one session until it ends; `notify` reaches the channel actor.
pub async fn run_session(
    cfg: Arc<SessionCfg>,
    gen: u64,
    stop: CancellationToken,
    notify: impl Fn(SessionEvent) + Send,
) {
    let mut joined_at: Option<(Instant, i64)> = None;
    let reason = session_body(&cfg, gen, &stop, &notify, &mut joined_at).await;
    notify(SessionEvent::Ended { gen, reason, was_joined_for: joined_at.map(|(t, _)| t.elapsed()) });
}

async fn session_body(
    cfg: &SessionCfg,
    gen: u64,
    stop: &CancellationToken,
    notify: &(impl Fn(SessionEvent) + Send),
    joined_at: &mut Option<(Instant, i64)>,
) -> EndReason {
    let waited = tokio::select! {
        w = cfg.login_limiter.acquire() => w,
        _ = stop.cancelled() => return EndReason::Stopped,
    };
    metrics::histogram!(m::JOIN_WAIT_SECONDS, "kind" => WAIT_LOGIN).record(waited.as_secs_f64());
    let stream = tokio::select! {
        r = connect(&cfg.server, cfg.port, cfg.tls.as_ref(), cfg.connect_timeout) => match r {
            Ok(s) => s,
            Err(e) => return EndReason::Connect(e.to_string()),
        },
        _ = stop.cancelled() => return EndReason::Stopped,
    };
    let (rd, mut wr) = tokio::io::split(stream);
    let nick = match &cfg.credentials {
        Some((login, _)) => login.to_ascii_lowercase(),
        None => format!("justinfan{:05}", rand::random::<u32>() % 100_000),
    };
    let mut hello = String::from("CAP REQ :twitch.tv/tags twitch.tv/commands\r\n");
    if let Some((_, token)) = &cfg.credentials {
        match irc_line("PASS", &[&format!("oauth:{token}")]) {
            Ok(l) => hello.push_str(&l),
            Err(e) => return EndReason::Io(e.to_string()),
        }
    }
    match irc_line("NICK", &[&nick]) {
        Ok(l) => hello.push_str(&l),
        Err(e) => return EndReason::Io(e.to_string()),
    }
    if let Err(e) = wr.write_all(hello.as_bytes()).await {
        return EndReason::Io(e.to_string());
    }
    let waited = tokio::select! {
        w = cfg.join_limiter.acquire() => w,
        _ = stop.cancelled() => return EndReason::Stopped,
    };
    metrics::histogram!(m::JOIN_WAIT_SECONDS, "kind" => WAIT_JOIN).record(waited.as_secs_f64());
    let join = match irc_line("JOIN", &[&format!("#{}", cfg.channel)]) {
        Ok(l) => l,
        Err(e) => return EndReason::Io(e.to_string()),
    };
    if let Err(e) = wr.write_all(join.as_bytes()).await {
        return EndReason::Io(e.to_string());
    }
    metrics::counter!(m::JOINS_TOTAL).increment(1);

    let mut frames = FramedRead::new(rd, LineDecoder::new(cfg.max_line_bytes));
    let mut fwd = Forwarder::new(cfg.routes.clone());
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_ping = Instant::now();
    let mut awaiting_pong: Option<Instant> = None;
    let mut last_heartbeat = Instant::now();
    let channel_label = cfg.channel.to_string();

    let reason = loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => break EndReason::Stopped,
            frame = frames.next() => {
                let Some(frame) = frame else { break EndReason::Closed };
                let frame = match frame {
                    Ok(f) => f,
                    Err(e) => break EndReason::Io(e.to_string()),
                };
                let recv_ms = cfg.clock.now_ms();
                let line = {
                    let opted = cfg.opted_out.read().unwrap_or_else(|p| p.into_inner());
                    let ctx = ParseCtx {
                        recv_ms,
                        epoch_len: cfg.epoch_len,
                        max_skew_ms: cfg.max_skew_ms,
                        excluded: &cfg.excluded,
                        opted_out: &opted,
                        own_nick: &nick,
                    };
                    parse_frame(&frame, &ctx)
                };
                metrics::counter!(m::LINES_TOTAL, "kind" => line.kind()).increment(1);
                match line {
                    Line::Participant { event, ts_fallback } => {
                        if let Some(f) = ts_fallback {
                            metrics::counter!(m::TS_FALLBACK_TOTAL, "reason" => f.as_str()).increment(1);
                        }
                        fwd.event(event);
                    }
                    Line::Discarded(r) => metrics::counter!(m::EVENTS_DISCARDED_TOTAL, "reason" => r.as_str()).increment(1),
                    Line::Rejected(r) => metrics::counter!(m::LINES_REJECTED_TOTAL, "reason" => r.as_str()).increment(1),
                    Line::Ping(payload) => {
                        let pong = match irc_line("PONG", &[&format!(":{payload}")]) {
                            Ok(l) => l,
                            Err(e) => break EndReason::Io(e.to_string()),
                        };
                        if let Err(e) = wr.write_all(pong.as_bytes()).await {
                            break EndReason::Io(e.to_string());
                        }
                    }
                    Line::Pong => awaiting_pong = None,
                    Line::Reconnect => notify(SessionEvent::ServerReconnect { gen }),
                    Line::JoinConfirmed { channel } | Line::RoomState { channel, .. } if channel != *cfg.channel => {}
                    Line::JoinConfirmed { .. } | Line::RoomState { .. } if joined_at.is_some() => {}
                    Line::JoinConfirmed { .. } | Line::RoomState { .. } => {
                        let room_id = if let Line::RoomState { room_id, .. } = &line { room_id.clone() } else { None };
                        *joined_at = Some((Instant::now(), recv_ms));
                        fwd.joined(cfg.channel.clone(), recv_ms);
                        fwd.flush();
                        notify(SessionEvent::Joined { gen, at_ms: recv_ms, room_id });
                    }
                    Line::Notice { msg_id: Some(id), .. } if joined_at.is_none() && is_refusal(&id) => {
                        break EndReason::Refused(id);
                    }
                    Line::Notice { .. } | Line::Welcome | Line::CapAck | Line::Ignored(_) => {}
                }
                if let Some((_, _)) = joined_at {
                    metrics::gauge!(m::LAST_LINE_SECONDS, "channel" => channel_label.clone()).set((recv_ms / 1000) as f64);
                }
                // Forward as soon as no further whole line is buffered: under load the batches
                // fill by themselves, and a quiet line never waits for the tick.
                if !frames.read_buffer().contains(&b'\n') {
                    fwd.flush();
                }
            }
            _ = tick.tick() => {
                fwd.flush();
                let now = Instant::now();
                if let Some(sent) = awaiting_pong {
                    if now.duration_since(sent) > cfg.pong_timeout {
                        break EndReason::PingTimeout;
                    }
                } else if now.duration_since(last_ping) >= cfg.ping_interval {
                    last_ping = now;
                    awaiting_pong = Some(now);
                    if let Err(e) = wr.write_all(b"PING :tmi.twitch.tv\r\n").await {
                        break EndReason::Io(e.to_string());
                    }
                }
                // Coverage heartbeat: lets a restarted aggregator pick the open span up again.
                if let Some((_, at_ms)) = joined_at {
                    if now.duration_since(last_heartbeat) >= Duration::from_secs(1) {
                        last_heartbeat = now;
                        fwd.joined(cfg.channel.clone(), *at_ms);
                    }
                }
            }
        }
    };
    if let Some((_, since_ms)) = joined_at {
        fwd.left(cfg.channel.clone(), *since_ms, cfg.clock.now_ms());
    }
    fwd.flush();
    if fwd.held() > 0 {
        // The aggregator is away at the very end of a session: give it a moment, never forever.
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            fwd.flush();
            if fwd.held() == 0 {
                break;
            }
        }
    }
    let _ = wr.shutdown().await;
    reason
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_end_reason_is_listed_once() {
        // Exhaustive on purpose: a new variant stops this from compiling until `ALL` lists it.
        let listed = |e: &EndReason| match e {
            EndReason::Connect(_)
            | EndReason::Closed
            | EndReason::PingTimeout
            | EndReason::Refused(_)
            | EndReason::Io(_)
            | EndReason::Stopped => EndReason::ALL.iter().filter(|a| a.label() == e.label()).count(),
        };
        for e in [
            EndReason::Connect("refused".into()),
            EndReason::Closed,
            EndReason::PingTimeout,
            EndReason::Refused("msg_banned".into()),
            EndReason::Io("reset".into()),
            EndReason::Stopped,
        ] {
            assert_eq!(listed(&e), 1, "{e:?}");
        }
        let reasons: Vec<&str> = reconnect_reasons().collect();
        let distinct: HashSet<&str> = reasons.iter().copied().collect();
        assert_eq!((reasons.len(), distinct.len()), (7, 7), "{reasons:?}");
        assert!(distinct.contains(SERVER_RECONNECT));
    }
}
