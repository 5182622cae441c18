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

use crate::rows::{SealedEpoch, SealedParticipant};
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

/// True when `rows` (a seal's frozen participants in index order, as read) are exactly what
/// `seal` froze: as many as it counts, hashing to its stored digest. What every reader that
/// hands sealed rows out (proofs, the publish bundle) checks before it does.
pub fn seal_rows_match(seal: &SealedEpoch, rows: &[SealedParticipant]) -> bool {
    rows.len() as i64 == seal.participants
        && seal_digest_with_cut(
            seal.epoch,
            &seal.channel,
            seal.root.as_deref(),
            seal.claim_root.as_deref(),
            seal.claim_cut,
            rows,
        ) == seal.digest
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
/// order (through [`SealHasher`], the one implementation of the encoding).
pub fn seal_digest_of<'a>(
    epoch: i64,
    channel: &str,
    root: Option<&str>,
    claim_root: Option<&str>,
    claim_cut: i64,
    count: usize,
    participants: impl IntoIterator<Item = LeafFields<'a>>,
) -> String {
    let mut h = SealHasher::new(SealHead { epoch, channel, root, claim_root, claim_cut }, count);
    for p in participants {
        h.push(p);
    }
    h.finish()
}

/// The digest of one seal fed a participant at a time, in index order: the encoding of the
/// module doc. Each participant's encoding is assembled in one reused buffer and hashed with
/// one call, so the check of a store allocates nothing per leaf. [`SealHasher::push_stored`]
/// takes the hashes as the store's raw bytes and writes their hex itself (the digest hashes
/// the hex text, byte for byte as the rows held it before the compact layout).
pub struct SealHasher {
    h: Keccak256,
    buf: Vec<u8>,
}

/// What a seal's digest covers besides its participants (the sealed_epochs row).
#[derive(Clone, Copy, Debug)]
pub struct SealHead<'a> {
    /// The epoch.
    pub epoch: i64,
    /// The channel login.
    pub channel: &'a str,
    /// The participation root (hex), if any.
    pub root: Option<&'a str>,
    /// The claim root (hex), if any.
    pub claim_root: Option<&'a str>,
    /// Participants left out of the claim tree (above 0: the v2 encoding).
    pub claim_cut: i64,
}

impl SealHasher {
    /// Starts the digest of a seal of `count` participants (a `claim_cut` above 0: the v2
    /// encoding; 0 or below: v1).
    pub fn new(head: SealHead<'_>, count: usize) -> SealHasher {
        let SealHead { epoch, channel, root, claim_root, claim_cut } = head;
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
        SealHasher { h, buf: Vec::with_capacity(512) }
    }

    /// Adds the next participant, its hashes given as text (hex, as `SealedParticipant` holds them).
    pub fn push(&mut self, p: LeafFields<'_>) {
        self.buf.clear();
        self.buf.extend_from_slice(&p.idx.to_be_bytes());
        for field in [p.user_hash, p.login, p.leaf, p.amount, p.claim_leaf] {
            buf_str(&mut self.buf, field.as_bytes());
        }
        self.h.update(&self.buf);
    }

    /// Adds the next participant as the store holds it: the three hashes as raw bytes (hashed
    /// as their lowercase hex, any length), login and amount as their stored text bytes.
    pub fn push_stored(
        &mut self,
        idx: i64,
        user_hash: &[u8],
        login: &[u8],
        leaf: &[u8],
        amount: &[u8],
        claim_leaf: &[u8],
    ) {
        self.buf.clear();
        self.buf.extend_from_slice(&idx.to_be_bytes());
        buf_hex(&mut self.buf, user_hash);
        buf_str(&mut self.buf, login);
        buf_hex(&mut self.buf, leaf);
        buf_str(&mut self.buf, amount);
        buf_hex(&mut self.buf, claim_leaf);
        self.h.update(&self.buf);
    }

    /// The digest, 64 lowercase hex characters.
    pub fn finish(self) -> String {
        hex::encode(self.h.finalize())
    }
}

/// `str(x)` of the encoding into `buf`.
fn buf_str(buf: &mut Vec<u8>, x: &[u8]) {
    let len = u32::try_from(x.len()).unwrap_or(u32::MAX);
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(x);
}

/// `str(lowercase hex of bytes)` of the encoding into `buf`, without a String.
fn buf_hex(buf: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let len = u32::try_from(bytes.len() * 2).unwrap_or(u32::MAX);
    buf.extend_from_slice(&len.to_be_bytes());
    for b in bytes {
        buf.push(DIGITS[usize::from(b >> 4)]);
        buf.push(DIGITS[usize::from(b & 0xf)]);
    }
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
    fn rows_match_a_seal_only_when_count_and_digest_agree() {
        let rows = vec![p(0, "a"), p(1, "b")];
        let seal = SealedEpoch {
            epoch: 7,
            channel: "lacy".into(),
            root: Some("r".into()),
            claim_root: Some("c".into()),
            participants: 2,
            coverage: 1.0,
            digest: seal_digest_with_cut(7, "lacy", Some("r"), Some("c"), 0, &rows),
            sealed_at: 0,
            format_version: 1,
            claim_cut: 0,
        };
        assert!(seal_rows_match(&seal, &rows));
        assert!(!seal_rows_match(&seal, &rows[..1]), "a row missing");
        let mut changed = rows.clone();
        changed[1].amount = "8000000000001".into();
        assert!(!seal_rows_match(&seal, &changed), "an amount changed");
        assert!(!seal_rows_match(&SealedEpoch { claim_cut: 1, ..seal.clone() }, &rows), "the cut is hashed");
        assert!(!seal_rows_match(&SealedEpoch { participants: 3, ..seal }, &rows), "another count");
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
    fn stored_bytes_hash_as_their_hex_text() {
        let mut ps = vec![p(0, "alice"), p(1, "bob"), p(2, "ünï")];
        ps[1].claim_leaf = String::new();
        let root = "ab".repeat(32);
        let want = seal_digest_with_cut(9, "c", Some(&root), None, 2, &ps);
        let head = SealHead { epoch: 9, channel: "c", root: Some(&root), claim_root: None, claim_cut: 2 };
        let mut h = SealHasher::new(head, ps.len());
        for q in &ps {
            let raw = |s: &str| hex::decode(s).unwrap();
            h.push_stored(
                q.idx,
                &raw(&q.user_hash),
                q.login.as_bytes(),
                &raw(&q.leaf),
                q.amount.as_bytes(),
                &raw(&q.claim_leaf),
            );
        }
        assert_eq!(h.finish(), want);
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
