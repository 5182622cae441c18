//! The values each label of the catalogue can take, and the start-up registration of one series
//! per known value, so dashboards and alerts see every series from the first scrape (a zero, or
//! 0 for "never" on timestamps) instead of "no data" until the first event. The values come from
//! the enums that produce them; the tests match those enums exhaustively, so a new variant does
//! not compile until its label is listed here.

use super::names as m;
use crate::channel::parse::{DiscardReason, RejectReason, TsFallback};
use crate::channel::session::EndReason;
use crate::channel::ChannelState;
use crate::supervisor::Child;

/// `kind` of `chatseal_irc_lines_total`: every value of `Line::kind()`.
pub const LINE_KINDS: [&str; 12] = [
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

/// `reason` of `chatseal_timestamp_fallback_total`.
pub const TS_FALLBACKS: [TsFallback; 2] = [TsFallback::Missing, TsFallback::Skewed];

/// `kind` of `chatseal_irc_join_wait_seconds`.
pub const JOIN_WAIT_KINDS: [&str; 2] = ["login", "join"];

/// `outcome` of `chatseal_epochs_sealed_total`.
pub const SEAL_OUTCOMES: [&str; 3] = ["sealed", "empty", "already_sealed"];

/// `op` of `chatseal_store_errors_total`.
pub const STORE_OPS: [&str; 1] = ["flush"];

/// `reason` of `chatseal_irc_reconnects_total`: every `EndReason` plus the server's RECONNECT.
pub fn reconnect_reasons() -> Vec<&'static str> {
    let ends = [
        EndReason::Connect(String::new()),
        EndReason::Closed,
        EndReason::PingTimeout,
        EndReason::Refused(String::new()),
        EndReason::Io(String::new()),
        EndReason::Stopped,
    ];
    let mut v: Vec<&'static str> = ends.iter().map(EndReason::label).collect();
    v.push("server_reconnect");
    v
}

/// `actor` of `chatseal_actor_restarts_total`: every child kind of the supervisor, and
/// `channel` for the channel actors the channel supervisor restarts.
pub fn actor_kinds() -> [&'static str; 6] {
    let [a, b, c, d, e] =
        [Child::Clock, Child::Aggregator, Child::Sealer, Child::Backup, Child::Channels].map(|c| c.kind());
    [a, b, c, d, e, "channel"]
}

/// `outcome` of `chatseal_recoveries_total` (see `backup::RecoveryRecord::outcome`).
pub const RECOVERY_OUTCOMES: [&str; 3] = ["restored", "refused", "failed"];

/// Creates the series of every label value that does not depend on the configuration.
pub fn register_static() {
    for k in LINE_KINDS {
        metrics::counter!(m::LINES_TOTAL, "kind" => k).increment(0);
    }
    for r in RejectReason::ALL {
        metrics::counter!(m::LINES_REJECTED_TOTAL, "reason" => r.as_str()).increment(0);
    }
    for r in DiscardReason::ALL {
        metrics::counter!(m::EVENTS_DISCARDED_TOTAL, "reason" => r.as_str()).increment(0);
    }
    for r in TS_FALLBACKS {
        metrics::counter!(m::TS_FALLBACK_TOTAL, "reason" => r.as_str()).increment(0);
    }
    for r in reconnect_reasons() {
        metrics::counter!(m::RECONNECTS_TOTAL, "reason" => r).increment(0);
    }
    for k in JOIN_WAIT_KINDS {
        // Registering a histogram creates its series (all buckets 0) without recording.
        let _ = metrics::histogram!(m::JOIN_WAIT_SECONDS, "kind" => k);
    }
    for o in SEAL_OUTCOMES {
        metrics::counter!(m::EPOCHS_SEALED_TOTAL, "outcome" => o).increment(0);
    }
    for op in STORE_OPS {
        metrics::counter!(m::STORE_ERRORS_TOTAL, "op" => op).increment(0);
    }
    for a in actor_kinds() {
        metrics::counter!(m::ACTOR_RESTARTS_TOTAL, "actor" => a).increment(0);
    }
    for o in RECOVERY_OUTCOMES {
        metrics::counter!(m::RECOVERIES_TOTAL, "outcome" => o).increment(0);
    }
    for kind in ["slot", "role"] {
        metrics::counter!(m::CLUSTER_TAKEOVERS_TOTAL, "kind" => kind).increment(0);
    }
    for role in chatseal_schema::ownership::roles::ROLES {
        metrics::gauge!(m::CLUSTER_ROLE_HELD, "role" => role).set(0.0);
        metrics::gauge!(m::CLUSTER_ROLE_FENCE, "role" => role).set(0.0);
    }
    for g in [m::CLUSTER_SLOTS_HELD, m::CLUSTER_UNOWNED_SLOTS, m::CLUSTER_UNOWNED_SECONDS] {
        metrics::gauge!(g).set(0.0);
    }
    // A single daemon is a one-member cluster that reads every channel itself.
    metrics::gauge!(m::CLUSTER_MEMBERS).set(1.0);
    metrics::gauge!(m::CLUSTER_REPLICAS).set(1.0);
    metrics::counter!(m::BACKUP_FAILURES_TOTAL).increment(0);
    metrics::gauge!(m::BACKUP_LAST_SUCCESS).set(0.0);
    metrics::gauge!(m::BACKUP_SIZE_BYTES).set(0.0);
    let _ = metrics::histogram!(m::BACKUP_SECONDS);
    for h in [m::FLUSH_SECONDS, m::FLUSH_BATCH_EVENTS, m::SEAL_SECONDS, m::SEAL_PARTICIPANTS] {
        let _ = metrics::histogram!(h);
    }
}

/// Creates the per-channel series of a configured channel: state disconnected (nothing runs
/// yet), last line at 0 (never), and the coverage of its newest seal (NaN while it has none:
/// unknown, which is not the same as 0, "not covered at all").
pub fn register_channel(channel: &str, last_coverage: Option<f64>) {
    let c = channel.to_string();
    metrics::gauge!(m::CHANNEL_STATE, "channel" => c.clone()).set(ChannelState::Disconnected.gauge());
    metrics::gauge!(m::LAST_LINE_SECONDS, "channel" => c.clone()).set(0.0);
    metrics::gauge!(m::COVERAGE_RATIO, "channel" => c.clone()).set(last_coverage.unwrap_or(f64::NAN));
    // Outside a cluster the daemon is the channel's one reader; a cluster member overwrites it.
    metrics::gauge!(m::CLUSTER_CHANNEL_READERS, "channel" => c).set(1.0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::parse::{parse_line, Line, ParseCtx};

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
        let (excluded, opted_out) = (Default::default(), Default::default());
        let ctx = ParseCtx {
            recv_ms: 1_700_000_000_000,
            epoch_len: 3600,
            max_skew_ms: 300_000,
            excluded: &excluded,
            opted_out: &opted_out,
            own_nick: "justinfan1",
        };
        let participant =
            parse_line(b"@id=x;tmi-sent-ts=1700000000000 :alice!alice@alice.tmi.twitch.tv PRIVMSG #chan :hi", &ctx);
        assert!(matches!(participant, Line::Participant { .. }), "{participant:?}");
        let notice = parse_line(b"@msg-id=msg_channel_suspended :tmi.twitch.tv NOTICE #chan :gone", &ctx);
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
        let listed: std::collections::BTreeSet<&str> = LINE_KINDS.into_iter().collect();
        assert_eq!(seen, listed, "LINE_KINDS must be exactly the kinds lines can have");
        assert_eq!(listed.len(), LINE_KINDS.len(), "duplicate kind");
    }

    #[test]
    fn every_enum_variant_has_a_registered_label() {
        // Exhaustive matches: adding a variant breaks the build here.
        for t in TS_FALLBACKS {
            match t {
                TsFallback::Missing | TsFallback::Skewed => {}
            }
        }
        let reasons = reconnect_reasons();
        for e in [EndReason::Closed, EndReason::PingTimeout, EndReason::Stopped] {
            match &e {
                EndReason::Connect(_)
                | EndReason::Closed
                | EndReason::PingTimeout
                | EndReason::Refused(_)
                | EndReason::Io(_)
                | EndReason::Stopped => {
                    assert!(reasons.contains(&e.label()));
                }
            }
        }
        assert_eq!(reasons.len(), 7);
        for c in [Child::Clock, Child::Aggregator, Child::Sealer, Child::Backup, Child::Channels] {
            match &c {
                Child::Clock | Child::Aggregator | Child::Sealer | Child::Backup | Child::Channels => {
                    assert!(actor_kinds().contains(&c.kind()));
                }
            }
        }
    }
}
