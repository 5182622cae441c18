//! A bounded LRU of built merkle trees for the proof routes, so a warm proof from a
//! 100,000-participant epoch needs no store access at all: no full read of
//! `sealed_participants`, no rebuild, and no read of the seal's row either. Entries are keyed by
//! (epoch, channel, participation | claim) and hold the tree, the index of its users by user
//! hash, the seal's row it was built from and checked against (root, claim root, digest,
//! counts, format) and, for a claim tree, each leaf's amount. The bound is the number of
//! leaves held over all entries (about 100 bytes each: the tree's nodes and the index), not the
//! number of entries, so one huge epoch cannot hide behind a small entry count.
//!
//! Invalidation: none is needed for a right answer. A seal's row and its frozen rows are
//! written once, in one transaction, and never updated or deleted (sealing again is a no-op;
//! a store is only ever replaced with the daemon stopped), and an entry is made only from rows
//! that hash to the seal's digest and fold to its roots, so it holds exactly what was sealed.
//! What can change is whether it may be served: the opt-outs (`crate::opt_outs`, asked on every
//! proof) and damage found later in the stored rows (`crate::damaged_seals`, asked on every
//! proof). A seal that is not there is never cached: the next request reads the store again.
//!
//! Cold builds go one at a time through a build lock and re-check the cache after taking it:
//! a burst of requests for the same cold epoch builds its tree once, and at most one transient
//! tree is being built beside what the cache holds. Pure (no store access): the caller passes
//! the builder.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use chatseal_actors::format::Hash32;
use chatseal_actors::sealer::merkle::MerkleTree;
use chatseal_schema::SealedEpoch;
use hashlink::LinkedHashMap;

/// Default bound: leaves held over all entries (about 200 MB at most).
pub const DEFAULT_MAX_LEAVES: usize = 2_000_000;

/// Which of a seal's two trees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TreeKind {
    /// The participation tree: every participant, folding to the seal's `root`.
    Participation,
    /// The claim tree: participants up to the claim cap, folding to the seal's `claim_root`.
    Claim,
}

/// What a cache entry is built from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TreeKey {
    /// Start of the sealed epoch, Unix seconds.
    pub epoch: i64,
    /// Lowercase channel login, without `#`.
    pub channel: String,
    /// Which of the seal's two trees.
    pub kind: TreeKind,
}

/// A built tree and the position of each user's leaf in it.
#[derive(Debug)]
pub struct CachedTree {
    tree: MerkleTree,
    /// (user hash, leaf index), sorted by user hash.
    by_user: Vec<(Hash32, u32)>,
    /// The seal's row the tree was built from and checked against.
    sealed: Option<SealedEpoch>,
    /// The claim amount of each leaf (claim trees; empty otherwise).
    amounts: Vec<u64>,
}

impl CachedTree {
    /// `users[i]` is the user hash of index `i`, for every index of the tree and possibly
    /// more (a claim tree cut by the claim cap holds the first participants only; the index
    /// still finds the others, past the tree's end). `None` when there are fewer users than
    /// leaves, a user appears twice, or an index does not fit the claim format's u32.
    pub fn new(tree: MerkleTree, users: Vec<Hash32>) -> Option<CachedTree> {
        if users.len() < tree.len() || u32::try_from(users.len()).is_err() {
            return None;
        }
        let mut by_user: Vec<(Hash32, u32)> = users.into_iter().enumerate().map(|(i, u)| (u, i as u32)).collect();
        by_user.sort_unstable();
        if by_user.windows(2).any(|w| w[0].0 == w[1].0) {
            return None;
        }
        Some(CachedTree { tree, by_user, sealed: None, amounts: Vec::new() })
    }

    /// The same entry with the seal's row it was checked against and, for a claim tree, the
    /// amount of each of its leaves (`None` when `amounts` is neither empty nor one per leaf).
    pub fn with_seal(mut self, sealed: SealedEpoch, amounts: Vec<u64>) -> Option<CachedTree> {
        if !amounts.is_empty() && amounts.len() != self.tree.len() {
            return None;
        }
        self.sealed = Some(sealed);
        self.amounts = amounts;
        Some(self)
    }

    /// The seal's row the tree was built from, if it was given.
    pub fn sealed(&self) -> Option<&SealedEpoch> {
        self.sealed.as_ref()
    }

    /// The claim amount of leaf `idx` (claim trees built with amounts).
    pub fn amount(&self, idx: usize) -> Option<u64> {
        self.amounts.get(idx).copied()
    }

    /// The built merkle tree, leaves in sealed index order.
    pub fn tree(&self) -> &MerkleTree {
        &self.tree
    }

    /// The leaf index of `user`, if the tree holds them.
    pub fn index_of(&self, user: &Hash32) -> Option<usize> {
        self.by_user.binary_search_by(|(u, _)| u.cmp(user)).ok().map(|i| self.by_user[i].1 as usize)
    }

    /// Number of leaves or users, the larger (the entry's weight in the cache).
    pub fn leaves(&self) -> usize {
        self.tree.len().max(self.by_user.len())
    }
}

/// What the cache holds now and has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Trees held now.
    pub entries: usize,
    /// Leaves held now over all entries (the quantity the bound limits).
    pub leaves: usize,
    /// Lookups answered from the cache since it was created.
    pub hits: u64,
    /// Trees built on a miss since it was created (a build larger than the bound counts too).
    pub builds: u64,
}

struct Lru {
    /// Least recently used at the front.
    map: LinkedHashMap<TreeKey, Arc<CachedTree>>,
    stats: CacheStats,
}

/// The cache; share it behind an `Arc` (it is `Sync`).
pub struct TreeCache {
    max_leaves: usize,
    lru: Mutex<Lru>,
    build: tokio::sync::Mutex<()>,
}

impl TreeCache {
    /// A cache holding at most `max_leaves` leaves in total; 0 keeps nothing.
    pub fn new(max_leaves: usize) -> TreeCache {
        TreeCache {
            max_leaves,
            lru: Mutex::new(Lru { map: LinkedHashMap::new(), stats: CacheStats::default() }),
            build: tokio::sync::Mutex::new(()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Lru> {
        // The map is consistent between statements, so a panic elsewhere cannot leave it torn.
        self.lru.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The entry of `key`, now the most recently used.
    pub fn get(&self, key: &TreeKey) -> Option<Arc<CachedTree>> {
        let mut lru = self.lock();
        let hit = lru.map.to_back(key).cloned();
        if hit.is_some() {
            lru.stats.hits += 1;
        }
        hit
    }

    /// Stores `tree` under `key` as the most recently used, evicting the least recently used
    /// entries until the bound holds. A tree larger than the whole bound is not kept (false).
    pub fn insert(&self, key: TreeKey, tree: Arc<CachedTree>) -> bool {
        let weight = tree.leaves();
        let mut lru = self.lock();
        if let Some(old) = lru.map.remove(&key) {
            lru.stats.leaves -= old.leaves();
        }
        if weight > self.max_leaves {
            lru.stats.entries = lru.map.len();
            return false;
        }
        while lru.stats.leaves + weight > self.max_leaves {
            match lru.map.pop_front() {
                Some((_, evicted)) => lru.stats.leaves -= evicted.leaves(),
                None => break,
            }
        }
        lru.map.insert(key, tree);
        lru.stats.leaves += weight;
        lru.stats.entries = lru.map.len();
        true
    }

    /// The entry of `key`, built with `build` on a miss (one cold build at a time; the cache
    /// is checked again once the build lock is held). The flag is true on a cache hit.
    pub async fn get_or_build<F, Fut, E>(&self, key: &TreeKey, build: F) -> Result<(Arc<CachedTree>, bool), E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<CachedTree, E>>,
    {
        if let Some(hit) = self.get(key) {
            return Ok((hit, true));
        }
        let _building = self.build.lock().await;
        if let Some(hit) = self.get(key) {
            return Ok((hit, true));
        }
        let built = Arc::new(build().await?);
        self.lock().stats.builds += 1;
        self.insert(key.clone(), built.clone());
        Ok((built, false))
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> CacheStats {
        self.lock().stats
    }

    /// The bound given at creation: leaves held at most over all entries.
    pub fn max_leaves(&self) -> usize {
        self.max_leaves
    }
}

impl Default for TreeCache {
    fn default() -> Self {
        TreeCache::new(DEFAULT_MAX_LEAVES)
    }
}

impl std::fmt::Debug for TreeCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TreeCache").field("max_leaves", &self.max_leaves).field("stats", &self.stats()).finish()
    }
}

#[cfg(test)]
#[path = "proofs_cache_tests.rs"]
mod tests;
