//! chatseal's supervision tree: channel, clock, aggregator, sealer and backup actors, each a thin
//! shell around a pure core that is unit-tested without sockets, clocks or a database.
#[allow(missing_docs)] // documented by the compact-events / compact-store work (issue 18)
pub mod aggregator;
pub mod backup;
pub mod channel;
pub mod clock;
#[allow(missing_docs)] // documented by the compact-events / compact-store work (issue 18)
pub mod event;
pub mod format;
pub mod routes;
pub mod sealer;
pub mod series;
pub mod supervisor;
pub mod telemetry;

pub use routes::Routes;
