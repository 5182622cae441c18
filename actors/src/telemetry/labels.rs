//! The labels of the catalogue: for each labelled metric whose values are known at start-up,
//! the name of its label, and the registration of one series per value, so dashboards and
//! alerts see every series from the first scrape (a zero) instead of "no data" until the first
//! event. The values themselves belong to the code that records them (`Line::KINDS`,
//! `EndReason::ALL`, `Child::ALL`, ...), which passes them in: this module, like the rest of
//! the catalogue, depends on no domain module. The per-channel `channel` label and the HTTP
//! `route`/`status` labels are registered by their owners as channels and routes are known.

use super::names::{self as m, Kind};

/// A labelled metric of the catalogue: its name, kind and the name of its one label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Labelled {
    /// The metric's name (a [`names`](super::names) constant).
    pub metric: &'static str,
    /// Counter, gauge or histogram.
    pub kind: Kind,
    /// The label's name, e.g. `kind` or `reason`.
    pub label: &'static str,
}

impl Labelled {
    /// Creates the series of each value: counters and gauges at 0, histograms with no sample.
    pub fn register(&self, values: impl IntoIterator<Item = &'static str>) {
        for v in values {
            match self.kind {
                Kind::Counter => metrics::counter!(self.metric, self.label => v).increment(0),
                Kind::Gauge => metrics::gauge!(self.metric, self.label => v).set(0.0),
                // Registering a histogram creates its series (all buckets 0) without recording.
                Kind::Histogram => {
                    let _ = metrics::histogram!(self.metric, self.label => v);
                }
            }
        }
    }
}

const fn labelled(metric: &'static str, kind: Kind, label: &'static str) -> Labelled {
    Labelled { metric, kind, label }
}

/// `chatseal_irc_lines_total{kind}`.
pub const LINES_BY_KIND: Labelled = labelled(m::LINES_TOTAL, Kind::Counter, "kind");
/// `chatseal_irc_lines_rejected_total{reason}`.
pub const REJECTED_BY_REASON: Labelled = labelled(m::LINES_REJECTED_TOTAL, Kind::Counter, "reason");
/// `chatseal_events_discarded_total{reason}`.
pub const DISCARDED_BY_REASON: Labelled = labelled(m::EVENTS_DISCARDED_TOTAL, Kind::Counter, "reason");
/// `chatseal_timestamp_fallback_total{reason}`.
pub const TS_FALLBACK_BY_REASON: Labelled = labelled(m::TS_FALLBACK_TOTAL, Kind::Counter, "reason");
/// `chatseal_irc_reconnects_total{reason}`.
pub const RECONNECTS_BY_REASON: Labelled = labelled(m::RECONNECTS_TOTAL, Kind::Counter, "reason");
/// `chatseal_irc_join_wait_seconds{kind}`.
pub const JOIN_WAIT_BY_KIND: Labelled = labelled(m::JOIN_WAIT_SECONDS, Kind::Histogram, "kind");
/// `chatseal_epochs_sealed_total{outcome}`.
pub const SEALED_BY_OUTCOME: Labelled = labelled(m::EPOCHS_SEALED_TOTAL, Kind::Counter, "outcome");
/// `chatseal_events_dropped_total{reason}`.
pub const DROPPED_BY_REASON: Labelled = labelled(m::EVENTS_DROPPED_TOTAL, Kind::Counter, "reason");
/// `chatseal_flush_phase_seconds{phase}`.
pub const FLUSH_PHASE_BY_PHASE: Labelled = labelled(m::FLUSH_PHASE_SECONDS, Kind::Histogram, "phase");
/// `chatseal_store_errors_total{op}`.
pub const STORE_ERRORS_BY_OP: Labelled = labelled(m::STORE_ERRORS_TOTAL, Kind::Counter, "op");
/// `chatseal_actor_restarts_total{actor}`.
pub const RESTARTS_BY_ACTOR: Labelled = labelled(m::ACTOR_RESTARTS_TOTAL, Kind::Counter, "actor");
/// `chatseal_recoveries_total{outcome}`.
pub const RECOVERIES_BY_OUTCOME: Labelled = labelled(m::RECOVERIES_TOTAL, Kind::Counter, "outcome");
/// `chatseal_cluster_takeovers_total{kind}`.
pub const TAKEOVERS_BY_KIND: Labelled = labelled(m::CLUSTER_TAKEOVERS_TOTAL, Kind::Counter, "kind");
/// `chatseal_cluster_role_held{role}`.
pub const ROLE_HELD_BY_ROLE: Labelled = labelled(m::CLUSTER_ROLE_HELD, Kind::Gauge, "role");
/// `chatseal_cluster_role_fence{role}`.
pub const ROLE_FENCE_BY_ROLE: Labelled = labelled(m::CLUSTER_ROLE_FENCE, Kind::Gauge, "role");

/// Every labelled metric above.
pub const ALL: [Labelled; 15] = [
    LINES_BY_KIND,
    REJECTED_BY_REASON,
    DISCARDED_BY_REASON,
    TS_FALLBACK_BY_REASON,
    RECONNECTS_BY_REASON,
    JOIN_WAIT_BY_KIND,
    SEALED_BY_OUTCOME,
    DROPPED_BY_REASON,
    FLUSH_PHASE_BY_PHASE,
    STORE_ERRORS_BY_OP,
    RESTARTS_BY_ACTOR,
    RECOVERIES_BY_OUTCOME,
    TAKEOVERS_BY_KIND,
    ROLE_HELD_BY_ROLE,
    ROLE_FENCE_BY_ROLE,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_labelled_metric_is_in_the_catalogue_with_its_kind() {
        for l in ALL {
            let def = m::ALL.iter().find(|d| d.name == l.metric);
            assert_eq!(def.map(|d| d.kind), Some(l.kind), "{} is not a {:?} of the catalogue", l.metric, l.kind);
            assert!(!l.label.is_empty() && l.label.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{l:?}");
        }
        let distinct: std::collections::HashSet<&str> = ALL.iter().map(|l| l.metric).collect();
        assert_eq!(distinct.len(), ALL.len(), "a metric is listed twice");
    }
}
