//! The daemon's metric upkeep. Once at start it sets the gauges whose values come from the
//! configuration and the store (epoch length, store up, newest sealed epoch, each channel's
//! series with the coverage of its newest seal). Then every [`UPKEEP_INTERVAL`] it samples the
//! process from /proc (CPU time is read at each scrape by /metrics), counts the joined channels on the board, and runs the Prometheus
//! handle's upkeep (histogram maintenance), so a slow scraper never lets that work pile up.

use std::time::Duration;

use chatseal_actors::channel::status::register_series;
use chatseal_actors::channel::{ChannelBoard, ChannelState};
use chatseal_actors::telemetry::names as m;
use chatseal_schema::{Store, StoreError};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::task::JoinHandle;

use super::process_stats;
use crate::settings::Settings;

/// How often the process metrics and the joined-channel count are refreshed.
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Sets the start-up gauges; call once the store is open and verified, before the actors start.
pub async fn seed_gauges(settings: &Settings, store: &Store) -> Result<(), StoreError> {
    metrics::gauge!(m::EPOCH_LENGTH_SECONDS).set(super::wiring::secs(settings.epoch.length) as f64);
    // The store just answered; the aggregator keeps this current from its first flush on.
    metrics::gauge!(m::STORE_UP).set(1.0);
    // 0 = nothing sealed yet (the Prometheus convention for "never" on a timestamp).
    let last = store.last_sealed_epoch().await?.unwrap_or(0);
    metrics::gauge!(m::LAST_SEALED_EPOCH).set(last as f64);
    for channel in &store.channel_set().await? {
        let newest = store.sealed_epochs(Some(channel), 1).await?;
        register_series(channel, newest.first().map(|e| e.coverage));
    }
    Ok(())
}

/// One round of upkeep; false when the process could not be sampled from /proc.
pub fn tick(prom: &PrometheusHandle, board: &ChannelBoard) -> bool {
    let joined = board.snapshot().iter().filter(|c| c.state == ChannelState::Joined).count();
    metrics::gauge!(m::CHANNELS_JOINED).set(joined as f64);
    let sample = process_stats::sample();
    if let Some(s) = sample {
        metrics::gauge!(m::PROCESS_RESIDENT_MEMORY).set(s.resident_bytes as f64);
        // CPU time is read at each scrape instead (a float; the recorder's counters are
        // integers): see `process_stats::cpu_exposition`.
        metrics::gauge!(m::PROCESS_OPEN_FDS).set(s.open_fds as f64);
        metrics::gauge!(m::PROCESS_START_TIME).set(s.start_time_seconds);
    }
    prom.run_upkeep();
    sample.is_some()
}

/// Runs [`tick`] now (so the first scrape sees every series) and then every [`UPKEEP_INTERVAL`]
/// until the returned task is aborted.
pub fn spawn(prom: PrometheusHandle, board: ChannelBoard) -> JoinHandle<()> {
    if !tick(&prom, &board) && cfg!(target_os = "linux") {
        tracing::warn!(
            "cannot read /proc/self, /proc/stat or /proc/self/fd: the chatseal_process_* metrics are left out"
        );
    }
    tokio::spawn(async move {
        let mut every = tokio::time::interval(UPKEEP_INTERVAL);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        every.tick().await;
        loop {
            every.tick().await;
            let _ = tick(&prom, &board);
        }
    })
}
