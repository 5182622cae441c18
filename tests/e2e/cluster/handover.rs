//! replicas = 1, two members, lines flowing (cluster.md): a graceful stop (SIGTERM) hands the
//! stopping member's channel slots over make before break. The survivor joins each of them
//! before the stopping member stops reading, so no channel is ever without a joined
//! connection at the fake server, every line written meanwhile reaches a reader and counts
//! exactly once, and the seals equal a single daemon's.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::ledger::{Expect, Ledger, Pump};
use super::members::{channels, Cluster, ClusterView, EPOCH_LEN, LEASE_TTL};
use super::wait_lines;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "multi-process cluster scenario: run alone by .ci/run (cargo test --test e2e cluster -- --ignored)"]
async fn a_graceful_stop_hands_its_channels_over_before_it_stops_reading() {
    let mut c = Cluster::new().await;
    let chans = channels("cho", 6);
    let place = c.local_place();
    let a = c.add("a", place.clone(), 1, &chans, &[]);
    let b = c.add("b", place, 1, &chans, &[]);
    c.member(a).start();
    c.member(b).start();
    c.members[a].wait_healthy(Duration::from_secs(60)).await;
    c.members[b].wait_healthy(Duration::from_secs(60)).await;
    let all = &chans;
    let once = |alive: usize| {
        move |v: &ClusterView| {
            v.alive().len() == alive && all.iter().all(|ch| v.readers(ch).len() == 1) && v.unowned_slots.is_empty()
        }
    };
    let v = c.wait_view("2 members, each channel read by exactly one", Duration::from_secs(60), once(2)).await;
    v.assert_configured(1);
    c.wait_joined_by(&chans, 1, Duration::from_secs(30)).await;
    let of_a: BTreeSet<String> =
        v.members.iter().find(|m| m.instance == "a").map(|m| m.slots.iter().cloned().collect()).unwrap_or_default();
    assert!(!of_a.is_empty(), "a holds slots: {v:#?}");

    let ledger = Ledger::new(&c.fake, EPOCH_LEN);
    let store = c.store().await;
    let pump = Pump::start(&ledger, &chans, 150);
    let sent = wait_lines(&ledger, 0, 100).await;

    // SIGTERM a, and watch the fake server until it has exited: each of its channels keeps at
    // least one joined connection all along.
    ledger.set_phase(1);
    let pid = c.members[a].pid().expect("a runs");
    let term = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().expect("kill -TERM");
    assert!(term.success(), "kill -TERM {pid}");
    let deadline = Instant::now() + 2 * LEASE_TTL + Duration::from_secs(60);
    let mut unread: BTreeSet<String> = BTreeSet::new();
    let code = loop {
        for ch in &of_a {
            if c.fake.joined_connections(ch) == 0 {
                unread.insert(ch.clone());
            }
        }
        if let Some(code) = c.members[a].exited_code() {
            break code;
        }
        assert!(Instant::now() < deadline, "a did not exit after SIGTERM; logs in {}", c.log_dir().display());
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert_eq!(code, 0, "SIGTERM exits 0; logs in {}", c.log_dir().display());
    assert!(
        unread.is_empty(),
        "channels left without a reader while a stopped: {unread:?}; logs in {}",
        c.log_dir().display()
    );
    c.wait_view("b alone, reading every channel", Duration::from_secs(30), once(1)).await;
    c.wait_joined_by(&chans, 1, Duration::from_secs(10)).await;

    ledger.set_phase(2);
    wait_lines(&ledger, sent, 100).await;
    pump.stop().await;
    let lost: Vec<String> = ledger
        .lines()
        .iter()
        .filter(|l| l.receivers == 0)
        .map(|l| format!("{} (phase {})", l.channel, l.phase))
        .collect();
    assert!(lost.is_empty(), "lines written while no connection was joined: {lost:?}");
    ledger.wait_sealed(&store, 2 * LEASE_TTL + Duration::from_secs(2 * EPOCH_LEN as u64 + 30)).await;
    let counted = ledger
        .check_counts(&store, |_| Expect::Once)
        .await
        .unwrap_or_else(|e| panic!("{e}; logs in {}", c.log_dir().display()));
    assert_eq!(counted, ledger.delivered());
    ledger.check_seals(&store, |_| true).await.unwrap_or_else(|e| panic!("{e}; logs in {}", c.log_dir().display()));
    assert_eq!(c.member(b).terminate(Duration::from_secs(30)), 0, "SIGTERM exits 0");
}
