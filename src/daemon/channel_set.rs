//! Who decides the desired channel set, in a single daemon: the store's channel set. This is
//! the one place that feeds the channel supervisor's `watch` (a cluster member feeds it the
//! slots it holds instead, through the same `watch`). At start the configuration's
//! `twitch.channels` is applied to the store's set by its difference with the list applied
//! last (the first start seeds the set); then the set's change counter is polled every
//! [`POLL_INTERVAL`] (cheap: one `meta` row), and the set is read again when it moved, so a
//! change made by `chatseal channels` or `POST /v1/admin/channels` reaches the running daemon
//! without a restart. On SIGHUP the configuration file is read again and its list applied the
//! same way; a configuration that no longer loads is logged and ignored (the daemon goes on).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chatseal_actors::clock::SharedClock;
use chatseal_schema::{Store, StoreError};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::settings::{self, Settings};

/// How often a running daemon looks for a change of the store's channel set.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// SIGHUP's path into the daemon: a notification and the configuration file to read again.
#[derive(Debug, Clone, Default)]
pub struct Reload {
    /// Notified on each SIGHUP.
    pub signal: Arc<Notify>,
    /// `--config` (None: defaults and environment only).
    pub config: Option<PathBuf>,
}

/// Applies the configuration's list to the store's set and logs what changed.
pub async fn apply_config(
    store: &Store,
    channels: &[String],
    clock: &SharedClock,
    why: &str,
) -> Result<(), StoreError> {
    let current: BTreeSet<String> = channels.iter().cloned().collect();
    let change = store.apply_config_channels(&current, clock.now_ms().div_euclid(1000)).await?;
    if change.added.is_empty() && change.removed.is_empty() {
        tracing::info!(why, "twitch.channels: nothing changed since it was applied last");
    } else {
        tracing::info!(why, added = ?change.added, removed = ?change.removed, version = change.version, "twitch.channels applied to the channel set");
    }
    Ok(())
}

/// Applies the configuration at start, reads the set, and follows it until the returned task
/// is aborted. The receiver holds the set from the start on.
pub async fn follow(
    store: Store,
    settings: &Settings,
    clock: SharedClock,
    reload: Reload,
) -> Result<(watch::Receiver<BTreeSet<String>>, JoinHandle<()>), StoreError> {
    apply_config(&store, &settings.twitch.channels, &clock, "start").await?;
    let mut seen = store.channel_set_version().await?;
    let set: BTreeSet<String> = store.channel_set().await?.into_iter().collect();
    tracing::info!(channels = ?set, version = seen, "channel set");
    let (tx, rx) = watch::channel(set);
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(POLL_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = reload.signal.notified() => on_sighup(&store, &reload, &clock).await,
            }
            let result = async {
                let version = store.channel_set_version().await?;
                if version != seen {
                    let set: BTreeSet<String> = store.channel_set().await?.into_iter().collect();
                    tracing::info!(channels = ?set, version, "the channel set changed");
                    seen = version;
                    tx.send_if_modified(|cur| {
                        let changed = *cur != set;
                        *cur = set;
                        changed
                    });
                }
                Ok::<(), StoreError>(())
            }
            .await;
            match result {
                Ok(()) if failing => {
                    failing = false;
                    tracing::info!("the channel set is readable again");
                }
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(error = %e, "cannot read the channel set (the channels read now go on; retrying every {POLL_INTERVAL:?})");
                }
                _ => {}
            }
        }
    });
    Ok((rx, task))
}

async fn on_sighup(store: &Store, reload: &Reload, clock: &SharedClock) {
    let file = reload
        .config
        .as_ref()
        .map_or("(no --config file: defaults and environment)".to_string(), |p| p.display().to_string());
    tracing::info!(config = %file, "SIGHUP: reading twitch.channels again");
    match settings::load(reload.config.as_deref()) {
        Ok(s) => {
            if let Err(e) = apply_config(store, &s.twitch.channels, clock, "SIGHUP").await {
                tracing::error!(error = %e, "SIGHUP: applying twitch.channels failed; the channel set is unchanged (send SIGHUP again once the store answers)");
            }
        }
        Err(e) => {
            tracing::error!(config = %file, "SIGHUP: the configuration does not load, so it is ignored and the daemon goes on unchanged: {e}")
        }
    }
}
