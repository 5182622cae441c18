//! The invariants of reliability.md, checked on a store after crashes: the store opens (quick
//! check, migrations), every sealed epoch's digest matches, no partial seal is visible (rows,
//! count and root agree), no participant that was never sent, no line counted twice.

use std::collections::{BTreeMap, BTreeSet};

use chatseal_actors::format::{parse_hash, to_hex};
use chatseal_actors::sealer::merkle::MerkleTree;
use chatseal_schema::{SignalKind, Store};

/// Checks the store-wide invariants; returns the store for further checks.
pub async fn check_store(url: &str, channel: &str) -> Store {
    let store = Store::open(url).await.unwrap_or_else(|e| panic!("store opens after the crash: {e}"));
    let bad = store.verify_digests().await.expect("verify digests");
    assert!(bad.is_empty(), "sealed epochs whose digest does not match: {bad:?}");
    for e in store.sealed_epochs(Some(channel), 10_000).await.expect("list seals") {
        let rows = store.sealed_participants(e.epoch, channel).await.expect("sealed rows");
        assert_eq!(rows.len() as i64, e.participants, "a partial seal is visible for {}", e.epoch);
        let idx: Vec<i64> = rows.iter().map(|r| r.idx).collect();
        assert_eq!(idx, (0..rows.len() as i64).collect::<Vec<_>>(), "leaf indexes of {}", e.epoch);
        let root = MerkleTree::build(rows.iter().map(|r| parse_hash(&r.leaf).expect("leaf hex")).collect())
            .map(|t| to_hex(&t.root()));
        assert_eq!(root, e.root, "stored leaves fold to the sealed root of {}", e.epoch);
    }
    store
}

/// Per login, how many lines were delivered to the daemon; checks nothing is invented or
/// counted twice in `epochs`, and returns the counted messages per login.
pub async fn check_counts(
    store: &Store,
    channel: &str,
    epochs: &BTreeSet<i64>,
    sent: &BTreeMap<String, i64>,
) -> BTreeMap<String, i64> {
    let mut counted: BTreeMap<String, i64> = BTreeMap::new();
    for e in epochs {
        for r in store.participants_for_seal(*e, channel).await.expect("participants") {
            *counted.entry(r.login).or_default() += r.signals[SignalKind::Message];
        }
    }
    for (login, n) in &counted {
        let s = sent.get(login).copied().unwrap_or(0);
        assert!(s > 0, "participant {login} was never sent");
        assert!(*n <= s, "{login} counted {n} times for {s} lines");
    }
    counted
}
