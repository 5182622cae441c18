//! Heap held per distinct (epoch, channel, user) key in the aggregator's tally (performance.md:
//! <= 200 bytes). A counting global allocator measures the live heap before and after N distinct
//! keys are folded in; the events themselves are built beforehand and not counted. Realistic
//! identities: login `viewer<n>`, numeric user id, display name, a message count.
//! Run: `cargo bench --bench tally_memory`. Prints the median of 5 runs for each N.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test or bench: a panic is its failure report

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;

use chatseal_actors::aggregator::tally::Tally;
use chatseal_actors::event::{Counts, Event};
use chatseal_schema::SignalKind;

/// Counts live heap bytes (as requested, not the allocator's rounding: the figure is a floor
/// of what glibc really holds, which adds about 8-16 bytes per allocation).
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn events(n: usize, channels: &[Arc<str>]) -> Vec<Event> {
    (0..n)
        .map(|i| Event {
            id: Some(format!("00000000-0000-4000-8000-{i:012}")),
            channel: channels[i % channels.len()].clone(),
            login: format!("viewer{i}"),
            user_id: Some(format!("{}", 100_000_000 + i)),
            display_name: Some(format!("Viewer{i}")),
            ts: 1_761_753_600 + (i as i64 % 3600),
            epoch: 1_761_753_600,
            counts: Counts::default().with(SignalKind::Message, 1),
        })
        .collect()
}

fn bytes_per_key(n: usize) -> f64 {
    let channels: Vec<Arc<str>> = (0..8).map(|c| Arc::from(format!("channel{c}").as_str())).collect();
    let input = events(n, &channels);
    let before = LIVE.load(Ordering::Relaxed);
    // As the aggregator builds it: capacity hint = events pending in the batch.
    let mut t = Tally::with_capacity(n);
    for e in &input {
        t.add(e);
    }
    let after = LIVE.load(Ordering::Relaxed);
    assert_eq!(t.len(), n, "every key distinct");
    drop(t);
    (after - before) as f64 / n as f64
}

fn main() {
    // `cargo test --benches` runs bench binaries with no --bench flag: keep that quick.
    let sizes: &[usize] =
        if std::env::args().any(|a| a == "--bench") { &[10_000, 100_000, 1_000_000] } else { &[1_000] };
    println!("tally heap per distinct (epoch, channel, user) key, 8 channels; median of 5 runs");
    for &n in sizes {
        let mut runs: Vec<f64> = (0..5).map(|_| bytes_per_key(n)).collect();
        runs.sort_by(|a, b| a.total_cmp(b));
        let median = runs[2];
        println!(
            "keys {n:>9}: {median:.1} bytes/key (runs {:.1}..{:.1}); bar <= 200: {}",
            runs[0],
            runs[4],
            if median <= 200.0 { "met" } else { "NOT met" }
        );
    }
}
