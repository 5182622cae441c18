//! The start-up series of the actors' metrics. The catalogue (`telemetry`) knows the metrics
//! and the names of their labels; the values of each label belong to the code that records it
//! (`Line::KINDS`, `EndReason::ALL`, `DropReason::ALL`, `SealOutcome::LABELS`, `FlushPhase::NAMES`, `Child::ALL`, ...). This module,
//! above both, describes the catalogue and creates one series per known value, so dashboards
//! and alerts see every series from the first scrape instead of "no data" until the first event.

use crate::aggregator::{DropReason, STORE_OPS};
use crate::backup::RecoveryOutcome;
use crate::channel::parse::{DiscardReason, Line, RejectReason, TsFallback};
use crate::channel::session::{reconnect_reasons, JOIN_WAIT_KINDS};
use crate::sealer::SealOutcome;
use crate::supervisor::actor::restart_kinds;
use crate::telemetry::{self, labels};
use chatseal_schema::flush_phases::FlushPhase;

/// Describes every metric, and creates the unlabelled series and those of every label value
/// known before the configuration is read.
pub fn register_all() {
    telemetry::describe_all();
    labels::LINES_BY_KIND.register(Line::KINDS);
    labels::REJECTED_BY_REASON.register(RejectReason::ALL.map(RejectReason::as_str));
    labels::DISCARDED_BY_REASON.register(DiscardReason::ALL.map(DiscardReason::as_str));
    labels::TS_FALLBACK_BY_REASON.register(TsFallback::ALL.map(TsFallback::as_str));
    labels::RECONNECTS_BY_REASON.register(reconnect_reasons());
    labels::JOIN_WAIT_BY_KIND.register(JOIN_WAIT_KINDS);
    labels::SEALED_BY_OUTCOME.register(SealOutcome::LABELS);
    labels::DROPPED_BY_REASON.register(DropReason::ALL.map(DropReason::as_str));
    labels::FLUSH_PHASE_BY_PHASE.register(FlushPhase::NAMES);
    labels::STORE_ERRORS_BY_OP.register(STORE_OPS);
    labels::RESTARTS_BY_ACTOR.register(restart_kinds());
    labels::RECOVERIES_BY_OUTCOME.register(RecoveryOutcome::ALL.map(RecoveryOutcome::as_str));
}
