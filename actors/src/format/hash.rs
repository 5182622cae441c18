//! The hash primitive of the sealing format: Keccak-256 as Ethereum and Solana use it
//! (`sha3::Keccak256`, not NIST SHA3-256), and the sorted-pair node rule shared by the
//! participation and claim trees.

use sha3::{Digest, Keccak256};

/// A 32-byte Keccak-256 digest: a leaf, an inner node or a root.
pub type Hash32 = [u8; 32];

/// Keccak-256 of `data`.
pub fn keccak256(data: &[u8]) -> Hash32 {
    Keccak256::digest(data).into()
}

/// Keccak-256 of several byte slices fed in order, without concatenating them first.
pub(crate) fn keccak256_parts(parts: &[&[u8]]) -> Hash32 {
    let mut hasher = Keccak256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// Inner node of two children: `keccak256(min(a, b) ‖ max(a, b))`, where min/max is the
/// unsigned byte-wise order. No prefix, no direction bits; `hash_pair(x, x)` is the odd-end node.
pub fn hash_pair(a: &Hash32, b: &Hash32) -> Hash32 {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(lo);
    buf[32..].copy_from_slice(hi);
    keccak256(&buf)
}
