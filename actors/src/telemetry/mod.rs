//! Telemetry: the metric catalogue (`names`) and its registration with the `metrics` facade.
pub mod names;

use names::{Kind, ALL};

/// Describes every metric and registers a zero value for the unlabelled ones, so each series
/// exists from the first scrape. Labelled series appear with their first label value.
pub fn describe_all() {
    for d in ALL {
        match d.kind {
            Kind::Counter => {
                metrics::describe_counter!(d.name, d.help);
            }
            Kind::Gauge => {
                metrics::describe_gauge!(d.name, d.help);
            }
            Kind::Histogram => {
                metrics::describe_histogram!(d.name, d.help);
            }
        }
    }
    metrics::gauge!(names::BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    for name in [
        names::EVENTS_DROPPED_TOTAL,
        names::EVENTS_DUPLICATE_TOTAL,
        names::EVENTS_DURABLE_TOTAL,
        names::LATE_LINES_TOTAL,
        names::JOINS_TOTAL,
        names::SEAL_FAILURES_TOTAL,
    ] {
        metrics::counter!(name).increment(0);
    }
    for name in [names::EVENTS_PENDING, names::UNSEALED_BACKLOG, names::CHANNELS_JOINED] {
        metrics::gauge!(name).set(0.0);
    }
}
