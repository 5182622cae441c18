//! Tests of `parse_line`: twitch.md's table and example lines, tag handling, timestamps,
//! control lines, rejections, and never-panic properties.

mod control;
mod fields;
mod labels;
mod properties;
mod rejects;
mod shared_chat;
mod table;

use std::collections::HashSet;

use super::*;

/// Receive time used by most tests: 30 s after the PRIVMSG example's `tmi-sent-ts`.
pub(super) const RECV_MS: i64 = 1_717_000_030_000;
pub(super) const EPOCH_LEN: i64 = 3600;
pub(super) const MAX_SKEW_MS: i64 = 300_000;
pub(super) const OWN_NICK: &str = "justinfan12345";

/// Owns the user lists a [`ParseCtx`] borrows.
pub(super) struct Fixture {
    pub excluded: HashSet<String>,
    pub opted_out: HashSet<String>,
    pub recv_ms: i64,
}

impl Fixture {
    pub fn new() -> Self {
        Fixture {
            excluded: ["nightbot", "streamelements"].map(String::from).into(),
            opted_out: ["shyviewer"].map(String::from).into(),
            recv_ms: RECV_MS,
        }
    }

    pub fn ctx(&self) -> ParseCtx<'_> {
        ParseCtx {
            recv_ms: self.recv_ms,
            epoch_len: EPOCH_LEN,
            max_skew_ms: MAX_SKEW_MS,
            excluded: &self.excluded,
            opted_out: &self.opted_out,
            own_nick: OWN_NICK,
        }
    }

    pub fn parse(&self, line: &str) -> Line {
        parse_line(line.as_bytes(), &self.ctx())
    }

    /// Parses `line` and returns its event, failing the test if it is not a participant.
    pub fn event(&self, line: &str) -> (Event, Option<TsFallback>) {
        match self.parse(line) {
            Line::Participant { event, ts_fallback } => (event, ts_fallback),
            other => panic!("expected a participant from {line:?}, got {other:?}"),
        }
    }
}

pub(super) fn parse(line: &str) -> Line {
    Fixture::new().parse(line)
}

/// A USERNOTICE as Twitch sends it, with the given `msg-id` and `login` (omitted when None).
pub(super) fn usernotice(msg_id: &str, login: Option<&str>) -> String {
    let login_tag = login.map(|l| format!("login={l};")).unwrap_or_default();
    format!(
        "@badge-info=;badges=;color=#8A2BE2;display-name=Gifter;emotes=;flags=;\
         id=11111111-2222-4333-8444-555555555555;{login_tag}mod=0;msg-id={msg_id};\
         msg-param-months=1;room-id=123456789;subscriber=0;system-msg=Something\\shappened;\
         tmi-sent-ts=1717000000123;user-id=424242;user-type=;vip=0 \
         :tmi.twitch.tv USERNOTICE #examplechannel :optional text"
    )
}
