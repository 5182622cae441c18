//! How a message id is keyed in `seen_ids` (migration m20261210_000012), in ONE place: a
//! Twitch message id (a lowercase hyphenated UUID) as its 16 bytes, a content key (`k:` and 32
//! lowercase hex digits, the id of a line that carries none) as its 16 bytes, anything else as
//! its UTF-8 text, each behind a one-byte tag so that no two ids share a key. Only forms that
//! give back the exact text are made binary (uppercase or unhyphenated stay text), so the
//! store never takes two different ids for one. The aggregator's in-memory ids
//! (`chatseal-actors`' `compact::Ident`) parse with these same functions. Pure; no I/O.

/// Where the hyphens of a canonical UUID are.
pub const UUID_HYPHENS: [usize; 4] = [8, 13, 18, 23];

/// Tag of an id kept as its text.
const TAG_TEXT: u8 = 0;
/// Tag of a UUID kept as its 16 bytes.
const TAG_UUID: u8 = 1;
/// Tag of a content key kept as its 16 bytes.
const TAG_CONTENT: u8 = 2;

/// A lowercase hyphenated UUID (`8-4-4-4-12` hex digits) as its 16 bytes.
pub fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let b = s.as_bytes();
    if b.len() != 36 || UUID_HYPHENS.iter().any(|&i| b[i] != b'-') {
        return None;
    }
    let mut digits = [0u8; 32];
    let mut n = 0;
    for (i, &c) in b.iter().enumerate() {
        if !UUID_HYPHENS.contains(&i) {
            digits[n] = c;
            n += 1;
        }
    }
    parse_hex16(&digits)
}

/// 32 lowercase hex digits to 16 bytes (uppercase would not round-trip).
pub fn parse_hex16(digits: &[u8]) -> Option<[u8; 16]> {
    if digits.len() != 32 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 16];
    for (i, pair) in digits.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

/// A message id as `seen_ids` keys it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeenKey(Vec<u8>);

impl SeenKey {
    /// The key of the id `id` as received.
    pub fn of_text(id: &str) -> SeenKey {
        if let Some(u) = parse_uuid(id) {
            return SeenKey::uuid(u);
        }
        if let Some(k) = id.strip_prefix("k:").and_then(|h| parse_hex16(h.as_bytes())) {
            return SeenKey::content_key(k);
        }
        let mut v = Vec::with_capacity(1 + id.len());
        v.push(TAG_TEXT);
        v.extend_from_slice(id.as_bytes());
        SeenKey(v)
    }

    /// The key of the UUID whose 16 bytes are `u` (what [`parse_uuid`] gives).
    pub fn uuid(u: [u8; 16]) -> SeenKey {
        SeenKey::tagged(TAG_UUID, u)
    }

    /// The key of the content key `k:` + hex of `k` (what [`parse_hex16`] gives).
    pub fn content_key(k: [u8; 16]) -> SeenKey {
        SeenKey::tagged(TAG_CONTENT, k)
    }

    fn tagged(tag: u8, b: [u8; 16]) -> SeenKey {
        let mut v = Vec::with_capacity(17);
        v.push(tag);
        v.extend_from_slice(&b);
        SeenKey(v)
    }

    /// The stored bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The stored bytes, owned.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

impl From<&str> for SeenKey {
    fn from(id: &str) -> SeenKey {
        SeenKey::of_text(id)
    }
}

impl From<String> for SeenKey {
    fn from(id: String) -> SeenKey {
        SeenKey::of_text(&id)
    }
}

impl From<&String> for SeenKey {
    fn from(id: &String) -> SeenKey {
        SeenKey::of_text(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_only_where_the_text_comes_back_and_no_two_ids_share_a_key() {
        let uuid = "3f6c2a9e-8b1d-4f7a-9c2e-5d4b3a2f1e0d";
        let k = SeenKey::of_text(uuid);
        assert_eq!(k.as_bytes().len(), 17);
        assert_eq!(k.as_bytes()[0], TAG_UUID);
        assert_eq!(k.as_bytes()[1..3], [0x3f, 0x6c]);
        let key = SeenKey::of_text("k:0123456789abcdef0123456789abcdef");
        assert_eq!((key.as_bytes().len(), key.as_bytes()[0]), (17, TAG_CONTENT));
        for text in [
            "3F6C2A9E-8B1D-4F7A-9C2E-5D4B3A2F1E0D",
            "3f6c2a9e8b1d4f7a9c2e5d4b3a2f1e0d",
            "k:0123456789ABCDEF0123456789abcdef",
            "",
            "line-7",
            "日本",
        ] {
            let k = SeenKey::of_text(text);
            assert_eq!(k.as_bytes()[0], TAG_TEXT, "{text}");
            assert_eq!(&k.as_bytes()[1..], text.as_bytes(), "{text}");
        }
        // A 16-byte text next to a UUID with the same bytes: different keys.
        let raw: [u8; 16] = *b"0123456789abcdef";
        assert_ne!(SeenKey::uuid(raw), SeenKey::of_text("0123456789abcdef"));
        assert_ne!(SeenKey::uuid(raw), SeenKey::content_key(raw));
        assert_eq!(SeenKey::from(uuid), SeenKey::uuid(parse_uuid(uuid).unwrap()));
    }
}
