//! Proofs against a real (SQLite) store: folds, the claim cut, opt-outs, damage detection, and
//! that a warm proof reads no full set of sealed rows.

use std::collections::HashSet;

use chatseal_actors::sealer::build::{build_seal, SealConfig};
use chatseal_actors::sealer::merkle::{verify, CentiWeights};
use chatseal_schema::{ParticipantRow, Store};
use sea_orm::ConnectionTrait;

use super::*;

const EPOCH: i64 = 7200;

fn row(login: &str, first_seen: i64) -> ParticipantRow {
    ParticipantRow {
        user_hash: to_hex(&user_hash(login)),
        login: login.into(),
        first_seen,
        last_seen: first_seen,
        signals: chatseal_schema::Signals::default().with(chatseal_schema::SignalKind::Message, 1),
    }
}

/// A store holding one seal of `chan` at EPOCH: user0..user4 in that order, claim cap `cap`.
async fn sealed_store(cap: Option<u32>) -> (Store, tempfile::TempDir) {
    let (url, dir) = chatseal_schema::testing::fresh_sqlite_url();
    let store = Store::open(&url).await.unwrap();
    let cfg = SealConfig {
        weights: CentiWeights::default(),
        reward_per_weight: 80,
        decimals: 9,
        excluded: HashSet::new(),
        max_claim_leaves: cap,
        exclude_broadcaster: false,
    };
    let rows = (0..5).map(|i| row(&format!("user{i}"), EPOCH + i)).collect();
    let seal = build_seal(EPOCH, "chan", rows, &cfg, &HashSet::new(), 1.0, EPOCH + 3600).unwrap();
    store.write_seal(&seal).await.unwrap();
    (store, dir)
}

fn hashes(v: &[String]) -> Vec<Hash32> {
    v.iter().map(|h| parse_hash(h).unwrap()).collect()
}

#[tokio::test]
async fn proofs_fold_and_a_capped_claim_tree_says_so() {
    let (store, _dir) = sealed_store(Some(3)).await;
    let cache = TreeCache::default();
    for i in 0..5 {
        let login = format!("USER{i}");
        let p = participation_proof_cached(&store, &cache, EPOCH, "#Chan", &login).await.unwrap();
        assert_eq!((p.index, p.login.as_str(), p.channel.as_str()), (i, format!("user{i}").as_str(), "chan"));
        assert!(verify(&parse_hash(&p.root).unwrap(), &parse_hash(&p.leaf).unwrap(), &hashes(&p.proof)));
        let claim = claim_proof_cached(&store, &cache, EPOCH, "chan", &login).await;
        if i < 3 {
            let c = claim.unwrap();
            assert_eq!(c.id, format!("twitch:chan:user{i}"));
            assert_eq!(c.amount, "80000000000");
            assert!(verify(&parse_hash(&c.claim_root).unwrap(), &parse_hash(&c.leaf).unwrap(), &hashes(&c.proof)));
        } else {
            let e = claim.unwrap_err();
            assert!(matches!(e, ProofError::NotInClaimTree { cap: 3, cut: 2, .. }), "{e}");
            assert_eq!(e.code(), "not_in_claim_tree");
            assert!(
                e.to_string().contains("first 3 participants") && e.to_string().contains("max_claim_leaves"),
                "{e}"
            );
        }
    }
    let e = claim_proof_cached(&store, &cache, EPOCH, "chan", "stranger").await.unwrap_err();
    assert_eq!(e.code(), "not_participant");
    let e = participation_proof_cached(&store, &cache, EPOCH + 3600, "chan", "user0").await.unwrap_err();
    assert_eq!(e.code(), "not_sealed");
    // The uncached entry points give the same answers.
    let a = claim_proof(&store, EPOCH, "chan", "user1").await.unwrap();
    let b = claim_proof_cached(&store, &cache, EPOCH, "chan", "user1").await.unwrap();
    assert_eq!(serde_json::to_value(a).unwrap(), serde_json::to_value(b).unwrap());
}

#[tokio::test]
async fn an_opted_out_user_is_refused_after_the_seal() {
    let (store, _dir) = sealed_store(None).await;
    let cache = TreeCache::default();
    participation_proof_cached(&store, &cache, EPOCH, "chan", "user2").await.unwrap();
    store.opt_out(&to_hex(&user_hash("user2")), "user2", "test", 1).await.unwrap();
    for claim in [false, true] {
        let e = if claim {
            claim_proof_cached(&store, &cache, EPOCH, "chan", "User2").await.unwrap_err()
        } else {
            participation_proof_cached(&store, &cache, EPOCH, "chan", "User2").await.unwrap_err()
        };
        assert!(matches!(e, ProofError::OptedOut { .. }), "{e}");
    }
    // The sealed root is never rewritten.
    let p = participation_proof_cached(&store, &cache, EPOCH, "chan", "user1").await.unwrap();
    assert_eq!(
        Some(p.root.trim_start_matches("0x")),
        store.sealed_epoch(EPOCH, "chan").await.unwrap().unwrap().root.as_deref()
    );
}

#[tokio::test]
async fn a_warm_proof_reads_no_full_set_of_rows_and_a_cold_one_checks_them() {
    let (store, _dir) = sealed_store(None).await;
    let cache = TreeCache::default();
    participation_proof_cached(&store, &cache, EPOCH, "chan", "user0").await.unwrap();
    claim_proof_cached(&store, &cache, EPOCH, "chan", "user0").await.unwrap();
    assert_eq!(cache.stats().builds, 2);
    // Remove another participant's row behind the store's back: a full read would now see
    // 4 rows for a seal of 5 and refuse; warm proofs of others do not read the full set.
    store
        .db()
        .execute_unprepared(&format!("DELETE FROM sealed_participants WHERE epoch = {EPOCH} AND idx = 4"))
        .await
        .unwrap();
    participation_proof_cached(&store, &cache, EPOCH, "chan", "user3").await.unwrap();
    claim_proof_cached(&store, &cache, EPOCH, "chan", "user3").await.unwrap();
    let s = cache.stats();
    assert_eq!((s.builds, s.hits), (2, 2));
    // Cold, the damage is reported rather than served.
    let e = participation_proof(&store, EPOCH, "chan", "user3").await.unwrap_err();
    assert!(matches!(e, ProofError::Damaged { .. }), "{e}");
    // Warm, the claim route still reads the user's own row: a changed amount-bearing leaf is caught.
    store
        .db()
        .execute_unprepared(&format!(
            "UPDATE sealed_participants SET claim_leaf = X'{}' WHERE epoch = {EPOCH} AND idx = 1",
            "ab".repeat(32)
        ))
        .await
        .unwrap();
    let e = claim_proof_cached(&store, &cache, EPOCH, "chan", "user1").await.unwrap_err();
    assert!(matches!(e, ProofError::Damaged { .. }), "{e}");
}
