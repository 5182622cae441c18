//! Proofs from sealed rows: the JSON objects the HTTP API and `chatseal proof` print. Trees are
//! built from the frozen leaves stored at sealing (never from live participation), and only
//! from rows that hash to the seal's digest and fold to its roots, so a proof always folds to
//! the sealed root and never comes from a damaged seal, however far the start-up digest check
//! has got. Built trees live in a [`TreeCache`] with their seal's row (and a claim tree with its
//! amounts): a warm proof touches no store, the opt-out is answered by [`OptOuts`] in memory
//! while it is current, and the seals found damaged ([`DamagedSeals`]) are refused. A cold
//! proof reads the seal's row, the opt-out and the seal's rows once. Opted-out users are
//! refused for every epoch, sealed before or after.

use std::sync::Arc;
use std::time::Instant;

use chatseal_actors::format::{claim_id, parse_hash, to_hex, to_hex0x, user_hash, Hash32};
use chatseal_actors::sealer::limits::{limit_warnings, ProgramLimits};
use chatseal_actors::sealer::merkle::MerkleTree;
use chatseal_schema::queries::publish::Publication;
use chatseal_schema::{seal_rows_match, SealedEpoch, Store, StoreError};
use serde::Serialize;

use crate::damaged_seals::DamagedSeals;
use crate::opt_outs::OptOuts;
use crate::proofs_cache::{CachedTree, TreeCache, TreeKey, TreeKind};

/// Why no proof can be given; each maps to an HTTP status and error code.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    /// No seal is stored for (epoch, channel): the hour is still open, empty, or unknown (HTTP 404).
    #[error("epoch {epoch} of #{channel} is not sealed yet")]
    NotSealed {
        /// Start of the asked epoch, Unix seconds.
        epoch: i64,
        /// Lowercase channel login, without `#`.
        channel: String,
    },
    /// The seal exists but `login` is not among its participants.
    #[error("{login} did not take part in #{channel} during epoch {epoch}")]
    NotParticipant {
        /// Start of the epoch, Unix seconds.
        epoch: i64,
        /// Lowercase channel login, without `#`.
        channel: String,
        /// The asked login, ASCII-lowercased.
        login: String,
    },
    /// `login` is in the participation tree but past the claim cap, so it has no claim leaf.
    #[error(
        "{login} took part in #{channel} during epoch {epoch} at index {index}, but the claim tree of that epoch holds only the first {cap} participants: the claim cap (sealing.max_claim_leaves) left {cut} out"
    )]
    NotInClaimTree {
        /// Start of the epoch, Unix seconds.
        epoch: i64,
        /// Lowercase channel login, without `#`.
        channel: String,
        /// The asked login, ASCII-lowercased.
        login: String,
        /// The user's index in the participation tree (0-based, frozen at sealing).
        index: i64,
        /// Leaves the claim tree holds: participants minus `cut`.
        cap: i64,
        /// Participants the cap left out of the claim tree (the last ones by index).
        cut: i64,
    },
    /// The seal was imported from the old system (format version 0): its root is kept but its
    /// leaves cannot be rebuilt, so no participation proof exists.
    #[error("epoch {epoch} of #{channel} was imported from the old system and its leaves cannot be reproduced from the stored rows: its root is kept as it was, but no proof can be built")]
    LegacySeal {
        /// Start of the epoch, Unix seconds.
        epoch: i64,
        /// Lowercase channel login, without `#`.
        channel: String,
    },
    /// The seal has participants but no claim root (an import from the old system).
    #[error("epoch {epoch} of #{channel} has no claim tree (imported from the old system, which sealed none)")]
    NoClaimTree {
        /// Start of the epoch, Unix seconds.
        epoch: i64,
        /// Lowercase channel login, without `#`.
        channel: String,
    },
    /// The user opted out; refused for every epoch, sealed before or after the opt-out.
    #[error("{login} opted out; no proofs are served for them")]
    OptedOut {
        /// The asked login, ASCII-lowercased.
        login: String,
    },
    /// The stored rows contradict the seal (wrong count, index gap, leaves that do not fold to
    /// the sealed root, ...): the store needs `chatseal doctor`.
    #[error("the sealed rows of epoch {epoch} #{channel} are damaged ({detail}); run `chatseal doctor`")]
    Damaged {
        /// Start of the epoch, Unix seconds.
        epoch: i64,
        /// Lowercase channel login, without `#`.
        channel: String,
        /// What was found wrong, for the operator.
        detail: String,
    },
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ProofError {
    /// The stable machine-readable error code sent in HTTP error bodies (`"not_sealed"`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            ProofError::NotSealed { .. } => "not_sealed",
            ProofError::NotParticipant { .. } => "not_participant",
            ProofError::NotInClaimTree { .. } => "not_in_claim_tree",
            ProofError::LegacySeal { .. } => "legacy_seal",
            ProofError::NoClaimTree { .. } => "no_claim_tree",
            ProofError::OptedOut { .. } => "opted_out",
            ProofError::Damaged { .. } => "damaged",
            ProofError::Store(_) => "store_unavailable",
        }
    }
}

/// One sealed (epoch, channel) as `GET /v1/epochs/{epoch}/{channel}` returns it.
#[derive(Debug, Serialize)]
pub struct EpochView {
    /// Start of the epoch (the sealed hour), Unix seconds.
    pub epoch: i64,
    /// Lowercase channel login, without `#`.
    pub channel: String,
    /// Participation merkle root, `0x` + 64 hex; null exactly when the hour had no participants.
    pub root: Option<String>,
    /// Claim merkle root, `0x` + 64 hex; null when there were no participants or for an import from
    /// the old system.
    pub claim_root: Option<String>,
    /// Leaves of the participation tree: users who took part in the hour.
    pub participants: i64,
    /// When the seal was written, Unix seconds.
    pub sealed_at: i64,
    /// Fraction of the hour (0.0 to 1.0) during which the channel was being read.
    pub coverage: f64,
    /// Participants the claim cap left out of the claim tree (the last ones by index); 0 = none.
    pub claim_cut: i64,
    /// When the root's publication on chain was recorded (POST /v1/admin/published), Unix
    /// seconds; null while unpublished.
    pub published_at: Option<i64>,
    /// The transaction id of that publication; null while unpublished.
    pub tx: Option<String>,
    /// What this seal breaks or costs against the target program's limits (claim cap, proof
    /// length); empty when nothing.
    pub warnings: Vec<String>,
}

impl EpochView {
    /// The view of `e` with its publication record and its warnings under `limits`.
    pub fn of(e: SealedEpoch, publication: Option<&Publication>, limits: &ProgramLimits) -> Self {
        Self {
            warnings: limit_warnings(e.participants, e.claim_cut, limits),
            published_at: publication.map(|p| p.published_at),
            tx: publication.map(|p| p.tx.clone()),
            epoch: e.epoch,
            channel: e.channel,
            root: e.root.map(|r| format!("0x{r}")),
            claim_root: e.claim_root.map(|r| format!("0x{r}")),
            participants: e.participants,
            sealed_at: e.sealed_at,
            coverage: e.coverage,
            claim_cut: e.claim_cut,
        }
    }
}

impl From<SealedEpoch> for EpochView {
    /// Without a publication record or configured limits (the claim cut is still told).
    fn from(e: SealedEpoch) -> Self {
        EpochView::of(e, None, &ProgramLimits::default())
    }
}

/// The participation proof of one user.
#[derive(Debug, Serialize)]
pub struct ProofView {
    /// Start of the epoch, Unix seconds.
    pub epoch: i64,
    /// Lowercase channel login, without `#`.
    pub channel: String,
    /// The user's Twitch login, ASCII-lowercased.
    pub login: String,
    /// `0x` + keccak256 of the lowercase login.
    pub user_hash: String,
    /// The user's 0-based leaf index, frozen at sealing.
    pub index: i64,
    /// The participation leaf, `0x` + 64 hex.
    pub leaf: String,
    /// Sibling hashes bottom-up (`0x` + 64 hex each) that fold the leaf to `root`.
    pub proof: Vec<String>,
    /// The sealed participation root, `0x` + 64 hex.
    pub root: String,
}

/// The claim proof of one user.
#[derive(Debug, Serialize)]
pub struct ClaimView {
    /// Start of the epoch, Unix seconds.
    pub epoch: i64,
    /// Lowercase channel login, without `#`.
    pub channel: String,
    /// The user's Twitch login, ASCII-lowercased.
    pub login: String,
    /// `0x` + keccak256 of the lowercase login.
    pub user_hash: String,
    /// The user's 0-based leaf index (the same in both trees).
    pub index: i64,
    /// Claim amount in token base units, as a decimal string (a u64 does not fit a JSON number).
    pub amount: String,
    /// Claim id `twitch:<channel>:<login>`, hashed into the leaf.
    pub id: String,
    /// The claim leaf, `0x` + 64 hex.
    pub leaf: String,
    /// Sibling hashes bottom-up (`0x` + 64 hex each) that fold the leaf to `claim_root`.
    pub proof: Vec<String>,
    /// The sealed claim root, `0x` + 64 hex.
    pub claim_root: String,
}

/// What a proof is answered from: the store, and what is held in memory so a warm proof
/// needs no store access (the built trees with their seal rows, the opt-outs), and the seals
/// found damaged (refused).
#[derive(Clone, Copy)]
pub struct ProofSources<'a> {
    /// The store, read on a cold request (and for the opt-out while `opt_outs` cannot answer).
    pub store: &'a Store,
    /// Built trees, each with its seal's row.
    pub trees: &'a TreeCache,
    /// The opt-outs in memory; asked first, the store only when it cannot say.
    pub opt_outs: &'a OptOuts,
    /// Seals found not to match their digest: refused.
    pub damaged: &'a DamagedSeals,
}

/// The normalized (channel, login) of a request.
fn normalized(channel: &str, login: &str) -> (String, String) {
    (channel.trim_start_matches('#').to_ascii_lowercase(), login.to_ascii_lowercase())
}

fn damaged(sealed: &SealedEpoch, detail: impl Into<String>) -> ProofError {
    ProofError::Damaged { epoch: sealed.epoch, channel: sealed.channel.clone(), detail: detail.into() }
}

async fn opted_out(src: &ProofSources<'_>, login: &str, uh: &Hash32) -> Result<bool, ProofError> {
    match src.opt_outs.answer(login, Instant::now()) {
        Some(known) => Ok(known),
        None => Ok(src.store.is_opted_out(&to_hex(uh)).await?),
    }
}

/// The tree of `kind` of the seal (epoch, channel) for `login`, or why there is no proof:
/// from the cache with no store access when it holds the tree (and its seal row), else read
/// and built, checked against the seal's digest and roots. The refusals come in this order:
/// damaged, not sealed, opted out, empty seal, legacy seal or no claim tree.
async fn entry(
    src: &ProofSources<'_>,
    epoch: i64,
    channel: &str,
    login: &str,
    uh: &Hash32,
    kind: TreeKind,
) -> Result<Arc<CachedTree>, ProofError> {
    if src.damaged.contains(epoch, channel) {
        return Err(ProofError::Damaged {
            epoch,
            channel: channel.to_owned(),
            detail: "its stored rows do not match the seal's digest".into(),
        });
    }
    let key = TreeKey { epoch, channel: channel.to_owned(), kind };
    if let Some(hit) = src.trees.get(&key).filter(|t| t.sealed().is_some()) {
        if opted_out(src, login, uh).await? {
            return Err(ProofError::OptedOut { login: login.to_owned() });
        }
        return Ok(hit);
    }
    let sealed = src
        .store
        .sealed_epoch(epoch, channel)
        .await?
        .ok_or_else(|| ProofError::NotSealed { epoch, channel: channel.to_owned() })?;
    if opted_out(src, login, uh).await? {
        return Err(ProofError::OptedOut { login: login.to_owned() });
    }
    if sealed.participants == 0 {
        return Err(ProofError::NotParticipant { epoch, channel: channel.to_owned(), login: login.to_owned() });
    }
    match kind {
        TreeKind::Participation if sealed.format_version == 0 => {
            return Err(ProofError::LegacySeal { epoch, channel: channel.to_owned() })
        }
        TreeKind::Claim if sealed.claim_root.is_none() => {
            return Err(ProofError::NoClaimTree { epoch, channel: channel.to_owned() })
        }
        _ => {}
    }
    let (tree, _hit) = src.trees.get_or_build(&key, || build_tree(src, &sealed, kind)).await?;
    Ok(tree)
}

/// Reads the seal's frozen rows and builds one of its trees: the rows must hash to the seal's
/// digest (else the seal is reported damaged) and the tree must fold to the sealed root.
async fn build_tree(src: &ProofSources<'_>, sealed: &SealedEpoch, kind: TreeKind) -> Result<CachedTree, ProofError> {
    let rows = src.store.sealed_participants(sealed.epoch, &sealed.channel).await?;
    if !seal_rows_match(sealed, &rows) {
        let key = (sealed.epoch, sealed.channel.clone());
        src.damaged.report(src.store, std::slice::from_ref(&key), "building a proof's tree").await;
        return Err(damaged(
            sealed,
            format!(
                "its {} stored rows do not match the seal's digest (a seal of {} participants)",
                rows.len(),
                sealed.participants
            ),
        ));
    }
    let held = match kind {
        TreeKind::Participation => rows.len(),
        TreeKind::Claim => {
            if sealed.claim_cut < 0 || sealed.claim_cut >= sealed.participants.max(1) {
                return Err(damaged(
                    sealed,
                    format!("claim cut {} of {} participants", sealed.claim_cut, sealed.participants),
                ));
            }
            (sealed.participants - sealed.claim_cut) as usize
        }
    };
    let expected_root = if kind == TreeKind::Claim { sealed.claim_root.as_deref() } else { sealed.root.as_deref() };
    let parse = |h: &str| parse_hash(h).map_err(|e| damaged(sealed, e.to_string()));
    let mut leaves = Vec::with_capacity(held);
    let mut amounts = Vec::with_capacity(if kind == TreeKind::Claim { held } else { 0 });
    let mut users = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        if r.idx != i as i64 {
            return Err(damaged(sealed, format!("row {i} holds index {}", r.idx)));
        }
        users.push(parse(&r.user_hash)?);
        if i >= held {
            continue;
        }
        if kind == TreeKind::Claim {
            leaves.push(parse(&r.claim_leaf)?);
            amounts
                .push(r.amount.parse::<u64>().map_err(|_| damaged(sealed, format!("row {i}: amount {:?}", r.amount)))?);
        } else {
            leaves.push(parse(&r.leaf)?);
        }
    }
    let tree = MerkleTree::build(leaves).ok_or_else(|| damaged(sealed, "no leaves"))?;
    if Some(to_hex(&tree.root()).as_str()) != expected_root {
        let which = if kind == TreeKind::Claim {
            "claim leaves do not fold to the sealed claim root"
        } else {
            "leaves do not fold to the sealed root"
        };
        return Err(damaged(sealed, format!("stored {which}")));
    }
    CachedTree::new(tree, users)
        .and_then(|t| t.with_seal(sealed.clone(), amounts))
        .ok_or_else(|| damaged(sealed, "a user appears twice among the sealed rows"))
}

fn proof_hex(tree: &MerkleTree, idx: usize, sealed: &SealedEpoch) -> Result<Vec<String>, ProofError> {
    tree.proof(idx)
        .map(|p| p.iter().map(to_hex0x).collect())
        .ok_or_else(|| damaged(sealed, format!("index {idx} outside the tree")))
}

/// The seal row an entry carries (every entry [`entry`] returns has one).
fn seal_of(entry: &CachedTree, epoch: i64, channel: &str) -> Result<SealedEpoch, ProofError> {
    entry.sealed().cloned().ok_or_else(|| ProofError::Damaged {
        epoch,
        channel: channel.to_owned(),
        detail: "a cached tree without its seal".into(),
    })
}

/// The participation proof of `login` in a sealed (epoch, channel).
pub async fn participation_proof_from(
    src: &ProofSources<'_>,
    epoch: i64,
    channel: &str,
    login: &str,
) -> Result<ProofView, ProofError> {
    let (channel, login) = normalized(channel, login);
    let uh = user_hash(&login);
    let entry = entry(src, epoch, &channel, &login, &uh, TreeKind::Participation).await?;
    let sealed = seal_of(&entry, epoch, &channel)?;
    let idx = entry.index_of(&uh).ok_or_else(|| ProofError::NotParticipant {
        epoch,
        channel: channel.clone(),
        login: login.clone(),
    })?;
    let leaf = entry.tree().leaf(idx).ok_or_else(|| damaged(&sealed, format!("index {idx} outside the tree")))?;
    Ok(ProofView {
        epoch,
        user_hash: to_hex0x(&uh),
        index: idx as i64,
        leaf: to_hex0x(&leaf),
        proof: proof_hex(entry.tree(), idx, &sealed)?,
        root: to_hex0x(&entry.tree().root()),
        channel,
        login,
    })
}

/// The claim proof of `login` in a sealed (epoch, channel). A participant the claim cap left
/// out gets [`ProofError::NotInClaimTree`].
pub async fn claim_proof_from(
    src: &ProofSources<'_>,
    epoch: i64,
    channel: &str,
    login: &str,
) -> Result<ClaimView, ProofError> {
    let (ch, login) = normalized(channel, login);
    let uh = user_hash(&login);
    let entry = entry(src, epoch, &ch, &login, &uh, TreeKind::Claim).await?;
    let sealed = seal_of(&entry, epoch, &ch)?;
    let Some(idx) = entry.index_of(&uh) else {
        return Err(ProofError::NotParticipant { epoch, channel: ch, login });
    };
    if idx >= entry.tree().len() {
        return Err(ProofError::NotInClaimTree {
            epoch,
            channel: ch,
            login,
            index: idx as i64,
            cap: sealed.participants - sealed.claim_cut,
            cut: sealed.claim_cut,
        });
    }
    let leaf = entry.tree().leaf(idx).ok_or_else(|| damaged(&sealed, format!("index {idx} outside the tree")))?;
    let amount = entry.amount(idx).ok_or_else(|| damaged(&sealed, format!("no amount at index {idx}")))?;
    Ok(ClaimView {
        epoch,
        id: claim_id(&ch, &login),
        user_hash: to_hex0x(&uh),
        index: idx as i64,
        amount: amount.to_string(),
        leaf: to_hex0x(&leaf),
        proof: proof_hex(entry.tree(), idx, &sealed)?,
        claim_root: to_hex0x(&entry.tree().root()),
        channel: ch,
        login,
    })
}

/// The participation proof of `login` in a sealed (epoch, channel), building the tree once
/// (no cache: for one-off callers such as `chatseal proof`).
pub async fn participation_proof(
    store: &Store,
    epoch: i64,
    channel: &str,
    login: &str,
) -> Result<ProofView, ProofError> {
    let (trees, opt_outs, damaged) = (TreeCache::new(0), OptOuts::unsynced(), DamagedSeals::default());
    let src = ProofSources { store, trees: &trees, opt_outs: &opt_outs, damaged: &damaged };
    participation_proof_from(&src, epoch, channel, login).await
}

/// The claim proof of `login` in a sealed (epoch, channel), without a cache.
pub async fn claim_proof(store: &Store, epoch: i64, channel: &str, login: &str) -> Result<ClaimView, ProofError> {
    let (trees, opt_outs, damaged) = (TreeCache::new(0), OptOuts::unsynced(), DamagedSeals::default());
    let src = ProofSources { store, trees: &trees, opt_outs: &opt_outs, damaged: &damaged };
    claim_proof_from(&src, epoch, channel, login).await
}

#[cfg(test)]
#[path = "proofs_tests.rs"]
mod tests;
