//! Text forms of a hash: unprefixed lowercase hex in the database, `0x`-prefixed lowercase hex
//! over HTTP and in CLI output, and a parser that accepts either form in any case.

use super::hash::Hash32;

/// Why a string is not a 32-byte hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashParseError {
    /// Wrong number of hex digits after the optional `0x`.
    #[error(
        "hash must be 64 hex digits (optionally prefixed with 0x), got {found} characters; \
         pass the full 32-byte hash"
    )]
    WrongLength {
        /// Characters found after the optional `0x`.
        found: usize,
    },
    /// A character outside `0-9a-fA-F`.
    #[error(
        "hash has a non-hex character {ch:?} at position {position}; \
         only 0-9, a-f and A-F are allowed after the optional 0x"
    )]
    NonHex {
        /// The offending character.
        ch: char,
        /// Its character index in the input, `0x` included.
        position: usize,
    },
}

/// 64 lowercase hex digits, no prefix (database form).
pub fn to_hex(h: &Hash32) -> String {
    ::hex::encode(h)
}

/// `0x` + 64 lowercase hex digits (HTTP and CLI form).
pub fn to_hex0x(h: &Hash32) -> String {
    format!("0x{}", ::hex::encode(h))
}

/// Parses a hash with or without `0x`/`0X`, in any letter case.
pub fn parse_hash(s: &str) -> Result<Hash32, HashParseError> {
    let (prefix_len, digits) = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(rest) => (2, rest),
        None => (0, s),
    };
    let found = digits.chars().count();
    if found != 64 {
        return Err(HashParseError::WrongLength { found });
    }
    let mut out = [0u8; 32];
    let mut high = None;
    for (i, ch) in digits.chars().enumerate() {
        let nibble = ch.to_digit(16).ok_or(HashParseError::NonHex { ch, position: prefix_len + i })? as u8;
        match high.take() {
            None => high = Some(nibble),
            Some(hi) => out[i / 2] = (hi << 4) | nibble,
        }
    }
    Ok(out)
}
