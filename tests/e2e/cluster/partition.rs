//! A member cut off from PostgreSQL and the chat server (cluster.md), for real: it runs in a
//! network namespace reaching both through forwarders, and the test sets its veth down. The
//! sealer role moves to the other member with a larger fencing number; when the member comes
//! back, its stale seal attempt is refused by the fence: it exits 75 or rejoins without the
//! role, and no seal is written twice or changed (every seal's digest compared before, during
//! and after). replicas = 2, so every line still counts exactly once.

use std::sync::Arc;
use std::time::Duration;

use chatseal_schema::{SealedEpoch, Store};

use super::ledger::{seal_snapshot, Expect, Ledger, Pump};
use super::members::{channels, Cluster, ClusterView, EPOCH_LEN, LEASE_TTL};
use super::netns::Island;
use super::wait_lines;
use crate::harness::{now_ms, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "multi-process cluster scenario: run alone by .ci/run (cargo test --test e2e cluster -- --ignored)"]
async fn a_cut_off_sealer_loses_its_role_and_its_stale_seal_is_refused() {
    let mut c = Cluster::new().await;
    let island = Island::new(1, &c.url, c.fake.addr()).await;
    let chans = channels("cpt", 2);
    let inside = island.place(&c.url);
    let a = c.add("a", inside, 2, &chans, &[]);
    let place = c.local_place();
    let b = c.add("b", place, 2, &chans, &[]);

    // a starts alone, so it takes the sealer role; then b joins.
    c.member(a).start();
    c.members[a].wait_healthy(Duration::from_secs(60)).await;
    c.wait_view("a holds the sealer role", Duration::from_secs(30), |v| v.sealer().0.as_deref() == Some("a")).await;
    c.member(b).start();
    c.members[b].wait_healthy(Duration::from_secs(60)).await;
    let both = |v: &ClusterView| v.alive().len() == 2 && chans.iter().all(|ch| v.readers(ch).len() == 2);
    let v = c.wait_view("both members alive, each channel read by both", Duration::from_secs(30), both).await;
    c.wait_joined_by(&chans, 2, Duration::from_secs(30)).await;
    v.assert_configured(2);
    let (holder, fence_before) = v.sealer();
    assert_eq!(holder.as_deref(), Some("a"), "a kept the sealer role when b joined: {v:#?}");

    let ledger = Ledger::new(&c.fake, EPOCH_LEN);
    let store = c.store().await;
    let pump = Pump::start(&ledger, &chans, 100);
    let sent = wait_lines(&ledger, 0, 50).await;
    // a seals at least one epoch holding lines before the cut.
    wait_for("a seal (by a) of an epoch holding lines", Duration::from_secs(4 * EPOCH_LEN as u64 + 20), || async {
        for (e, ch) in ledger.keys() {
            if matches!(store.sealed_epoch(e, &ch).await, Ok(Some(_))) {
                return Some(());
            }
        }
        None
    })
    .await;
    let before = seal_snapshot(&store).await;

    island.ns.cut();
    let cut_epoch = ledger.epoch_of(now_ms());
    ledger.set_phase(1);
    let v = c
        .wait_view("the sealer role moves to b with a larger fence", 2 * LEASE_TTL + Duration::from_secs(10), |v| {
            let (h, f) = v.sealer();
            h.as_deref() == Some("b") && f > fence_before
        })
        .await;
    let fence_after = v.sealer().1;
    assert_eq!(
        v.member_fence("b", "sealer"),
        Some(fence_after),
        "b reports holding the sealer role at its fence: {v:#?}"
    );
    // b seals an epoch that began after the cut (a's lease expired: it is not waited for).
    wait_for("b's seal of an epoch after the cut", Duration::from_secs(3 * EPOCH_LEN as u64 + 20), || async {
        matches!(store.sealed_epoch(cut_epoch + EPOCH_LEN, &chans[0]).await, Ok(Some(_))).then_some(())
    })
    .await;
    let during = seal_snapshot(&store).await;

    island.ns.heal();
    ledger.set_phase(2);
    eprintln!(
        "partition: fence {fence_before} -> {fence_after}; a's log mentions fencing: {}",
        c.members[a].log_contains("fenc") || c.members[a].log_contains("Fenc")
    );
    let kept: Vec<_> = before.into_iter().chain(during).collect();
    comeback(&mut c, (a, b), fence_after, Duration::from_secs(30), (&ledger, &store, sent, pump), &kept).await;
}

/// After the heal: the cut-off member `a` exits 75 (lease lost) or rejoins without the sealer
/// role, which `b` keeps at `fence_after` or later (waited for up to `within`); then, with every
/// line sealed, each seal of `kept` is unchanged, every line counts exactly once, and both stop.
pub(super) async fn comeback(
    c: &mut Cluster,
    (a, b): (usize, usize),
    fence_after: i64,
    within: Duration,
    (ledger, store, sent, pump): (&Arc<Ledger>, &Store, usize, Pump),
    kept: &[((i64, String), SealedEpoch)],
) {
    let outcome = wait_for("a to exit 75 or rejoin without the sealer role", within, || async {
        if let Some(code) = c.members[a].exited_code() {
            return Some(Err(code));
        }
        let v = c.members[b].cluster().await?;
        let a_back = v.alive().iter().any(|m| m.instance == "a");
        let (h, f) = v.sealer();
        (a_back && h.as_deref() == Some("b") && f >= fence_after).then_some(Ok(()))
    })
    .await;
    if let Err(code) = outcome {
        assert_eq!(code, 75, "a member whose lease was lost exits 75; log {}", c.members[a].log.display());
    }
    wait_lines(ledger, sent, 100).await;
    pump.stop().await;
    ledger.wait_sealed(store, 2 * LEASE_TTL + Duration::from_secs(2 * EPOCH_LEN as u64 + 30)).await;

    let after = seal_snapshot(store).await;
    for (key, seal) in kept {
        let now = after.get(key).unwrap_or_else(|| panic!("seal {key:?} disappeared"));
        assert_eq!(
            (&now.digest, &now.root, now.sealed_at),
            (&seal.digest, &seal.root, seal.sealed_at),
            "seal {key:?} never changes"
        );
    }
    ledger
        .check_counts(store, |_| Expect::Once)
        .await
        .unwrap_or_else(|e| panic!("{e}; logs in {}", c.log_dir().display()));
    ledger.check_seals(store, |_| true).await.unwrap_or_else(|e| panic!("{e}; logs in {}", c.log_dir().display()));
    c.member(a).kill9();
    assert_eq!(c.member(b).terminate(Duration::from_secs(30)), 0);
}
