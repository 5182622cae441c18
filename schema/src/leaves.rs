//! The two leaves of a sealed participant as `shared/spec/merkle.md` computes them from the
//! participant's own fields, and the rule of the keyed layout (migration m20261209_000011)
//! that stores a leaf only where it differs from that computation, in ONE place:
//! - participation leaf = keccak256(user_hash as 32 bytes ‖ channel UTF-8 ‖ epoch u64 LE);
//! - claim leaf = keccak256(idx u32 LE ‖ amount u64 LE ‖ "twitch:" + channel + ":" + login
//!   ASCII-lowercased).
//!
//! A row holds NULL in `leaf` / `claim_leaf` where the sealed leaf is exactly the computed
//! one, and the sealed bytes otherwise (a legacy format, the wallet-bound variant, a missing
//! claim leaf as an empty blob). [`stored`] decides on write, by computing and comparing, so
//! a read through [`filled`] gives back exactly the bytes the seal froze, whatever its format
//! version: digests and roots never change. The sealer (`chatseal-actors`' `format`) builds
//! its leaves with these same functions. Pure; no I/O.

use sha3::{Digest, Keccak256};

/// Prefix of every claim id.
const PLATFORM_PREFIX: &str = "twitch:";

/// Participation leaf: `keccak256(user_hash ‖ channel UTF-8 ‖ epoch u64 LE)`. `channel` is
/// used exactly as given.
pub fn participation_leaf(user_hash: &[u8; 32], channel: &str, epoch: u64) -> [u8; 32] {
    let mut h = Keccak256::new();
    h.update(user_hash);
    h.update(channel.as_bytes());
    h.update(epoch.to_le_bytes());
    h.finalize().into()
}

/// Claim id: `"twitch:" + channel + ":" + lowercase login`. `channel` is used as given.
pub fn claim_id(channel: &str, login: &str) -> String {
    format!("{PLATFORM_PREFIX}{channel}:{}", login.to_ascii_lowercase())
}

/// Claim leaf: `keccak256(index u32 LE ‖ amount u64 LE ‖ id UTF-8)`.
pub fn claim_leaf(index: u32, amount: u64, id: &str) -> [u8; 32] {
    let mut h = Keccak256::new();
    h.update(index.to_le_bytes());
    h.update(amount.to_le_bytes());
    h.update(id.as_bytes());
    h.finalize().into()
}

/// The fields of a stored row the leaves are computed from (login and amount as their stored
/// bytes).
#[derive(Clone, Copy, Debug)]
pub struct RowFields<'a> {
    /// The seal's epoch.
    pub epoch: i64,
    /// The seal's channel login.
    pub channel: &'a str,
    /// The frozen leaf index.
    pub idx: i64,
    /// The user hash, 32 bytes (anything else computes nothing).
    pub user_hash: &'a [u8],
    /// The login as sealed.
    pub login: &'a [u8],
    /// The amount as sealed (decimal u64; anything else computes no claim leaf).
    pub amount: &'a [u8],
}

impl RowFields<'_> {
    /// The participation leaf the format computes for the row (None: user hash not 32 bytes).
    pub fn leaf(&self) -> Option<[u8; 32]> {
        let user: &[u8; 32] = self.user_hash.try_into().ok()?;
        // As the sealer does: the epoch's bits as u64.
        Some(participation_leaf(user, self.channel, self.epoch as u64))
    }

    /// The plain claim leaf the format computes for the row (None: an idx beyond u32, an
    /// amount that is not a u64).
    pub fn claim_leaf(&self) -> Option<[u8; 32]> {
        let index = u32::try_from(self.idx).ok()?;
        let amount: u64 = std::str::from_utf8(self.amount).ok()?.parse().ok()?;
        let mut h = Keccak256::new();
        h.update(index.to_le_bytes());
        h.update(amount.to_le_bytes());
        h.update(PLATFORM_PREFIX.as_bytes());
        h.update(self.channel.as_bytes());
        h.update(b":");
        if self.login.iter().any(u8::is_ascii_uppercase) {
            h.update(self.login.to_ascii_lowercase());
        } else {
            h.update(self.login);
        }
        Some(h.finalize().into())
    }
}

/// A sealed leaf as read from a row: the stored bytes, or (NULL) the computed ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leaf<'a> {
    /// The row holds these bytes.
    Stored(&'a [u8]),
    /// The row holds NULL: the leaf is the computed one (empty when nothing can be computed,
    /// which only a damaged row gives, so that its digest does not match).
    Computed(Option<[u8; 32]>),
}

impl Leaf<'_> {
    /// The leaf's bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Leaf::Stored(b) => b,
            Leaf::Computed(Some(h)) => h,
            Leaf::Computed(None) => &[],
        }
    }
}

/// The two leaves of a row read from the keyed layout: `leaf` and `claim_leaf` as the row
/// holds them (None = NULL), filled in where NULL. The one read rule of the layout.
pub fn filled<'a>(row: &RowFields<'_>, leaf: Option<&'a [u8]>, claim_leaf: Option<&'a [u8]>) -> (Leaf<'a>, Leaf<'a>) {
    let leaf = leaf.map_or_else(|| Leaf::Computed(row.leaf()), Leaf::Stored);
    let claim = claim_leaf.map_or_else(|| Leaf::Computed(row.claim_leaf()), Leaf::Stored);
    (leaf, claim)
}

/// Whether each of a participant's leaves (given as hex, as the store's API holds them) must
/// be stored: false where it is exactly the computed one (the row then holds NULL). The one
/// write rule of the layout.
pub fn stored(row: &RowFields<'_>, leaf_hex: &str, claim_leaf_hex: &str) -> (bool, bool) {
    let differs = |hex: &str, computed: Option<[u8; 32]>| {
        let mut given = [0u8; 32];
        match computed {
            Some(c) if hex.len() == 64 && hex::decode_to_slice(hex, &mut given).is_ok() => {
                // Only the lowercase text comes back from the bytes.
                given != c || hex.bytes().any(|b| b.is_ascii_uppercase())
            }
            _ => true,
        }
    };
    (differs(leaf_hex, row.leaf()), differs(claim_leaf_hex, row.claim_leaf()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row<'a>(user: &'a [u8], idx: i64, login: &'a str, amount: &'a str) -> RowFields<'a> {
        RowFields {
            epoch: 3600,
            channel: "chan",
            idx,
            user_hash: user,
            login: login.as_bytes(),
            amount: amount.as_bytes(),
        }
    }

    #[test]
    fn spec_vectors() {
        // shared/spec/merkle.md: the participation leaf and claim leaf 0.
        let user: [u8; 32] = sha3::Keccak256::digest(b"dizzybreezyy").into();
        let p = RowFields {
            epoch: 1761753600,
            channel: "jasontheween",
            idx: 0,
            user_hash: &user,
            login: b"",
            amount: b"0",
        };
        assert_eq!(
            p.leaf().map(hex::encode).as_deref(),
            Some("00bfd67f79c8a39b4fb73888771617b0130f1ac0c2689f796bf2502895991877")
        );
        let c =
            RowFields { epoch: 0, channel: "stableronaldo", idx: 0, user_hash: &[], login: b"Alice", amount: b"10000" };
        let want = "940e0313a9a961801c16eb013ee48acda732d92c826862379e81306ff54e13ea";
        assert_eq!(c.claim_leaf().map(hex::encode).as_deref(), Some(want));
        assert_eq!(hex::encode(claim_leaf(0, 10000, &claim_id("stableronaldo", "ALICE"))), want);
        assert_eq!(row(&user[..31], 0, "a", "1").leaf(), None);
        assert_eq!(row(&user, -1, "a", "1").claim_leaf(), None);
        assert_eq!(row(&user, 0, "a", "x").claim_leaf(), None);
    }

    #[test]
    fn what_is_stored_reads_back_as_given() {
        let user = [9u8; 32];
        let r = row(&user, 5, "bob", "120");
        let leaf = hex::encode(r.leaf().unwrap());
        let claim = hex::encode(r.claim_leaf().unwrap());
        assert_eq!(stored(&r, &leaf, &claim), (false, false));
        let (l, c) = filled(&r, None, None);
        assert_eq!((hex::encode(l.bytes()), hex::encode(c.bytes())), (leaf.clone(), claim.clone()));
        // A missing claim leaf, another leaf, upper-case hex: stored as given.
        assert_eq!(stored(&r, &leaf, ""), (false, true));
        assert_eq!(stored(&r, &"ab".repeat(32), &claim), (true, false));
        assert_eq!(stored(&r, &leaf.to_uppercase(), &claim), (true, false));
        let (l, c) = filled(&r, Some(&[1, 2]), Some(&[]));
        assert_eq!((l.bytes(), c.bytes()), (&[1u8, 2][..], &[][..]));
        // A NULL that cannot be computed reads as empty (a damaged row).
        let bad = row(&user[..3], 5, "bob", "x");
        assert_eq!(filled(&bad, None, None), (Leaf::Computed(None), Leaf::Computed(None)));
    }
}
