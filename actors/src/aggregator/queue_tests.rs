//! The aggregator's queue (`queue.rs`) on its own: acceptance up to the cap, batches of the
//! oldest events, waiters released exactly when what they waited for is durable, re-queueing
//! in order after a failure within the cap, and the backoff. Pure: events are numbers, waiters
//! are labels, time is an `Instant` moved by hand.

use std::time::{Duration, Instant};

use super::queue::{Limits, Queue, Weighed, BACKOFF_MAX, BACKOFF_START};

/// An event of `10 + n % 3` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ev(u32);

impl Weighed for Ev {
    fn bytes(&self) -> usize {
        10 + (self.0 % 3) as usize
    }
}

fn queue(max_events: usize, max_batch: usize) -> Queue<Ev, &'static str> {
    Queue::new(Limits { max_events, max_batch })
}

fn push_all(q: &mut Queue<Ev, &'static str>, range: std::ops::Range<u32>) {
    for n in range {
        assert_eq!(q.push(Ev(n)), Ok(()), "event {n}");
    }
}

fn ids(events: &[Ev]) -> Vec<u32> {
    events.iter().map(|e| e.0).collect()
}

#[test]
fn accepts_up_to_the_cap_counting_in_flight_and_bytes() {
    let mut q = queue(5, 2);
    push_all(&mut q, 0..5);
    assert_eq!(q.push(Ev(5)), Err(Ev(5)), "the cap is reached");
    assert_eq!((q.held(), q.bytes()), (5, 10 + 11 + 12 + 10 + 11));
    let t = q.start(Instant::now(), false).unwrap_or_else(|| panic!("a batch"));
    assert_eq!(ids(&t.events), [0, 1]);
    assert_eq!((q.pending(), q.in_flight(), q.held(), q.bytes()), (3, 2, 5, 54));
    assert_eq!(q.push(Ev(5)), Err(Ev(5)), "events in flight count against the cap");
    q.committed(t.upto);
    assert_eq!((q.held(), q.bytes()), (3, 33));
    assert_eq!(q.push(Ev(5)), Ok(()));
}

#[test]
fn batches_take_the_oldest_and_one_flush_at_a_time() {
    let now = Instant::now();
    let mut q = queue(100, 4);
    assert!(q.start(now, false).is_none(), "nothing to write");
    push_all(&mut q, 0..10);
    let a = q.start(now, false).unwrap_or_else(|| panic!("a batch"));
    assert_eq!((ids(&a.events), a.upto), (vec![0, 1, 2, 3], 4));
    assert!(q.start(now, false).is_none(), "one flush in flight at a time");
    let done = q.committed(a.upto);
    assert!(done.again, "a full batch is ready: flush again at once");
    let b = q.start(now, false).unwrap_or_else(|| panic!("b batch"));
    assert_eq!((ids(&b.events), b.upto), (vec![4, 5, 6, 7], 8));
    let done = q.committed(b.upto);
    assert!(!done.again, "2 left, less than a batch, nobody waits: the timer decides");
    let c = q.start(now, false).unwrap_or_else(|| panic!("c batch"));
    assert_eq!((ids(&c.events), c.upto), (vec![8, 9], 10));
    // A batch cap of 0 still takes one event per flush.
    let mut q = queue(100, 0);
    push_all(&mut q, 0..3);
    assert_eq!(q.start(now, false).map(|t| ids(&t.events)), Some(vec![0]));
}

#[test]
fn a_waiter_is_answered_once_everything_before_it_is_durable() {
    let now = Instant::now();
    let mut q = queue(100, 3);
    assert_eq!(q.wait("idle", false), Some("idle"), "nothing to wait for: answered at once");
    push_all(&mut q, 0..5);
    assert_eq!(q.wait("first", false), None);
    let a = q.start(now, false).unwrap_or_else(|| panic!("a"));
    push_all(&mut q, 5..6);
    assert_eq!(q.wait("second", false), None, "waits for event 5 too");
    let done = q.committed(a.upto);
    assert!(done.waiters.is_empty(), "3 of 5 durable: nobody is done");
    assert!(done.again, "someone waits: keep flushing");
    let b = q.start(now, false).unwrap_or_else(|| panic!("b"));
    assert_eq!(ids(&b.events), [3, 4, 5]);
    let done = q.committed(b.upto);
    assert_eq!(done.waiters, ["first", "second"]);
    assert_eq!(q.waiters(), 0);
    assert_eq!(q.wait("after", false), Some("after"));
}

#[test]
fn other_work_is_worth_a_flush_and_a_wait() {
    let now = Instant::now();
    let mut q = queue(100, 3);
    assert_eq!(q.wait("cov", true), None, "coverage to write: wait for it");
    let t = q.start(now, true).unwrap_or_else(|| panic!("a coverage-only flush"));
    assert!(t.events.is_empty());
    assert!(q.flushing() && q.in_flight() == 0);
    let done = q.committed(t.upto);
    assert_eq!(done.waiters, ["cov"]);
}

#[test]
fn a_failed_batch_goes_back_in_front_in_order_and_waiters_learn_it() {
    let t0 = Instant::now();
    let mut q = queue(100, 3);
    push_all(&mut q, 0..5);
    q.wait("w", false);
    let a = q.start(t0, false).unwrap_or_else(|| panic!("a"));
    push_all(&mut q, 5..7);
    let done = q.failed(a.events, t0);
    assert_eq!((done.waiters, done.dropped, done.again), (vec!["w"], 0, false));
    assert_eq!((q.pending(), q.held(), q.bytes()), (7, 7, 10 + 11 + 12 + 10 + 11 + 12 + 10));
    assert!(!q.can_start(t0), "backoff");
    assert!(q.start(t0 + BACKOFF_START - Duration::from_millis(1), false).is_none());
    let b = q.start(t0 + BACKOFF_START, false).unwrap_or_else(|| panic!("retry"));
    assert_eq!(ids(&b.events), [0, 1, 2], "the failed batch first, in its order");
    assert_eq!(b.upto, 3, "sequences unchanged by the re-queue");
    q.committed(b.upto);
    let c = q.start(t0 + BACKOFF_START, false).unwrap_or_else(|| panic!("rest"));
    assert_eq!(ids(&c.events), [3, 4, 5]);
}

#[test]
fn a_failed_batch_always_fits_back_because_its_room_stays_counted() {
    let t0 = Instant::now();
    let mut q = queue(6, 4);
    push_all(&mut q, 0..6);
    let a = q.start(t0, false).unwrap_or_else(|| panic!("a"));
    assert_eq!(ids(&a.events), [0, 1, 2, 3]);
    // While the batch is out, the space it held is still counted: nothing more fits...
    assert!(q.push(Ev(6)).is_err());
    let done = q.failed(a.events, t0);
    assert_eq!(done.dropped, 0, "...so the batch always fits back");
    assert_eq!(q.held(), 6);
    let b = q.start(t0 + BACKOFF_MAX, false).unwrap_or_else(|| panic!("b"));
    assert_eq!(ids(&b.events), [0, 1, 2, 3], "the batch first, in order");
}

#[test]
fn backoff_doubles_to_its_bound_resets_on_success_and_a_waiter_cuts_it_short() {
    let mut now = Instant::now();
    let mut q = queue(100, 10);
    push_all(&mut q, 0..1);
    let mut waits = Vec::new();
    for _ in 0..8 {
        let t = q.start(now, false).unwrap_or_else(|| panic!("an attempt"));
        q.failed(t.events, now);
        let at = q.retry_at().unwrap_or_else(|| panic!("a retry time"));
        waits.push(at - now);
        now = at;
    }
    let ms: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
    assert_eq!(ms, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
    let t = q.start(now, false).unwrap_or_else(|| panic!("an attempt"));
    q.failed(t.events, now);
    assert!(!q.can_start(now));
    assert_eq!(q.wait("hurry", false), None);
    assert!(q.can_start(now), "a waiter is worth an attempt now");
    let t = q.start(now, false).unwrap_or_else(|| panic!("the waiter's attempt"));
    let done = q.committed(t.upto);
    assert_eq!(done.waiters, ["hurry"]);
    push_all(&mut q, 1..2);
    let t = q.start(now, false).unwrap_or_else(|| panic!("next"));
    q.failed(t.events, now);
    assert_eq!(q.retry_at().map(|at| at - now), Some(BACKOFF_START), "a success reset the backoff");
}

#[test]
fn the_timer_during_a_write_asks_for_another_flush_once() {
    let now = Instant::now();
    let mut q = queue(100, 10);
    q.tick();
    push_all(&mut q, 0..2);
    let a = q.start(now, false).unwrap_or_else(|| panic!("a"));
    push_all(&mut q, 2..3);
    q.tick();
    assert!(q.committed(a.upto).again, "the timer fired during the write");
    let b = q.start(now, false).unwrap_or_else(|| panic!("b"));
    assert!(!q.committed(b.upto).again, "once");
    // A failure forgets the timer: the backoff decides.
    push_all(&mut q, 3..4);
    let c = q.start(now, false).unwrap_or_else(|| panic!("c"));
    q.tick();
    assert!(!q.failed(c.events, now).again);
}
