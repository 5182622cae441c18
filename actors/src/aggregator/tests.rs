//! The aggregator against a real store (SQLite, and PostgreSQL unless skipped): a flush cap
//! splits a large pending set into several transactions and every row lands exactly once, and
//! the ingest gate drops (and counts) what does not fit while the aggregator is full, in
//! events and in bytes, and gives the room back once the events are durable.

use std::sync::Arc;
use std::time::Duration;

use chatseal_schema::testing::fresh_urls;
use chatseal_schema::{SignalKind, Store};
use ractor::Actor;
use sea_orm::{ConnectionTrait, Statement};

use super::{AggregatorActor, AggregatorArgs, AggregatorMsg, AggregatorStatus, IngestGate};
use crate::channel::forward::Forwarder;
use crate::clock::source::system;
use crate::compact::Chunk;
use crate::event::{Counts, Event, Ingest};
use crate::routes::Routes;

const EPOCH: i64 = 1_764_000_000;

fn event(i: usize, users: usize) -> Event {
    Event {
        id: Some(format!("id-{i}")),
        channel: Arc::from("capchan"),
        login: format!("user{}", i % users),
        user_id: Some(format!("{}", 1000 + i % users)),
        display_name: None,
        ts: EPOCH + i as i64 % 3000,
        epoch: EPOCH,
        counts: Counts::default().with(SignalKind::Message, 1).with(SignalKind::Bits, i.is_multiple_of(7) as i64 * 10),
    }
}

async fn count(store: &Store, sql: &str) -> i64 {
    let db = store.db();
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .unwrap_or_else(|| panic!("{sql}: no row"));
    row.try_get_by_index::<i64>(0).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Every line counted once: participants, message and bits sums, one dedup id per line.
/// A fresh SQLite store and an aggregator spawned on it with the arguments `make` builds
/// (from the store and the routes' gate).
async fn on_sqlite(
    make: impl FnOnce(Store, IngestGate) -> AggregatorArgs,
) -> (chatseal_schema::testing::TestDbGuard, Store, Routes, ractor::ActorRef<AggregatorMsg>, tokio::task::JoinHandle<()>)
{
    let (_, url, guard) = fresh_urls().await.into_iter().next().unwrap_or_else(|| panic!("no SQLite url"));
    let store = Store::open(&url).await.unwrap_or_else(|e| panic!("open: {e}"));
    let routes = Routes::unique();
    let (agg, handle) =
        Actor::spawn(Some(routes.name("aggregator")), AggregatorActor, make(store.clone(), routes.gate().clone()))
            .await
            .unwrap_or_else(|e| panic!("spawn: {e}"));
    (guard, store, routes, agg, handle)
}

async fn check(store: &Store, backend: chatseal_schema::Backend, lines: usize, users: usize, what: &str) {
    let rows = store.participants_for_seal(EPOCH, "capchan").await.unwrap_or_else(|e| panic!("read: {e}"));
    assert_eq!(rows.len(), users, "{backend:?} {what}: participants");
    let messages: i64 = rows.iter().map(|r| r.signals[SignalKind::Message]).sum();
    let bits: i64 = rows.iter().map(|r| r.signals[SignalKind::Bits]).sum();
    assert_eq!(messages, lines as i64, "{backend:?} {what}: each line counted once");
    assert_eq!(bits, (0..lines).filter(|i| i % 7 == 0).count() as i64 * 10, "{backend:?} {what}");
    assert_eq!(count(store, "SELECT COUNT(*) FROM seen_ids").await, lines as i64, "{backend:?} {what}");
}

async fn flush(agg: &ractor::ActorRef<AggregatorMsg>) {
    let r = ractor::call_t!(agg, |reply| AggregatorMsg::Flush { close_through: None, reply }, 60_000);
    r.unwrap_or_else(|e| panic!("flush call: {e}")).unwrap_or_else(|e| panic!("flush: {e}"));
}

async fn status(agg: &ractor::ActorRef<AggregatorMsg>) -> AggregatorStatus {
    ractor::call_t!(agg, AggregatorMsg::Status, 10_000).unwrap_or_else(|e| panic!("status: {e}"))
}

fn args(store: Store, max_pending: usize, max_flush_events: usize, gate: IngestGate) -> AggregatorArgs {
    args_bytes(store, max_pending, usize::MAX, max_flush_events, gate)
}

fn args_bytes(
    store: Store,
    max_pending: usize,
    max_pending_bytes: usize,
    max_flush_events: usize,
    gate: IngestGate,
) -> AggregatorArgs {
    AggregatorArgs {
        store,
        clock: system(),
        // The timer never fires during the test: only the explicit Flush drives the writes.
        flush_interval: Duration::from_secs(3600),
        max_pending,
        max_pending_bytes,
        max_flush_events,
        gate,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flush_cap_splits_the_batch_and_every_line_lands_exactly_once() {
    const USERS: usize = 40;
    const LINES: usize = 1_000;
    for (backend, url, _guard) in fresh_urls().await {
        let store = Store::open(&url).await.unwrap_or_else(|e| panic!("{backend:?} open: {e}"));
        let gate = IngestGate::default();
        let (agg, handle) = Actor::spawn(None, AggregatorActor, args(store.clone(), 100_000, 100, gate.clone()))
            .await
            .unwrap_or_else(|e| panic!("spawn: {e}"));
        // 1,000 distinct lines plus 50 repeats of earlier ones, in messages of 64 items, so
        // repeats fall both in the same transaction as their original and in a later one.
        let mut lines: Vec<Event> = (0..LINES).map(|i| event(i, USERS)).collect();
        lines.extend((0..50).map(|k| event(k * 19, USERS)));
        let total = lines.len();
        for part in lines.chunks(64) {
            agg.cast(AggregatorMsg::Ingest(vec![Ingest::Events(Chunk::of(part))], gate.permit()))
                .unwrap_or_else(|e| panic!("cast: {e}"));
        }
        flush(&agg).await;
        let st = status(&agg).await;
        assert!(
            st.flushes >= total.div_ceil(100) as u64,
            "{backend:?}: {total} events under a cap of 100 took {} transactions",
            st.flushes
        );
        assert_eq!((st.pending, st.in_flight, st.dropped), (0, 0, 0), "{backend:?}");
        assert_eq!((gate.not_durable(), gate.bytes()), (0, 0), "{backend:?}: every event durable, its room released");

        check(&store, backend, LINES, USERS, "after the capped flushes").await;

        // The same lines again (a replay) change nothing.
        let before = status(&agg).await.flushes;
        for part in lines.chunks(500) {
            agg.cast(AggregatorMsg::Ingest(vec![Ingest::Events(Chunk::of(part))], gate.permit()))
                .unwrap_or_else(|e| panic!("cast: {e}"));
        }
        flush(&agg).await;
        assert!(status(&agg).await.flushes >= before + total.div_ceil(100) as u64);
        check(&store, backend, LINES, USERS, "after a replay").await;

        agg.stop(None);
        let _ = handle.await;
        let _ = store.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_ingest_path_drops_and_counts_instead_of_growing() {
    let (_guard, store, routes, agg, handle) = on_sqlite(|store, gate| args(store, 1_000, 100, gate)).await;

    // The aggregator holds 600 events; 400 more sit in its mailbox (counted, as a slow
    // aggregator would have them): the bound of 1,000 is reached.
    let held: Vec<Event> = (0..600).map(|i| event(i, 10)).collect();
    agg.cast(AggregatorMsg::Ingest(vec![Ingest::Events(Chunk::of(&held))], routes.gate().permit()))
        .unwrap_or_else(|e| panic!("cast: {e}"));
    assert_eq!(status(&agg).await.pending, 600);
    assert_eq!(routes.gate().not_durable(), 600, "the aggregator's permit holds what it holds");
    let mut mailbox = routes.gate().permit();
    for _ in 0..400 {
        assert!(mailbox.admit(100));
    }

    let mut fwd = Forwarder::new(routes.clone());
    for i in 600..900 {
        fwd.event(event(i, 10));
    }
    // Coverage notices are never dropped.
    fwd.joined(Arc::from("capchan"), EPOCH * 1000);
    assert_eq!(fwd.held(), 1, "no event was buffered past the bound");
    assert_eq!(routes.gate().dropped(), 300);
    assert_eq!(status(&agg).await.dropped, 300, "/v1/status counts the gate's drops");

    // Once the mailbox drains, events flow again.
    drop(mailbox);
    for i in 900..950 {
        fwd.event(event(i, 10));
    }
    fwd.flush();
    flush(&agg).await;
    let rows = store.participants_for_seal(EPOCH, "capchan").await.unwrap_or_else(|e| panic!("read: {e}"));
    assert_eq!(rows.iter().map(|r| r.signals[SignalKind::Message]).sum::<i64>(), 650, "600 held + 50 after the drain");
    assert_eq!(routes.gate().dropped(), 300);

    agg.stop(None);
    let _ = handle.await;
    let _ = store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_byte_bound_drops_and_counts_and_gives_the_room_back_once_durable() {
    const BOUND: usize = 64 * 1024;
    let (_guard, store, routes, agg, handle) =
        on_sqlite(|store, gate| args_bytes(store, 1_000_000, BOUND, 100_000, gate)).await;
    let gate = routes.gate();
    let mut fwd = Forwarder::new(routes.clone());
    // Far more than fits: each event holds well over 100 bytes, even compact.
    for i in 0..2_000 {
        fwd.event(event(i, 50));
        assert!(gate.bytes() <= BOUND, "event {i}: {} bytes held past the bound", gate.bytes());
    }
    let dropped = gate.dropped();
    let kept = 2_000 - dropped as usize;
    assert!(dropped > 0 && kept > 100, "kept {kept}, dropped {dropped}");
    assert_eq!(fwd.held() + status(&agg).await.pending, kept, "every event is either held or dropped");
    fwd.flush();
    flush(&agg).await;
    assert_eq!((gate.not_durable(), gate.bytes()), (0, 0), "durable events give their room back");
    let rows = store.participants_for_seal(EPOCH, "capchan").await.unwrap_or_else(|e| panic!("read: {e}"));
    assert_eq!(rows.iter().map(|r| r.signals[SignalKind::Message]).sum::<i64>(), kept as i64);
    // Room again: the next events pass.
    for i in 2_000..2_100 {
        fwd.event(event(i, 50));
    }
    assert_eq!(gate.dropped(), dropped);
    assert_eq!(status(&agg).await.dropped, dropped, "/v1/status counts the gate's drops");

    agg.stop(None);
    let _ = handle.await;
    let _ = store.close().await;
}
