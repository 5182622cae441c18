//! The bound on the path from the channel readers to the aggregator. Ractor mailboxes have no
//! bound, so under overload (readers faster than the store) batches of events would pile up in
//! the aggregator's mailbox with nothing to stop them. The gate counts the events cast to the
//! aggregator and not yet taken from its mailbox (`queued`), next to what the aggregator holds
//! itself (`held`: pending plus the flush in flight). A reader asks [`IngestGate::admit`] before
//! it buffers an event: past `store.max_pending_events` the event is dropped and counted in
//! `chatseal_events_dropped_total`, so memory stays bounded and the socket reader never waits.
//!
//! The counts are approximate by design (relaxed atomics, and a reader may have up to one
//! forwarding batch buffered that no count covers yet): the aggregator's own cap stays as the
//! exact backstop. When an aggregator starts, the mailbox of the one before is gone, so
//! `queued` starts again from zero.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::event::Ingest;

#[derive(Debug)]
struct Counts {
    queued: AtomicUsize,
    held: AtomicUsize,
    limit: AtomicUsize,
    dropped: AtomicU64,
}

/// Shared by one daemon's channel readers and its aggregator (cheap to clone).
#[derive(Debug, Clone)]
pub struct IngestGate(Arc<Counts>);

impl Default for IngestGate {
    fn default() -> Self {
        Self::new(usize::MAX)
    }
}

impl IngestGate {
    /// A gate that admits while fewer than `limit` events are queued plus held.
    pub fn new(limit: usize) -> Self {
        IngestGate(Arc::new(Counts {
            queued: AtomicUsize::new(0),
            held: AtomicUsize::new(0),
            limit: AtomicUsize::new(limit),
            dropped: AtomicU64::new(0),
        }))
    }

    /// Sets the bound (the aggregator's `max_pending` when it starts); `queued` restarts at 0
    /// because the previous aggregator's mailbox is gone.
    pub fn start(&self, limit: usize) {
        self.0.limit.store(limit, Ordering::Relaxed);
        self.0.queued.store(0, Ordering::Relaxed);
    }

    /// Is there room for one more event. A `false` is counted as a drop; the caller drops the
    /// event and increments the metric.
    pub fn admit(&self) -> bool {
        let used = self.0.queued.load(Ordering::Relaxed).saturating_add(self.0.held.load(Ordering::Relaxed));
        if used < self.0.limit.load(Ordering::Relaxed) {
            return true;
        }
        self.0.dropped.fetch_add(1, Ordering::Relaxed);
        false
    }

    /// `n` events are about to be cast to the aggregator.
    pub fn sent(&self, n: usize) {
        self.0.queued.fetch_add(n, Ordering::Relaxed);
    }

    /// `n` events were taken out of the mailbox (or a cast of `n` failed).
    pub fn taken(&self, n: usize) {
        let _ = self.0.queued.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |q| Some(q.saturating_sub(n)));
    }

    /// What the aggregator holds right now (pending plus in flight).
    pub fn set_held(&self, n: usize) {
        self.0.held.store(n, Ordering::Relaxed);
    }

    /// Events cast and not yet taken by the aggregator.
    pub fn queued(&self) -> usize {
        self.0.queued.load(Ordering::Relaxed)
    }

    /// Events received and not made durable: what the aggregator holds (pending plus the
    /// flush in flight, exact) and what is cast to it and not yet taken. Read at a shutdown
    /// that timed out, when nothing moves any more, it is the number of events lost.
    pub fn not_durable(&self) -> usize {
        self.0.held.load(Ordering::Relaxed).saturating_add(self.queued())
    }

    /// Events refused by the gate so far.
    pub fn dropped(&self) -> u64 {
        self.0.dropped.load(Ordering::Relaxed)
    }
}

/// How many of `items` are events: the gate counts events, not coverage notices. The readers
/// count a batch with it before they cast it, the aggregator when it takes the batch.
pub fn events_in(items: &[Ingest]) -> usize {
    items.iter().filter(|i| matches!(i, Ingest::Event(_))).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_up_to_the_limit_of_queued_plus_held() {
        let g = IngestGate::new(10);
        g.set_held(6);
        g.sent(3);
        assert!(g.admit());
        g.sent(1);
        assert!(!g.admit(), "6 held + 4 queued reach the limit of 10");
        g.taken(2);
        assert!(g.admit());
        g.set_held(9);
        assert!(!g.admit());
        assert_eq!(g.dropped(), 2);
    }

    #[test]
    fn a_new_aggregator_restarts_the_queue_and_taken_never_underflows() {
        let g = IngestGate::default();
        g.sent(5);
        g.taken(7);
        assert_eq!(g.queued(), 0);
        g.sent(4);
        g.start(3);
        assert_eq!(g.queued(), 0);
        g.sent(3);
        assert!(!g.admit());
    }

    #[test]
    fn not_durable_is_held_plus_queued() {
        let g = IngestGate::new(100);
        assert_eq!(g.not_durable(), 0);
        g.set_held(7);
        g.sent(5);
        g.taken(2);
        assert_eq!(g.not_durable(), 10);
        g.set_held(0);
        g.taken(3);
        assert_eq!(g.not_durable(), 0);
    }
}
