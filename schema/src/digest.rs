//! The seal digest: one keccak-256 over everything a seal freezes, so that a changed byte
//! anywhere in a sealed epoch's rows is detected (SQLite's integrity_check cannot see a
//! flipped byte inside a row payload; this can). `write_seal` stores it; `verify_digests`
//! recomputes it from the rows.
//!
//! Canonical encoding (v1), hashed with Keccak-256 (`sha3::Keccak256`, as Ethereum), output as
//! 64 lowercase hex characters:
//! ```text
//! str(x)  = u32 big-endian byte length of x ‖ x as UTF-8 bytes
//! opt(x)  = 0x00 if absent | 0x01 ‖ str(x)
//! digest  = keccak256( str("chatseal/seal-digest/v1")
//!                    ‖ epoch as i64 big-endian
//!                    ‖ str(channel) ‖ opt(root) ‖ opt(claim_root)
//!                    ‖ participant count as u64 big-endian
//!                    ‖ for each participant in index order:
//!                        idx as i64 big-endian ‖ str(user_hash) ‖ str(login)
//!                        ‖ str(leaf) ‖ str(amount) ‖ str(claim_leaf) )
//! ```
//! Hashes and amounts are encoded as the stored text (hex, decimal), byte for byte.
//!
//! A seal whose claim tree was cut by the claim cap (`claim_cut > 0`) is hashed with the v2
//! encoding: the domain `"chatseal/seal-digest/v2"` and, right after `opt(claim_root)`, the
//! `claim_cut` as u64 big-endian; everything else as in v1. A seal without a cut keeps the v1
//! encoding, so every digest written before the cut existed still verifies.

use crate::rows::SealedParticipant;
use sha3::{Digest, Keccak256};

/// The domain tag that starts every digest input of a seal without a claim cut.
pub const DIGEST_DOMAIN: &str = "chatseal/seal-digest/v1";

/// The domain tag of a seal whose claim tree was cut (`claim_cut > 0`).
pub const DIGEST_DOMAIN_CUT: &str = "chatseal/seal-digest/v2";

fn put_str(h: &mut Keccak256, s: &str) {
    // A field longer than 4 GiB cannot come out of the store; saturate rather than wrap.
    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
    h.update(len.to_be_bytes());
    h.update(s.as_bytes());
}

fn put_opt(h: &mut Keccak256, s: Option<&str>) {
    match s {
        None => h.update([0u8]),
        Some(s) => {
            h.update([1u8]);
            put_str(h, s);
        }
    }
}

/// The digest of a seal without a claim cut, as 64 lowercase hex characters (see the module
/// doc for the encoding). Same as [`seal_digest_with_cut`] with `claim_cut` 0.
pub fn seal_digest(
    epoch: i64,
    channel: &str,
    root: Option<&str>,
    claim_root: Option<&str>,
    participants: &[SealedParticipant],
) -> String {
    seal_digest_with_cut(epoch, channel, root, claim_root, 0, participants)
}

/// The digest of a seal that left `claim_cut` participants out of its claim tree (0 = none:
/// the v1 encoding; above 0: the v2 encoding of the module doc). A negative cut, which
/// `write_seal` refuses, is hashed as 0.
pub fn seal_digest_with_cut(
    epoch: i64,
    channel: &str,
    root: Option<&str>,
    claim_root: Option<&str>,
    claim_cut: i64,
    participants: &[SealedParticipant],
) -> String {
    let leaves = participants.iter().map(|p| LeafFields {
        idx: p.idx,
        user_hash: &p.user_hash,
        login: &p.login,
        leaf: &p.leaf,
        amount: &p.amount,
        claim_leaf: &p.claim_leaf,
    });
    seal_digest_of(epoch, channel, root, claim_root, claim_cut, participants.len(), leaves)
}

/// One participant's frozen fields, borrowed (the digest check hashes them without copying).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeafFields<'a> {
    /// The frozen 0-based leaf index.
    pub idx: i64,
    /// The user hash as stored (64 lowercase hex, no `0x`).
    pub user_hash: &'a str,
    /// The login as stored with the seal.
    pub login: &'a str,
    /// The participation leaf as stored (hex).
    pub leaf: &'a str,
    /// The claim amount as stored (decimal base units).
    pub amount: &'a str,
    /// The claim leaf as stored (hex; empty where the seal has none).
    pub claim_leaf: &'a str,
}

/// [`seal_digest_with_cut`] over `count` participants given as borrowed fields in index
/// order: the one implementation of the encoding.
pub fn seal_digest_of<'a>(
    epoch: i64,
    channel: &str,
    root: Option<&str>,
    claim_root: Option<&str>,
    claim_cut: i64,
    count: usize,
    participants: impl IntoIterator<Item = LeafFields<'a>>,
) -> String {
    let cut = u64::try_from(claim_cut).unwrap_or(0);
    let mut h = Keccak256::new();
    put_str(&mut h, if cut > 0 { DIGEST_DOMAIN_CUT } else { DIGEST_DOMAIN });
    h.update(epoch.to_be_bytes());
    put_str(&mut h, channel);
    put_opt(&mut h, root);
    put_opt(&mut h, claim_root);
    if cut > 0 {
        h.update(cut.to_be_bytes());
    }
    h.update((count as u64).to_be_bytes());
    for p in participants {
        h.update(p.idx.to_be_bytes());
        put_str(&mut h, p.user_hash);
        put_str(&mut h, p.login);
        put_str(&mut h, p.leaf);
        put_str(&mut h, p.amount);
        put_str(&mut h, p.claim_leaf);
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(idx: i64, login: &str) -> SealedParticipant {
        SealedParticipant {
            idx,
            user_hash: format!("{:064x}", idx + 1),
            login: login.into(),
            leaf: format!("{:064x}", idx + 100),
            amount: "8000000000000".into(),
            claim_leaf: format!("{:064x}", idx + 200),
        }
    }

    #[test]
    fn empty_seal_digest_is_the_hash_of_its_encoding() {
        // Built by hand from the documented encoding.
        let mut input = Vec::new();
        input.extend((DIGEST_DOMAIN.len() as u32).to_be_bytes());
        input.extend(DIGEST_DOMAIN.as_bytes());
        input.extend(7i64.to_be_bytes());
        input.extend(4u32.to_be_bytes());
        input.extend(b"lacy");
        input.extend([0u8, 0u8]);
        input.extend(0u64.to_be_bytes());
        let want = hex::encode(Keccak256::digest(&input));
        assert_eq!(seal_digest(7, "lacy", None, None, &[]), want);
    }

    #[test]
    fn every_field_changes_the_digest() {
        let ps = vec![p(0, "alice"), p(1, "bob")];
        let root = "ab".repeat(32);
        let base = seal_digest(1, "c", Some(&root), Some(&root), &ps);
        assert_eq!(base.len(), 64);
        assert_ne!(base, seal_digest(2, "c", Some(&root), Some(&root), &ps));
        assert_ne!(base, seal_digest(1, "d", Some(&root), Some(&root), &ps));
        assert_ne!(base, seal_digest(1, "c", None, Some(&root), &ps));
        assert_ne!(base, seal_digest(1, "c", Some(&root), None, &ps));
        assert_ne!(base, seal_digest(1, "c", Some(&root), Some(&root), &ps[..1]));
        let edits: [fn(&mut SealedParticipant); 6] = [
            |p| p.idx += 1,
            |p| p.user_hash.replace_range(0..1, "f"),
            |p| p.login.push('x'),
            |p| p.leaf.replace_range(63..64, "f"),
            |p| p.amount.push('0'),
            |p| p.claim_leaf.replace_range(0..1, "e"),
        ];
        for edit in edits {
            let mut changed = ps.clone();
            edit(&mut changed[1]);
            assert_ne!(base, seal_digest(1, "c", Some(&root), Some(&root), &changed));
        }
    }

    #[test]
    fn claim_cut_uses_the_v2_encoding_and_zero_keeps_v1() {
        let ps = vec![p(0, "alice"), p(1, "bob"), p(2, "carol")];
        let root = "ab".repeat(32);
        let v1 = seal_digest(1, "c", Some(&root), Some(&root), &ps);
        assert_eq!(seal_digest_with_cut(1, "c", Some(&root), Some(&root), 0, &ps), v1);
        let cut1 = seal_digest_with_cut(1, "c", Some(&root), Some(&root), 1, &ps);
        assert_ne!(cut1, v1);
        assert_ne!(cut1, seal_digest_with_cut(1, "c", Some(&root), Some(&root), 2, &ps));
        // Built by hand from the documented v2 encoding (no participants, to keep it short).
        let mut input = Vec::new();
        input.extend((DIGEST_DOMAIN_CUT.len() as u32).to_be_bytes());
        input.extend(DIGEST_DOMAIN_CUT.as_bytes());
        input.extend(7i64.to_be_bytes());
        input.extend(4u32.to_be_bytes());
        input.extend(b"lacy");
        input.extend([0u8, 0u8]);
        input.extend(3u64.to_be_bytes());
        input.extend(0u64.to_be_bytes());
        let want = hex::encode(Keccak256::digest(&input));
        assert_eq!(seal_digest_with_cut(7, "lacy", None, None, 3, &[]), want);
    }

    #[test]
    fn length_prefixes_keep_field_boundaries() {
        let mut a = p(0, "ab");
        a.amount = "1".into();
        let mut b = p(0, "a");
        b.amount = "1".into();
        b.login = "a".into();
        assert_ne!(seal_digest(1, "cb", None, None, &[]), seal_digest(1, "c", Some("b"), None, &[]));
        assert_ne!(seal_digest(1, "c", None, None, &[a]), seal_digest(1, "c", None, None, &[b]));
    }
}
