//! Tests of the proof tree cache: the index, the leaf-count bound, LRU order, single builds.

use std::sync::atomic::{AtomicUsize, Ordering};

use chatseal_actors::format::{keccak256, user_hash};

use super::*;

fn key(epoch: i64, kind: TreeKind) -> TreeKey {
    TreeKey { epoch, channel: "c".into(), kind }
}

/// A tree of `n` leaves whose users are user0..user{n-1}.
fn entry(n: usize) -> Arc<CachedTree> {
    let users: Vec<Hash32> = (0..n).map(|i| user_hash(&format!("user{i}"))).collect();
    let leaves = users.iter().map(|u| keccak256(u)).collect();
    let tree = MerkleTree::build(leaves).unwrap();
    Arc::new(CachedTree::new(tree, users).unwrap())
}

#[test]
fn the_index_finds_every_leaf_and_nobody_else() {
    let e = entry(101);
    for i in 0..101 {
        assert_eq!(e.index_of(&user_hash(&format!("user{i}"))), Some(i));
    }
    assert_eq!(e.index_of(&user_hash("stranger")), None);
    assert_eq!(e.leaves(), 101);
}

#[test]
fn a_malformed_index_is_refused() {
    let tree = MerkleTree::build(vec![[1u8; 32], [2u8; 32]]).unwrap();
    assert!(CachedTree::new(tree.clone(), vec![[9u8; 32]]).is_none(), "fewer users than leaves");
    assert!(CachedTree::new(tree.clone(), vec![[9u8; 32], [9u8; 32]]).is_none(), "user twice");
    let ok = CachedTree::new(tree.clone(), vec![[9u8; 32], [8u8; 32]]).unwrap();
    assert!(ok.sealed().is_none() && ok.amount(0).is_none());
    // A claim tree cut by the cap: users past its end are still found, and weigh.
    let cut = CachedTree::new(tree, vec![[9u8; 32], [8u8; 32], [7u8; 32]]).unwrap();
    assert_eq!((cut.index_of(&[7u8; 32]), cut.leaves()), (Some(2), 3));
}

#[test]
fn the_seal_row_and_the_amounts_ride_with_the_tree() {
    let tree = MerkleTree::build(vec![[1u8; 32], [2u8; 32]]).unwrap();
    let seal = chatseal_schema::SealedEpoch {
        epoch: 3600,
        channel: "c".into(),
        root: None,
        claim_root: None,
        participants: 2,
        coverage: 1.0,
        digest: "d".into(),
        sealed_at: 0,
        format_version: 1,
        claim_cut: 0,
    };
    let users = vec![[9u8; 32], [8u8; 32]];
    let bad = CachedTree::new(tree.clone(), users.clone()).unwrap().with_seal(seal.clone(), vec![5]);
    assert!(bad.is_none(), "one amount per leaf or none");
    let e = CachedTree::new(tree, users).unwrap().with_seal(seal.clone(), vec![5, 6]).unwrap();
    assert_eq!((e.sealed(), e.amount(1), e.amount(2)), (Some(&seal), Some(6), None));
}

#[test]
fn the_bound_is_on_leaves_and_evicts_the_least_recently_used() {
    let cache = TreeCache::new(100);
    assert!(cache.insert(key(1, TreeKind::Participation), entry(40)));
    assert!(cache.insert(key(1, TreeKind::Claim), entry(40)));
    // Touch epoch 1's participation tree: the claim tree is now the least recently used.
    assert!(cache.get(&key(1, TreeKind::Participation)).is_some());
    assert!(cache.insert(key(2, TreeKind::Participation), entry(30)));
    let s = cache.stats();
    assert_eq!((s.entries, s.leaves), (2, 70));
    assert!(cache.get(&key(1, TreeKind::Claim)).is_none(), "evicted");
    assert!(cache.get(&key(1, TreeKind::Participation)).is_some());
    // Exactly at the bound fits; one leaf more evicts.
    assert!(cache.insert(key(3, TreeKind::Claim), entry(30)));
    assert_eq!(cache.stats().leaves, 100);
    assert!(cache.insert(key(4, TreeKind::Claim), entry(1)));
    assert!(cache.get(&key(2, TreeKind::Participation)).is_none());
    assert!(cache.stats().leaves <= 100);
}

#[test]
fn a_tree_larger_than_the_bound_is_served_but_not_kept() {
    let cache = TreeCache::new(10);
    assert!(cache.insert(key(1, TreeKind::Claim), entry(5)));
    assert!(!cache.insert(key(2, TreeKind::Claim), entry(11)));
    let s = cache.stats();
    assert_eq!((s.entries, s.leaves), (1, 5), "what was held stays");
    let none = TreeCache::new(0);
    assert!(!none.insert(key(1, TreeKind::Claim), entry(1)));
    assert_eq!(none.stats().entries, 0);
}

#[test]
fn replacing_a_key_keeps_the_count_right() {
    let cache = TreeCache::new(100);
    cache.insert(key(1, TreeKind::Claim), entry(50));
    cache.insert(key(1, TreeKind::Claim), entry(20));
    assert_eq!((cache.stats().entries, cache.stats().leaves), (1, 20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_cold_requests_builds_once() {
    let cache = Arc::new(TreeCache::new(1000));
    let calls = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (cache, calls) = (cache.clone(), calls.clone());
        tasks.push(tokio::spawn(async move {
            let k = key(7, TreeKind::Participation);
            cache
                .get_or_build(&k, || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    Ok::<_, String>(Arc::try_unwrap(entry(64)).unwrap())
                })
                .await
                .map(|(tree, _)| tree.leaves())
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), Ok(64));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let s = cache.stats();
    assert_eq!((s.builds, s.hits), (1, 7));
}

#[tokio::test]
async fn a_failed_build_is_not_cached() {
    let cache = TreeCache::new(1000);
    let k = key(1, TreeKind::Claim);
    let err = cache.get_or_build(&k, || async { Err::<CachedTree, _>("store down") }).await;
    assert_eq!(err.err(), Some("store down"));
    let (tree, hit) =
        cache.get_or_build(&k, || async { Ok::<_, &str>(Arc::try_unwrap(entry(3)).unwrap()) }).await.unwrap();
    assert_eq!((tree.leaves(), hit), (3, false));
    let (_, hit) = cache.get_or_build(&k, || async { Err::<CachedTree, _>("not called") }).await.unwrap();
    assert!(hit);
}
