//! The channels' latest seals for the viewer's page, read at most once per [`TTL`] however many
//! people load the page: one loose index scan over the seals (at most [`MAX_CHANNELS`]
//! channels), kept in memory and shared. A refresh in flight is awaited by the others, never
//! repeated. A failed read is not kept: the next request tries again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chatseal_schema::{SealedEpoch, Store, StoreError};
use tokio::sync::Mutex;

/// How long one read of the latest seals is served.
pub const TTL: Duration = Duration::from_secs(5);
/// Channels shown at most (the first ones by name).
pub const MAX_CHANNELS: u64 = 200;

/// The shared cache (one per daemon, in the HTTP state).
#[derive(Default)]
pub struct LatestSeals {
    held: Mutex<Option<(Instant, Arc<Vec<SealedEpoch>>)>>,
}

impl LatestSeals {
    /// The latest seal of each channel (by channel name), at most [`TTL`] old.
    pub async fn get(&self, store: &Store) -> Result<Arc<Vec<SealedEpoch>>, StoreError> {
        let mut held = self.held.lock().await;
        if let Some((at, seals)) = held.as_ref() {
            if at.elapsed() < TTL {
                return Ok(seals.clone());
            }
        }
        let seals = Arc::new(store.latest_seal_per_channel(MAX_CHANNELS).await?);
        *held = Some((Instant::now(), seals.clone()));
        Ok(seals)
    }
}

impl std::fmt::Debug for LatestSeals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LatestSeals").finish_non_exhaustive()
    }
}
