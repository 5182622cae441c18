//! The aggregator: turns events into the store's truth, one transaction per flush interval.
pub mod actor;
pub mod flush;
pub mod gate;
pub mod outcome;
pub mod tally;

pub use actor::{AggregatorActor, AggregatorArgs, AggregatorMsg, AggregatorStatus};
pub use gate::IngestGate;
pub use outcome::{FlushDone, FlushError};

/// The `op` of `chatseal_store_errors_total` the aggregator counts: a failed flush.
pub const STORE_OP_FLUSH: &str = "flush";
/// Every `op` of `chatseal_store_errors_total`, for pre-registering the series.
pub const STORE_OPS: [&str; 1] = [STORE_OP_FLUSH];

#[cfg(test)]
mod flush_race_tests;
#[cfg(test)]
mod tests;
