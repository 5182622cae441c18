//! The cluster harness checked on what exists without cluster mode: a real daemon started,
//! killed with -9 and restarted on a fresh PostgreSQL database through [`super::members`];
//! the ledger's exactly-once and seal checkers pass on what a single daemon stored, and FAIL on
//! a ledger holding a line the server never wrote (so they can fail); the network-namespace
//! guard always cleans up, also on panic; a daemon inside a namespace reaches PostgreSQL and the
//! chat server through the forwarders, and a cut really cuts it off.

use std::time::Duration;

use super::ledger::{Expect, Ledger, Pump};
use super::members::{channels, plain_env, Cluster, EPOCH_LEN};
use super::netns::{ours, Island, Netns};
use super::{wait_durable, wait_lines};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn harness_kills_restarts_and_its_ledger_checks_a_single_daemon() {
    let mut c = Cluster::new().await;
    let chans = channels("cst", 2);
    let place = c.local_place();
    let i = c.add_with_env("solo", place, plain_env(&chans));
    c.member(i).start();
    c.members[i].wait_healthy(Duration::from_secs(60)).await;
    c.wait_joined_by(&chans, 1, Duration::from_secs(30)).await;

    let ledger = Ledger::new(&c.fake, EPOCH_LEN);
    let store = c.store().await;
    let pump = Pump::start(&ledger, &chans, 100);
    let sent = wait_lines(&ledger, 0, 150).await;
    pump.stop().await;
    wait_durable(&ledger, &store, &[0], Duration::from_secs(30)).await;

    // kill -9 (nothing in flight: every delivered line is durable), restart at once.
    c.member(i).kill9();
    c.member(i).start();
    c.members[i].wait_healthy(Duration::from_secs(30)).await;
    c.wait_joined_by(&chans, 1, Duration::from_secs(30)).await;
    ledger.set_phase(1);
    let pump = Pump::start(&ledger, &chans, 100);
    wait_lines(&ledger, sent, 150).await;
    pump.stop().await;
    wait_durable(&ledger, &store, &[0, 1], Duration::from_secs(30)).await;
    ledger.wait_sealed(&store, Duration::from_secs(3 * EPOCH_LEN as u64 + 20)).await;

    let counted = ledger.check_counts(&store, |_| Expect::Once).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(counted, ledger.delivered(), "every delivered line counted once");
    let compared = ledger.check_seals(&store, |_| true).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(compared, ledger.keys().len(), "every (epoch, channel) of the ledger sealed and compared");

    // The checkers can fail. A count above the ledger: a ledger that forgot two lines the
    // server wrote sees the store count more than it wrote, even when it only wants "at most".
    let forgot = Ledger::new(&c.fake, EPOCH_LEN);
    for l in ledger.lines().iter().skip(2).filter(|l| l.receivers > 0) {
        forgot.record_sent(l.clone());
    }
    let err = forgot
        .check_counts(&store, |_| Expect::AtMostOnce)
        .await
        .expect_err("the store counts more than the ledger wrote");
    assert!(err.contains("counted twice"), "{err}");
    // A count below the ledger: one line the server never wrote, in a sealed epoch.
    let first = ledger.lines()[0].clone();
    ledger.record_phantom(&first.channel, first.ts_ms);
    let err =
        ledger.check_counts(&store, |_| Expect::Once).await.expect_err("a phantom line is missing from the store");
    assert!(err.contains("lost"), "{err}");
    let err = ledger.check_seals(&store, |_| true).await.expect_err("a phantom line changes the expected seal");
    assert!(err.contains(&first.channel), "{err}");

    assert_eq!(c.member(i).terminate(Duration::from_secs(30)), 0, "SIGTERM exits 0");
}

#[test]
fn netns_guard_deletes_the_namespace_even_on_panic() {
    let name = std::sync::Mutex::new(String::new());
    let outcome = std::panic::catch_unwind(|| {
        let ns = Netns::create(201);
        *name.lock().unwrap() = ns.name.clone();
        assert!(ours().contains(&ns.name), "{} exists while the guard lives", ns.name);
        panic!("a failing test body");
    });
    assert!(outcome.is_err(), "the body panicked");
    let name = name.into_inner().unwrap();
    assert!(name.starts_with("cs2"), "a namespace was made: {name:?}");
    assert!(!ours().contains(&name), "{name} deleted by the guard: {:?}", ours());
    let link =
        std::process::Command::new("ip").args(["link", "show", &format!("{name}h")]).output().expect("ip link show");
    assert!(!link.status.success(), "the host-side veth {name}h is gone");

    // A leftover from a crashed run (no live creator) is swept by the next create.
    let made = std::process::Command::new("ip").args(["netns", "add", "cs255"]).status().expect("ip netns add");
    assert!(made.success());
    let ns = Netns::create(231);
    assert!(!ours().contains(&"cs255".to_owned()), "a stale cs* namespace is swept: {:?}", ours());
    let made = ns.name.clone();
    drop(ns);
    assert!(!ours().contains(&made));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_daemon_in_a_namespace_reaches_the_store_and_chat_through_forwarders_until_cut() {
    let mut c = Cluster::new().await;
    let island = Island::new(211, &c.url, c.fake.addr()).await;
    let chans = channels("csn", 1);
    let place = island.place(&c.url);
    let host = format!("{}:", island.ns.host_ip());
    assert!(place.store_url.contains(&host), "the member's store URL goes through the forwarder: {}", place.store_url);
    let i = c.add_with_env("inside", place, plain_env(&chans));
    c.member(i).start();
    c.members[i].wait_healthy(Duration::from_secs(60)).await;
    c.wait_joined_by(&chans, 1, Duration::from_secs(30)).await;

    let ledger = Ledger::new(&c.fake, EPOCH_LEN);
    let store = c.store().await;
    let pump = Pump::start(&ledger, &chans, 100);
    let sent = wait_lines(&ledger, 0, 100).await;
    pump.stop().await;
    wait_durable(&ledger, &store, &[0], Duration::from_secs(30)).await;

    // Cut: the member's HTTP (reached over the veth) stops answering; lines written now reach
    // the forwarder's socket but never the member.
    island.ns.cut();
    crate::harness::wait_for("the cut-off member to stop answering", Duration::from_secs(10), || async {
        (!c.members[i].healthy().await).then_some(())
    })
    .await;
    ledger.set_phase(1);
    for _ in 0..20 {
        ledger.send(&chans[0]);
    }
    assert!(ledger.delivered() > sent, "the server still wrote to the forwarder's connection");

    island.ns.heal();
    c.members[i].wait_healthy(Duration::from_secs(30)).await;
    c.member(i).kill9();
}
