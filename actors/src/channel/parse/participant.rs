//! From a participant line's parts to a [`Line::Participant`] (or why not): the tags that
//! matter, login and channel checks, the timestamp with its skew fallback, exclusion and
//! opt-out, and the PRIVMSG mapping (USERNOTICE kinds live in `usernotice`).

use std::sync::Arc;

use irc::proto::message::Tag;
use irc::proto::Prefix;

use super::{DiscardReason, Line, ParseCtx, RejectReason, TsFallback};
use crate::clock::epoch::epoch_of;
use crate::event::{Counts, Event};
use chatseal_schema::SignalKind;

/// Twitch's placeholder login for anonymous gifts: always excluded, whatever the config says.
pub const ANONYMOUS_GIFTER: &str = "ananonymousgifter";

/// Longest login or channel name accepted (Twitch logins are at most 25 characters).
const MAX_NAME_LEN: usize = 64;

/// The tags the classifier uses, moved out of the message (irc-proto has already unescaped
/// them). An empty value counts as absent, as IRCv3 says; for a repeated key the last wins.
#[derive(Debug, Default)]
pub(super) struct Tags {
    pub id: Option<String>,
    pub user_id: Option<String>,
    pub display_name: Option<String>,
    pub login: Option<String>,
    pub msg_id: Option<String>,
    pub bits: Option<String>,
    pub tmi_sent_ts: Option<String>,
    pub room_id: Option<String>,
    /// Shared Chat: the room where the line was sent (twitch.md, "Shared Chat").
    pub source_room_id: Option<String>,
}

impl Tags {
    /// The keys read here; `slim` drops every other tag before irc-proto parses the line.
    pub(super) const KEYS: [&'static str; 9] =
        ["id", "user-id", "display-name", "login", "msg-id", "bits", "tmi-sent-ts", "room-id", "source-room-id"];

    pub(super) fn take(tags: Option<Vec<Tag>>) -> Tags {
        let mut out = Tags::default();
        for Tag(key, value) in tags.into_iter().flatten() {
            let slot = match key.as_str() {
                "id" => &mut out.id,
                "user-id" => &mut out.user_id,
                "display-name" => &mut out.display_name,
                "login" => &mut out.login,
                "msg-id" => &mut out.msg_id,
                "bits" => &mut out.bits,
                "tmi-sent-ts" => &mut out.tmi_sent_ts,
                "room-id" => &mut out.room_id,
                "source-room-id" => &mut out.source_room_id,
                _ => continue,
            };
            *slot = value.filter(|v| !v.is_empty());
        }
        out
    }
}

/// Is `name` a plausible Twitch login: 1..=64 bytes of `[A-Za-z0-9_]`.
fn is_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_NAME_LEN && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The lowercase channel login of a `#channel` target.
pub(super) fn channel_name(target: &str) -> Result<String, RejectReason> {
    match target.strip_prefix('#') {
        None | Some("") => Err(RejectReason::MissingChannel),
        Some(name) if is_name(name) => Ok(name.to_ascii_lowercase()),
        Some(_) => Err(RejectReason::InvalidChannel),
    }
}

/// The lowercase login of a sender.
pub(super) fn login_name(raw: &str) -> Result<String, RejectReason> {
    if raw.is_empty() {
        Err(RejectReason::MissingSender)
    } else if is_name(raw) {
        Ok(raw.to_ascii_lowercase())
    } else {
        Err(RejectReason::InvalidLogin)
    }
}

/// The nick of a `nick!user@host` prefix; a server-name prefix has no sender.
pub(super) fn prefix_nick(prefix: Option<Prefix>) -> Option<String> {
    match prefix {
        Some(Prefix::Nickname(nick, _, _)) if !nick.is_empty() => Some(nick),
        _ => None,
    }
}

/// The window of plausible `tmi-sent-ts` values, Unix ms: from 2011-06-06T00:00:00Z (Twitch
/// launched that day; no Twitch line is older) up to, not including, 2100-01-01T00:00:00Z. A value
/// outside it is not skew but a forged or corrupt line, and is rejected as `bad_timestamp`.
pub const SANE_TS_MS: std::ops::Range<i64> = 1_307_318_400_000..4_102_444_800_000;

/// Unix seconds of the line: `tmi-sent-ts` when present, an integer and within the skew bound
/// of the receive time; otherwise the receive time, with the reason. An integer outside
/// [`SANE_TS_MS`] rejects the line.
pub(super) fn timestamp(tag: Option<&str>, ctx: &ParseCtx) -> Result<(i64, Option<TsFallback>), RejectReason> {
    let local = ctx.recv_ms.div_euclid(1000);
    Ok(match tag.map(str::parse::<i64>) {
        Some(Ok(ms)) if !SANE_TS_MS.contains(&ms) => return Err(RejectReason::BadTimestamp),
        Some(Ok(ms)) if ms.abs_diff(ctx.recv_ms) <= ctx.max_skew_ms.unsigned_abs() => (ms.div_euclid(1000), None),
        Some(Ok(_)) => (local, Some(TsFallback::Skewed)),
        Some(Err(_)) | None => (local, Some(TsFallback::Missing)),
    })
}

/// A Shared Chat copy shown in this room: `source-room-id` present and not this line's
/// `room-id` (a missing `room-id` is not the source room either).
pub(super) fn is_shared_chat_copy(tags: &Tags) -> bool {
    tags.source_room_id.as_ref().is_some_and(|src| tags.room_id.as_ref() != Some(src))
}

/// The dedup key of a participant line without an `id` tag (cluster.md, "Exactly once"):
/// `k:` and the first 16 bytes of keccak256(channel, login, tmi-sent-ts and text, each ended by
/// a NUL), in hex. Lines without `tmi-sent-ts` get none: their time is each reader's own.
pub fn content_key(channel: &str, login: &str, tmi_sent_ts: &str, text: &str) -> String {
    use sha3::{Digest, Keccak256};
    let mut h = Keccak256::new();
    for part in [channel, login, tmi_sent_ts, text] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    format!("k:{}", hex::encode(&h.finalize()[..16]))
}

/// Applies exclusion and opt-out to a checked login, then builds the event.
pub(super) fn admit(login: String, channel: String, tags: Tags, counts: Counts, text: &str, ctx: &ParseCtx) -> Line {
    // First: a copy counts nobody here, and it must never reach the dedup of message ids (a
    // copy may carry the original's `id`), so it is dropped before anything else looks at it.
    if is_shared_chat_copy(&tags) {
        return Line::Discarded(DiscardReason::SharedChatCopy);
    }
    if login == ANONYMOUS_GIFTER || ctx.excluded.contains(&login) {
        return Line::Discarded(DiscardReason::Excluded);
    }
    if ctx.opted_out.contains(&login) {
        return Line::Discarded(DiscardReason::OptedOut);
    }
    let (ts, ts_fallback) = match timestamp(tags.tmi_sent_ts.as_deref(), ctx) {
        Ok(t) => t,
        Err(r) => return Line::Rejected(r),
    };
    // A non-positive epoch length is a configuration error caught at start-up; clamp it here
    // so that parsing can never panic on a division by zero.
    let epoch = epoch_of(ts, ctx.epoch_len.max(1));
    // A line without an `id` tag still has one dedup key, derived from its content, so the
    // members of a cluster that read the same bytes (or a replay) count it once.
    let id = tags.id.or_else(|| tags.tmi_sent_ts.as_deref().map(|ts| content_key(&channel, &login, ts, text)));
    let event = Event {
        id,
        channel: Arc::from(channel),
        login,
        user_id: tags.user_id,
        display_name: tags.display_name,
        ts,
        epoch,
        counts,
    };
    Line::Participant { event, ts_fallback }
}

/// PRIVMSG: the sender from the prefix nick; `message` 1, plus `bits` from the tag. A `bits`
/// value that is not a non-negative integer rejects the line as `BadTag`: Twitch only sends
/// digits there, so such a line is corrupt or forged and none of its tags can be trusted.
pub(super) fn privmsg(prefix: Option<Prefix>, target: &str, text: &str, tags: Tags, ctx: &ParseCtx) -> Line {
    let channel = match channel_name(target) {
        Ok(c) => c,
        Err(r) => return Line::Rejected(r),
    };
    let login = match prefix_nick(prefix).as_deref().map(login_name) {
        Some(Ok(l)) => l,
        Some(Err(r)) => return Line::Rejected(r),
        None => return Line::Rejected(RejectReason::MissingSender),
    };
    let bits = match tags.bits.as_deref().map(str::parse::<i64>) {
        None => 0,
        Some(Ok(b)) if b >= 0 => b,
        Some(_) => return Line::Rejected(RejectReason::BadTag),
    };
    let counts = Counts::default().with(SignalKind::Message, 1).with(SignalKind::Bits, bits);
    admit(login, channel, tags, counts, text, ctx)
}
