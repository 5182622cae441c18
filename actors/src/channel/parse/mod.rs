//! What one chat line means: a participant event, a discard, a control line for the channel
//! actor (PING, RECONNECT, join confirmation, NOTICE, ...), a known line without participant, or
//! a rejection with its reason. Pure: the receive time, epoch length and user lists come in
//! through [`ParseCtx`]; nothing here reads a clock or a socket, and nothing panics on any input.
//!
//! Steps: UTF-8 check, a shape check (`syntax`), dropping the tags nobody reads (`slim`, for
//! speed), `irc::proto::Message` for tags (unescaped by irc-proto), prefix and arguments, then
//! dispatch on the command (`classify`) following the table in twitch.md (`participant`,
//! `usernotice`).

mod classify;
pub(crate) mod participant;
mod reasons;
mod slim;
mod syntax;
mod usernotice;

use std::collections::HashSet;

use irc::proto::Message;

use super::framing::Frame;
use crate::event::Event;

pub use participant::{ANONYMOUS_GIFTER, SANE_TS_MS};
pub use reasons::{DiscardReason, RejectReason, TsFallback};

/// What the parser needs to know besides the line.
#[derive(Debug, Clone, Copy)]
pub struct ParseCtx<'a> {
    /// Local receive time of the line, Unix ms.
    pub recv_ms: i64,
    /// Epoch length, seconds (3600 in production); must be positive.
    pub epoch_len: i64,
    /// Largest accepted distance between `tmi-sent-ts` and `recv_ms`, ms.
    pub max_skew_ms: i64,
    /// Lowercase logins never recorded (bots). [`ANONYMOUS_GIFTER`] is excluded even if absent.
    pub excluded: &'a HashSet<String>,
    /// Lowercase logins of users who opted out.
    pub opted_out: &'a HashSet<String>,
    /// Our NICK, to recognise the echo of our own JOIN (compared case-insensitively).
    pub own_nick: &'a str,
}

/// The meaning of one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A participant action. `ts_fallback` says why the receive time replaced `tmi-sent-ts`.
    Participant {
        /// The participation to count.
        event: Event,
        /// Set when the event's time is the receive time.
        ts_fallback: Option<TsFallback>,
    },
    /// Excluded user, opted-out user, anonymous gift: counted, no event.
    Discarded(DiscardReason),
    /// `PING`: answer `PONG :<payload>`.
    Ping(String),
    /// `PONG`: the link is alive.
    Pong,
    /// `RECONNECT`: the server will drop this connection soon.
    Reconnect,
    /// The echo of our own JOIN: the join is confirmed.
    JoinConfirmed {
        /// The channel joined, lowercase, without `#`.
        channel: String,
    },
    /// ROOMSTATE (also confirms the join); `room_id` is the channel's numeric id.
    RoomState {
        /// The channel, lowercase, without `#`.
        channel: String,
        /// The `room-id` tag, when present.
        room_id: Option<String>,
    },
    /// NOTICE; `msg_id` such as `msg_channel_suspended` says why. `channel` is None for `*`.
    Notice {
        /// The channel, lowercase, without `#`; None for `*` or any other non-channel target.
        channel: Option<String>,
        /// The `msg-id` tag, when present.
        msg_id: Option<String>,
        /// The notice's text.
        text: String,
    },
    /// `001`: registration succeeded.
    Welcome,
    /// `CAP * ACK`: our capabilities were granted.
    CapAck,
    /// A known line without participant; the label names its kind for a metric: `clearchat`,
    /// `clearmsg`, `userstate`, `globaluserstate`, `hosttarget`, `whisper`, `part`, `join`
    /// (another user's), `mode`, `numeric`, `cap_nak`, `cap` (other CAP subcommands).
    Ignored(&'static str),
    /// Not understood; counted with its reason, never fatal.
    Rejected(RejectReason),
}

impl Line {
    /// Every value of [`Line::kind`] (the `kind` of `chatseal_irc_lines_total`), for
    /// pre-registering the series.
    pub const KINDS: [&'static str; 12] = [
        "participant",
        "discarded",
        "ping",
        "pong",
        "reconnect",
        "join_confirmed",
        "roomstate",
        "notice",
        "welcome",
        "cap_ack",
        "ignored",
        "rejected",
    ];

    /// Metric label of the line's kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Line::Participant { .. } => "participant",
            Line::Discarded(_) => "discarded",
            Line::Ping(_) => "ping",
            Line::Pong => "pong",
            Line::Reconnect => "reconnect",
            Line::JoinConfirmed { .. } => "join_confirmed",
            Line::RoomState { .. } => "roomstate",
            Line::Notice { .. } => "notice",
            Line::Welcome => "welcome",
            Line::CapAck => "cap_ack",
            Line::Ignored(_) => "ignored",
            Line::Rejected(_) => "rejected",
        }
    }
}

/// Parses one line (with or without its `\r\n`).
pub fn parse_line(line: &[u8], ctx: &ParseCtx) -> Line {
    let Ok(text) = std::str::from_utf8(line) else {
        return Line::Rejected(RejectReason::InvalidUtf8);
    };
    let text = match syntax::check(text) {
        Ok(t) => t,
        Err(reason) => return Line::Rejected(reason),
    };
    match slim::keep_used_tags(text).parse::<Message>() {
        Ok(message) => classify::classify(message, ctx),
        // irc-proto fails on a few argument shapes it checks (MODE flags, ...).
        Err(_) => Line::Rejected(RejectReason::Malformed),
    }
}

/// Parses one decoded frame: an overlong line is `Rejected(Overlong)`.
pub fn parse_frame(frame: &Frame, ctx: &ParseCtx) -> Line {
    match frame {
        Frame::Line(bytes) => parse_line(bytes, ctx),
        Frame::Overlong { .. } => Line::Rejected(RejectReason::Overlong),
    }
}

#[cfg(test)]
mod tests;
