//! Building a seal from the participants of one (epoch, channel): who is left out (bots, the
//! opted-out, optionally the broadcaster), the frozen leaf order, the participation tree, the
//! claim tree and amounts. Pure: rows in, the rows to write out. The byte formats themselves
//! live in `merkle` only.
//!
//! The claim cap (`max_claim_leaves`) never silently drops anyone: the participation tree
//! still holds every participant, the claim tree holds the first `cap` in the frozen order, and
//! the number left out is recorded in the seal (`NewSeal::claim_cut`). Every participant keeps
//! its stored claim leaf and amount (computed at its index), so a cut participant's row says
//! what it would have claimed; only the claim root leaves it out.

use std::collections::HashSet;

use chatseal_schema::{NewSeal, ParticipantRow, SealedParticipant};

use super::merkle::{claim_amount, AmountError, CentiWeights, MerkleTree};
use crate::format::{claim_id, claim_leaf, parse_hash, participation_leaf, to_hex, Hash32};

/// Version of the sealing format written with each seal (merkle.md as of this code).
pub const FORMAT_VERSION: i32 = 1;

/// How amounts are computed and who is left out.
#[derive(Debug, Clone)]
pub struct SealConfig {
    /// `[sealing.centiweights]`: each participant's weight, in hundredths.
    pub weights: CentiWeights,
    /// `sealing.reward_per_weight`: reward units per whole weight.
    pub reward_per_weight: u64,
    /// `sealing.decimals`: decimal places of the reward token (amounts are in base units).
    pub decimals: u32,
    /// Lowercase logins never sealed (bots), on top of the opt-outs.
    pub excluded: HashSet<String>,
    /// Largest number of leaves in a claim tree (the on-chain claim limit); `None` or
    /// `Some(0)`: no cap.
    pub max_claim_leaves: Option<u32>,
    /// Leave the channel's own broadcaster (the channel login) out of both trees.
    pub exclude_broadcaster: bool,
}

impl SealConfig {
    /// Is `login` (any case) left out of the seals of `channel`.
    pub fn leaves_out(&self, channel: &str, login: &str) -> bool {
        let login = login.to_ascii_lowercase();
        (self.exclude_broadcaster && login == channel.trim_start_matches('#').to_ascii_lowercase())
            || self.excluded.contains(&login)
    }

    /// How many of `participants` the claim tree holds under the cap.
    pub fn claim_leaves_of(&self, participants: usize) -> usize {
        match self.max_claim_leaves {
            Some(cap) if cap > 0 => participants.min(cap as usize),
            _ => participants,
        }
    }
}

/// Why a seal could not be built; nothing is written.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A participant's weight or claim amount overflows.
    #[error("participant {login} of epoch {epoch} in #{channel}: {source}")]
    Amount {
        /// The participant's login.
        login: String,
        /// The epoch's start, Unix seconds.
        epoch: i64,
        /// The channel.
        channel: String,
        /// Which sum or product overflowed.
        source: AmountError,
    },
    /// A stored user hash is not a hash: the store is damaged.
    #[error("stored user hash {0:?} is not 64 hex characters: the store is damaged; run `chatseal doctor`")]
    BadHash(String),
    /// More participants than the claim format's u32 index can number.
    #[error("{0} participants exceed the u32 leaf index of the claim format")]
    TooMany(usize),
}

/// Participants from which a seal's leaves and trees are computed on two threads (below it
/// the threads cost more than they save).
const PARALLEL_FROM: usize = 4096;

/// The frozen leaves of a run of participants, in order.
struct Frozen {
    leaves: Vec<Hash32>,
    claim_leaves: Vec<Hash32>,
    participants: Vec<SealedParticipant>,
}

impl Frozen {
    fn with_capacity(n: usize) -> Frozen {
        Frozen {
            leaves: Vec::with_capacity(n),
            claim_leaves: Vec::with_capacity(n),
            participants: Vec::with_capacity(n),
        }
    }
}

/// The leaves of `rows`, the participants at frozen indexes `first`, `first + 1`, ...
fn freeze(
    epoch: i64,
    channel: &str,
    first: usize,
    rows: Vec<ParticipantRow>,
    cfg: &SealConfig,
) -> Result<Frozen, BuildError> {
    let mut out = Frozen::with_capacity(rows.len());
    for (i, r) in rows.into_iter().enumerate() {
        let i = first + i;
        let uh = parse_hash(&r.user_hash).map_err(|_| BuildError::BadHash(r.user_hash.clone()))?;
        let leaf = participation_leaf(&uh, channel, epoch as u64);
        let sums = r.signals.map(|_, v| v.max(0) as u64);
        let amount = claim_amount(&cfg.weights, &sums, cfg.reward_per_weight, cfg.decimals).map_err(|source| {
            BuildError::Amount { login: r.login.clone(), epoch, channel: channel.to_string(), source }
        })?;
        let login = r.login.to_ascii_lowercase();
        let cleaf = claim_leaf(i as u32, amount, &claim_id(channel, &login));
        out.leaves.push(leaf);
        out.claim_leaves.push(cleaf);
        out.participants.push(SealedParticipant {
            idx: i as i64,
            user_hash: r.user_hash,
            login,
            leaf: to_hex(&leaf),
            amount: amount.to_string(),
            claim_leaf: to_hex(&cleaf),
        });
    }
    Ok(out)
}

/// Builds the rows of a seal. `opted_out` holds user hashes (hex) that are left out.
pub fn build_seal(
    epoch: i64,
    channel: &str,
    mut rows: Vec<ParticipantRow>,
    cfg: &SealConfig,
    opted_out: &HashSet<String>,
    coverage: f64,
    sealed_at: i64,
) -> Result<NewSeal, BuildError> {
    rows.retain(|r| !opted_out.contains(&r.user_hash) && !cfg.leaves_out(channel, &r.login));
    // The frozen order: first_seen ascending, then user_hash ascending (hex order = byte order).
    rows.sort_by(|a, b| a.first_seen.cmp(&b.first_seen).then_with(|| a.user_hash.cmp(&b.user_hash)));
    if rows.len() > u32::MAX as usize {
        return Err(BuildError::TooMany(rows.len()));
    }
    // Each participant's leaves are independent of the others': a large seal computes them in
    // two halves on two threads (keccak is most of the build), then builds the two trees at
    // the same time.
    let n = rows.len();
    let built: Vec<Result<Frozen, BuildError>> = if n >= PARALLEL_FROM {
        let second = rows.split_off(n / 2);
        let first = rows;
        std::thread::scope(|s| {
            let later = s.spawn(|| freeze(epoch, channel, n / 2, second, cfg));
            let earlier = freeze(epoch, channel, 0, first, cfg);
            vec![earlier, later.join().unwrap_or_else(|p| std::panic::resume_unwind(p))]
        })
    } else {
        vec![freeze(epoch, channel, 0, rows, cfg)]
    };
    let mut frozen = Frozen::with_capacity(n);
    for half in built {
        let half = half?;
        frozen.leaves.extend(half.leaves);
        frozen.claim_leaves.extend(half.claim_leaves);
        frozen.participants.extend(half.participants);
    }
    let Frozen { leaves, mut claim_leaves, participants } = frozen;
    let in_claim_tree = cfg.claim_leaves_of(claim_leaves.len());
    let claim_cut = (claim_leaves.len() - in_claim_tree) as i64;
    claim_leaves.truncate(in_claim_tree);
    let (root, claim_root) = if leaves.len() >= PARALLEL_FROM {
        std::thread::scope(|s| {
            let claim = s.spawn(|| MerkleTree::build(claim_leaves).map(|t| t.root()));
            let root = MerkleTree::build(leaves).map(|t| t.root());
            (root, claim.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
        })
    } else {
        (MerkleTree::build(leaves).map(|t| t.root()), MerkleTree::build(claim_leaves).map(|t| t.root()))
    };
    let (root, claim_root) = (root.map(|r| to_hex(&r)), claim_root.map(|r| to_hex(&r)));
    Ok(NewSeal {
        epoch,
        channel: channel.to_string(),
        root,
        claim_root,
        coverage,
        sealed_at,
        format_version: FORMAT_VERSION,
        claim_cut,
        participants,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::user_hash;
    use crate::sealer::merkle::verify;
    use chatseal_schema::{SignalKind, Signals};

    fn row(login: &str, first_seen: i64) -> ParticipantRow {
        ParticipantRow {
            user_hash: to_hex(&user_hash(login)),
            login: login.into(),
            first_seen,
            last_seen: first_seen,
            signals: Signals::default().with(SignalKind::Message, 1),
        }
    }

    fn cfg() -> SealConfig {
        SealConfig {
            weights: CentiWeights::default(),
            reward_per_weight: 80,
            decimals: 9,
            excluded: ["nightbot".to_string()].into(),
            max_claim_leaves: None,
            exclude_broadcaster: false,
        }
    }

    fn tree_of(hexes: impl Iterator<Item = String>) -> MerkleTree {
        MerkleTree::build(hexes.map(|h| parse_hash(&h).unwrap()).collect()).unwrap()
    }

    #[test]
    fn order_leaves_and_amounts() {
        let mut sub = row("carol", 5);
        sub.signals[SignalKind::Sub] = 1;
        let rows = vec![row("bob", 10), sub, row("alice", 10), row("nightbot", 1)];
        let s = build_seal(3600, "chan", rows, &cfg(), &HashSet::new(), 1.0, 99).unwrap();
        // carol first (earliest), then alice/bob ordered by user hash; nightbot excluded.
        assert_eq!(s.participants.len(), 3);
        assert_eq!(s.participants[0].login, "carol");
        let (a, b) = (to_hex(&user_hash("alice")), to_hex(&user_hash("bob")));
        let expect_second = if a < b { "alice" } else { "bob" };
        assert_eq!(s.participants[1].login, expect_second);
        // 1 sub: centiweight 1100 -> 11 * 80 * 10^9
        assert_eq!(s.participants[0].amount, (11u64 * 80 * 1_000_000_000).to_string());
        assert_eq!(s.participants[1].amount, (80u64 * 1_000_000_000).to_string());
        let leaf0 = participation_leaf(&user_hash("carol"), "chan", 3600);
        assert_eq!(s.participants[0].leaf, to_hex(&leaf0));
        let tree = MerkleTree::build(s.participants.iter().map(|p| parse_hash(&p.leaf).unwrap()).collect()).unwrap();
        assert_eq!(s.root.as_deref(), Some(to_hex(&tree.root()).as_str()));
        assert!(verify(&tree.root(), &leaf0, &tree.proof(0).unwrap()));
    }

    #[test]
    fn empty_and_opted_out() {
        let s = build_seal(0, "c", vec![], &cfg(), &HashSet::new(), 0.5, 1).unwrap();
        assert!(s.root.is_none() && s.claim_root.is_none() && s.participants.is_empty());
        let opted: HashSet<String> = [to_hex(&user_hash("alice"))].into();
        let s = build_seal(0, "c", vec![row("alice", 1)], &cfg(), &opted, 0.5, 1).unwrap();
        assert!(s.root.is_none());
    }

    #[test]
    fn the_broadcaster_is_left_out_only_when_configured() {
        let rows = || vec![row("Chan", 1), row("alice", 2)];
        let kept = build_seal(0, "chan", rows(), &cfg(), &HashSet::new(), 1.0, 1).unwrap();
        assert_eq!(kept.participants.len(), 2);
        let c = SealConfig { exclude_broadcaster: true, ..cfg() };
        let s = build_seal(0, "chan", rows(), &c, &HashSet::new(), 1.0, 1).unwrap();
        let logins: Vec<&str> = s.participants.iter().map(|p| p.login.as_str()).collect();
        assert_eq!(logins, ["alice"]);
        assert_eq!(s.participants[0].idx, 0);
        // The broadcaster of another channel is an ordinary viewer here.
        assert!(!c.leaves_out("chan", "otherchan") && c.leaves_out("chan", "CHAN"));
    }

    #[test]
    fn a_claim_cap_cuts_the_claim_tree_and_records_the_cut() {
        let rows: Vec<ParticipantRow> = (0..5).map(|i| row(&format!("user{i}"), i)).collect();
        let uncapped = build_seal(7200, "c", rows.clone(), &cfg(), &HashSet::new(), 1.0, 1).unwrap();
        assert_eq!(uncapped.claim_cut, 0);
        let c = SealConfig { max_claim_leaves: Some(3), ..cfg() };
        let s = build_seal(7200, "c", rows.clone(), &c, &HashSet::new(), 1.0, 1).unwrap();
        // Everyone is in the participation tree, with the same root as without a cap.
        assert_eq!(s.participants.len(), 5);
        assert_eq!(s.root, uncapped.root);
        assert_eq!(s.participants, uncapped.participants);
        // The claim tree holds the first 3 in the frozen order; the cut of 2 is recorded.
        assert_eq!(s.claim_cut, 2);
        let claim = tree_of(s.participants[..3].iter().map(|p| p.claim_leaf.clone()));
        assert_eq!(s.claim_root.as_deref(), Some(to_hex(&claim.root()).as_str()));
        assert_ne!(s.claim_root, uncapped.claim_root);
        for i in 0..3 {
            let leaf = parse_hash(&s.participants[i].claim_leaf).unwrap();
            assert!(verify(&claim.root(), &leaf, &claim.proof(i).unwrap()));
        }
        // A cap at or above the count, or 0, cuts nothing.
        for cap in [5, 6, 0] {
            let c = SealConfig { max_claim_leaves: Some(cap), ..cfg() };
            let s = build_seal(7200, "c", rows.clone(), &c, &HashSet::new(), 1.0, 1).unwrap();
            assert_eq!((s.claim_cut, &s.claim_root), (0, &uncapped.claim_root), "cap {cap}");
        }
        // The cut counts only those sealed: exclusions come first.
        let mut with_bots = rows.clone();
        with_bots.push(row("nightbot", 0));
        let c = SealConfig { max_claim_leaves: Some(4), ..cfg() };
        let s = build_seal(7200, "c", with_bots, &c, &HashSet::new(), 1.0, 1).unwrap();
        assert_eq!((s.participants.len(), s.claim_cut), (5, 1));
        let empty = build_seal(7200, "c", vec![], &c, &HashSet::new(), 1.0, 1).unwrap();
        assert_eq!((empty.claim_cut, empty.claim_root), (0, None));
    }
}
