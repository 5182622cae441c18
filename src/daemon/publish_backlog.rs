//! The unpublished backlog gauges: how many sealed, non-empty channel-epochs have no
//! publication record yet (`chatseal_unpublished_seals`) and how long ago the oldest of them
//! was sealed (`chatseal_unpublished_oldest_seconds`, 0 when none). Read from the store at start,
//! every [`BACKLOG_INTERVAL`] (new seals show within it) and right after a publication record.

use std::time::Duration;

use chatseal_actors::clock::SharedClock;
use chatseal_actors::telemetry::names as m;
use chatseal_schema::queries::publish::Backlog;
use chatseal_schema::{Store, StoreError};
use tokio::task::JoinHandle;

/// How often the backlog is re-read (one indexed scan of sealed_epochs).
pub const BACKLOG_INTERVAL: Duration = Duration::from_secs(10);

/// The gauge values of `backlog` at `now_s`: (count, age of the oldest in seconds).
pub fn gauge_values(backlog: &Backlog, now_s: i64) -> (f64, f64) {
    let age = backlog.oldest_sealed_at.map_or(0, |t| (now_s - t).max(0));
    (backlog.count as f64, age as f64)
}

/// Reads the backlog and sets both gauges.
pub async fn refresh(store: &Store, clock: &SharedClock) -> Result<Backlog, StoreError> {
    let backlog = store.unpublished_backlog().await?;
    let (count, age) = gauge_values(&backlog, clock.now_ms().div_euclid(1000));
    metrics::gauge!(m::UNPUBLISHED_SEALS).set(count);
    metrics::gauge!(m::UNPUBLISHED_OLDEST_SECONDS).set(age);
    Ok(backlog)
}

/// Refreshes once before returning (bounded by `first_read`, so the gauges are in the very
/// first /metrics render after READY=1), then every [`BACKLOG_INTERVAL`] until the task is
/// aborted; a failed read is logged and keeps the last values (absent until one succeeds).
pub async fn start(store: Store, clock: SharedClock, first_read: Duration) -> JoinHandle<()> {
    match tokio::time::timeout(first_read, refresh(&store, &clock)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "cannot read the unpublished backlog at start; retried every 10 s"),
        Err(_) => tracing::warn!("the unpublished backlog read at start timed out; retried every 10 s"),
    }
    tokio::spawn(async move {
        let mut every = tokio::time::interval_at(tokio::time::Instant::now() + BACKLOG_INTERVAL, BACKLOG_INTERVAL);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if let Err(e) = refresh(&store, &clock).await {
                tracing::warn!(error = %e, "cannot read the unpublished backlog; its gauges keep their last values");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_age_is_zero_without_a_backlog_and_never_negative() {
        assert_eq!(gauge_values(&Backlog::default(), 1_000), (0.0, 0.0));
        assert_eq!(gauge_values(&Backlog { count: 3, oldest_sealed_at: Some(400) }, 1_000), (3.0, 600.0));
        assert_eq!(gauge_values(&Backlog { count: 1, oldest_sealed_at: Some(2_000) }, 1_000), (1.0, 0.0));
    }
}
