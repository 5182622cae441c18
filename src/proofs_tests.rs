//! Proofs against a real (SQLite) store: folds, the claim cut, opt-outs, damage detection (the
//! digest), and that a warm proof touches no store.

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

/// The sources of a test: `store`, `cache`, opt-outs always asked of the store, no damage known.
struct Src {
    opt_outs: OptOuts,
    damaged: DamagedSeals,
}

impl Src {
    fn new() -> Src {
        Src { opt_outs: OptOuts::unsynced(), damaged: DamagedSeals::default() }
    }

    fn of<'a>(&'a self, store: &'a Store, cache: &'a TreeCache) -> ProofSources<'a> {
        ProofSources { store, trees: cache, opt_outs: &self.opt_outs, damaged: &self.damaged }
    }
}

async fn participation_proof_cached(
    store: &Store,
    cache: &TreeCache,
    epoch: i64,
    channel: &str,
    login: &str,
) -> Result<ProofView, ProofError> {
    participation_proof_from(&Src::new().of(store, cache), epoch, channel, login).await
}

async fn claim_proof_cached(
    store: &Store,
    cache: &TreeCache,
    epoch: i64,
    channel: &str,
    login: &str,
) -> Result<ClaimView, ProofError> {
    claim_proof_from(&Src::new().of(store, cache), epoch, channel, login).await
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
async fn a_warm_proof_touches_no_store_and_a_cold_one_checks_the_digest() {
    let (store, _dir) = sealed_store(None).await;
    let cache = TreeCache::default();
    // Opt-outs synced once and current for an hour, whatever the machine's load.
    let src =
        Src { opt_outs: OptOuts::with_max_age(Default::default(), std::time::Duration::from_secs(3600)), ..Src::new() };
    src.opt_outs.merge(vec!["user4".into()], std::time::Instant::now());
    let s = src.of(&store, &cache);
    participation_proof_from(&s, EPOCH, "chan", "user0").await.unwrap();
    claim_proof_from(&s, EPOCH, "chan", "user0").await.unwrap();
    assert_eq!(cache.stats().builds, 2);
    // With the store closed, warm proofs still answer, from memory alone: the trees with their
    // seal row and amounts, the opt-outs while they are current.
    store.clone().close().await.unwrap();
    let p = participation_proof_from(&s, EPOCH, "chan", "user3").await.unwrap();
    assert_eq!(p.index, 3);
    let c = claim_proof_from(&s, EPOCH, "chan", "user3").await.unwrap();
    assert_eq!((c.index, c.amount.as_str()), (3, "80000000000"));
    assert!(matches!(participation_proof_from(&s, EPOCH, "chan", "user4").await, Err(ProofError::OptedOut { .. })));
    assert!(matches!(claim_proof_from(&s, EPOCH, "chan", "stranger").await, Err(ProofError::NotParticipant { .. })));
    assert_eq!(cache.stats().builds, 2);
    // Cold, a seal that is not cached needs the store.
    let e = participation_proof_from(&s, EPOCH + 3600, "chan", "user0").await.unwrap_err();
    assert!(matches!(e, ProofError::Store(_)), "{e}");
}

#[tokio::test]
async fn rows_that_do_not_match_the_digest_are_never_served_and_the_seal_is_refused_from_then_on() {
    let (store, _dir) = sealed_store(None).await;
    // An amount changed behind the store's back: the claim tree does not see it (the claim
    // leaves still fold), the digest does.
    store
        .db()
        .execute_unprepared(&format!("UPDATE sealed_participants SET amount = '1' WHERE epoch = {EPOCH} AND idx = 1"))
        .await
        .unwrap();
    let cache = TreeCache::default();
    let src = Src::new();
    let s = src.of(&store, &cache);
    let e = claim_proof_from(&s, EPOCH, "chan", "user1").await.unwrap_err();
    assert!(matches!(e, ProofError::Damaged { .. }) && e.to_string().contains("digest"), "{e}");
    assert_eq!(src.damaged.list(), vec![(EPOCH, "chan".to_string())]);
    assert_eq!(cache.stats().entries, 0, "nothing built from them is kept");
    // Refused from then on, without reading the rows again.
    let e = participation_proof_from(&s, EPOCH, "chan", "user0").await.unwrap_err();
    assert!(matches!(e, ProofError::Damaged { .. }), "{e}");
    assert_eq!(cache.stats().builds, 0);
    // The uncached entry point (`chatseal proof`) checks the digest the same way.
    let e = participation_proof(&store, EPOCH, "chan", "user3").await.unwrap_err();
    assert!(matches!(e, ProofError::Damaged { .. }), "{e}");
    // A row removed: the count differs from the seal's.
    store
        .db()
        .execute_unprepared(&format!("DELETE FROM sealed_participants WHERE epoch = {EPOCH} AND idx = 4"))
        .await
        .unwrap();
    let e = claim_proof(&store, EPOCH, "chan", "user0").await.unwrap_err();
    assert!(matches!(e, ProofError::Damaged { .. }), "{e}");
}
