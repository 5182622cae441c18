//! Proofs from sealed rows: the JSON objects the HTTP API and `chatseal proof` print. Trees are
//! rebuilt from the frozen leaves stored at sealing (never from live participation), so a proof
//! always folds to the sealed root.

use chatseal_actors::sealer::merkle::{parse_hash, to_hex, to_hex0x, user_hash, Hash32, MerkleTree};
use chatseal_schema::{SealedEpoch, SealedParticipant, Store, StoreError};
use serde::Serialize;

/// Why no proof can be given; each maps to an HTTP status and error code.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    #[error("epoch {epoch} of #{channel} is not sealed yet")]
    NotSealed { epoch: i64, channel: String },
    #[error("{login} did not take part in #{channel} during epoch {epoch}")]
    NotParticipant { epoch: i64, channel: String, login: String },
    #[error("{login} opted out; no proofs are served for them")]
    OptedOut { login: String },
    #[error("the sealed rows of epoch {epoch} #{channel} are damaged ({detail}); run `chatseal doctor`")]
    Damaged { epoch: i64, channel: String, detail: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ProofError {
    pub fn code(&self) -> &'static str {
        match self {
            ProofError::NotSealed { .. } => "not_sealed",
            ProofError::NotParticipant { .. } => "not_participant",
            ProofError::OptedOut { .. } => "opted_out",
            ProofError::Damaged { .. } => "damaged",
            ProofError::Store(_) => "store_unavailable",
        }
    }
}

/// `GET /v1/epochs/{epoch}/{channel}`.
#[derive(Debug, Serialize)]
pub struct EpochView {
    pub epoch: i64,
    pub channel: String,
    pub root: Option<String>,
    pub claim_root: Option<String>,
    pub participants: i64,
    pub sealed_at: i64,
    pub coverage: f64,
}

impl From<SealedEpoch> for EpochView {
    fn from(e: SealedEpoch) -> Self {
        Self {
            epoch: e.epoch,
            channel: e.channel,
            root: e.root.map(|r| format!("0x{r}")),
            claim_root: e.claim_root.map(|r| format!("0x{r}")),
            participants: e.participants,
            sealed_at: e.sealed_at,
            coverage: e.coverage,
        }
    }
}

/// The participation proof of one user.
#[derive(Debug, Serialize)]
pub struct ProofView {
    pub epoch: i64,
    pub channel: String,
    pub login: String,
    pub user_hash: String,
    pub index: i64,
    pub leaf: String,
    pub proof: Vec<String>,
    pub root: String,
}

/// The claim proof of one user.
#[derive(Debug, Serialize)]
pub struct ClaimView {
    pub epoch: i64,
    pub channel: String,
    pub login: String,
    pub user_hash: String,
    pub index: i64,
    pub amount: String,
    pub id: String,
    pub leaf: String,
    pub proof: Vec<String>,
    pub claim_root: String,
}

struct Located {
    sealed: SealedEpoch,
    me: SealedParticipant,
    all: Vec<SealedParticipant>,
    login: String,
    user_hash: String,
}

async fn locate(store: &Store, epoch: i64, channel: &str, login: &str) -> Result<Located, ProofError> {
    let channel = channel.trim_start_matches('#').to_ascii_lowercase();
    let login = login.to_ascii_lowercase();
    let sealed = store.sealed_epoch(epoch, &channel).await?.ok_or_else(|| ProofError::NotSealed { epoch, channel: channel.clone() })?;
    let uh = to_hex(&user_hash(&login));
    if store.is_opted_out(&uh).await? {
        return Err(ProofError::OptedOut { login });
    }
    let me = store
        .sealed_participant(epoch, &channel, &uh)
        .await?
        .ok_or_else(|| ProofError::NotParticipant { epoch, channel: channel.clone(), login: login.clone() })?;
    let all = store.sealed_participants(epoch, &channel).await?;
    Ok(Located { sealed, me, all, login, user_hash: uh })
}

fn tree_of(leaves: impl Iterator<Item = String>, epoch: i64, channel: &str) -> Result<MerkleTree, ProofError> {
    let damaged = |detail: String| ProofError::Damaged { epoch, channel: channel.to_string(), detail };
    let parsed: Vec<Hash32> = leaves.map(|l| parse_hash(&l).map_err(|e| damaged(e.to_string()))).collect::<Result<_, _>>()?;
    MerkleTree::build(parsed).ok_or_else(|| damaged("no leaves".into()))
}

fn proof_hex(tree: &MerkleTree, idx: i64, epoch: i64, channel: &str) -> Result<Vec<String>, ProofError> {
    tree.proof(idx as usize)
        .map(|p| p.iter().map(to_hex0x).collect())
        .ok_or_else(|| ProofError::Damaged { epoch, channel: channel.to_string(), detail: format!("index {idx} outside the tree") })
}

/// The participation proof of `login` in a sealed (epoch, channel).
pub async fn participation_proof(store: &Store, epoch: i64, channel: &str, login: &str) -> Result<ProofView, ProofError> {
    let l = locate(store, epoch, channel, login).await?;
    let ch = l.sealed.channel.clone();
    let tree = tree_of(l.all.iter().map(|p| p.leaf.clone()), epoch, &ch)?;
    let root = to_hex0x(&tree.root());
    if Some(root.trim_start_matches("0x")) != l.sealed.root.as_deref() {
        return Err(ProofError::Damaged { epoch, channel: ch, detail: "stored leaves do not fold to the sealed root".into() });
    }
    Ok(ProofView {
        epoch,
        channel: ch.clone(),
        login: l.login,
        user_hash: format!("0x{}", l.user_hash),
        index: l.me.idx,
        leaf: format!("0x{}", l.me.leaf),
        proof: proof_hex(&tree, l.me.idx, epoch, &ch)?,
        root,
    })
}

/// The claim proof of `login` in a sealed (epoch, channel).
pub async fn claim_proof(store: &Store, epoch: i64, channel: &str, login: &str) -> Result<ClaimView, ProofError> {
    let l = locate(store, epoch, channel, login).await?;
    let ch = l.sealed.channel.clone();
    let tree = tree_of(l.all.iter().map(|p| p.claim_leaf.clone()), epoch, &ch)?;
    let claim_root = to_hex0x(&tree.root());
    if Some(claim_root.trim_start_matches("0x")) != l.sealed.claim_root.as_deref() {
        return Err(ProofError::Damaged { epoch, channel: ch, detail: "stored claim leaves do not fold to the sealed claim root".into() });
    }
    Ok(ClaimView {
        epoch,
        channel: ch.clone(),
        id: chatseal_actors::sealer::merkle::claim_id(&ch, &l.login),
        login: l.login,
        user_hash: format!("0x{}", l.user_hash),
        index: l.me.idx,
        amount: l.me.amount.clone(),
        leaf: format!("0x{}", l.me.claim_leaf),
        proof: proof_hex(&tree, l.me.idx, epoch, &ch)?,
        claim_root,
    })
}
