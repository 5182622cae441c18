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

/// Participation leaf: `keccak256(user_hash ‖ channel UTF-8 ‖ epoch u64 LE)`.
/// `channel` is used exactly as given (the caller passes the stored lowercase login).
pub fn participation_leaf(user_hash: &Hash32, channel: &str, epoch: u64) -> Hash32 {
    keccak256_parts(&[user_hash, channel.as_bytes(), &epoch.to_le_bytes()])
}

/// Claim id: `"twitch:" + channel + ":" + lowercase login`. `channel` is used as given.
pub fn claim_id(channel: &str, login: &str) -> String {
    format!("{PLATFORM_PREFIX}{channel}:{}", login.to_ascii_lowercase())
}

/// Claim leaf: `keccak256(index u32 LE ‖ amount u64 LE ‖ id UTF-8)`.
pub fn claim_leaf(index: u32, amount: u64, id: &str) -> Hash32 {
    keccak256_parts(&[&index.to_le_bytes(), &amount.to_le_bytes(), id.as_bytes()])
}

/// Wallet-bound claim leaf: `keccak256(claimer pubkey ‖ index u32 LE ‖ amount u64 LE ‖ id)`.
/// Only for participants whose wallet is known.
pub fn wallet_claim_leaf(claimer: &Hash32, index: u32, amount: u64, id: &str) -> Hash32 {
    keccak256_parts(&[claimer, &index.to_le_bytes(), &amount.to_le_bytes(), id.as_bytes()])
}
