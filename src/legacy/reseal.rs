//! An old seal, kept with its root EXACTLY as it was. Its leaves are recomputed with the
//! participation leaf of merkle.md, in the old frozen order (by `idx`). When they fold to the
//! old root the seal is current format (`format_version` 1); when they do not, the root is kept
//! all the same, the recomputed leaves are stored, and the seal is marked legacy
//! (`format_version` 0: "root kept, leaves not reproducible"). Old seals have no claim tree:
//! `claim_root` is NULL, amounts are "0" and claim leaves empty. Pure.

use chatseal_actors::format::{parse_hash, participation_leaf, to_hex};
use chatseal_actors::sealer::merkle::MerkleTree;
use chatseal_schema::copy::ImportSeal;
use chatseal_schema::SealedParticipant;

use super::convert::{normalize_hash, normalize_login, parse_int, parse_time};

/// `format_version` of a seal whose leaves fold to its root.
pub const FORMAT_CURRENT: i32 = 1;
/// `format_version` of a kept root whose leaves are not reproducible.
pub const FORMAT_LEGACY: i32 = 0;

/// A sealed participant as the old table holds it.
pub struct MemberIn<'a> {
    /// The frozen leaf index, as text; an unreadable one skips the seal.
    pub idx: Option<&'a str>,
    /// The user hash (any case, with or without `0x`); an invalid one skips the seal.
    pub user_hash: Option<&'a str>,
    /// The login, if the old table kept it; lowercased into the users table.
    pub username: Option<&'a str>,
}

/// How an old seal came through.
#[derive(Debug, Clone, PartialEq)]
pub enum Resealed {
    /// Imported; `reproducible` says whether the recomputed leaves fold to the old root.
    Kept {
        /// The seal and its rows to write, with the old root as-is.
        seal: ImportSeal,
        /// True when the recomputed leaves fold to the old root (format 1), false for format 0.
        reproducible: bool,
    },
    /// Not imported, with the reason.
    Skipped(String),
}

/// The root the recomputed leaves fold to (None without leaves).
fn fold(leaves: &[[u8; 32]]) -> Option<String> {
    MerkleTree::build(leaves.to_vec()).map(|t| to_hex(&t.root()))
}

/// Converts one old seal of (epoch, channel). `root` and `sealed_at` are the old row's values.
pub fn reseal(
    epoch: i64,
    channel: &str,
    root: Option<&str>,
    sealed_at: Option<&str>,
    members: &[MemberIn],
) -> Resealed {
    let root = match root.map(str::trim).filter(|r| !r.is_empty()) {
        None => None,
        Some(r) => match normalize_hash(r) {
            Some(h) => Some(h),
            None => return Resealed::Skipped(format!("its root {r:?} is not a 32-byte hash")),
        },
    };
    let mut rows = Vec::with_capacity(members.len());
    for m in members {
        let Some(idx) = m.idx.and_then(parse_int) else {
            return Resealed::Skipped(format!("a sealed participant has no readable idx ({:?})", m.idx));
        };
        let Some(uh) = m.user_hash.and_then(normalize_hash) else {
            return Resealed::Skipped(format!("sealed participant {idx} has no valid user_hash ({:?})", m.user_hash));
        };
        rows.push((idx, uh, m.username.and_then(normalize_login).unwrap_or_default()));
    }
    rows.sort_by_key(|r| r.0);
    if rows.windows(2).any(|w| w[0].0 == w[1].0) {
        return Resealed::Skipped("two sealed participants share one idx".into());
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = rows.iter().find(|r| !seen.insert(r.1.clone())) {
        return Resealed::Skipped(format!("user {} appears twice", dup.1));
    }
    let mut leaves = Vec::with_capacity(rows.len());
    for (_, uh, _) in &rows {
        // normalize_hash guarantees 64 hex digits.
        let Ok(h) = parse_hash(uh) else { return Resealed::Skipped(format!("user_hash {uh} cannot be decoded")) };
        leaves.push(participation_leaf(&h, channel, epoch as u64));
    }
    let reproducible = fold(&leaves) == root;
    let participants = rows
        .into_iter()
        .zip(&leaves)
        .enumerate()
        .map(|(i, ((_, user_hash, login), leaf))| SealedParticipant {
            idx: i as i64,
            user_hash,
            login,
            leaf: to_hex(leaf),
            amount: "0".into(),
            claim_leaf: String::new(),
        })
        .collect();
    let seal = ImportSeal {
        epoch,
        channel: channel.to_owned(),
        root,
        sealed_at: sealed_at.and_then(parse_time).unwrap_or(0),
        format_version: if reproducible { FORMAT_CURRENT } else { FORMAT_LEGACY },
        coverage: 0.0,
        participants,
    };
    Resealed::Kept { seal, reproducible }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chatseal_actors::format::user_hash;

    fn members(logins: &[&str]) -> Vec<(String, String, String)> {
        logins
            .iter()
            .enumerate()
            .map(|(i, l)| {
                ((i + 1).to_string(), format!("0x{}", to_hex(&user_hash(l)).to_uppercase()), l.to_uppercase())
            })
            .collect()
    }

    fn refs(m: &[(String, String, String)]) -> Vec<MemberIn<'_>> {
        m.iter().map(|(i, h, u)| MemberIn { idx: Some(i), user_hash: Some(h), username: Some(u) }).collect()
    }

    #[test]
    fn a_reproducible_root_is_current_format() {
        let m = members(&["alice", "bob", "carol"]);
        let leaves: Vec<[u8; 32]> =
            ["alice", "bob", "carol"].iter().map(|l| participation_leaf(&user_hash(l), "chan", 3600)).collect();
        let root = format!("0x{}", fold(&leaves).unwrap().to_uppercase());
        match reseal(3600, "chan", Some(&root), Some("3700"), &refs(&m)) {
            Resealed::Kept { seal, reproducible } => {
                assert!(reproducible);
                assert_eq!(seal.format_version, FORMAT_CURRENT);
                assert_eq!(seal.root.as_deref(), Some(root[2..].to_lowercase().as_str()));
                assert_eq!(seal.participants.len(), 3);
                assert_eq!(seal.participants[1].login, "bob");
                assert_eq!((seal.participants[0].idx, seal.sealed_at), (0, 3700));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn another_root_is_kept_as_legacy() {
        let m = members(&["alice", "bob"]);
        let root = "ab".repeat(32);
        match reseal(3600, "chan", Some(&root), None, &refs(&m)) {
            Resealed::Kept { seal, reproducible } => {
                assert!(!reproducible);
                assert_eq!((seal.root.as_deref(), seal.format_version), (Some(root.as_str()), FORMAT_LEGACY));
                assert_eq!(seal.participants[0].leaf, to_hex(&participation_leaf(&user_hash("alice"), "chan", 3600)));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(reseal(1, "c", None, None, &[]), Resealed::Kept { reproducible: true, .. }));
        assert!(matches!(reseal(1, "c", Some(&root), None, &[]), Resealed::Kept { reproducible: false, .. }));
    }

    #[test]
    fn unreadable_seals_are_skipped_with_a_reason() {
        assert!(matches!(reseal(1, "c", Some("xyz"), None, &[]), Resealed::Skipped(r) if r.contains("root")));
        let mut m = members(&["alice", "bob"]);
        m[1].1 = m[0].1.clone();
        assert!(matches!(reseal(1, "c", None, None, &refs(&m)), Resealed::Skipped(r) if r.contains("twice")));
        let mut m = members(&["alice", "bob"]);
        m[1].0 = "1".into();
        assert!(matches!(reseal(1, "c", None, None, &refs(&m)), Resealed::Skipped(r) if r.contains("idx")));
    }
}
