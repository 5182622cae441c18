//! replicas = 2, two members, lines flowing (cluster.md): kill -9 one, restart it, then kill -9
//! the other. Every line the fake server wrote to any member counts exactly once, and every
//! seal equals the one a single daemon makes from the same lines (the ledger's recomputation
//! with the daemon's own seal builder).

use std::time::Duration;

use super::ledger::{Expect, Ledger, Pump};
use super::members::{channels, Cluster, EPOCH_LEN, LEASE_TTL};
use super::{wait_durable, wait_lines};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "multi-process cluster scenario: run alone by .ci/run (cargo test --test e2e cluster -- --ignored)"]
async fn replicas_two_lose_nothing_when_each_member_is_killed_in_turn() {
    let mut c = Cluster::new().await;
    let chans = channels("cfa", 3);
    let place = c.local_place();
    let a = c.add("a", place.clone(), 2, &chans, &[]);
    let b = c.add("b", place, 2, &chans, &[]);
    c.member(a).start();
    c.member(b).start();
    c.members[a].wait_healthy(Duration::from_secs(60)).await;
    c.members[b].wait_healthy(Duration::from_secs(60)).await;
    let both =
        |v: &super::members::ClusterView| v.alive().len() == 2 && chans.iter().all(|ch| v.readers(ch).len() == 2);
    let v = c.wait_view("both members alive, each channel read by both", Duration::from_secs(30), both).await;
    v.assert_configured(2);
    c.wait_joined_by(&chans, 2, Duration::from_secs(30)).await;

    let ledger = Ledger::new(&c.fake, EPOCH_LEN);
    let store = c.store().await;
    let pump = Pump::start(&ledger, &chans, 150);
    let sent = wait_lines(&ledger, 0, 150).await;

    // kill -9 a while lines flow: b reads every channel too.
    c.member(a).kill9();
    ledger.set_phase(1);
    let sent = wait_lines(&ledger, sent, 150).await;
    c.member(a).start();
    c.members[a].wait_healthy(Duration::from_secs(30)).await;
    c.wait_view("a back, each channel read by both again", Duration::from_secs(30), both).await;
    c.wait_joined_by(&chans, 2, Duration::from_secs(30)).await;
    ledger.set_phase(2);
    // What only b read (a was down) is durable before b dies; from here on both read.
    wait_durable(&ledger, &store, &[0, 1], Duration::from_secs(30)).await;
    let sent = wait_lines(&ledger, sent, 150).await;

    c.member(b).kill9();
    ledger.set_phase(3);
    wait_lines(&ledger, sent, 150).await;
    pump.stop().await;
    // b's slots and roles are a's within 2 × lease_ttl; then its last epochs are sealed.
    ledger.wait_sealed(&store, 2 * LEASE_TTL + Duration::from_secs(2 * EPOCH_LEN as u64 + 30)).await;

    let counted = ledger
        .check_counts(&store, |_| Expect::Once)
        .await
        .unwrap_or_else(|e| panic!("{e}; logs in {}", c.log_dir().display()));
    assert_eq!(counted, ledger.delivered());
    let compared =
        ledger.check_seals(&store, |_| true).await.unwrap_or_else(|e| panic!("{e}; logs in {}", c.log_dir().display()));
    assert_eq!(compared, ledger.keys().len(), "every (epoch, channel) sealed and compared");
    assert_eq!(c.member(a).terminate(Duration::from_secs(30)), 0, "SIGTERM exits 0");
}
