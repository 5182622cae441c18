//! The byte-exact identities and encodings of `shared/spec/merkle.md`, below every module that
//! uses them: Keccak-256 and the sorted-pair node rule, the user hash and channel key, the
//! participation and claim leaves, and the hex text forms of a hash. The aggregator keys users
//! by [`user_hash`], the sealer builds its trees (`sealer::merkle`) over these leaves, and the
//! HTTP API and the CLI read and print hashes with [`to_hex`]/[`parse_hash`]. Pure: no I/O.

mod hash;
mod hex;
mod leaf;

pub use hash::{hash_pair, keccak256, Hash32};
pub use hex::{parse_hash, to_hex, to_hex0x, HashParseError};
pub use leaf::{channel_key, claim_id, claim_leaf, participation_leaf, user_hash, wallet_claim_leaf};

#[cfg(test)]
mod tests_vectors;
