//! A sealer cut off from the network while it sits INSIDE its seal's transaction, holding the
//! sealer role's row lock (the fence check takes it), for real: member a runs in a network
//! namespace with the failpoint `seal.stall_in_txn` (the real binary built with
//! `--features failpoints`), the test waits until a says it is stalled there, then sets a's
//! veth down. PostgreSQL cannot tell a silent peer from a slow one, so without the store's
//! session settings (`pg_session_settings`: idle-in-transaction and lock timeouts, TCP
//! keepalives) a's session and its lock stay for hours and b's claim of the role waits
//! forever. With them the server ends a's session after one stale period and b takes the role
//! within a lease plus that period; a's stalled seal never lands, every line counts once.

use std::time::Duration;

use chatseal_schema::MIN_PG_STALE_SESSION;

use super::ledger::{seal_snapshot, Ledger, Pump};
use super::members::{channels, Cluster, ClusterView, EPOCH_LEN, LEASE_TTL};
use super::netns::Island;
use super::partition::comeback;
use super::{wait_durable, wait_lines};
use crate::harness::{now_ms, wait_for};

/// How long a's first seal sits in its transaction: past the cut, the takeover and b's first
/// seal, so a is still inside the transaction when it is cut off.
const STALL_MS: u64 = 40_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "multi-process cluster scenario with failpoints: run alone by .ci/run"]
async fn a_sealer_cut_off_inside_its_seal_transaction_does_not_block_the_takeover() {
    let mut c = Cluster::new().await;
    let island = Island::new(2, &c.url, c.fake.addr()).await;
    let chans = channels("cit", 2);
    let inside = island.place(&c.url);
    let stall = format!("seal.stall_in_txn=1*return({STALL_MS})");
    let a = c.add("a", inside, 2, &chans, &[("FAILPOINTS", stall.as_str())]);
    let place = c.local_place();
    let b = c.add("b", place, 2, &chans, &[]);

    let ledger = Ledger::new(&c.fake, EPOCH_LEN);
    let store = c.store().await;
    c.member(a).start();
    c.members[a].wait_healthy(Duration::from_secs(60)).await;
    let v =
        c.wait_view("a holds the sealer role", Duration::from_secs(30), |v| v.sealer().0.as_deref() == Some("a")).await;
    let fence_before = v.sealer().1;
    let pump = Pump::start(&ledger, &chans, 100);
    let sent = wait_lines(&ledger, 0, 50).await;
    // a's first seal stops inside its transaction, after the fence check.
    wait_for("a stalled inside its seal transaction", Duration::from_secs(6 * EPOCH_LEN as u64 + 30), || async {
        c.members[a].log_contains("failpoint seal.stall_in_txn: stalling").then_some(())
    })
    .await;
    // b joins while a sits in its transaction: its role claims must not wait on a's lock (the
    // same loop plans the slots), so it reads every channel beside a before the cut.
    c.member(b).start();
    c.members[b].wait_healthy(Duration::from_secs(60)).await;
    let both = |v: &ClusterView| v.alive().len() == 2 && chans.iter().all(|ch| v.readers(ch).len() == 2);
    c.wait_view("both members alive, each channel read by both", Duration::from_secs(30), both).await;
    c.wait_joined_by(&chans, 2, Duration::from_secs(30)).await;
    // From here each line reaches both; what only a read before is made durable by a (its
    // flushes do not wait for its seal) before it is cut off.
    ledger.set_phase(1);
    wait_durable(&ledger, &store, &[0], Duration::from_secs(30)).await;
    assert!(
        !c.members[a].log_contains("failpoint seal.stall_in_txn: done"),
        "a is still inside its seal's transaction when it is cut off"
    );

    island.ns.cut();
    let cut_at = std::time::Instant::now();
    let cut_epoch = ledger.epoch_of(now_ms());
    ledger.set_phase(2);
    let within = 2 * LEASE_TTL + MIN_PG_STALE_SESSION + Duration::from_secs(10);
    let v = c
        .wait_view("the sealer role moves to b despite a's open transaction", within, |v| {
            let (h, f) = v.sealer();
            h.as_deref() == Some("b") && f > fence_before
        })
        .await;
    eprintln!("cut_in_txn: b took the sealer role {:?} after the cut", cut_at.elapsed());
    let fence_after = v.sealer().1;
    // b seals an epoch that began after the cut.
    wait_for("b's seal of an epoch after the cut", Duration::from_secs(3 * EPOCH_LEN as u64 + 20), || async {
        matches!(store.sealed_epoch(cut_epoch + EPOCH_LEN, &chans[0]).await, Ok(Some(_))).then_some(())
    })
    .await;
    let during = seal_snapshot(&store).await;

    island.ns.heal();
    ledger.set_phase(3);
    // a comes back: its stalled seal is refused (the server ended its transaction).
    let within = Duration::from_millis(STALL_MS) + Duration::from_secs(30);
    let kept: Vec<_> = during.into_iter().collect();
    comeback(&mut c, (a, b), fence_after, within, (&ledger, &store, sent, pump), &kept).await;
}
