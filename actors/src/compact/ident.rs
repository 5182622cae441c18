//! An id as it is buffered: a Twitch message id (a UUID), a content key (`k:` and 32 hex
//! digits, `channel::parse::participant::content_key`) or a numeric user id in binary form, and
//! any other text as text. The binary forms are chosen only when they give back the exact
//! original text (lowercase canonical UUID, lowercase key, decimal without leading zeros), so
//! dedup and the stored rows never see a different id.

use std::fmt;

use chatseal_schema::message_keys::{parse_hex16, parse_uuid, SeenKey, UUID_HYPHENS};

/// One id, 24 bytes inline; heap only for the rare text form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Ident {
    /// A lowercase hyphenated UUID (`8-4-4-4-12` hex digits): Twitch message ids.
    Uuid([u8; 16]),
    /// A content key: `k:` and 32 lowercase hex digits.
    Key([u8; 16]),
    /// A decimal number without leading zeros that fits a `u64`: Twitch user ids.
    Num(u64),
    /// Anything else, as given.
    Text(Box<str>),
}

impl Ident {
    /// The compact form of `s`: binary when it round-trips, text otherwise.
    pub fn new(s: &str) -> Ident {
        if let Some(u) = parse_uuid(s) {
            return Ident::Uuid(u);
        }
        if let Some(k) = s.strip_prefix("k:").and_then(|h| parse_hex16(h.as_bytes())) {
            return Ident::Key(k);
        }
        if let Some(n) = parse_num(s) {
            return Ident::Num(n);
        }
        Ident::Text(s.into())
    }

    /// The key `seen_ids` stores this id under: the same as `SeenKey::of_text` of its text,
    /// made without the text for the binary forms.
    pub fn seen_key(&self) -> SeenKey {
        match self {
            Ident::Uuid(u) => SeenKey::uuid(*u),
            Ident::Key(k) => SeenKey::content_key(*k),
            other => SeenKey::of_text(&other.to_string()),
        }
    }

    /// Heap bytes held beyond the inline 24 (the text form only).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Ident::Text(t) => t.len(),
            _ => 0,
        }
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Written from a stack buffer: the flush makes this text for every message id.
            Ident::Uuid(u) => {
                let mut buf = [b'-'; 36];
                let mut at = 0;
                for b in u {
                    if UUID_HYPHENS.contains(&at) {
                        at += 1;
                    }
                    hex_byte(*b, &mut buf[at..at + 2]);
                    at += 2;
                }
                f.write_str(std::str::from_utf8(&buf).map_err(|_| fmt::Error)?)
            }
            Ident::Key(k) => {
                let mut buf = [0u8; 34];
                buf[..2].copy_from_slice(b"k:");
                for (i, b) in k.iter().enumerate() {
                    hex_byte(*b, &mut buf[2 + 2 * i..4 + 2 * i]);
                }
                f.write_str(std::str::from_utf8(&buf).map_err(|_| fmt::Error)?)
            }
            Ident::Num(n) => write!(f, "{n}"),
            Ident::Text(t) => f.write_str(t),
        }
    }
}

/// The two lowercase hex digits of `b` into `out`.
fn hex_byte(b: u8, out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out[0] = DIGITS[usize::from(b >> 4)];
    out[1] = DIGITS[usize::from(b & 15)];
}

fn parse_num(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    let canonical = !b.is_empty() && b.iter().all(u8::is_ascii_digit) && (b[0] != b'0' || b.len() == 1);
    if canonical {
        s.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_forms_round_trip_exactly() {
        let cases = [
            ("3f6c2a9e-8b1d-4f7a-9c2e-5d4b3a2f1e0d", "uuid"),
            ("k:0123456789abcdef0123456789abcdef", "key"),
            ("987654321", "num"),
            ("0", "num"),
            ("18446744073709551615", "num"),
        ];
        for (s, kind) in cases {
            let id = Ident::new(s);
            let got = match id {
                Ident::Uuid(_) => "uuid",
                Ident::Key(_) => "key",
                Ident::Num(_) => "num",
                Ident::Text(_) => "text",
            };
            assert_eq!(got, kind, "{s}");
            assert_eq!(id.to_string(), s);
            assert_eq!(id.seen_key(), SeenKey::of_text(s), "{s}");
            assert_eq!(id.heap_bytes(), 0);
        }
    }

    #[test]
    fn whatever_would_not_round_trip_stays_text() {
        for s in [
            "3F6C2A9E-8B1D-4F7A-9C2E-5D4B3A2F1E0D",
            "3f6c2a9e8b1d4f7a9c2e5d4b3a2f1e0d",
            "3f6c2a9e-8b1d-4f7a-9c2e-5d4b3a2f1e0",
            "3f6c2a9e-8b1d-4f7a-9c2e_5d4b3a2f1e0d",
            "k:0123456789ABCDEF0123456789abcdef",
            "k:0123",
            "007",
            "18446744073709551616",
            "-1",
            "",
            "id-42",
            "日本",
        ] {
            let id = Ident::new(s);
            assert!(matches!(id, Ident::Text(_)), "{s} -> {id:?}");
            assert_eq!(id.to_string(), s);
            assert_eq!(id.seen_key(), SeenKey::of_text(s), "{s}");
        }
        assert_eq!(std::mem::size_of::<Ident>(), 24);
        assert_eq!(std::mem::size_of::<Option<Ident>>(), 24);
    }
}
