//! The bound on everything received and not yet durable: the channel readers' forwarding
//! buffers, the aggregator's mailbox, its pending events and the flush in flight. Ractor
//! mailboxes have no bound, so under overload (readers faster than the store) events would
//! pile up with nothing to stop them. The gate counts, in events and in bytes, what each
//! [`Permit`] holds: a reader takes room in its permit ([`Permit::admit`]) before it buffers an
//! event (at most what the event can add to its chunk, then set to what it did add); the
//! permit travels with the batch of chunks into the mailbox; the aggregator merges it into its
//! own and sets it to exactly what it holds after each change, so the room of an event is
//! released when it is durable or dropped. Past `store.max_pending_events` events or `store.max_pending_bytes`
//! bytes a new event is refused, dropped and counted in
//! `chatseal_events_dropped_total{reason="buffer_full"}`, so memory stays bounded and the
//! socket reader never waits. A permit releases its room when dropped, so a batch lost with a
//! crashed aggregator's mailbox, or the state of a crashed aggregator, gives it back.
//!
//! The counts are relaxed atomics: exact once nothing moves (what [`IngestGate::not_durable`]
//! reports at a shutdown that timed out), at most a few events stale while readers race.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::telemetry::names as m;

/// Why an event was dropped: the `reason` of `chatseal_events_dropped_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The buffer of what is not yet durable is full (`store.max_pending_events` or
    /// `store.max_pending_bytes`): the store is slower than the chat, or unavailable.
    BufferFull,
    /// The aggregator could not be reached (restarting) for longer than a reader may hold.
    AggregatorAway,
}

impl DropReason {
    /// Every reason, for pre-registering the series.
    pub const ALL: [DropReason; 2] = [DropReason::BufferFull, DropReason::AggregatorAway];

    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            DropReason::BufferFull => "buffer_full",
            DropReason::AggregatorAway => "aggregator_away",
        }
    }

    /// Counts `n` events dropped for this reason.
    pub fn count(self, n: u64) {
        metrics::counter!(m::EVENTS_DROPPED_TOTAL, "reason" => self.as_str()).increment(n);
    }
}

#[derive(Debug)]
struct Counts {
    events: AtomicUsize,
    bytes: AtomicUsize,
    max_events: AtomicUsize,
    max_bytes: AtomicUsize,
    dropped: AtomicU64,
}

/// Shared by one daemon's channel readers and its aggregator (cheap to clone).
#[derive(Debug, Clone)]
pub struct IngestGate(Arc<Counts>);

impl Default for IngestGate {
    fn default() -> Self {
        Self::new(usize::MAX, usize::MAX)
    }
}

impl IngestGate {
    /// A gate that admits while fewer than `max_events` events and at most `max_bytes` bytes
    /// are held by its permits.
    pub fn new(max_events: usize, max_bytes: usize) -> Self {
        IngestGate(Arc::new(Counts {
            events: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
            max_events: AtomicUsize::new(max_events),
            max_bytes: AtomicUsize::new(max_bytes),
            dropped: AtomicU64::new(0),
        }))
    }

    /// Sets the bounds (the aggregator's settings, when it starts).
    pub fn start(&self, max_events: usize, max_bytes: usize) {
        self.0.max_events.store(max_events, Ordering::Relaxed);
        self.0.max_bytes.store(max_bytes, Ordering::Relaxed);
    }

    /// An empty permit of this gate.
    pub fn permit(&self) -> Permit {
        Permit { gate: self.clone(), events: 0, bytes: 0 }
    }

    /// Events held by every permit: received and not yet durable. Read at a shutdown that
    /// timed out, when nothing moves any more, it is the number of events lost.
    pub fn not_durable(&self) -> usize {
        self.0.events.load(Ordering::Relaxed)
    }

    /// Bytes held by every permit.
    pub fn bytes(&self) -> usize {
        self.0.bytes.load(Ordering::Relaxed)
    }

    /// Events refused by the gate so far.
    pub fn dropped(&self) -> u64 {
        self.0.dropped.load(Ordering::Relaxed)
    }

    fn add(&self, events: usize, bytes: usize) {
        self.0.events.fetch_add(events, Ordering::Relaxed);
        self.0.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    fn sub(&self, events: usize, bytes: usize) {
        let _ = self.0.events.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| Some(v.saturating_sub(events)));
        let _ = self.0.bytes.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| Some(v.saturating_sub(bytes)));
    }
}

/// Room held in the gate: `events` events of `bytes` bytes. Released when dropped.
#[derive(Debug)]
pub struct Permit {
    gate: IngestGate,
    events: usize,
    bytes: usize,
}

impl Permit {
    /// Takes room for one more event of `bytes` bytes, if the gate has it; `false` is a drop
    /// (counted in [`IngestGate::dropped`]; the caller counts the metric with its reason).
    pub fn admit(&mut self, bytes: usize) -> bool {
        let c = &self.gate.0;
        let events = c.events.load(Ordering::Relaxed);
        let used = c.bytes.load(Ordering::Relaxed);
        if events < c.max_events.load(Ordering::Relaxed)
            && used.saturating_add(bytes) <= c.max_bytes.load(Ordering::Relaxed)
        {
            self.gate.add(1, bytes);
            self.events += 1;
            self.bytes += bytes;
            return true;
        }
        c.dropped.fetch_add(1, Ordering::Relaxed);
        false
    }

    /// Moves `other`'s room into this permit.
    pub fn merge(&mut self, mut other: Permit) {
        self.events += std::mem::take(&mut other.events);
        self.bytes += std::mem::take(&mut other.bytes);
    }

    /// Sets the room held to exactly `events` events of `bytes` bytes, taking or releasing
    /// the difference (taking never fails: the holder already holds what it counts).
    pub fn set(&mut self, events: usize, bytes: usize) {
        self.gate.add(events.saturating_sub(self.events), bytes.saturating_sub(self.bytes));
        self.gate.sub(self.events.saturating_sub(events), self.bytes.saturating_sub(bytes));
        self.events = events;
        self.bytes = bytes;
    }

    /// Room for one event of `bytes` bytes, taken back by the holder (it was dropped or never
    /// sent): released now.
    pub fn release_one(&mut self, bytes: usize) {
        let bytes = bytes.min(self.bytes);
        self.set(self.events.saturating_sub(1), self.bytes - bytes);
    }

    /// Events held.
    pub fn events(&self) -> usize {
        self.events
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.gate.sub(self.events, self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_up_to_either_bound() {
        let g = IngestGate::new(3, 1_000);
        let mut p = g.permit();
        assert!(p.admit(100) && p.admit(100) && p.admit(100));
        assert!(!p.admit(1), "3 events reach max_events");
        assert_eq!((g.not_durable(), g.bytes(), g.dropped()), (3, 300, 1));
        let g = IngestGate::new(100, 1_000);
        let mut p = g.permit();
        assert!(p.admit(600));
        assert!(!p.admit(401), "601 + 401 bytes exceed max_bytes");
        assert!(p.admit(400), "exactly max_bytes fits");
        assert!(!p.admit(1));
        assert_eq!((g.not_durable(), g.bytes(), g.dropped()), (2, 1_000, 2));
    }

    #[test]
    fn room_is_released_when_set_lower_or_dropped() {
        let g = IngestGate::new(100, 1_000);
        let mut reader = g.permit();
        for _ in 0..5 {
            assert!(reader.admit(200));
        }
        assert!(!reader.admit(1));
        // The batch reaches the aggregator, which holds it in compact form.
        let mut agg = g.permit();
        agg.merge(reader);
        assert_eq!((g.not_durable(), g.bytes()), (5, 1_000));
        agg.set(5, 600);
        assert_eq!((g.not_durable(), g.bytes()), (5, 600));
        let mut next = g.permit();
        assert!(next.admit(400), "room freed by the compact form is usable");
        // Three events durable: released.
        agg.set(2, 240);
        assert_eq!((g.not_durable(), g.bytes()), (3, 640));
        next.release_one(400);
        assert_eq!((next.events(), next.bytes()), (0, 0));
        drop(agg);
        assert_eq!((g.not_durable(), g.bytes()), (0, 0), "a dropped permit gives its room back");
    }

    #[test]
    fn set_can_grow_past_the_bound_and_counts_never_underflow() {
        let g = IngestGate::new(10, 100);
        let mut p = g.permit();
        p.set(20, 500);
        assert_eq!((g.not_durable(), g.bytes()), (20, 500));
        assert!(!g.permit().admit(1));
        p.release_one(1_000);
        assert_eq!((p.events(), p.bytes()), (19, 0));
        drop(p);
        assert_eq!((g.not_durable(), g.bytes()), (0, 0));
        g.start(1_000, 10_000);
        assert!(g.permit().admit(5_000));
    }

    #[test]
    fn every_drop_reason_has_its_own_label() {
        let labels: Vec<&str> = DropReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(labels, ["buffer_full", "aggregator_away"]);
    }
}
