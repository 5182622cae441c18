//! The epoch clock: epoch arithmetic (pure), the injectable time source, and the actor that
//! announces closed epochs to the sealer.
pub mod actor;
pub mod epoch;
pub mod source;

pub use actor::{ClockActor, ClockArgs, ClockMsg};
pub use source::{Clock, OffsetClock, SharedClock, SystemClock};
