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

use crate::rows::SealedParticipant;
use sha3::{Digest, Keccak256};

/// The domain tag that starts every digest input.
pub const DIGEST_DOMAIN: &str = "chatseal/seal-digest/v1";

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

/// The digest of a seal, as 64 lowercase hex characters (see the module doc for the encoding).
pub fn seal_digest(
    epoch: i64,
    channel: &str,
    root: Option<&str>,
    claim_root: Option<&str>,
    participants: &[SealedParticipant],
) -> String {
    let mut h = Keccak256::new();
    put_str(&mut h, DIGEST_DOMAIN);
    h.update(epoch.to_be_bytes());
    put_str(&mut h, channel);
    put_opt(&mut h, root);
    put_opt(&mut h, claim_root);
    h.update((participants.len() as u64).to_be_bytes());
    for p in participants {
        h.update(p.idx.to_be_bytes());
        put_str(&mut h, &p.user_hash);
        put_str(&mut h, &p.login);
        put_str(&mut h, &p.leaf);
        put_str(&mut h, &p.amount);
        put_str(&mut h, &p.claim_leaf);
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
        assert_ne!(
            base,
            seal_digest(1, "c", Some(&root), Some(&root), &ps[..1])
        );
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
            assert_ne!(
                base,
                seal_digest(1, "c", Some(&root), Some(&root), &changed)
            );
        }
    }

    #[test]
    fn length_prefixes_keep_field_boundaries() {
        let mut a = p(0, "ab");
        a.amount = "1".into();
        let mut b = p(0, "a");
        b.amount = "1".into();
        b.login = "a".into();
        assert_ne!(
            seal_digest(1, "cb", None, None, &[]),
            seal_digest(1, "c", Some("b"), None, &[])
        );
        assert_ne!(
            seal_digest(1, "c", None, None, &[a]),
            seal_digest(1, "c", None, None, &[b])
        );
    }
}
