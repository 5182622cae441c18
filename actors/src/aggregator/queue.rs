//! The aggregator's queue as a pure state machine: what is pending, the one flush in flight,
//! who waits for what to be durable, the backoff after a failed flush and the re-queueing of
//! its batch. No tokio, no store, no clock of its own (the caller passes `now`): the actor
//! (`actor.rs`) feeds it messages and carries out what it returns, and `queue_tests.rs` drives
//! it through every path.
//!
//! Events come and stay in runs (chunks of one channel reader, `compact::chunk`), held as they
//! came: the queue of runs never copies or regrows what it holds (the memory bar), and a run is
//! split only where a bound falls inside it (the batch size, the event cap).
//!
//! Sequences: every accepted event gets the next number (`received`); a batch is the oldest
//! pending events, so what stays pending is always the newest `pending_events`, and a batch
//! committed makes everything up to `received - pending_events` (at the time it was taken)
//! durable. A waiter waits for the `received` of when it asked.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The first wait after a failed flush; it doubles per failure up to [`BACKOFF_MAX`].
pub const BACKOFF_START: Duration = Duration::from_millis(100);
/// The longest wait between two attempts while the store fails.
pub const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// What the queue holds: a run of events, in order, that it can weigh and split.
pub trait Run: Sized {
    /// Events in this run.
    fn len(&self) -> usize;
    /// Whether the run holds no event.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Bytes this run holds in memory.
    fn bytes(&self) -> usize;
    /// Splits the run: this keeps its first `at` events, the rest is returned.
    fn split_off(&mut self, at: usize) -> Self;
}

impl Run for crate::compact::Chunk {
    fn len(&self) -> usize {
        crate::compact::Chunk::len(self)
    }
    fn bytes(&self) -> usize {
        crate::compact::Chunk::bytes(self)
    }
    fn split_off(&mut self, at: usize) -> Self {
        crate::compact::Chunk::split_off(self, at)
    }
}

/// The bounds of a queue.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most events pending plus in flight (`store.max_pending_events`); past it new events
    /// and re-queued ones are refused.
    pub max_events: usize,
    /// Most events in one batch (`store.max_flush_events`; at least one is always taken).
    pub max_batch: usize,
}

/// A batch handed out to be written.
#[derive(Debug)]
pub struct Taken<E> {
    /// The runs of its events, oldest first.
    pub runs: Vec<E>,
    /// The received sequence that is durable once this batch committed.
    pub upto: u64,
}

/// What a finished flush releases.
#[derive(Debug)]
pub struct Finished<W> {
    /// Waiters to answer: with success after a commit, with the error after a failure.
    pub waiters: Vec<W>,
    /// Events of a failed batch that no longer fit and were dropped.
    pub dropped: usize,
    /// Start the next flush right away (someone waits, a full batch is ready, or the timer
    /// fired during the write).
    pub again: bool,
}

#[derive(Debug, Clone, Copy)]
struct InFlight {
    events: usize,
    bytes: usize,
}

/// The queue. `E` is a run of buffered events, `W` whatever answers a waiter (a reply port).
#[derive(Debug)]
pub struct Queue<E, W> {
    limits: Limits,
    pending: VecDeque<E>,
    pending_events: usize,
    pending_bytes: usize,
    in_flight: Option<InFlight>,
    received: u64,
    durable: u64,
    waiters: Vec<(u64, W)>,
    flush_due: bool,
    retry_at: Option<Instant>,
    backoff: Duration,
}

impl<E: Run, W> Queue<E, W> {
    /// An empty queue.
    pub fn new(limits: Limits) -> Self {
        Queue {
            limits,
            pending: VecDeque::new(),
            pending_events: 0,
            pending_bytes: 0,
            in_flight: None,
            received: 0,
            durable: 0,
            waiters: Vec::new(),
            flush_due: false,
            retry_at: None,
            backoff: BACKOFF_START,
        }
    }

    /// Accepts a run of events, as many as fit while pending plus in flight stay within
    /// `max_events`; the rest is given back (the caller drops and counts it).
    pub fn push(&mut self, mut run: E) -> Result<(), E> {
        if run.is_empty() {
            return Ok(());
        }
        let room = self.limits.max_events.saturating_sub(self.held());
        if room == 0 {
            return Err(run);
        }
        let rest = (run.len() > room).then(|| run.split_off(room));
        self.pending_bytes += run.bytes();
        self.pending_events += run.len();
        self.received += run.len() as u64;
        self.pending.push_back(run);
        rest.map_or(Ok(()), Err)
    }

    /// The flush timer fired: flush now if possible, or once the flush in flight is done.
    pub fn tick(&mut self) {
        if self.in_flight.is_some() {
            self.flush_due = true;
        }
    }

    /// Someone wants everything received so far durable. Given back when there is nothing to
    /// wait for (answer now); otherwise kept until a flush makes it durable or fails, and the
    /// backoff is cut short (a waiter is worth an attempt now). `extra` says there is other
    /// work to write (coverage spans), worth waiting for too.
    pub fn wait(&mut self, w: W, extra: bool) -> Option<W> {
        if self.received == self.durable && self.in_flight.is_none() && !extra {
            return Some(w);
        }
        self.waiters.push((self.received, w));
        self.retry_at = None;
        None
    }

    /// Whether a flush may start at `now`: none in flight and no backoff running.
    pub fn can_start(&self, now: Instant) -> bool {
        self.in_flight.is_none() && self.retry_at.is_none_or(|t| now >= t)
    }

    /// Takes the next batch (the oldest `max_batch` pending events, at least one) if a flush
    /// may start at `now` and there is something to write; `extra` says there is other work
    /// (coverage spans) that is worth a flush without events. `None`: nothing to do now.
    pub fn start(&mut self, now: Instant, extra: bool) -> Option<Taken<E>> {
        if !self.can_start(now) || (self.pending_events == 0 && !extra) {
            return None;
        }
        let want = self.pending_events.min(self.limits.max_batch.max(1));
        let (mut runs, mut events, mut bytes) = (Vec::new(), 0, 0);
        while events < want {
            let Some(mut run) = self.pending.pop_front() else { break };
            self.pending_bytes = self.pending_bytes.saturating_sub(run.bytes());
            self.pending_events -= run.len().min(self.pending_events);
            if events + run.len() > want {
                // The batch's bound falls inside this run: its newer part stays pending.
                let rest = run.split_off(want - events);
                self.pending_bytes += rest.bytes();
                self.pending_events += rest.len();
                self.pending.push_front(rest);
            }
            events += run.len();
            bytes += run.bytes();
            runs.push(run);
        }
        self.in_flight = Some(InFlight { events, bytes });
        Some(Taken { upto: self.received - self.pending_events as u64, runs })
    }

    /// The flush that made `upto` durable committed: waiters up to it are released, the
    /// backoff resets.
    pub fn committed(&mut self, upto: u64) -> Finished<W> {
        self.in_flight = None;
        self.retry_at = None;
        self.backoff = BACKOFF_START;
        self.durable = self.durable.max(upto);
        let durable = self.durable;
        let (ready, waiting): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.waiters).into_iter().partition(|(t, _)| *t <= durable);
        self.waiters = waiting;
        let due = std::mem::take(&mut self.flush_due);
        let again = !self.waiters.is_empty() || due || self.pending_events >= self.limits.max_batch.max(1);
        Finished { waiters: ready.into_iter().map(|(_, w)| w).collect(), dropped: 0, again }
    }

    /// The flush failed at `now`: its events go back in front of what arrived meanwhile, as
    /// many as fit (the newest of the batch are dropped first), every waiter is released with
    /// the failure, and the next attempt waits for the backoff, which doubles.
    pub fn failed(&mut self, runs: Vec<E>, now: Instant) -> Finished<W> {
        self.in_flight = None;
        let mut room = self.limits.max_events.saturating_sub(self.pending_events);
        let (mut kept, mut dropped) = (Vec::with_capacity(runs.len()), 0);
        for mut run in runs {
            if run.len() > room {
                dropped += run.split_off(room).len();
            }
            room -= run.len();
            if !run.is_empty() {
                kept.push(run);
            }
        }
        for run in kept.into_iter().rev() {
            self.pending_bytes += run.bytes();
            self.pending_events += run.len();
            self.pending.push_front(run);
        }
        self.retry_at = Some(now + self.backoff);
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
        self.flush_due = false;
        let waiters = std::mem::take(&mut self.waiters).into_iter().map(|(_, w)| w).collect();
        Finished { waiters, dropped, again: false }
    }

    /// Events pending (not in flight).
    pub fn pending(&self) -> usize {
        self.pending_events
    }

    /// Events in the flush in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.map_or(0, |f| f.events)
    }

    /// Whether a flush is in flight (possibly one with coverage only).
    pub fn flushing(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Events held: pending plus in flight (what is not durable yet).
    pub fn held(&self) -> usize {
        self.pending_events + self.in_flight()
    }

    /// Bytes of the events held (pending plus in flight).
    pub fn bytes(&self) -> usize {
        self.pending_bytes + self.in_flight.map_or(0, |f| f.bytes)
    }

    /// Waiters not answered yet.
    pub fn waiters(&self) -> usize {
        self.waiters.len()
    }

    /// When the next attempt may start after a failure.
    pub fn retry_at(&self) -> Option<Instant> {
        self.retry_at
    }

    /// Runs pending (the queue's own entries: a handful of words each).
    pub fn runs(&self) -> usize {
        self.pending.len()
    }
}
