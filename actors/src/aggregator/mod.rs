//! The aggregator: turns events into the store's truth, one transaction per flush interval.
//! `queue` is its pure state machine (pending events, the flush in flight, waiters, backoff,
//! re-queueing), `gate` the bound in events and bytes on everything not yet durable, `tally`
//! and `flush` one transaction's work, `actor` the shell that drives them. Events are buffered
//! in the compact form of `crate::compact`.
pub mod actor;
pub mod flush;
pub mod gate;
pub mod outcome;
pub mod queue;
pub mod tally;

pub use actor::{AggregatorActor, AggregatorArgs, AggregatorMsg, AggregatorStatus};
pub use gate::{DropReason, IngestGate, Permit};
pub use outcome::{FlushDone, FlushError};

/// The `op` of `chatseal_store_errors_total` the aggregator counts: a failed flush.
pub const STORE_OP_FLUSH: &str = "flush";
/// Every `op` of `chatseal_store_errors_total`, for pre-registering the series.
pub const STORE_OPS: [&str; 1] = [STORE_OP_FLUSH];

#[cfg(test)]
mod flush_race_tests;
#[cfg(test)]
mod queue_tests;
#[cfg(test)]
mod tests;
