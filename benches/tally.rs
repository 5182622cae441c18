//! The tally: compact events folded into the in-memory per-(epoch, channel, user) deltas, one core.
//! Bar (performance.md): >= 2,000,000 events/s. The mix: 1,000,000 events over 8 channels and
//! 20,000 users, the shape of a busy hour, with a message signal on each and bits on some.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test or bench: a panic is its failure report

use std::hint::black_box;
use std::sync::Arc;

use chatseal_actors::aggregator::tally::Tally;
use chatseal_actors::compact::{CompactEvent, Interner};
use chatseal_actors::event::{Counts, Event};
use chatseal_schema::SignalKind;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

const EVENTS: usize = 1_000_000;

/// The events in compact form, as a flush folds them (with the batch's interner).
fn events() -> Vec<CompactEvent> {
    let mut names = Interner::new();
    parsed().iter().map(|e| CompactEvent::new(e, &mut names)).collect()
}

fn parsed() -> Vec<Event> {
    let channels: Vec<Arc<str>> = (0..8).map(|c| Arc::from(format!("channel{c}").as_str())).collect();
    (0..EVENTS)
        .map(|i| {
            let user = (i * 7919) % 20_000;
            Event {
                id: Some(format!("00000000-0000-4000-8000-{i:012}")),
                channel: channels[i % 8].clone(),
                login: format!("viewer{user}"),
                user_id: Some(format!("{}", 100_000 + user)),
                display_name: Some(format!("Viewer{user}")),
                ts: 1_761_753_600 + (i as i64 % 3600),
                epoch: 1_761_753_600,
                counts: Counts::default()
                    .with(SignalKind::Message, 1)
                    .with(SignalKind::Bits, if i % 50 == 0 { 100 } else { 0 }),
            }
        })
        .collect()
}

fn tally(c: &mut Criterion) {
    let input = events();
    let mut group = c.benchmark_group("tally");
    group.sample_size(10);
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.bench_function("fold_1m_events", |b| {
        b.iter_batched(
            || Tally::with_capacity(64 * 1024),
            |mut t| {
                for e in &input {
                    t.add(e);
                }
                black_box(t.len())
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, tally);
criterion_main!(benches);
