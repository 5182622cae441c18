//! Writing a publish bundle from a seal's frozen rows. [`Bundle::prepare`] builds the two trees
//! from the STORED leaves (nothing is re-derived) and checks them against the sealed roots;
//! the text is then written in pieces (head, one entry at a time, tail) so a caller can stream
//! it to a file or an HTTP body without ever holding it whole. Opted-out users keep their index
//! but their entry carries only hashes.

use std::collections::HashSet;
use std::io::{self, Write};

use chatseal_schema::{SealedEpoch, SealedParticipant};

use super::FORMAT;
use crate::format::{channel_key, claim_id, keccak256, parse_hash, Hash32};
use crate::sealer::limits::{limit_warnings, ProgramLimits};
use crate::sealer::merkle::MerkleTree;

/// Why a seal cannot be exported.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BundleError {
    /// The seal has no participants, hence no root.
    #[error("epoch {epoch} of #{channel} was sealed with no participants: there is no root to publish")]
    Empty {
        /// Epoch start, Unix seconds.
        epoch: i64,
        /// Lowercase channel login.
        channel: String,
    },
    /// The seal was imported from the old system (format 0): no leaves to prove.
    #[error(
        "epoch {epoch} of #{channel} was imported from the old system (format 0): its leaves cannot be \
         reproduced, so no bundle of proofs can be written for it"
    )]
    Legacy {
        /// Epoch start, Unix seconds.
        epoch: i64,
        /// Lowercase channel login.
        channel: String,
    },
    /// The stored rows contradict the seal (count, index, hashes, or roots that do not fold).
    #[error("the sealed rows of epoch {epoch} #{channel} are damaged ({detail}); run `chatseal doctor`")]
    Damaged {
        /// Epoch start, Unix seconds.
        epoch: i64,
        /// Lowercase channel login.
        channel: String,
        /// What was found wrong.
        detail: String,
    },
}

/// One entry's stored values, parsed.
struct Row {
    login: String,
    user_hash: Hash32,
    amount: u64,
    hidden: bool,
}

/// A seal ready to be written as a bundle: header values, both trees, the rows in index order.
pub struct Bundle {
    epoch: i64,
    channel: String,
    sealed_at: i64,
    coverage: f64,
    tree: MerkleTree,
    claim_tree: MerkleTree,
    rows: Vec<Row>,
    total: u128,
    dataset_hash: Hash32,
    warnings: Vec<String>,
}

impl Bundle {
    /// Checks `rows` (the seal's frozen participants, in index order) against `seal` and builds
    /// both trees. `opted_out` holds the user hashes (stored hex) whose entries carry only hashes.
    pub fn prepare(
        seal: &SealedEpoch,
        rows: Vec<SealedParticipant>,
        opted_out: &HashSet<String>,
        limits: &ProgramLimits,
    ) -> Result<Bundle, BundleError> {
        let (epoch, channel) = (seal.epoch, seal.channel.clone());
        let damaged = |detail: String| BundleError::Damaged { epoch, channel: channel.clone(), detail };
        if seal.participants == 0 {
            return Err(BundleError::Empty { epoch, channel });
        }
        if seal.format_version == 0 {
            return Err(BundleError::Legacy { epoch, channel });
        }
        if rows.len() as i64 != seal.participants {
            return Err(damaged(format!(
                "{} sealed rows for a seal of {} participants",
                rows.len(),
                seal.participants
            )));
        }
        if seal.claim_cut < 0 || seal.claim_cut >= seal.participants {
            return Err(damaged(format!("claim cut {} of {} participants", seal.claim_cut, seal.participants)));
        }
        let claims = (seal.participants - seal.claim_cut) as usize;
        let parse =
            |what: &str, i: usize, h: &str| parse_hash(h).map_err(|e| damaged(format!("{what} of index {i}: {e}")));
        let mut leaves = Vec::with_capacity(rows.len());
        let mut claim_leaves = Vec::with_capacity(claims);
        let mut parsed = Vec::with_capacity(rows.len());
        let mut total: u128 = 0;
        for (i, r) in rows.into_iter().enumerate() {
            if r.idx != i as i64 {
                return Err(damaged(format!("row {i} holds index {}", r.idx)));
            }
            leaves.push(parse("leaf", i, &r.leaf)?);
            let amount: u64 = r.amount.parse().map_err(|_| damaged(format!("amount {:?} of index {i}", r.amount)))?;
            if i < claims {
                claim_leaves.push(parse("claim leaf", i, &r.claim_leaf)?);
                total += u128::from(amount);
            }
            let hidden = opted_out.contains(&r.user_hash);
            parsed.push(Row { user_hash: parse("user hash", i, &r.user_hash)?, login: r.login, amount, hidden });
        }
        let dataset_hash = keccak256(&claim_leaves.concat());
        let tree = MerkleTree::build(leaves).ok_or_else(|| damaged("no leaves".into()))?;
        let claim_tree = MerkleTree::build(claim_leaves).ok_or_else(|| damaged("no claim leaves".into()))?;
        let hex = |h: &Hash32| ::hex::encode(h);
        if seal.root.as_deref() != Some(hex(&tree.root()).as_str()) {
            return Err(damaged("the stored leaves do not fold to the sealed root".into()));
        }
        if seal.claim_root.as_deref() != Some(hex(&claim_tree.root()).as_str()) {
            return Err(damaged("the stored claim leaves do not fold to the sealed claim root".into()));
        }
        Ok(Bundle {
            epoch,
            channel,
            sealed_at: seal.sealed_at,
            coverage: seal.coverage,
            tree,
            claim_tree,
            rows: parsed,
            total,
            dataset_hash,
            warnings: limit_warnings(seal.participants, seal.claim_cut, limits),
        })
    }

    /// Number of entries (participants).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Never true: an empty seal has no bundle.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The warnings against the program limits that the bundle carries.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Entries that carry only hashes (users who opted out after the seal).
    pub fn hidden(&self) -> usize {
        self.rows.iter().filter(|r| r.hidden).count()
    }

    /// Everything before the first entry: the header fields and `"entries":[`.
    pub fn write_head(&self, w: &mut impl Write) -> io::Result<()> {
        let mut b = Vec::with_capacity(1024);
        let claims = self.claim_tree.len();
        b.extend_from_slice(b"{\"format\":");
        json_str(&mut b, FORMAT);
        write!(b, ",\"epoch\":{},\"channel\":", self.epoch)?;
        json_str(&mut b, &self.channel);
        b.extend_from_slice(b",\"channel_key\":");
        hash(&mut b, &channel_key(&self.channel));
        b.extend_from_slice(b",\"root\":");
        hash(&mut b, &self.tree.root());
        b.extend_from_slice(b",\"claim_root\":");
        hash(&mut b, &self.claim_tree.root());
        write!(
            b,
            ",\"participants\":{},\"claim_count\":{claims},\"claim_cut\":{},\"total_amount\":\"{}\",\"max_proof_len\":{}",
            self.rows.len(),
            self.rows.len() - claims,
            self.total,
            self.tree.depth().max(self.claim_tree.depth())
        )?;
        b.extend_from_slice(b",\"dataset_hash\":");
        hash(&mut b, &self.dataset_hash);
        write!(b, ",\"sealed_at\":{},\"coverage\":", self.sealed_at)?;
        serde_json::to_writer(&mut b, &self.coverage).map_err(io::Error::other)?;
        b.extend_from_slice(b",\"warnings\":");
        serde_json::to_writer(&mut b, &self.warnings).map_err(io::Error::other)?;
        b.extend_from_slice(b",\"entries\":[");
        w.write_all(&b)
    }

    /// Appends entry `i` (with its leading comma after the first) to `b`.
    pub fn entry_into(&self, i: usize, b: &mut Vec<u8>) {
        let r = &self.rows[i];
        if i > 0 {
            b.push(b',');
        }
        b.extend_from_slice(b"{\"index\":");
        b.extend_from_slice(i.to_string().as_bytes());
        if !r.hidden {
            b.extend_from_slice(b",\"login\":");
            json_str(b, &r.login);
            b.extend_from_slice(b",\"user_hash\":");
            hash(b, &r.user_hash);
        }
        b.extend_from_slice(b",\"leaf\":");
        hash(b, &self.tree.leaves()[i]);
        b.extend_from_slice(b",\"proof\":");
        proof(b, &self.tree, i);
        let in_claims = i < self.claim_tree.len();
        if !r.hidden {
            if in_claims {
                b.extend_from_slice(b",\"amount\":\"");
                b.extend_from_slice(r.amount.to_string().as_bytes());
                b.push(b'"');
            } else {
                b.extend_from_slice(b",\"amount\":null");
            }
            b.extend_from_slice(b",\"id\":");
            json_str(b, &claim_id(&self.channel, &r.login));
        }
        if in_claims {
            b.extend_from_slice(b",\"claim_leaf\":");
            hash(b, &self.claim_tree.leaves()[i]);
            b.extend_from_slice(b",\"claim_proof\":");
            proof(b, &self.claim_tree, i);
        } else {
            b.extend_from_slice(b",\"claim_leaf\":null,\"claim_proof\":null");
        }
        b.push(b'}');
    }

    /// Writes entries `range` (see [`Bundle::entry_into`]).
    pub fn write_entries(&self, range: std::ops::Range<usize>, w: &mut impl Write) -> io::Result<()> {
        let mut b = Vec::with_capacity(64 * 1024);
        for i in range {
            self.entry_into(i, &mut b);
            if b.len() >= 60 * 1024 {
                w.write_all(&b)?;
                b.clear();
            }
        }
        w.write_all(&b)
    }

    /// Closes the entries and the object.
    pub fn write_tail(&self, w: &mut impl Write) -> io::Result<()> {
        w.write_all(b"]}\n")
    }

    /// The whole bundle, streamed to `w`.
    pub fn write_all(&self, w: &mut impl Write) -> io::Result<()> {
        self.write_head(w)?;
        self.write_entries(0..self.len(), w)?;
        self.write_tail(w)
    }
}

/// `"0x<64 lowercase hex>"`.
fn hash(b: &mut Vec<u8>, h: &Hash32) {
    let mut hex = [0u8; 64];
    // 64 bytes of room for 32 bytes of input: cannot fail.
    let _ = ::hex::encode_to_slice(h, &mut hex);
    b.extend_from_slice(b"\"0x");
    b.extend_from_slice(&hex);
    b.push(b'"');
}

/// The proof of leaf `i` of `tree` as a JSON array of hashes.
fn proof(b: &mut Vec<u8>, tree: &MerkleTree, i: usize) {
    b.push(b'[');
    for (k, s) in tree.proof(i).unwrap_or_default().iter().enumerate() {
        if k > 0 {
            b.push(b',');
        }
        hash(b, s);
    }
    b.push(b']');
}

/// A JSON string, escaped by serde_json.
fn json_str(b: &mut Vec<u8>, s: &str) {
    // Writing into a Vec never fails.
    let _ = serde_json::to_writer(&mut *b, s);
}
