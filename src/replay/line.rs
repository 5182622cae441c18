//! One line of a chat log, to what it means for a replay. Pure. A line is a raw IRC line with
//! its tags, optionally after a logger's timestamp `[2024-05-29 12:00:00] ` (UTC, see
//! [`crate::timefmt`]). The line's own time is its `tmi-sent-ts` tag, else that prefix; it is
//! the parser's receive time (`ParseCtx::recv_ms`), so the skew check never replaces the
//! server's time by the time of the replay, and the epoch is that of the line, however old.
//! A participant line with no time at all cannot be placed in an epoch: it is rejected.

use chatseal_actors::channel::parse::{parse_line, Line, ParseCtx, SANE_TS_MS};
use chatseal_actors::event::Event;

/// Why a replayed line was rejected before or beside the parser's own reasons.
pub const NO_TIMESTAMP: &str = "no_timestamp";
/// A `[...]` prefix that is not a time.
pub const BAD_TIME_PREFIX: &str = "bad_time_prefix";
/// A participant line timed outside the sane window (negative, before Twitch existed, past
/// 2100: the parser's `bad_timestamp`) or later than the replay's own clock plus
/// `epoch.max_skew` (a log cannot hold lines from the future).
pub const BAD_TIMESTAMP: &str = "bad_timestamp";
/// Longer than `twitch.max_line_bytes`, as on a live connection.
pub const OVERLONG: &str = "overlong";

/// What one log line is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replayed {
    /// Empty or blank.
    Blank,
    /// A participant event; `from_prefix` when the time came from the logger's prefix.
    Event {
        /// The participant event, as the live parser makes it.
        event: Event,
        /// True when the line had no `tmi-sent-ts` and was timed by the logger's prefix.
        from_prefix: bool,
    },
    /// Dropped on purpose (excluded, opted out, anonymous gift), with the parser's reason.
    Discarded(&'static str),
    /// Not usable, with the reason.
    Rejected(&'static str),
    /// A valid line without participant (PING, ROOMSTATE, CLEARCHAT, ...), by kind.
    Other(&'static str),
}

/// The logger's `[date time] ` prefix: Some((Some(ms), rest)) when there is one,
/// Some((None, line)) when the line does not start with `[`, None when the bracket holds no time.
pub fn split_time_prefix(line: &[u8]) -> Option<(Option<i64>, &[u8])> {
    if line.first() != Some(&b'[') {
        return Some((None, line));
    }
    let close = line.iter().take(64).position(|&b| b == b']')?;
    let stamp = std::str::from_utf8(&line[1..close]).ok()?;
    let ms = crate::timefmt::parse_utc_ms(stamp)?;
    let rest = &line[close + 1..];
    Some((Some(ms), rest.strip_prefix(b" ").unwrap_or(rest)))
}

/// The `tmi-sent-ts` tag of a raw IRC line, when present and an integer (the last one when
/// repeated, as the parser reads tags).
pub fn tmi_sent_ts(line: &[u8]) -> Option<i64> {
    let tags = line.strip_prefix(b"@")?;
    let end = tags.iter().position(|&b| b == b' ').unwrap_or(tags.len());
    tags[..end]
        .split(|&b| b == b';')
        .filter_map(|t| t.strip_prefix(b"tmi-sent-ts="))
        .next_back()
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.parse::<i64>().ok())
}

/// Trims a trailing `\n` / `\r\n` and surrounding blanks.
fn trim(line: &[u8]) -> &[u8] {
    let mut l = line;
    while let Some((last, rest)) = l.split_last() {
        if last.is_ascii_whitespace() {
            l = rest;
        } else {
            break;
        }
    }
    while let Some((first, rest)) = l.split_first() {
        if first.is_ascii_whitespace() {
            l = rest;
        } else {
            break;
        }
    }
    l
}

/// What `line` is, parsed like a live line with the line's own time as receive time. In `ctx`,
/// `recv_ms` is the replay's wall-clock time and `max_skew_ms` the skew bound: a participant
/// line timed later than their sum is from the future and rejected (`bad_timestamp`), as is one
/// whose time (tag or prefix) is outside the parser's sane window.
pub fn replay_line(line: &[u8], max_line_bytes: usize, ctx: &ParseCtx) -> Replayed {
    let latest_ms = ctx.recv_ms.saturating_add(ctx.max_skew_ms.max(0));
    let line = trim(line);
    if line.is_empty() {
        return Replayed::Blank;
    }
    let Some((prefix_ms, irc)) = split_time_prefix(line) else {
        return Replayed::Rejected(BAD_TIME_PREFIX);
    };
    if irc.len() > max_line_bytes {
        return Replayed::Rejected(OVERLONG);
    }
    let tmi = tmi_sent_ts(irc);
    let own_ms = tmi.or(prefix_ms);
    // The line's own time as receive time, and no skew bound: tmi-sent-ts, where present,
    // always decides, as it would have live.
    let ctx = ParseCtx { recv_ms: own_ms.unwrap_or(0), max_skew_ms: i64::MAX, ..*ctx };
    match parse_line(irc, &ctx) {
        Line::Participant { .. } if own_ms.is_none() => Replayed::Rejected(NO_TIMESTAMP),
        Line::Participant { .. } if own_ms.is_some_and(|ms| !SANE_TS_MS.contains(&ms) || ms > latest_ms) => {
            Replayed::Rejected(BAD_TIMESTAMP)
        }
        Line::Participant { event, .. } => Replayed::Event { event, from_prefix: tmi.is_none() },
        Line::Discarded(r) => Replayed::Discarded(r.as_str()),
        Line::Rejected(r) => Replayed::Rejected(r.as_str()),
        other => Replayed::Other(other.kind()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const NOW_MS: i64 = 1_717_200_000_000;
    const LINE: &str =
        "@display-name=Ann;id=m-1;tmi-sent-ts=1717000000123;user-id=42 :ann!ann@ann.tmi.twitch.tv PRIVMSG #chan :hi";

    fn ctx<'a>(excluded: &'a HashSet<String>) -> ParseCtx<'a> {
        // The replay runs at NOW (2024-06-01T00:00:00Z): later lines are from the future.
        ParseCtx { recv_ms: NOW_MS, epoch_len: 3600, max_skew_ms: 300_000, excluded, opted_out: excluded, own_nick: "" }
    }

    #[test]
    fn prefix_and_tag() {
        assert_eq!(split_time_prefix(b"@a=1 :x PING"), Some((None, &b"@a=1 :x PING"[..])));
        assert_eq!(
            split_time_prefix(b"[2024-05-29 12:00:00] PING :x"),
            Some((Some(1_716_984_000_000), &b"PING :x"[..]))
        );
        assert_eq!(split_time_prefix(b"[yesterday] PING"), None);
        assert_eq!(split_time_prefix(b"[2024-05-29 12:00:00 PING"), None);
        assert_eq!(tmi_sent_ts(LINE.as_bytes()), Some(1_717_000_000_123));
        assert_eq!(tmi_sent_ts(b"@tmi-sent-ts=x :a PRIVMSG #c :tmi-sent-ts=5"), None);
        assert_eq!(tmi_sent_ts(b":a PRIVMSG #c :@tmi-sent-ts=5"), None);
    }

    #[test]
    fn an_old_line_keeps_its_own_epoch() {
        let none = HashSet::new();
        match replay_line(format!("{LINE}\r\n").as_bytes(), 8704, &ctx(&none)) {
            Replayed::Event { event, from_prefix } => {
                assert!(!from_prefix);
                assert_eq!((event.ts, event.epoch, event.login.as_str()), (1_717_000_000, 1_716_998_400, "ann"));
            }
            other => panic!("{other:?}"),
        }
        // The tag wins over the prefix.
        let prefixed = format!("[2020-01-01 00:00:00] {LINE}");
        assert!(
            matches!(replay_line(prefixed.as_bytes(), 8704, &ctx(&none)), Replayed::Event { event, from_prefix: false } if event.ts == 1_717_000_000)
        );
    }

    #[test]
    fn a_line_without_tag_uses_the_prefix_or_is_rejected() {
        let none = HashSet::new();
        let bare = ":bob!bob@bob.tmi.twitch.tv PRIVMSG #chan :yo";
        let with = format!("[2024-05-29 12:00:01] {bare}");
        match replay_line(with.as_bytes(), 8704, &ctx(&none)) {
            Replayed::Event { event, from_prefix } => assert!(from_prefix && event.ts == 1_716_984_001),
            other => panic!("{other:?}"),
        }
        assert_eq!(replay_line(bare.as_bytes(), 8704, &ctx(&none)), Replayed::Rejected(NO_TIMESTAMP));
    }

    #[test]
    fn other_outcomes() {
        let bots: HashSet<String> = ["nightbot".to_string()].into();
        let c = ctx(&bots);
        assert_eq!(replay_line(b"   \r\n", 8704, &c), Replayed::Blank);
        assert_eq!(replay_line(b"PING :tmi.twitch.tv", 8704, &c), Replayed::Other("ping"));
        assert_eq!(replay_line(b"[nope] PING :x", 8704, &c), Replayed::Rejected(BAD_TIME_PREFIX));
        assert_eq!(replay_line(LINE.as_bytes(), 20, &c), Replayed::Rejected(OVERLONG));
        assert_eq!(
            replay_line(b"@tmi-sent-ts=1 :a!a@a PRIVMSG nochan :x", 8704, &c),
            Replayed::Rejected("missing_channel")
        );
        let bot = "@tmi-sent-ts=1717000000000 :nightbot!n@n PRIVMSG #chan :!cmd";
        assert_eq!(replay_line(bot.as_bytes(), 8704, &c), Replayed::Discarded("excluded"));
    }

    #[test]
    fn insane_and_future_times_are_rejected_never_placed_in_an_epoch() {
        let none = HashSet::new();
        let c = ctx(&none);
        let at = |ms: i64| format!("@id=t-{ms};tmi-sent-ts={ms} :ann!ann@ann.tmi.twitch.tv PRIVMSG #chan :hi");
        // Negative (epoch -10 of 1969 in the issue), 0, before Twitch, past 2100, and later than
        // the replay's clock plus the skew bound.
        for ms in [-5, 0, 1_000_000_000_000, 99_999_999_999_999, NOW_MS + 300_001] {
            assert_eq!(replay_line(at(ms).as_bytes(), 8704, &c), Replayed::Rejected(BAD_TIMESTAMP), "{ms}");
        }
        // Up to the skew bound ahead of the clock is still accepted.
        assert!(matches!(replay_line(at(NOW_MS + 300_000).as_bytes(), 8704, &c), Replayed::Event { .. }));
        // A logger's prefix from before Twitch is no better than a tag.
        let old = "[2001-01-01 00:00:00] :bob!bob@bob.tmi.twitch.tv PRIVMSG #chan :yo";
        assert_eq!(replay_line(old.as_bytes(), 8704, &c), Replayed::Rejected(BAD_TIMESTAMP));
    }
}
