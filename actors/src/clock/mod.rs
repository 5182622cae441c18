//! The epoch clock: epoch arithmetic (pure), the injectable time source, and the actor that
//! announces closed epochs to its subscribers (the sealer).
pub mod actor;
pub mod closings;
pub mod epoch;
pub mod source;

pub use actor::{ClockActor, ClockArgs, ClockMsg};
pub use closings::{EpochSubscriber, Subscribers};
pub use source::{Clock, OffsetClock, SharedClock, SystemClock};
