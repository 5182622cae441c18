//! The plain records the actors hand to the store and get back from it, and the checks on
//! their contents (hash format, signal kinds, seal shape). Hashes are 64 lowercase hex
//! characters without `0x`, except in the flush's deltas, which carry their 32 bytes; times are Unix seconds, or Unix milliseconds where a name ends in
//! `_ms`. No I/O here.

use std::borrow::Cow;

use crate::error::StoreError;
use crate::keys::HashBytes;
use crate::signals::{SignalKind, Signals};

/// A message id to deduplicate, with the (epoch, channel) it was counted in. The channel may
/// be borrowed (the aggregator's channel names come from its interner, not a copy per line).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SeenId<'a> {
    /// The message id (the IRC `id` tag) as `seen_ids` keys it (`"text".into()` makes it).
    pub id: crate::message_keys::SeenKey,
    /// The epoch it counts in.
    pub epoch: i64,
    /// The channel login.
    pub channel: Cow<'a, str>,
}

/// What one flush adds for one (epoch, channel, user): presence, the user mapping, signal sums.
/// The user is its hash's 32 bytes (`crate::keys`), as stored; the texts may be borrowed (the
/// aggregator's come from its interner, not a fresh string per row).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParticipationDelta<'a> {
    /// The epoch (Unix seconds of its start).
    pub epoch: i64,
    /// The channel login.
    pub channel: Cow<'a, str>,
    /// The user hash, as its bytes.
    pub user_hash: HashBytes,
    /// The login, lowercase.
    pub login: Cow<'a, str>,
    /// The Twitch user id, when the line carried one.
    pub user_id: Option<Cow<'a, str>>,
    /// The display name, when the line carried one.
    pub display_name: Option<Cow<'a, str>>,
    /// The earliest time seen in this batch, Unix seconds.
    pub first_seen: i64,
    /// The latest time seen in this batch, Unix seconds.
    pub last_seen: i64,
    /// The amount to add per kind (zeros add nothing).
    pub signals: Signals<i64>,
}

/// An interval `[started_ms, until_ms)` during which `channel` was joined.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CoverageSpan {
    /// The channel login.
    pub channel: String,
    /// Start, Unix milliseconds (inclusive).
    pub started_ms: i64,
    /// End, Unix milliseconds (exclusive).
    pub until_ms: i64,
}

/// One participant of an unsealed (epoch, channel), as the sealer reads it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParticipantRow {
    /// The user hash (64 lowercase hex).
    pub user_hash: String,
    /// The login from `users` (the latest seen).
    pub login: String,
    /// First time seen in the epoch, Unix seconds.
    pub first_seen: i64,
    /// Last time seen in the epoch, Unix seconds.
    pub last_seen: i64,
    /// The participant's signal sums.
    pub signals: Signals<i64>,
}

/// A seal to write: roots and frozen leaves of one (epoch, channel).
#[derive(Clone, Debug, PartialEq)]
pub struct NewSeal {
    /// The epoch (Unix seconds of its start).
    pub epoch: i64,
    /// The channel login.
    pub channel: String,
    /// None exactly when `participants` is empty.
    pub root: Option<String>,
    /// The claim root; None exactly when `participants` is empty.
    pub claim_root: Option<String>,
    /// Fraction of the epoch the channel was joined, 0..=1.
    pub coverage: f64,
    /// When it is sealed, Unix seconds.
    pub sealed_at: i64,
    /// The sealing format version.
    pub format_version: i32,
    /// How many participants, the last ones in index order, the claim cap left out of the
    /// claim tree (`claim_root` covers the first `participants.len() - claim_cut`); 0 = none.
    pub claim_cut: i64,
    /// In index order: `idx` must be 0, 1, 2, ...
    pub participants: Vec<SealedParticipant>,
}

impl NewSeal {
    /// The digest stored with this seal (`crate::digest::seal_digest_with_cut` over its
    /// fields and participants): what start-up and backups re-check the rows against.
    pub fn digest(&self) -> String {
        crate::digest::seal_digest_with_cut(
            self.epoch,
            &self.channel,
            self.root.as_deref(),
            self.claim_root.as_deref(),
            self.claim_cut,
            &self.participants,
        )
    }
}

/// One frozen leaf of a sealed (epoch, channel).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedParticipant {
    /// The frozen 0-based leaf index.
    pub idx: i64,
    /// The user hash (64 lowercase hex).
    pub user_hash: String,
    /// The login as sealed.
    pub login: String,
    /// The participation leaf (64 lowercase hex).
    pub leaf: String,
    /// u64 base units as a decimal string.
    pub amount: String,
    /// The claim leaf (64 lowercase hex; empty for an imported legacy seal).
    pub claim_leaf: String,
}

/// A sealed (epoch, channel) as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct SealedEpoch {
    /// The epoch (Unix seconds of its start).
    pub epoch: i64,
    /// The channel login.
    pub channel: String,
    /// The participation root; None when nobody took part.
    pub root: Option<String>,
    /// The claim root; None when nobody took part, and for imported legacy seals.
    pub claim_root: Option<String>,
    /// How many participants.
    pub participants: i64,
    /// Fraction of the epoch the channel was joined, 0..=1.
    pub coverage: f64,
    /// `crate::digest::seal_digest` of the seal (64 lowercase hex).
    pub digest: String,
    /// When it was sealed, Unix seconds.
    pub sealed_at: i64,
    /// The sealing format version.
    pub format_version: i32,
    /// Participants left out of the claim tree by the claim cap (see [`NewSeal::claim_cut`]);
    /// 0 = none (also for seals written before the column existed).
    pub claim_cut: i64,
}

/// The outcome of `Store::write_seal`.
#[derive(Clone, Debug, PartialEq)]
pub enum SealWrite {
    /// Written now.
    Sealed(SealedEpoch),
    /// Was sealed before; nothing was written. Holds the stored seal.
    AlreadySealed(SealedEpoch),
}

impl SealWrite {
    /// The stored seal, whichever way it got there.
    pub fn epoch(&self) -> &SealedEpoch {
        match self {
            SealWrite::Sealed(e) | SealWrite::AlreadySealed(e) => e,
        }
    }
}

/// True for 64 lowercase hex characters (the stored form of every hash).
pub fn is_hash_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn invalid(what: &'static str, detail: String) -> StoreError {
    StoreError::Invalid { what, detail }
}

pub(crate) fn check_hash(what: &'static str, s: &str) -> Result<(), StoreError> {
    if is_hash_hex(s) {
        Ok(())
    } else {
        Err(invalid(what, format!("{s:?} is not 64 lowercase hex characters (no 0x)")))
    }
}

/// The kind of a stored `kind` column, or why it is not one.
pub(crate) fn check_kind(kind: &str) -> Result<SignalKind, StoreError> {
    SignalKind::from_name(kind).ok_or_else(|| {
        let names: Vec<&str> = SignalKind::ALL.iter().map(|k| k.name()).collect();
        invalid("signal kind", format!("{kind:?} is not one of {names:?}"))
    })
}

/// Checks a seal before it is written: hashes well formed, roots present iff participants,
/// indexes 0..n in order, amounts u64 decimals, coverage within 0..=1, no user twice.
pub(crate) fn check_seal(seal: &NewSeal) -> Result<(), StoreError> {
    let empty = seal.participants.is_empty();
    if seal.root.is_some() == empty || seal.claim_root.is_some() == empty {
        return Err(invalid(
            "seal",
            format!(
                "epoch {} channel {}: roots must be present exactly when there are participants ({} participants, root {:?}, claim_root {:?})",
                seal.epoch, seal.channel, seal.participants.len(), seal.root, seal.claim_root
            ),
        ));
    }
    let n = seal.participants.len() as i64;
    if seal.claim_cut < 0 || (seal.claim_cut > 0 && seal.claim_cut >= n) {
        return Err(invalid(
            "seal claim_cut",
            format!(
                "epoch {} channel {}: {} participants cut from a claim tree of {n} (the claim tree must keep at least one)",
                seal.epoch, seal.channel, seal.claim_cut
            ),
        ));
    }
    if let Some(r) = &seal.root {
        check_hash("seal root", r)?;
    }
    if let Some(r) = &seal.claim_root {
        check_hash("seal claim_root", r)?;
    }
    if !(0.0..=1.0).contains(&seal.coverage) {
        return Err(invalid("seal coverage", format!("{} is outside 0..=1", seal.coverage)));
    }
    let mut seen = std::collections::HashSet::with_capacity(seal.participants.len());
    for (i, p) in seal.participants.iter().enumerate() {
        if p.idx != i as i64 {
            return Err(invalid("seal participant index", format!("position {i} holds idx {}", p.idx)));
        }
        check_hash("participant user_hash", &p.user_hash)?;
        check_hash("participant leaf", &p.leaf)?;
        check_hash("participant claim_leaf", &p.claim_leaf)?;
        if p.amount.is_empty() || p.amount.parse::<u64>().map(|a| a.to_string() != p.amount).unwrap_or(true) {
            return Err(invalid("participant amount", format!("{:?} is not a canonical u64 decimal", p.amount)));
        }
        if !seen.insert(p.user_hash.as_str()) {
            return Err(invalid("seal", format!("user {} appears twice", p.user_hash)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(c: char) -> String {
        std::iter::repeat_n(c, 64).collect()
    }

    fn seal(n: usize) -> NewSeal {
        NewSeal {
            epoch: 1,
            channel: "c".into(),
            root: (n > 0).then(|| h('a')),
            claim_root: (n > 0).then(|| h('b')),
            coverage: 1.0,
            sealed_at: 0,
            format_version: 1,
            claim_cut: 0,
            participants: (0..n)
                .map(|i| SealedParticipant {
                    idx: i as i64,
                    user_hash: format!("{:064x}", i),
                    login: format!("u{i}"),
                    leaf: h('c'),
                    amount: "10".into(),
                    claim_leaf: h('d'),
                })
                .collect(),
        }
    }

    #[test]
    fn hash_format() {
        assert!(is_hash_hex(&h('0')));
        assert!(!is_hash_hex(&h('A')));
        assert!(!is_hash_hex(&format!("0x{}", &h('0')[2..])));
        assert!(!is_hash_hex("abc"));
    }

    #[test]
    fn seal_checks() {
        assert!(check_seal(&seal(0)).is_ok());
        assert!(check_seal(&seal(3)).is_ok());
        let mut s = seal(3);
        s.participants[2].idx = 5;
        assert!(check_seal(&s).is_err());
        let mut s = seal(2);
        s.root = None;
        assert!(check_seal(&s).is_err());
        let mut s = seal(2);
        s.participants[1].amount = "007".into();
        assert!(check_seal(&s).is_err());
        let mut s = seal(2);
        s.participants[1].user_hash = s.participants[0].user_hash.clone();
        assert!(check_seal(&s).is_err());
        let mut s = seal(0);
        s.coverage = 1.5;
        assert!(check_seal(&s).is_err());
    }

    #[test]
    fn claim_cut_keeps_at_least_one_claim_leaf() {
        let mut s = seal(3);
        s.claim_cut = 2;
        assert!(check_seal(&s).is_ok());
        s.claim_cut = 3;
        assert!(check_seal(&s).is_err());
        s.claim_cut = -1;
        assert!(check_seal(&s).is_err());
        let mut s = seal(0);
        s.claim_cut = 1;
        assert!(check_seal(&s).is_err());
    }

    #[test]
    fn kinds() {
        assert_eq!(check_kind("resub").ok(), Some(SignalKind::Resub));
        assert!(check_kind("follow").is_err());
    }
}
