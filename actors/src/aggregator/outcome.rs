//! What a flush hands back: the write task's result to the aggregator ([`FlushDone`]), and to
//! whoever asked for a `Flush`, the error when durability could not be confirmed
//! ([`FlushError`], cloned to every waiter of the failed flush).

use std::sync::Arc;
use std::time::Instant;

use chatseal_schema::StoreError;

use super::flush::{Batch, FlushReport};

/// A write task finished: its result, the batch it wrote (put back in front of the pending
/// events when the write failed), and what it makes durable.
pub struct FlushDone {
    /// What the transaction did, or why it failed (nothing committed then).
    pub result: Result<FlushReport, StoreError>,
    /// The batch written (re-queued when the write failed).
    pub batch: Batch,
    /// The received sequence that is durable once this batch committed.
    pub upto: u64,
    /// When the write started (the flush duration histogram).
    pub started: Instant,
}

/// Why a `Flush` could not confirm that everything received is durable.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FlushError {
    /// The flush transaction failed: the events stay in memory and the write is retried with
    /// backoff.
    #[error("store unavailable: {0}")]
    Store(#[source] Arc<StoreError>),
}
