//! Telemetry: the metric catalogue (`names`), the labels of its labelled metrics (`labels`),
//! and their registration with the `metrics` facade. A leaf: it names no domain module; the
//! label values come from the code that records them (see `crate::series`).
pub mod labels;
pub mod names;

use names::{Kind, ALL};

/// Describes every metric and registers a zero value for the unlabelled ones, so each series
/// exists from the first scrape. The labelled series are registered with their values by
/// `crate::series` (and the daemon's cluster series by the daemon); the per-channel series come
/// with the configuration (`channel::status::register_series`); the daemon sets the gauges it
/// reads from the store or /proc (store up, last sealed epoch, epoch length, process).
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
        names::BACKUP_FAILURES_TOTAL,
    ] {
        metrics::counter!(name).increment(0);
    }
    for name in [
        names::EVENTS_PENDING,
        names::UNSEALED_BACKLOG,
        names::CHANNELS_JOINED,
        names::BACKUP_LAST_SUCCESS,
        names::BACKUP_SIZE_BYTES,
    ] {
        metrics::gauge!(name).set(0.0);
    }
    // Registering a histogram creates its series (all buckets 0) without recording.
    for name in [
        names::BACKUP_SECONDS,
        names::FLUSH_SECONDS,
        names::FLUSH_BATCH_EVENTS,
        names::SEAL_SECONDS,
        names::SEAL_PARTICIPANTS,
    ] {
        let _ = metrics::histogram!(name);
    }
}
