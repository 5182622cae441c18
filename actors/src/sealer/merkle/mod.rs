//! The byte-exact sealing format of `shared/spec/merkle.md`, in one pure module: Keccak-256,
//! user and channel identities, participation and claim leaves, the sorted-pair merkle tree
//! with its proofs and on-chain verification fold, hex text forms, and integer claim amounts.
//! Nothing here does I/O; the sealer actor feeds it rows and stores what it returns.

mod claim;
mod hash;
mod hex;
mod leaf;
mod tree;

pub use claim::{
    centiweight, claim_amount, default_centiweight, AmountError, CentiWeights, DEFAULT_PRESENCE_CENTIWEIGHT,
};
pub use hash::{hash_pair, keccak256, Hash32};
pub use hex::{parse_hash, to_hex, to_hex0x, HashParseError};
pub use leaf::{channel_key, claim_id, claim_leaf, participation_leaf, user_hash, wallet_claim_leaf};
pub use tree::{verify, MerkleTree};

#[cfg(test)]
mod tests_amount;
#[cfg(test)]
mod tests_tree;
#[cfg(test)]
mod tests_vectors;
