//! Two members flushing the same lines at the same moment count them once (cluster.md,
//! "Exactly once"): two `Store`s open on ONE database run the aggregator's own `write_batch`
//! concurrently, hundreds of rounds, on overlapping batches of the same message ids (as two
//! members reading one channel do). A flush that fails (lock conflict, deadlock, busy) is
//! retried, as the aggregator retries, never dropped; at the end every login's message count
//! equals the number of distinct ids it sent. Both engines: on SQLite the two stores are two
//! pools on one file.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chatseal_schema::testing::fresh_urls;
use chatseal_schema::{SignalKind, Store};

use super::flush::{write_batch, Batch, FlushReport};
use crate::event::{Counts, Event};

const EPOCH: i64 = 1_764_000_000;
const ROUNDS: usize = 200;
/// Ids per round; member A flushes [0, 40), member B [10, 50): 30 shared.
const IDS: usize = 50;
const USERS: usize = 7;

fn event(round: usize, k: usize) -> Event {
    let user = (round * 3 + k) % USERS;
    Event {
        id: Some(format!("race-{round}-{k}")),
        channel: Arc::from("racechan"),
        login: format!("racer{user}"),
        user_id: Some(format!("{}", 5000 + user)),
        display_name: None,
        ts: EPOCH + (round % 60) as i64,
        epoch: EPOCH,
        counts: Counts::default().with(SignalKind::Message, 1),
    }
}

/// The aggregator's flush with its retry: bounded attempts, each failure logged in the panic.
async fn flush_retrying(store: &Store, batch: &Batch, who: &str, round: usize) -> FlushReport {
    let mut errors = Vec::new();
    for attempt in 0..50u64 {
        match write_batch(store, batch).await {
            Ok(report) => return report,
            Err(e) => {
                errors.push(e.to_string());
                tokio::time::sleep(Duration::from_millis(2 + attempt * 2)).await;
            }
        }
    }
    panic!("member {who}, round {round}: the flush failed 50 times: {errors:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_members_flushing_the_same_ids_at_once_count_each_once() {
    for (backend, url, _guard) in fresh_urls().await {
        let a = Store::open(&url).await.unwrap_or_else(|e| panic!("{backend:?}: open store A: {e}"));
        let b = Store::open(&url).await.unwrap_or_else(|e| panic!("{backend:?}: open store B: {e}"));
        let mut want: BTreeMap<String, i64> = BTreeMap::new();
        let (mut durable, mut duplicates) = (0usize, 0usize);
        for round in 0..ROUNDS {
            for k in 0..IDS {
                *want.entry(event(round, k).login).or_default() += 1;
            }
            // B's batch in another order: the two transactions meet the shared ids in
            // different orders (the store must not deadlock them into a loss).
            let batch_a = Batch::of(&(0..40).map(|k| event(round, k)).collect::<Vec<_>>(), Vec::new());
            let batch_b = Batch::of(&(10..IDS).rev().map(|k| event(round, k)).collect::<Vec<_>>(), Vec::new());
            let (ra, rb) =
                tokio::join!(flush_retrying(&a, &batch_a, "A", round), flush_retrying(&b, &batch_b, "B", round));
            assert_eq!(ra.durable + ra.duplicates, 40, "{backend:?} round {round}: A accounts for every event: {ra:?}");
            assert_eq!(rb.durable + rb.duplicates, 40, "{backend:?} round {round}: B accounts for every event: {rb:?}");
            assert_eq!(
                ra.durable + rb.durable,
                IDS,
                "{backend:?} round {round}: every id made durable by exactly one member: A {ra:?}, B {rb:?}"
            );
            durable += ra.durable + rb.durable;
            duplicates += ra.duplicates + rb.duplicates;
        }
        let rows = a
            .participants_for_seal(EPOCH, "racechan")
            .await
            .unwrap_or_else(|e| panic!("{backend:?}: read participants: {e}"));
        let have: BTreeMap<String, i64> = rows.into_iter().map(|r| (r.login, r.signals[SignalKind::Message])).collect();
        assert_eq!(have, want, "{backend:?}: message counts per login equal the distinct ids sent");
        assert_eq!(durable, ROUNDS * IDS, "{backend:?}: durable events");
        assert_eq!(duplicates, ROUNDS * 30, "{backend:?}: the shared ids were each refused once as duplicates");
        a.close().await.ok();
        b.close().await.ok();
    }
}
