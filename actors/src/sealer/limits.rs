//! The target program's limits (how many claims one claim tree may hold, how many nodes one
//! proof may carry) and the warnings a seal earns against them. Pure: the sealer logs them at
//! sealing, the epoch object and the publish bundle carry them, so an operator learns of a tree
//! the program would refuse before posting its root, not from a failed transaction.

/// The configured limits of the on-chain program (`sealing.max_claim_leaves`,
/// `sealing.max_proof_len`); `None` = no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProgramLimits {
    /// Most leaves the program accepts in one claim tree (`sealing.max_claim_leaves`).
    pub max_claim_leaves: Option<u64>,
    /// Most sibling hashes the program accepts in one proof (`sealing.max_proof_len`).
    pub max_proof_len: Option<u64>,
}

/// The proof length (tree height) of a tree of `leaves` leaves: 0 for one leaf, else
/// ceil(log2(leaves)), exactly the number of siblings `MerkleTree::proof` returns.
pub fn proof_len_of(leaves: u64) -> u64 {
    if leaves <= 1 {
        0
    } else {
        u64::from(u64::BITS - (leaves - 1).leading_zeros())
    }
}

/// What a sealed tree pair of `participants` (of which `claim_cut` were left out of the claim
/// tree) breaks or cost under `limits`, one sentence each; empty when nothing.
pub fn limit_warnings(participants: i64, claim_cut: i64, limits: &ProgramLimits) -> Vec<String> {
    let mut out = Vec::new();
    if participants <= 0 {
        return out;
    }
    let n = participants as u64;
    let cut = claim_cut.clamp(0, participants) as u64;
    let claims = n - cut;
    if cut > 0 {
        out.push(format!(
            "claim_cut: the claim tree holds the first {claims} of {n} participants; the claim cap \
             (sealing.max_claim_leaves) left {cut} out of it: they can prove that they took part but cannot claim"
        ));
    }
    if let Some(cap) = limits.max_claim_leaves.filter(|c| *c > 0 && claims > *c) {
        out.push(format!(
            "max_claim_leaves: the claim tree holds {claims} leaves, more than sealing.max_claim_leaves = {cap}: \
             the program refuses it; it was sealed before the cap was set"
        ));
    }
    if let Some(max) = limits.max_proof_len.filter(|m| *m > 0) {
        for (tree, leaves) in [("participation", n), ("claim", claims)] {
            let len = proof_len_of(leaves);
            if len > max {
                out.push(format!(
                    "max_proof_len: {tree} proofs are {len} nodes long ({leaves} leaves), more than \
                     sealing.max_proof_len = {max}: the program refuses them"
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sealer::merkle::MerkleTree;

    #[test]
    fn proof_len_matches_the_tree() {
        for n in 1..=70u64 {
            let tree = MerkleTree::build((0..n).map(|i| [i as u8; 32]).collect()).unwrap();
            assert_eq!(proof_len_of(n), tree.depth() as u64, "{n} leaves");
            assert_eq!(tree.proof(0).unwrap().len() as u64, proof_len_of(n));
        }
        assert_eq!(proof_len_of(1 << 20), 20);
        assert_eq!(proof_len_of((1 << 20) + 1), 21);
    }

    #[test]
    fn warnings_name_each_limit_broken() {
        let none = ProgramLimits::default();
        assert!(limit_warnings(5000, 0, &none).is_empty());
        assert!(limit_warnings(0, 0, &ProgramLimits { max_claim_leaves: Some(1), max_proof_len: Some(1) }).is_empty());
        let w = limit_warnings(5000, 3976, &none);
        assert_eq!(w.len(), 1);
        assert!(
            w[0].starts_with("claim_cut:") && w[0].contains("first 1024 of 5000") && w[0].contains("3976"),
            "{w:?}"
        );
        let ring = ProgramLimits { max_claim_leaves: Some(1024), max_proof_len: Some(10) };
        // 1024 leaves: proofs of 10 nodes, within both limits.
        assert!(limit_warnings(1024, 0, &ring).is_empty());
        let w = limit_warnings(1025, 0, &ring);
        assert!(w.iter().any(|s| s.starts_with("max_claim_leaves:") && s.contains("1025")), "{w:?}");
        assert!(w.iter().any(|s| s.contains("participation proofs are 11 nodes")), "{w:?}");
        assert!(w.iter().any(|s| s.contains("claim proofs are 11 nodes")), "{w:?}");
        // Capped at sealing: the claim tree is within the limit, the participation tree is not.
        let w = limit_warnings(5000, 3976, &ring);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[1].contains("participation proofs are 13 nodes"), "{w:?}");
        // 0 means no limit, like in the configuration.
        assert!(
            limit_warnings(5000, 0, &ProgramLimits { max_claim_leaves: Some(0), max_proof_len: Some(0) }).is_empty()
        );
    }
}
