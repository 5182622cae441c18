//! Memory of the aggregator's buffers (performance.md: <= 200 bytes per buffered event and per
//! tallied (epoch, channel, user)). A counting global allocator measures the live heap:
//! * per buffered event: the aggregator's real queue (`aggregator::queue::Queue` of
//!   `compact::Chunk`) filled as the channel readers fill it (one `compact::ChunkBuilder` per
//!   channel, a chunk finished when full and the partial ones at the end), with the
//!   high-cardinality burst's shape (10 channels, users = n/5 each once then at random, a UUID
//!   id, a numeric user id, display names in several scripts); each parsed event is built,
//!   made compact and freed in turn, so what stays is what the mailbox and the queue hold;
//! * per tallied key: the flush's tally (`aggregator::tally::Tally`) of N distinct keys over 8
//!   channels, folded from compact events built beforehand (not counted); the batch's interner,
//!   which holds the names the keys refer to, is shown beside it.
//!
//! Run: `cargo bench --bench tally_memory`. Prints the median of 5 runs for each size.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test or bench: a panic is its failure report

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use chatseal_actors::aggregator::queue::{Limits, Queue};
use chatseal_actors::aggregator::tally::Tally;
use chatseal_actors::compact::{Chunk, ChunkBuilder, CompactEvent, Interner};
use chatseal_actors::event::{Counts, Event};
use chatseal_schema::SignalKind;

/// Counts live heap bytes (as requested, not the allocator's rounding: the figure is a floor
/// of what the allocator really holds, which adds a few bytes per allocation).
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

/// Display names in several scripts and cases, as the burst has them.
fn display_name(u: usize, login: &str) -> String {
    match u % 6 {
        0 => login.to_string(),
        1 => login.to_ascii_uppercase(),
        2 => format!("視聴者{u}"),
        3 => format!("Зритель{u}"),
        4 => format!("Ñandú_{u}"),
        _ => format!("Viewer{u}"),
    }
}

/// Event `i` of a burst of `users` users over `channels` channels: users 0..users once, then
/// at random (a multiplicative hash stands for the generator's RNG).
fn event(i: usize, users: usize, channels: usize) -> Event {
    let u = if i < users { i } else { (i.wrapping_mul(2_654_435_761)) % users };
    let login = format!("viewer{u}");
    Event {
        id: Some(format!("{:08x}-8b1d-4f7a-9c2e-{:012x}", i, i * 7)),
        channel: format!("channel{}", (i * 31) % channels).as_str().into(),
        user_id: Some(format!("{}", 100_000_000 + u)),
        display_name: Some(display_name(u, &login)),
        login,
        ts: 1_761_753_600 + (i as i64 % 3600),
        epoch: 1_761_753_600,
        counts: Counts::default().with(SignalKind::Message, 1),
    }
}

/// Heap per buffered event: the queue of chunks after `n` events.
fn bytes_per_buffered_event(n: usize) -> f64 {
    const CHANNELS: usize = 10;
    let users = (n / 5).max(1);
    let before = LIVE.load(Ordering::Relaxed);
    let mut queue: Queue<Chunk, ()> = Queue::new(Limits { max_events: usize::MAX, max_batch: 50_000 });
    let mut open: Vec<ChunkBuilder> = (0..CHANNELS).map(|_| ChunkBuilder::new()).collect();
    for i in 0..n {
        let e = event(i, users, CHANNELS);
        let b = &mut open[(i * 31) % CHANNELS];
        b.push(&e);
        if b.is_full() {
            let _ = queue.push(std::mem::take(b).finish());
        }
    }
    for b in open {
        let _ = queue.push(b.finish());
    }
    let after = LIVE.load(Ordering::Relaxed);
    assert_eq!(queue.held(), n);
    drop(queue);
    (after - before) as f64 / n as f64
}

/// Heap per tallied key: (tally alone, the batch's interner) per key, `n` distinct keys.
fn bytes_per_key(n: usize) -> (f64, f64) {
    let mut names = Interner::new();
    let input: Vec<CompactEvent> = (0..n)
        .map(|i| {
            let mut e = event(i, n, 8);
            e.channel = format!("channel{}", i % 8).as_str().into();
            CompactEvent::new(&e, &mut names)
        })
        .collect();
    let names_bytes = names.heap_bytes() as f64;
    let before = LIVE.load(Ordering::Relaxed);
    // As the flush builds it: capacity hint = events in the batch.
    let mut t = Tally::with_capacity(n);
    for e in &input {
        t.add(e);
    }
    let after = LIVE.load(Ordering::Relaxed);
    assert_eq!(t.len(), n, "every key distinct");
    drop(t);
    ((after - before) as f64 / n as f64, names_bytes / n as f64)
}

fn median(mut runs: Vec<f64>) -> (f64, f64, f64) {
    runs.sort_by(|a, b| a.total_cmp(b));
    (runs[runs.len() / 2], runs[0], runs[runs.len() - 1])
}

fn verdict(x: f64) -> &'static str {
    if x <= 200.0 {
        "met"
    } else {
        "NOT met"
    }
}

fn main() {
    // `cargo test --benches` runs bench binaries with no --bench flag: keep that quick.
    let full = std::env::args().any(|a| a == "--bench");
    let sizes: &[usize] = if full { &[10_000, 100_000, 1_000_000] } else { &[1_000] };
    println!(
        "aggregator heap per buffered event (queue of chunks; burst shape: 10 channels, users = n/5); median of 5"
    );
    for &n in sizes {
        let (m, lo, hi) = median((0..5).map(|_| bytes_per_buffered_event(n)).collect());
        println!("events {n:>9}: {m:.1} bytes/event (runs {lo:.1}..{hi:.1}); bar <= 200: {}", verdict(m));
    }
    println!("tally heap per distinct (epoch, channel, user) key, 8 channels; median of 5");
    for &n in sizes {
        let runs: Vec<(f64, f64)> = (0..5).map(|_| bytes_per_key(n)).collect();
        let (m, lo, hi) = median(runs.iter().map(|r| r.0).collect());
        let (names, _, _) = median(runs.iter().map(|r| r.1).collect());
        println!(
            "keys {n:>9}: {m:.1} bytes/key (runs {lo:.1}..{hi:.1}); bar <= 200: {}; the batch's interner adds {names:.1} bytes/key",
            verdict(m)
        );
    }
}
