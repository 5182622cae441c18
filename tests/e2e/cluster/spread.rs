//! replicas = 1, three members, 30 channels (cluster.md): every channel is read by exactly one
//! member, by `/v1/cluster` AND by the fake server's joins, spread evenly; kill -9 one member:
//! its channels are joined again by the others within 2 × lease_ttl plus the join pacing, and
//! nothing is counted twice (lines only the killed member got may be lost: replicas = 1).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::ledger::{Expect, Ledger, Pump};
use super::members::{channels, Cluster, ClusterView, EPOCH_LEN, LEASE_TTL};
use super::wait_lines;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "multi-process cluster scenario: run alone by .ci/run (cargo test --test e2e cluster -- --ignored)"]
async fn replicas_one_reads_each_channel_once_and_retakes_a_dead_members_channels() {
    let mut c = Cluster::new().await;
    let chans = channels("csp", 30);
    let place = c.local_place();
    for name in ["a", "b", "c"] {
        let i = c.add(name, place.clone(), 1, &chans, &[]);
        c.member(i).start();
    }
    for m in &c.members {
        m.wait_healthy(Duration::from_secs(60)).await;
    }
    let all = &chans;
    let once = |alive: usize| {
        move |v: &ClusterView| {
            v.alive().len() == alive && all.iter().all(|ch| v.readers(ch).len() == 1) && v.unowned_slots.is_empty()
        }
    };
    let v = c.wait_view("3 members, each channel read by exactly one", Duration::from_secs(60), once(3)).await;
    v.assert_configured(1);
    c.wait_joined_by(&chans, 1, Duration::from_secs(30)).await;
    let held: Vec<usize> = v.alive().iter().map(|m| m.slots.len()).collect();
    assert!(held.iter().max().unwrap() - held.iter().min().unwrap() <= 1, "slots spread evenly: {held:?}");
    // The fake server's view agrees: each connection's channels are one member's slots.
    for s in c.fake.sessions().iter().filter(|s| !s.channels.is_empty()) {
        let chans_of: BTreeSet<&String> = s.channels.iter().collect();
        assert!(
            v.alive().iter().any(|m| chans_of.iter().all(|ch| m.slots.contains(ch))),
            "connection {} joined {:?}, which no single member holds: {v:#?}",
            s.id,
            s.channels
        );
    }

    let ledger = Ledger::new(&c.fake, EPOCH_LEN);
    let store = c.store().await;
    let pump = Pump::start(&ledger, &chans, 300);
    let sent = wait_lines(&ledger, 0, 300).await;

    let victim: BTreeSet<String> =
        v.members.iter().find(|m| m.instance == "a").map(|m| m.slots.iter().cloned().collect()).unwrap_or_default();
    assert!(!victim.is_empty(), "a holds slots: {v:#?}");
    // The connections that read a's channels before the kill: a's channels count as read again
    // only once a connection NOT among these has joined them.
    let old: BTreeSet<u64> =
        c.fake.sessions().iter().filter(|s| s.channels.iter().any(|ch| victim.contains(ch))).map(|s| s.id).collect();
    c.member(0).kill9();
    let killed = Instant::now();
    ledger.set_phase(1);
    // Pacing: a's channels at 20 JOINs per 1 s window, plus 1 s for polling and connecting.
    let pacing = Duration::from_secs((victim.len() as u64).div_ceil(20)) + Duration::from_secs(1);
    let bound = 2 * LEASE_TTL + pacing;
    let retaken = c
        .fake
        .wait_for(bound + Duration::from_secs(10), |f| {
            let sessions = f.sessions();
            victim.iter().all(|ch| {
                f.joined_connections(ch) == 1
                    && sessions.iter().any(|s| !old.contains(&s.id) && s.channels.contains(ch))
            })
        })
        .await;
    let took = killed.elapsed();
    assert!(
        retaken,
        "a's channels {victim:?} not joined again by another member within {:?}; logs in {}",
        bound + Duration::from_secs(10),
        c.log_dir().display()
    );
    c.wait_joined_by(&chans, 1, Duration::from_secs(5)).await;
    assert!(
        took <= bound,
        "a's {} channels read again after {took:?}; the bound is 2 x lease_ttl + pacing = {bound:?}",
        victim.len()
    );
    let v = c.wait_view("2 members, each channel read by exactly one", Duration::from_secs(10), once(2)).await;
    assert!(v.unowned().is_empty(), "no slot left unowned: {:?}", v.unowned());

    ledger.set_phase(2);
    wait_lines(&ledger, sent, 300).await;
    pump.stop().await;
    ledger.wait_sealed(&store, 2 * LEASE_TTL + Duration::from_secs(2 * EPOCH_LEN as u64 + 30)).await;
    // Only a's channels before the retake may have lost lines; nothing is ever counted twice.
    let may_lose = |l: &super::ledger::Sent| victim.contains(&l.channel) && l.phase < 2;
    ledger
        .check_counts(&store, |l| if may_lose(l) { Expect::AtMostOnce } else { Expect::Once })
        .await
        .unwrap_or_else(|e| panic!("{e}; logs in {}", c.log_dir().display()));
    ledger
        .check_seals(&store, |ch| !victim.contains(ch))
        .await
        .unwrap_or_else(|e| panic!("{e}; logs in {}", c.log_dir().display()));
}
