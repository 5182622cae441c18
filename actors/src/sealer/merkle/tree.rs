//! The merkle tree of one channel-epoch (participation or claim leaves alike) and the on-chain
//! verification fold. Levels are flat `Vec<Hash32>` (no per-node allocation); a proof is read
//! straight off the levels in O(log n).

use crate::format::{hash_pair, Hash32};

/// A built tree: `levels[0]` are the leaves in sealing order, the last level holds the root.
/// Pairs are (0,1), (2,3), ... left to right; an odd last node is paired with itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerkleTree {
    levels: Vec<Vec<Hash32>>,
}

impl MerkleTree {
    /// Builds the tree over `leaves` in the given order. `None` for zero leaves: a
    /// channel-epoch without participants has no tree and is not sealed.
    pub fn build(leaves: Vec<Hash32>) -> Option<MerkleTree> {
        if leaves.is_empty() {
            return None;
        }
        let depth = usize::BITS - (leaves.len() - 1).leading_zeros();
        let mut levels = Vec::with_capacity(depth as usize + 1);
        levels.push(leaves);
        while let Some(below) = levels.last().filter(|level| level.len() > 1) {
            let mut above = Vec::with_capacity(below.len().div_ceil(2));
            for pair in below.chunks(2) {
                let left = &pair[0];
                let right = pair.get(1).unwrap_or(left);
                above.push(hash_pair(left, right));
            }
            levels.push(above);
        }
        Some(MerkleTree { levels })
    }

    /// The root; equal to the only leaf for a one-leaf tree.
    pub fn root(&self) -> Hash32 {
        // `build` guarantees at least one level, and the last level holds exactly one node.
        self.levels.last().and_then(|top| top.first()).copied().unwrap_or_default()
    }

    /// Number of leaves (always at least 1).
    pub fn len(&self) -> usize {
        self.levels.first().map_or(0, Vec::len)
    }

    /// Always false: a tree is never built over zero leaves. Present for API symmetry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The leaf at `index`, or `None` past the end.
    pub fn leaf(&self, index: usize) -> Option<Hash32> {
        self.levels.first().and_then(|leaves| leaves.get(index)).copied()
    }

    /// All leaves in tree order.
    pub fn leaves(&self) -> &[Hash32] {
        self.levels.first().map_or(&[], Vec::as_slice)
    }

    /// Number of proof elements (tree height); 0 for a one-leaf tree.
    pub fn depth(&self) -> usize {
        self.levels.len() - 1
    }

    /// The proof of the leaf at `index`: the sibling of each node on its path, bottom-up.
    /// Where a node is the odd last one of its level, the proof carries the node's own hash.
    /// Empty for a one-leaf tree; `None` when `index` is past the end.
    pub fn proof(&self, index: usize) -> Option<Vec<Hash32>> {
        if index >= self.len() {
            return None;
        }
        let mut proof = Vec::with_capacity(self.depth());
        let mut at = index;
        for level in &self.levels[..self.depth()] {
            let sibling = level.get(at ^ 1).unwrap_or(&level[at]);
            proof.push(*sibling);
            at /= 2;
        }
        Some(proof)
    }
}

/// The on-chain fold: `h = leaf`; for each sibling `s`, `h = keccak256(min(h,s) ‖ max(h,s))`;
/// accepts iff `h == root`.
pub fn verify(root: &Hash32, leaf: &Hash32, proof: &[Hash32]) -> bool {
    let folded = proof.iter().fold(*leaf, |node, sibling| hash_pair(&node, sibling));
    folded == *root
}
