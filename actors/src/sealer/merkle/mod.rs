//! The sealer's part of the format of `shared/spec/merkle.md`: the sorted-pair merkle tree over
//! a channel-epoch's leaves with its proofs and the on-chain verification fold, and integer
//! claim amounts. The hash, identities, leaf encodings and hex forms it builds on are in
//! `crate::format`, shared with the aggregator. Nothing here does I/O; the sealer actor feeds
//! it rows and stores what it returns.

mod claim;
mod tree;

pub use claim::{
    centiweight, claim_amount, default_centiweight, AmountError, CentiWeights, DEFAULT_PRESENCE_CENTIWEIGHT,
};
pub use tree::{verify, MerkleTree};

#[cfg(test)]
mod tests_amount;
#[cfg(test)]
mod tests_tree;
#[cfg(test)]
mod tests_vectors;
