//! The aggregator: turns events into the store's truth, one transaction per flush interval.
pub mod actor;
pub mod flush;
pub mod gate;
pub mod tally;

pub use actor::{AggregatorActor, AggregatorArgs, AggregatorMsg, AggregatorStatus};
pub use gate::IngestGate;

#[cfg(test)]
mod flush_race_tests;
#[cfg(test)]
mod tests;
