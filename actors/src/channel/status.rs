//! The channel board: each channel actor's externally visible state, shared with the HTTP
//! server (/readyz, /v1/status) without messaging the actors.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::telemetry::names as m;

/// Connection state of one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelState {
    /// No session: not started yet, or stopped (gauge 0).
    Disconnected,
    /// A session is connecting, logging in or waiting for its join to be confirmed (gauge 1).
    Connecting,
    /// The join is confirmed and lines are being read (gauge 2).
    Joined,
    /// The connection was lost; waiting out the reconnect backoff (gauge 3).
    BackingOff,
    /// The server refused the join; retrying after `twitch.reconnect_max` (gauge 4).
    Refused,
}

impl ChannelState {
    /// The value of the channel state gauge.
    pub fn gauge(self) -> f64 {
        match self {
            ChannelState::Disconnected => 0.0,
            ChannelState::Connecting => 1.0,
            ChannelState::Joined => 2.0,
            ChannelState::BackingOff => 3.0,
            ChannelState::Refused => 4.0,
        }
    }
}

/// Creates the per-channel series of a configured channel: state disconnected (nothing runs
/// yet), last line at 0 (never), and the coverage of its newest seal (NaN while it has none:
/// unknown, which is not the same as 0, "not covered at all").
pub fn register_series(channel: &str, last_coverage: Option<f64>) {
    let c = channel.to_string();
    metrics::gauge!(m::CHANNEL_STATE, "channel" => c.clone()).set(ChannelState::Disconnected.gauge());
    metrics::gauge!(m::LAST_LINE_SECONDS, "channel" => c.clone()).set(0.0);
    metrics::gauge!(m::COVERAGE_RATIO, "channel" => c.clone()).set(last_coverage.unwrap_or(f64::NAN));
    // Outside a cluster the daemon is the channel's one reader; a cluster member overwrites it.
    metrics::gauge!(m::CLUSTER_CHANNEL_READERS, "channel" => c).set(1.0);
}

/// What the HTTP server shows about one channel.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ChannelStatus {
    /// The channel login (lowercase, no `#`).
    pub channel: String,
    /// Where its connection stands.
    pub state: ChannelState,
    /// Unix ms the current join was confirmed.
    pub joined_since_ms: Option<i64>,
    /// Unix ms of the last line received.
    pub last_line_ms: Option<i64>,
    /// The channel's numeric Twitch id, once a ROOMSTATE has told it.
    pub room_id: Option<String>,
    /// Sessions ended or replaced (lost, refused, or a server RECONNECT) since the actor started.
    pub reconnects: u64,
    /// Why the last session ended (debug form of its end reason); cleared on the next join.
    pub last_error: Option<String>,
}

impl ChannelStatus {
    /// A channel not connected yet: disconnected, no join, no line, no error.
    pub fn new(channel: &str) -> Self {
        Self {
            channel: channel.to_string(),
            state: ChannelState::Disconnected,
            joined_since_ms: None,
            last_line_ms: None,
            room_id: None,
            reconnects: 0,
            last_error: None,
        }
    }
}

/// Shared map channel → status.
#[derive(Debug, Clone, Default)]
pub struct ChannelBoard {
    inner: Arc<Mutex<BTreeMap<String, ChannelStatus>>>,
}

impl ChannelBoard {
    /// Applies `f` to the channel's entry (created if missing).
    pub fn update(&self, channel: &str, f: impl FnOnce(&mut ChannelStatus)) {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let entry = map.entry(channel.to_string()).or_insert_with(|| ChannelStatus::new(channel));
        f(entry);
    }

    /// Drops the channel's entry (a channel this process no longer reads).
    pub fn remove(&self, channel: &str) {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(channel);
    }

    /// Every channel's status, by channel name.
    pub fn snapshot(&self) -> Vec<ChannelStatus> {
        let map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        map.values().cloned().collect()
    }
}
