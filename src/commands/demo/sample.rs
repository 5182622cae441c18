//! The demo's closing act: one participation proof, as the HTTP API serves it, checked the way
//! the on-chain program checks it. The leaf is recomputed from the login, channel and epoch
//! (never taken on trust), the proof's root must be the sealed root the epoch list showed, and
//! the sibling hashes must fold from the leaf up to that root. Pure.

use chatseal_actors::format::{parse_hash, participation_leaf, to_hex0x, user_hash, Hash32};
use chatseal_actors::sealer::merkle::verify;
use serde::{Deserialize, Serialize};

/// `GET /v1/epochs/{epoch}/{channel}/proof/{login}`, its fields in the order the API sends them.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ProofJson {
    pub epoch: i64,
    pub channel: String,
    pub login: String,
    pub user_hash: String,
    pub index: i64,
    pub leaf: String,
    pub proof: Vec<String>,
    pub root: String,
}

/// Why a proof does not hold; each names the value that failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofCheckError {
    #[error("the proof's {what} {value:?} is not a 32-byte hex hash")]
    Malformed { what: String, value: String },
    #[error("the epoch {0} is negative")]
    NegativeEpoch(i64),
    #[error("the leaf {served} is not keccak(user_hash(login), channel, epoch) = {expected}")]
    WrongLeaf { served: String, expected: String },
    #[error("the proof's root {served} is not the sealed root {sealed}")]
    WrongRoot { served: String, sealed: String },
    #[error("folding the {siblings} sibling hashes from the leaf does not give the root {root}")]
    DoesNotFold { siblings: usize, root: String },
}

fn hash(what: &str, value: &str) -> Result<Hash32, ProofCheckError> {
    parse_hash(value).map_err(|_| ProofCheckError::Malformed { what: what.to_owned(), value: value.to_owned() })
}

/// Checks `p` against `sealed_root` (0x hex, from the epoch list): the leaf recomputed, the
/// root the sealed one, and the on-chain fold of the siblings.
pub fn check(p: &ProofJson, sealed_root: &str) -> Result<(), ProofCheckError> {
    let root = hash("root", &p.root)?;
    let sealed = hash("sealed root", sealed_root)?;
    if root != sealed {
        return Err(ProofCheckError::WrongRoot { served: p.root.clone(), sealed: sealed_root.to_owned() });
    }
    let leaf = hash("leaf", &p.leaf)?;
    let epoch = u64::try_from(p.epoch).map_err(|_| ProofCheckError::NegativeEpoch(p.epoch))?;
    let expected = participation_leaf(&user_hash(&p.login), &p.channel, epoch);
    if leaf != expected {
        return Err(ProofCheckError::WrongLeaf { served: p.leaf.clone(), expected: to_hex0x(&expected) });
    }
    let siblings =
        p.proof.iter().enumerate().map(|(i, s)| hash(&format!("sibling {i}"), s)).collect::<Result<Vec<_>, _>>()?;
    if verify(&root, &leaf, &siblings) {
        Ok(())
    } else {
        Err(ProofCheckError::DoesNotFold { siblings: siblings.len(), root: p.root.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chatseal_actors::sealer::merkle::MerkleTree;

    fn served(logins: &[&str], who: usize) -> ProofJson {
        let leaves: Vec<_> = logins.iter().map(|l| participation_leaf(&user_hash(l), "lacy", 1_717_000_020)).collect();
        let tree = MerkleTree::build(leaves.clone()).expect("non-empty");
        let proof = tree.proof(who).expect("index in range");
        ProofJson {
            epoch: 1_717_000_020,
            channel: "lacy".into(),
            login: logins[who].into(),
            user_hash: to_hex0x(&user_hash(logins[who])),
            index: who as i64,
            leaf: to_hex0x(&leaves[who]),
            proof: proof.iter().map(to_hex0x).collect(),
            root: to_hex0x(&tree.root()),
        }
    }

    #[test]
    fn a_served_proof_checks_for_every_index_and_size() {
        let logins = ["a", "bb", "ccc", "dddd", "eeeee"];
        for n in 1..=logins.len() {
            for who in 0..n {
                let p = served(&logins[..n], who);
                assert_eq!(check(&p, &p.root.clone()), Ok(()), "n={n} who={who}");
            }
        }
    }

    #[test]
    fn a_wrong_root_leaf_login_or_sibling_fails() {
        let p = served(&["a", "bb", "ccc"], 1);
        let other_root = served(&["x", "y"], 0).root;
        assert!(matches!(check(&p, &other_root), Err(ProofCheckError::WrongRoot { .. })));
        let mut wrong_login = p.clone();
        wrong_login.login = "a".into();
        assert!(matches!(check(&wrong_login, &p.root), Err(ProofCheckError::WrongLeaf { .. })));
        let mut bent = p.clone();
        bent.proof[0] = format!("0x{}", "00".repeat(32));
        assert!(matches!(check(&bent, &p.root), Err(ProofCheckError::DoesNotFold { siblings: 2, .. })));
        let mut junk = p.clone();
        junk.proof.push("0xzz".into());
        assert!(matches!(check(&junk, &p.root), Err(ProofCheckError::Malformed { .. })));
    }
}
