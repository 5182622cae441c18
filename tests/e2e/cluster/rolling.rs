//! A rolling restart of every member, one at a time (SIGTERM: exit 0 and it leaves the cluster
//! at once; start; wait until it is healthy and every channel has two readers again), with
//! replicas = 2 under load (cluster.md): nothing is lost and every seal equals a single
//! daemon's.

use std::time::Duration;

use super::ledger::{Expect, Ledger, Pump};
use super::members::{channels, Cluster, ClusterView, EPOCH_LEN, LEASE_TTL};
use super::wait_lines;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "multi-process cluster scenario: run alone by .ci/run (cargo test --test e2e cluster -- --ignored)"]
async fn a_rolling_restart_with_replicas_two_loses_nothing() {
    let mut c = Cluster::new().await;
    let chans = channels("crl", 4);
    let place = c.local_place();
    for name in ["a", "b", "c"] {
        let i = c.add(name, place.clone(), 2, &chans, &[]);
        c.member(i).start();
    }
    for m in &c.members {
        m.wait_healthy(Duration::from_secs(60)).await;
    }
    let all = &chans;
    let full = move |v: &ClusterView| v.alive().len() == 3 && all.iter().all(|ch| v.readers(ch).len() == 2);
    c.wait_view("3 members, each channel read by two", Duration::from_secs(60), full).await;
    c.wait_joined_by(&chans, 2, Duration::from_secs(30)).await;

    let ledger = Ledger::new(&c.fake, EPOCH_LEN);
    let store = c.store().await;
    let pump = Pump::start(&ledger, &chans, 150);
    let mut sent = wait_lines(&ledger, 0, 100).await;
    for i in 0..c.members.len() {
        let name = c.members[i].name.clone();
        assert_eq!(c.member(i).terminate(Duration::from_secs(30)), 0, "{name}: SIGTERM exits 0");
        // A graceful stop leaves at once: well before its lease would expire.
        c.wait_view(&format!("{name} gone from the live members"), LEASE_TTL, |v| {
            v.alive().iter().all(|m| m.instance != name)
        })
        .await;
        c.member(i).start();
        c.members[i].wait_healthy(Duration::from_secs(60)).await;
        c.wait_view(&format!("{name} back, each channel read by two"), Duration::from_secs(30), full).await;
        c.wait_joined_by(&chans, 2, Duration::from_secs(30)).await;
        ledger.set_phase(i as u32 + 1);
        sent = wait_lines(&ledger, sent, 100).await;
    }
    pump.stop().await;
    ledger.wait_sealed(&store, 2 * LEASE_TTL + Duration::from_secs(2 * EPOCH_LEN as u64 + 30)).await;
    let counted = ledger
        .check_counts(&store, |_| Expect::Once)
        .await
        .unwrap_or_else(|e| panic!("{e}; logs in {}", c.log_dir().display()));
    assert_eq!(counted, ledger.delivered());
    ledger.check_seals(&store, |_| true).await.unwrap_or_else(|e| panic!("{e}; logs in {}", c.log_dir().display()));
    for i in 0..c.members.len() {
        assert_eq!(c.member(i).terminate(Duration::from_secs(30)), 0);
    }
}
