//! The metric label lists beside the parser's enums (`Line::KINDS`, `TsFallback::ALL`) are
//! exactly the values the parser produces, so every series is registered at start-up.

use super::*;

/// Exhaustive on purpose: a new `Line` variant stops this from compiling until it is listed.
fn sample(l: &Line) -> &'static str {
    match l {
        Line::Participant { .. }
        | Line::Discarded(_)
        | Line::Ping(_)
        | Line::Pong
        | Line::Reconnect
        | Line::JoinConfirmed { .. }
        | Line::RoomState { .. }
        | Line::Notice { .. }
        | Line::Welcome
        | Line::CapAck
        | Line::Ignored(_)
        | Line::Rejected(_) => l.kind(),
    }
}

#[test]
fn every_line_kind_is_listed() {
    let f = Fixture::new();
    let participant = f.parse("@id=x;tmi-sent-ts=1717000000000 :alice!alice@alice.tmi.twitch.tv PRIVMSG #chan :hi");
    assert!(matches!(participant, Line::Participant { .. }), "{participant:?}");
    let notice = f.parse("@msg-id=msg_channel_suspended :tmi.twitch.tv NOTICE #chan :gone");
    assert!(matches!(notice, Line::Notice { .. }), "{notice:?}");
    let lines = [
        participant,
        notice,
        Line::Discarded(DiscardReason::Excluded),
        Line::Ping(String::new()),
        Line::Pong,
        Line::Reconnect,
        Line::JoinConfirmed { channel: "c".into() },
        Line::RoomState { channel: "c".into(), room_id: None },
        Line::Welcome,
        Line::CapAck,
        Line::Ignored("part"),
        Line::Rejected(RejectReason::Malformed),
    ];
    let seen: std::collections::BTreeSet<&str> = lines.iter().map(sample).collect();
    let listed: std::collections::BTreeSet<&str> = Line::KINDS.into_iter().collect();
    assert_eq!(seen, listed, "Line::KINDS must be exactly the kinds lines can have");
    assert_eq!(listed.len(), Line::KINDS.len(), "duplicate kind");
}

#[test]
fn every_timestamp_fallback_is_listed() {
    for t in TsFallback::ALL {
        // Exhaustive: a new variant breaks the build here until `ALL` lists it.
        match t {
            TsFallback::Missing | TsFallback::Skewed => {}
        }
    }
    let labels: HashSet<&str> = TsFallback::ALL.iter().map(|t| t.as_str()).collect();
    assert_eq!(labels, HashSet::from(["missing", "skewed"]));
}
