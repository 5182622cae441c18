//! How actors find each other. An `ActorRef` goes stale when the supervisor restarts an actor,
//! so messages are routed by registered name through ractor's registry, looked up at send time.
//! Names carry a per-daemon prefix so several daemons can run in one process (tests).

use ractor::{registry, ActorRef};

use crate::aggregator::AggregatorMsg;
use crate::backup::BackupMsg;
use crate::sealer::SealerMsg;

/// Registered names of one daemon's actors.
#[derive(Debug, Clone)]
pub struct Routes {
    prefix: String,
}

impl Routes {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self { prefix: prefix.into() }
    }
    /// A prefix unique within this process.
    pub fn unique() -> Self {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        Self::new(format!("chatseal{}", NEXT.fetch_add(1, Ordering::Relaxed)))
    }
    pub fn name(&self, role: &str) -> String {
        format!("{}.{}", self.prefix, role)
    }
    pub fn aggregator(&self) -> Option<ActorRef<AggregatorMsg>> {
        registry::where_is(self.name("aggregator")).map(ActorRef::from)
    }
    pub fn sealer(&self) -> Option<ActorRef<SealerMsg>> {
        registry::where_is(self.name("sealer")).map(ActorRef::from)
    }
    pub fn backup(&self) -> Option<ActorRef<BackupMsg>> {
        registry::where_is(self.name("backup")).map(ActorRef::from)
    }
}
