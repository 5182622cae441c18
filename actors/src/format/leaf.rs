//! Identities and leaf encodings: the user hash, the on-chain channel key, the participation
//! leaf of the epoch's sealed root, and the claim leaves (plain and wallet-bound) with their ids.
//! Every byte layout here is frozen by the on-chain verifier; see `shared/spec/merkle.md`.

use super::hash::{keccak256, keccak256_parts, Hash32};

/// Prefix of every channel key and claim id.
const PLATFORM_PREFIX: &str = "twitch:";

/// `keccak256(login)` of the ASCII-lowercased Twitch login, UTF-8, no prefix.
pub fn user_hash(login: &str) -> Hash32 {
    if login.bytes().any(|b| b.is_ascii_uppercase()) {
        keccak256(login.to_ascii_lowercase().as_bytes())
    } else {
        // Already lowercase (every login the channel readers buffer): hashed without a copy.
        keccak256(login.as_bytes())
    }
}

/// `keccak256("twitch:" + lowercase channel login)`: the key under which the on-chain
/// program stores a channel's roots.
pub fn channel_key(channel: &str) -> Hash32 {
    let key = format!("{PLATFORM_PREFIX}{}", channel.to_ascii_lowercase());
    keccak256(key.as_bytes())
}

// The participation leaf, the claim id and the plain claim leaf live with the store, which
// recomputes them from a row's fields (the keyed layout stores a leaf only where it differs).
pub use chatseal_schema::leaves::{claim_id, claim_leaf, participation_leaf};

/// Wallet-bound claim leaf: `keccak256(claimer pubkey ‖ index u32 LE ‖ amount u64 LE ‖ id)`.
/// Only for participants whose wallet is known.
pub fn wallet_claim_leaf(claimer: &Hash32, index: u32, amount: u64, id: &str) -> Hash32 {
    keccak256_parts(&[claimer, &index.to_le_bytes(), &amount.to_le_bytes(), id.as_bytes()])
}
