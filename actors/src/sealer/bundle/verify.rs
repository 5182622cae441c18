//! Verifying a publish bundle without trusting any of it: read as a stream (each entry's proofs
//! are folded as it arrives and only a few hashes per entry are kept), then both trees are
//! rebuilt from the entries' leaves, every proof is checked with the on-chain fold and against
//! the rebuilt tree (so reordered or renumbered entries are caught), every named entry's hashes
//! are re-derived from its login, amount and id, and the counts, total, dataset hash, channel
//! key, longest proof and the target program's limits are recomputed. The first bad entry is
//! named. Entries of users who opted out carry only hashes and are taken as given.

use std::fmt;
use std::io::Read;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

use super::FORMAT;
use crate::format::{channel_key, claim_id, claim_leaf, hash_pair, keccak256, participation_leaf, user_hash, Hash32};
use crate::sealer::limits::ProgramLimits;
use crate::sealer::merkle::MerkleTree;

/// Why a bundle is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Not a bundle at all (JSON syntax, a missing field, a wrong type, another format): exit 64.
    #[error("malformed bundle: {0}")]
    Malformed(String),
    /// A bundle whose content does not hold: exit 1. `entry` names the first bad entry.
    #[error("{}{message}", entry.map(|i| format!("entry {i}: ")).unwrap_or_default())]
    Invalid {
        /// Index of the first bad entry; None when the header is at fault.
        entry: Option<usize>,
        /// What does not hold.
        message: String,
    },
}

fn bad(entry: usize, message: impl Into<String>) -> VerifyError {
    VerifyError::Invalid { entry: Some(entry), message: message.into() }
}

fn bad_header(message: impl Into<String>) -> VerifyError {
    VerifyError::Invalid { entry: None, message: message.into() }
}

/// What a valid bundle holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Epoch start, Unix seconds.
    pub epoch: u64,
    /// The channel login, as the bundle names it.
    pub channel: String,
    /// The participation root, rebuilt from the entries and equal to the header's.
    pub root: Hash32,
    /// The claim root, rebuilt from the entries and equal to the header's.
    pub claim_root: Hash32,
    /// Entries, i.e. leaves of the participation tree.
    pub participants: usize,
    /// Leaves of the claim tree (fewer than `participants` when the claim cap cut some).
    pub claim_count: usize,
    /// Entries that carried only hashes (opted-out users).
    pub hidden: usize,
    /// Sum of the claim tree's amounts, base units.
    pub total_amount: u128,
    /// The longest proof over both trees, nodes.
    pub max_proof_len: usize,
    /// The limit warnings the bundle carried, as written by the daemon.
    pub warnings: Vec<String>,
}

/// One entry as written (hashes still text, so a non-canonical one is named, not malformed).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    index: u64,
    #[serde(default)]
    login: Option<String>,
    #[serde(default)]
    user_hash: Option<String>,
    leaf: String,
    proof: Vec<String>,
    #[serde(default)]
    amount: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    claim_leaf: Option<String>,
    #[serde(default)]
    claim_proof: Option<Vec<String>>,
}

/// A proof, kept as: the leaf, where the on-chain fold ends, a digest of the siblings, and how many.
#[derive(Clone, Copy)]
struct Folded {
    leaf: Hash32,
    fold: Hash32,
    digest: Hash32,
    len: usize,
}

struct Named {
    login: String,
    user_hash: Hash32,
    id: String,
    amount: Option<u64>,
}

/// What is kept of one entry while the rest of the bundle is read.
struct Kept {
    index: u64,
    named: Option<Named>,
    part: Folded,
    claim: Option<Folded>,
    /// The first thing wrong with the entry found while reading it.
    problem: Option<String>,
}

/// `0x` + 64 lowercase hex: the only form a bundle writes (any other spelling is a changed byte).
fn canonical_hash(what: &str, s: &str) -> Result<Hash32, String> {
    let digits = s
        .strip_prefix("0x")
        .filter(|d| d.len() == 64 && d.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    let Some(digits) = digits else {
        return Err(format!("{what} {s:?} is not 0x + 64 lowercase hex digits"));
    };
    let mut out = [0u8; 32];
    ::hex::decode_to_slice(digits, &mut out).map_err(|e| format!("{what} {s:?}: {e}"))?;
    Ok(out)
}

fn fold(what: &str, leaf: &str, proof: &[String]) -> Result<Folded, String> {
    let leaf = canonical_hash(what, leaf)?;
    let mut h = leaf;
    let mut all = Vec::with_capacity(proof.len() * 32);
    for (k, s) in proof.iter().enumerate() {
        let s = canonical_hash(&format!("{what} proof node {k}"), s)?;
        h = hash_pair(&h, &s);
        all.extend_from_slice(&s);
    }
    Ok(Folded { leaf, fold: h, digest: keccak256(&all), len: proof.len() })
}

fn digest_of(tree: &MerkleTree, i: usize) -> Hash32 {
    keccak256(&tree.proof(i).unwrap_or_default().concat())
}

impl Kept {
    fn of(raw: RawEntry) -> Kept {
        let mut problem = None;
        let mut note = |r: Result<(), String>| {
            if let (Err(e), None) = (r, &problem) {
                problem = Some(e);
            }
        };
        let part = fold("leaf", &raw.leaf, &raw.proof).unwrap_or_else(|e| {
            note(Err(e));
            Folded { leaf: [0; 32], fold: [0; 32], digest: [0; 32], len: raw.proof.len() }
        });
        let claim = match (&raw.claim_leaf, &raw.claim_proof) {
            (Some(l), Some(p)) => match fold("claim_leaf", l, p) {
                Ok(f) => Some(f),
                Err(e) => {
                    note(Err(e));
                    None
                }
            },
            (None, None) => None,
            _ => {
                note(Err("has a claim_leaf without a claim_proof, or the other way round".into()));
                None
            }
        };
        let amount = match &raw.amount {
            None => None,
            Some(a) => match a.parse::<u64>() {
                Ok(v) if v.to_string() == *a => Some(v),
                _ => {
                    note(Err(format!("amount {a:?} is not a canonical u64 decimal")));
                    None
                }
            },
        };
        let named = match (raw.login, raw.user_hash, raw.id) {
            (Some(login), Some(uh), Some(id)) => match canonical_hash("user_hash", &uh) {
                Ok(user_hash) => Some(Named { login, user_hash, id, amount }),
                Err(e) => {
                    note(Err(e));
                    None
                }
            },
            (None, None, None) if raw.amount.is_none() => None,
            _ => {
                note(Err("carries some of login, user_hash, amount and id but not all of login, user_hash and id \
                     (a named entry has all three; an opted-out user's entry none)"
                    .into()));
                None
            }
        };
        Kept { index: raw.index, named, part, claim, problem }
    }
}

/// The `entries` array, read one entry at a time.
struct Entries(Vec<Kept>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of bundle entries")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Entries, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                loop {
                    let at = out.len();
                    match seq.next_element::<RawEntry>() {
                        Ok(Some(raw)) => out.push(Kept::of(raw)),
                        Ok(None) => return Ok(Entries(out)),
                        Err(e) => return Err(de::Error::custom(format!("entry {at}: {e}"))),
                    }
                }
            }
        }
        d.deserialize_seq(V)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBundle {
    format: String,
    epoch: u64,
    channel: String,
    channel_key: String,
    root: String,
    claim_root: String,
    participants: u64,
    claim_count: u64,
    claim_cut: u64,
    total_amount: String,
    max_proof_len: u64,
    dataset_hash: String,
    #[allow(dead_code)]
    sealed_at: i64,
    #[allow(dead_code)]
    coverage: f64,
    #[serde(default)]
    warnings: Vec<String>,
    entries: Entries,
}

/// Reads and checks a bundle; `limits` are the target program's (`--max-claims`,
/// `--max-proof-len`), checked when given.
pub fn verify_bundle(reader: impl Read, limits: &ProgramLimits) -> Result<Verified, VerifyError> {
    let raw: RawBundle = serde_json::from_reader(std::io::BufReader::with_capacity(1 << 16, reader))
        .map_err(|e| VerifyError::Malformed(e.to_string()))?;
    if raw.format != FORMAT {
        return Err(VerifyError::Malformed(format!("format {:?} is not {FORMAT:?}", raw.format)));
    }
    let head = |what: &str, s: &str| canonical_hash(what, s).map_err(bad_header);
    let root = head("root", &raw.root)?;
    let claim_root = head("claim_root", &raw.claim_root)?;
    let entries = raw.entries.0;
    if entries.is_empty() {
        return Err(bad_header("no entries: an empty seal has no bundle"));
    }
    let (epoch, channel) = (raw.epoch, raw.channel.as_str());

    // Pass 1, each entry on its own: its place, its form, and every hash its named values give.
    let mut known_total: u128 = 0;
    let mut hidden_claims = 0usize;
    let mut hidden = 0usize;
    let mut claims = 0usize;
    for (i, e) in entries.iter().enumerate() {
        if e.index != i as u64 {
            return Err(bad(i, format!("holds index {} at position {i}: entries must be in index order 0, 1, 2, ... with none dropped or repeated", e.index)));
        }
        if let Some(p) = &e.problem {
            return Err(bad(i, p.clone()));
        }
        // Claim entries come first (the cap cuts the last ones); their count is the claim tree's.
        match (e.claim.is_some(), claims == i) {
            (true, true) => claims += 1,
            (true, false) => return Err(bad(i, format!("has a claim leaf after entry {claims}, which has none: the claim tree holds a prefix of the entries"))),
            (false, _) => {}
        }
        match &e.named {
            Some(n) => {
                if n.login != n.login.to_ascii_lowercase() || user_hash(&n.login) != n.user_hash {
                    return Err(bad(
                        i,
                        format!(
                            "user_hash 0x{} is not keccak256 of the lowercase login {:?}",
                            ::hex::encode(n.user_hash),
                            n.login
                        ),
                    ));
                }
                if participation_leaf(&n.user_hash, channel, epoch) != e.part.leaf {
                    return Err(bad(
                        i,
                        format!(
                            "leaf 0x{} is not the participation leaf of {:?} in #{channel} at epoch {epoch}",
                            ::hex::encode(e.part.leaf),
                            n.login
                        ),
                    ));
                }
                let want_id = claim_id(channel, &n.login);
                if n.id != want_id {
                    return Err(bad(i, format!("id {:?} is not {want_id:?}", n.id)));
                }
                match (e.claim, n.amount) {
                    (Some(c), Some(amount)) => {
                        if claim_leaf(i as u32, amount, &n.id) != c.leaf {
                            return Err(bad(
                                i,
                                format!(
                                    "claim_leaf 0x{} is not the claim leaf of index {i}, amount {amount}, id {:?}",
                                    ::hex::encode(c.leaf),
                                    n.id
                                ),
                            ));
                        }
                        known_total += u128::from(amount);
                    }
                    (None, None) => {}
                    (Some(_), None) => return Err(bad(i, "is in the claim tree but has no amount")),
                    (None, Some(_)) => return Err(bad(i, "has an amount but no claim leaf")),
                }
            }
            None => {
                hidden += 1;
                hidden_claims += usize::from(e.claim.is_some());
            }
        }
        let len = e.part.len.max(e.claim.map_or(0, |c| c.len));
        if let Some(max) = limits.max_proof_len.filter(|m| (len as u64) > *m) {
            return Err(bad(
                i,
                format!("a proof of {len} nodes is longer than the program allows (--max-proof-len {max})"),
            ));
        }
    }

    // Pass 2, against the trees the entries rebuild.
    let tree =
        MerkleTree::build(entries.iter().map(|e| e.part.leaf).collect()).ok_or_else(|| bad_header("no leaves"))?;
    let claim_tree = MerkleTree::build(entries[..claims].iter().filter_map(|e| e.claim.map(|c| c.leaf)).collect())
        .ok_or_else(|| bad_header("no entry has a claim leaf: the claim tree is empty"))?;
    // When every proof folds to the rebuilt root and that differs from the header's, the header
    // is what changed; otherwise the entry whose proof does not fold is.
    if tree.root() != root && entries.iter().all(|e| e.part.fold == tree.root()) {
        return Err(bad_header(format!(
            "root {} is not the root the entries rebuild, 0x{}",
            raw.root,
            ::hex::encode(tree.root())
        )));
    }
    if claim_tree.root() != claim_root
        && entries[..claims].iter().all(|e| e.claim.is_some_and(|c| c.fold == claim_tree.root()))
    {
        return Err(bad_header(format!(
            "claim_root {} is not the root the claim entries rebuild, 0x{}",
            raw.claim_root,
            ::hex::encode(claim_tree.root())
        )));
    }
    // Each proof must fold to the header's root (a changed leaf or node shows in its own entry)
    // before the proofs are compared with the rebuilt trees (a moved entry shows where it landed).
    for (i, e) in entries.iter().enumerate() {
        if e.part.fold != root {
            return Err(bad(
                i,
                format!("proof of leaf 0x{} does not fold to the root {}", ::hex::encode(e.part.leaf), raw.root),
            ));
        }
        if let Some(c) = e.claim.filter(|c| c.fold != claim_root) {
            return Err(bad(
                i,
                format!(
                    "claim_proof of claim leaf 0x{} does not fold to the claim_root {}",
                    ::hex::encode(c.leaf),
                    raw.claim_root
                ),
            ));
        }
    }
    let mut longest = 0usize;
    for (i, e) in entries.iter().enumerate() {
        if e.part.digest != digest_of(&tree, i) {
            return Err(bad(i, format!("proof is not the proof of index {i} in the tree the entries rebuild (an entry moved or was renumbered)")));
        }
        if e.claim.is_some_and(|c| c.digest != digest_of(&claim_tree, i)) {
            return Err(bad(
                i,
                format!("claim_proof is not the proof of index {i} in the claim tree the entries rebuild"),
            ));
        }
        longest = longest.max(e.part.len.max(e.claim.map_or(0, |c| c.len)));
    }

    let n = entries.len();
    if raw.participants != n as u64 {
        return Err(bad_header(format!("participants {} but the bundle holds {n} entries", raw.participants)));
    }
    if raw.claim_count != claims as u64 || raw.claim_cut != (n - claims) as u64 {
        return Err(bad_header(format!(
            "claim_count {} and claim_cut {} but {claims} entries are in the claim tree and {} past it",
            raw.claim_count,
            raw.claim_cut,
            n - claims
        )));
    }
    let total: u128 = match raw.total_amount.parse::<u128>() {
        Ok(t) if t.to_string() == raw.total_amount => t,
        _ => return Err(bad_header(format!("total_amount {:?} is not a canonical decimal", raw.total_amount))),
    };
    if hidden_claims == 0 && total != known_total {
        return Err(bad_header(format!(
            "total_amount {total} is not the sum of the claim tree's amounts, {known_total}"
        )));
    }
    if hidden_claims > 0 && total < known_total {
        return Err(bad_header(format!(
            "total_amount {total} is below the sum of the named claim amounts alone, {known_total}"
        )));
    }
    let dataset = keccak256(&claim_tree.leaves().concat());
    if head("dataset_hash", &raw.dataset_hash)? != dataset {
        return Err(bad_header(format!(
            "dataset_hash {} is not keccak256 of the claim leaves, 0x{}",
            raw.dataset_hash,
            ::hex::encode(dataset)
        )));
    }
    let key = channel_key(channel);
    if head("channel_key", &raw.channel_key)? != key || channel != channel.to_ascii_lowercase() {
        return Err(bad_header(format!(
            "channel_key {} is not keccak256(\"twitch:\" + {channel:?}), 0x{}",
            raw.channel_key,
            ::hex::encode(key)
        )));
    }
    if raw.max_proof_len != longest as u64 {
        return Err(bad_header(format!(
            "max_proof_len {} but the longest proof has {longest} nodes",
            raw.max_proof_len
        )));
    }
    if let Some(max) = limits.max_claim_leaves.filter(|m| claims as u64 > *m) {
        return Err(bad_header(format!(
            "the claim tree holds {claims} claims, more than the program allows (--max-claims {max})"
        )));
    }
    Ok(Verified {
        epoch,
        channel: raw.channel,
        root,
        claim_root,
        participants: n,
        claim_count: claims,
        hidden,
        total_amount: total,
        max_proof_len: longest,
        warnings: raw.warnings,
    })
}
