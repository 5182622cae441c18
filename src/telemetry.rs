//! The Prometheus recorder: installed once per process (the `metrics` facade is global), with
//! the histogram buckets of the metric catalogue, rendered by our own HTTP server at /metrics.
//! Logging set-up lives here too: text or JSON, INFO by default, `RUST_LOG` to override.

use std::sync::OnceLock;

use chatseal_actors::telemetry::names;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's Prometheus handle, installing the recorder on first use.
pub fn prometheus() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let mut builder = PrometheusBuilder::new();
            for d in names::ALL {
                if let Some(b) = names::buckets(d.name) {
                    // Only fails for an empty bucket list, which the catalogue never has (its
                    // unit test checks every list); the builder is consumed, so no fallback.
                    #[expect(clippy::expect_used, reason = "the catalogue's bucket lists are non-empty constants")]
                    let with_buckets = builder
                        .set_buckets_for_metric(Matcher::Full(d.name.to_string()), b)
                        .expect("catalogue buckets are non-empty");
                    builder = with_buckets;
                }
            }
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Another recorder may exist (an embedding program); then ours only renders itself.
            let _ = metrics::set_global_recorder(recorder);
            chatseal_actors::series::register_all();
            // The HTTP series of the route Prometheus scrapes, so they exist from the first
            // scrape (requests are counted after their answer is rendered).
            metrics::counter!(names::HTTP_REQUESTS_TOTAL, "route" => "/metrics", "status" => "200").increment(0);
            let _ = metrics::histogram!(names::HTTP_SECONDS, "route" => "/metrics");
            handle
        })
        .clone()
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the tracing subscriber (once; later calls are no-ops).
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm=warn,ractor=warn"));
    // Colour codes only on a terminal: the journal and log files get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
