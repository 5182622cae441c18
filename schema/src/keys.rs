//! The binary encoding of stored hashes, in ONE place: the compact layout keeps a hash as its
//! 32 raw bytes (BLOB on SQLite, bytea on PostgreSQL) while every API of the store takes and
//! returns 64 lowercase hex characters without `0x`. An empty text (a seal without a claim
//! leaf) is an empty blob. Nothing else can be stored: a text that is not a hash is refused
//! here, before any write. Pure; no I/O.

use crate::error::StoreError;
use crate::rows::is_hash_hex;

/// Bytes of a stored hash.
pub const HASH_BYTES: usize = 32;

/// A hash as its stored bytes: what the flush path carries end to end (no hex on the way).
pub type HashBytes = [u8; HASH_BYTES];

/// The bytes of `hex` (64 lowercase hex), or why it is not a hash.
pub fn hash_from_hex(what: &'static str, hex: &str) -> Result<HashBytes, StoreError> {
    let bytes = hash_to_bytes(what, hex)?;
    bytes.try_into().map_err(|_| StoreError::Invalid { what, detail: "an empty text is not a hash".into() })
}

/// The stored bytes of `hex` (64 lowercase hex, or empty), or why it cannot be stored.
pub fn hash_to_bytes(what: &'static str, hex: &str) -> Result<Vec<u8>, StoreError> {
    if hex.is_empty() {
        return Ok(Vec::new());
    }
    if !is_hash_hex(hex) {
        return Err(StoreError::Invalid {
            what,
            detail: format!("{hex:?} is not 64 lowercase hex characters (no 0x) nor empty"),
        });
    }
    hex::decode(hex).map_err(|e| StoreError::Invalid { what, detail: format!("{hex:?}: {e}") })
}

/// The text form of stored bytes: 64 lowercase hex for a 32-byte hash, empty for an empty
/// blob. Any other length (a damaged row) comes back as its hex all the same, so that the
/// digest check, which hashes the text, reports the seal instead of the read failing.
pub fn hash_from_bytes(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_round_trip_and_only_hashes_are_stored() {
        let h = "00211351fa907cf7cc37110fd2e2c61551049549dbe40818f00d305b53d199b3";
        let b = hash_to_bytes("t", h).unwrap();
        assert_eq!(b.len(), HASH_BYTES);
        assert_eq!(b[0..2], [0x00, 0x21]);
        assert_eq!(hash_from_bytes(&b), h);
        assert_eq!(hash_to_bytes("t", "").unwrap(), Vec::<u8>::new());
        assert_eq!(hash_from_bytes(&[]), "");
        assert!(hash_to_bytes("t", &h.to_uppercase()).is_err());
        assert!(hash_to_bytes("t", &format!("0x{}", &h[2..])).is_err());
        assert!(hash_to_bytes("t", "abc").is_err());
        assert_eq!(hash_from_hex("t", h).unwrap().as_slice(), b.as_slice());
        assert!(hash_from_hex("t", "").is_err());
        assert!(hash_from_hex("t", &h.to_uppercase()).is_err());
    }
}
