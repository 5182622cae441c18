//! The rule for `epoch.length` on an existing store: a store's epochs have ONE length, recorded
//! in its `meta` table (`epoch_length_s`) by the first daemon or replay that writes to it, and a
//! configuration with another length is refused (exit 78) naming both, because the epochs
//! already recorded would never be sealed right (an hour-long epoch over ten-second ones leaves
//! the unaligned ones unsealed forever, and doctor would judge the store by the wrong clock).
//! A store from before the record is checked once: when any of its epochs is not a multiple of
//! the configured length, it was recorded with another one, and it is refused the same way.
//! The operator's path to a new length is a new store (docs/input-rules.md).

use std::time::Duration;

use chatseal_schema::{Store, StoreError};

/// Why the configured epoch length cannot be used on this store.
#[derive(Debug, thiserror::Error)]
pub enum EpochLengthError {
    #[error("epoch.length = {} but this store's epochs are {} long (recorded in its meta table, epoch_length_s = {stored}): the length of a store's epochs cannot change, the epochs already recorded would never be sealed right. Set epoch.length = {} again, or keep this store for its proofs and point store.url at a new store for the new length (docs/input-rules.md, \"Changing epoch.length\")", show(*configured), show(*stored), show(*stored))]
    /// The store recorded another length than the configured one.
    Changed {
        /// Length recorded in the store's meta table, seconds.
        stored: i64,
        /// Configured `epoch.length`, seconds.
        configured: i64,
    },
    #[error("epoch.length = {} but this store holds epoch {epoch}, which is not a multiple of it: the store was recorded with another epoch length (before chatseal recorded it). Set epoch.length to the length it was recorded with, or point store.url at a new store for the new length (docs/input-rules.md, \"Changing epoch.length\")", show(*configured))]
    /// A store from before the record holds an epoch that is not a multiple of the configured length.
    Unaligned {
        /// Configured `epoch.length`, seconds.
        configured: i64,
        /// The first stored epoch start (Unix seconds) found not to be a multiple of it.
        epoch: i64,
    },
    /// The store could not be read or written.
    #[error("checking the store's epoch length: {0}")]
    Store(#[from] StoreError),
}

fn show(secs: i64) -> String {
    format!("\"{}\"", humantime::format_duration(Duration::from_secs(secs.unsigned_abs())))
}

/// What to do with the length recorded in the store (`stored`) and the configured one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The same length: nothing to do.
    Same,
    /// No length recorded yet: check the existing epochs, then record the configured one.
    Unrecorded,
    /// Another length: refuse.
    Changed {
        /// Length recorded in the store, seconds.
        stored: i64,
    },
}

/// The rule, pure.
pub fn judge(stored: Option<i64>, configured: i64) -> Verdict {
    match stored {
        Some(s) if s == configured => Verdict::Same,
        Some(stored) => Verdict::Changed { stored },
        None => Verdict::Unrecorded,
    }
}

/// Checks `configured` (seconds) against the store; with `record`, a store without a recorded
/// length gets this one (the daemon and replay, which write epochs; read-only commands only check).
pub async fn check(store: &Store, configured: i64, record: bool) -> Result<(), EpochLengthError> {
    match judge(store.recorded_epoch_length().await?, configured) {
        Verdict::Same => Ok(()),
        Verdict::Changed { stored } => Err(EpochLengthError::Changed { stored, configured }),
        Verdict::Unrecorded => {
            if let Some(epoch) = store.epoch_not_aligned_to(configured).await? {
                return Err(EpochLengthError::Unaligned { configured, epoch });
            }
            if record {
                store.record_epoch_length(configured).await?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_length_per_store() {
        assert_eq!(judge(Some(3600), 3600), Verdict::Same);
        assert_eq!(judge(None, 3600), Verdict::Unrecorded);
        assert_eq!(judge(Some(10), 3600), Verdict::Changed { stored: 10 });
        let msg = EpochLengthError::Changed { stored: 10, configured: 3600 }.to_string();
        assert!(msg.contains("\"1h\"") && msg.contains("\"10s\"") && msg.contains("new store"), "{msg}");
    }
}
