//! chatseal's supervision tree: channel, clock, aggregator, sealer and backup actors, each a thin
//! shell around a pure core that is unit-tested without sockets, clocks or a database.
pub mod aggregator;
pub mod backup;
pub mod channel;
pub mod clock;
pub mod compact;
pub mod event;
pub mod format;
pub mod routes;
pub mod sealer;
pub mod series;
pub mod supervisor;
pub mod telemetry;

pub use routes::Routes;
