//! The aggregator's queue (`queue.rs`) on its own: acceptance up to the cap, batches of the
//! oldest events, waiters released exactly when what they waited for is durable, re-queueing
//! in order after a failure within the cap, runs split only where a bound falls inside them,
//! and the backoff. Pure: events are numbers in runs, waiters are labels, time is an `Instant`
//! moved by hand.

use std::time::{Duration, Instant};

use super::queue::{Limits, Queue, Run, BACKOFF_MAX, BACKOFF_START};

/// A run of events; event `n` holds `10 + n % 3` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ev(Vec<u32>);

impl Run for Ev {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn bytes(&self) -> usize {
        self.0.iter().map(|n| 10 + (n % 3) as usize).sum()
    }
    fn split_off(&mut self, at: usize) -> Self {
        Ev(self.0.split_off(at.min(self.0.len())))
    }
}

/// A run of one event.
fn one(n: u32) -> Ev {
    Ev(vec![n])
}

fn queue(max_events: usize, max_batch: usize) -> Queue<Ev, &'static str> {
    Queue::new(Limits { max_events, max_batch })
}

fn push_all(q: &mut Queue<Ev, &'static str>, range: std::ops::Range<u32>) {
    for n in range {
        assert_eq!(q.push(one(n)), Ok(()), "event {n}");
    }
}

fn ids(runs: &[Ev]) -> Vec<u32> {
    runs.iter().flat_map(|r| r.0.iter().copied()).collect()
}

#[test]
fn accepts_up_to_the_cap_counting_in_flight_and_bytes() {
    let mut q = queue(5, 2);
    push_all(&mut q, 0..5);
    assert_eq!(q.push(one(5)), Err(one(5)), "the cap is reached");
    assert_eq!((q.held(), q.bytes()), (5, 10 + 11 + 12 + 10 + 11));
    let t = q.start(Instant::now(), false).unwrap_or_else(|| panic!("a batch"));
    assert_eq!(ids(&t.runs), [0, 1]);
    assert_eq!((q.pending(), q.in_flight(), q.held(), q.bytes()), (3, 2, 5, 54));
    assert_eq!(q.push(one(5)), Err(one(5)), "events in flight count against the cap");
    q.committed(t.upto);
    assert_eq!((q.held(), q.bytes()), (3, 33));
    assert_eq!(q.push(one(5)), Ok(()));
}

#[test]
fn batches_take_the_oldest_and_one_flush_at_a_time() {
    let now = Instant::now();
    let mut q = queue(100, 4);
    assert!(q.start(now, false).is_none(), "nothing to write");
    push_all(&mut q, 0..10);
    let a = q.start(now, false).unwrap_or_else(|| panic!("a batch"));
    assert_eq!((ids(&a.runs), a.upto), (vec![0, 1, 2, 3], 4));
    assert!(q.start(now, false).is_none(), "one flush in flight at a time");
    let done = q.committed(a.upto);
    assert!(done.again, "a full batch is ready: flush again at once");
    let b = q.start(now, false).unwrap_or_else(|| panic!("b batch"));
    assert_eq!((ids(&b.runs), b.upto), (vec![4, 5, 6, 7], 8));
    let done = q.committed(b.upto);
    assert!(!done.again, "2 left, less than a batch, nobody waits: the timer decides");
    let c = q.start(now, false).unwrap_or_else(|| panic!("c batch"));
    assert_eq!((ids(&c.runs), c.upto), (vec![8, 9], 10));
    // A batch cap of 0 still takes one event per flush.
    let mut q = queue(100, 0);
    push_all(&mut q, 0..3);
    assert_eq!(q.start(now, false).map(|t| ids(&t.runs)), Some(vec![0]));
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
    assert_eq!(ids(&b.runs), [3, 4, 5]);
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
    assert!(t.runs.is_empty());
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
    let done = q.failed(a.runs, t0);
    assert_eq!((done.waiters, done.dropped, done.again), (vec!["w"], 0, false));
    assert_eq!((q.pending(), q.held(), q.bytes()), (7, 7, 10 + 11 + 12 + 10 + 11 + 12 + 10));
    assert!(!q.can_start(t0), "backoff");
    assert!(q.start(t0 + BACKOFF_START - Duration::from_millis(1), false).is_none());
    let b = q.start(t0 + BACKOFF_START, false).unwrap_or_else(|| panic!("retry"));
    assert_eq!(ids(&b.runs), [0, 1, 2], "the failed batch first, in its order");
    assert_eq!(b.upto, 3, "sequences unchanged by the re-queue");
    q.committed(b.upto);
    let c = q.start(t0 + BACKOFF_START, false).unwrap_or_else(|| panic!("rest"));
    assert_eq!(ids(&c.runs), [3, 4, 5]);
}

#[test]
fn a_failed_batch_always_fits_back_because_its_room_stays_counted() {
    let t0 = Instant::now();
    let mut q = queue(6, 4);
    push_all(&mut q, 0..6);
    let a = q.start(t0, false).unwrap_or_else(|| panic!("a"));
    assert_eq!(ids(&a.runs), [0, 1, 2, 3]);
    // While the batch is out, the space it held is still counted: nothing more fits...
    assert!(q.push(one(6)).is_err());
    let done = q.failed(a.runs, t0);
    assert_eq!(done.dropped, 0, "...so the batch always fits back");
    assert_eq!(q.held(), 6);
    let b = q.start(t0 + BACKOFF_MAX, false).unwrap_or_else(|| panic!("b"));
    assert_eq!(ids(&b.runs), [0, 1, 2, 3], "the batch first, in order");
}

#[test]
fn backoff_doubles_to_its_bound_resets_on_success_and_a_waiter_cuts_it_short() {
    let mut now = Instant::now();
    let mut q = queue(100, 10);
    push_all(&mut q, 0..1);
    let mut waits = Vec::new();
    for _ in 0..8 {
        let t = q.start(now, false).unwrap_or_else(|| panic!("an attempt"));
        q.failed(t.runs, now);
        let at = q.retry_at().unwrap_or_else(|| panic!("a retry time"));
        waits.push(at - now);
        now = at;
    }
    let ms: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
    assert_eq!(ms, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
    let t = q.start(now, false).unwrap_or_else(|| panic!("an attempt"));
    q.failed(t.runs, now);
    assert!(!q.can_start(now));
    assert_eq!(q.wait("hurry", false), None);
    assert!(q.can_start(now), "a waiter is worth an attempt now");
    let t = q.start(now, false).unwrap_or_else(|| panic!("the waiter's attempt"));
    let done = q.committed(t.upto);
    assert_eq!(done.waiters, ["hurry"]);
    push_all(&mut q, 1..2);
    let t = q.start(now, false).unwrap_or_else(|| panic!("next"));
    q.failed(t.runs, now);
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
    assert!(!q.failed(c.runs, now).again);
}

#[test]
fn runs_are_split_only_where_a_bound_falls_inside_them() {
    let t0 = Instant::now();
    let mut q = queue(10, 4);
    assert_eq!(q.push(Ev(vec![])), Ok(()), "an empty run is nothing");
    assert_eq!(q.push(Ev((0..3).collect())), Ok(()));
    assert_eq!(q.push(Ev((3..9).collect())), Ok(()));
    assert_eq!(q.push(Ev((9..12).collect())), Err(Ev(vec![10, 11])), "the cap falls inside: the rest is refused");
    assert_eq!((q.pending(), q.runs(), q.bytes()), (10, 3, (0..10).map(|n| 10 + n % 3).sum::<usize>()));
    let a = q.start(t0, false).unwrap_or_else(|| panic!("a"));
    assert_eq!((a.runs.clone(), a.upto), (vec![Ev(vec![0, 1, 2]), Ev(vec![3])], 4), "the batch bound splits a run");
    assert_eq!((q.pending(), q.runs(), q.held()), (6, 2, 10));
    let b = q.failed(a.runs, t0);
    assert_eq!(b.dropped, 0);
    let c = q.start(t0 + BACKOFF_START, false).unwrap_or_else(|| panic!("c"));
    assert_eq!((ids(&c.runs), c.upto), (vec![0, 1, 2, 3], 4), "the failed runs first, in order");
    q.committed(c.upto);
    let d = q.start(t0 + BACKOFF_START, false).unwrap_or_else(|| panic!("d"));
    assert_eq!((ids(&d.runs), d.upto), (vec![4, 5, 6, 7], 8));
    assert_eq!(q.push(Ev((12..16).collect())), Ok(()), "2 pending and 4 in flight leave room for 4");
    // More back than the room left (never from a real batch, whose room stays counted): the
    // newest events are dropped, the run that crosses the bound is split.
    let done = q.failed(vec![Ev(vec![4, 5]), Ev(vec![6, 7, 90])], t0);
    assert_eq!(done.dropped, 1);
    assert_eq!((q.held(), q.pending()), (10, 10));
    let e = q.start(t0 + BACKOFF_MAX, false).unwrap_or_else(|| panic!("e"));
    assert_eq!(ids(&e.runs), [4, 5, 6, 7]);
}
