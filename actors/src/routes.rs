//! How actors find each other. An `ActorRef` goes stale when the supervisor restarts an actor,
//! so messages are routed by registered name through ractor's registry, looked up at send time.
//! Names carry a per-daemon prefix so several daemons can run in one process (tests). The
//! routes also carry the daemon's ingest gate, the bound between channel readers and the
//! aggregator (see `aggregator::gate`).

use ractor::{registry, ActorRef};

use crate::aggregator::{AggregatorMsg, IngestGate};
use crate::backup::BackupMsg;
use crate::sealer::SealerMsg;

/// Registered names of one daemon's actors.
#[derive(Debug, Clone)]
pub struct Routes {
    prefix: String,
    gate: IngestGate,
    /// Set while the supervisor retires a healthy aggregator (rest_for_one): nobody finds it,
    /// so channel readers hold their batches instead of casting into a mailbox about to close.
    aggregator_paused: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Routes {
    /// Routes whose registered names start with `prefix` (e.g. `chatseal`), with a fresh ingest gate.
    pub fn new(prefix: impl Into<String>) -> Self {
        Self { prefix: prefix.into(), gate: IngestGate::default(), aggregator_paused: Default::default() }
    }
    /// The bound on events cast to the aggregator and not yet flushed (shared by all clones).
    pub fn gate(&self) -> &IngestGate {
        &self.gate
    }
    /// A prefix unique within this process.
    pub fn unique() -> Self {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        Self::new(format!("chatseal{}", NEXT.fetch_add(1, Ordering::Relaxed)))
    }
    /// The registered name of the actor playing `role` (`"aggregator"`, `"sealer"`, ...): `prefix.role`.
    pub fn name(&self, role: &str) -> String {
        format!("{}.{}", self.prefix, role)
    }
    /// Hides (true) or shows (false) the aggregator from every lookup.
    pub fn pause_aggregator(&self, paused: bool) {
        self.aggregator_paused.store(paused, std::sync::atomic::Ordering::SeqCst);
    }
    /// The aggregator as registered now; None while it restarts or is paused.
    pub fn aggregator(&self) -> Option<ActorRef<AggregatorMsg>> {
        if self.aggregator_paused.load(std::sync::atomic::Ordering::SeqCst) {
            return None;
        }
        registry::where_is(self.name("aggregator")).map(ActorRef::from)
    }
    /// The sealer as registered now; None while it restarts or is not running.
    pub fn sealer(&self) -> Option<ActorRef<SealerMsg>> {
        registry::where_is(self.name("sealer")).map(ActorRef::from)
    }
    /// The backup actor as registered now; None while it restarts or is not running.
    pub fn backup(&self) -> Option<ActorRef<BackupMsg>> {
        registry::where_is(self.name("backup")).map(ActorRef::from)
    }
}
