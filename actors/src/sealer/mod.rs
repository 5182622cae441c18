//! The sealer: the byte-exact format (`merkle`), building a seal (pure), sealing against the
//! store, and the actor that seals every closed epoch.
pub mod actor;
pub mod build;
pub mod bundle;
pub mod coverage;
pub mod limits;
pub mod merkle;
pub mod run;

pub use actor::{SealerActor, SealerArgs, SealerCluster, SealerMsg, SealerSubscription};
pub use build::SealConfig;
pub use run::{FlushNotConfirmed, SealError, SealOutcome};
