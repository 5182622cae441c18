//! Telemetry: the metric catalogue (`names`), the values its labels take (`labels`), and their
//! registration with the `metrics` facade.
pub mod labels;
pub mod names;

use names::{Kind, ALL};

/// Describes every metric and registers a zero value for the unlabelled ones and for every known
/// label value, so each series exists from the first scrape. The per-channel series come with
/// the configuration ([`labels::register_channel`]); the daemon sets the gauges it reads from
/// the store or /proc (store up, last sealed epoch, epoch length, process).
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
        names::HTTP_ACCEPT_ERRORS_TOTAL,
        names::HTTP_STORE_TIMEOUTS_TOTAL,
    ] {
        metrics::counter!(name).increment(0);
    }
    for name in [names::EVENTS_PENDING, names::UNSEALED_BACKLOG, names::CHANNELS_JOINED] {
        metrics::gauge!(name).set(0.0);
    }
    labels::register_static();
}
