//! The digest check's comparison of the sealed participants' index with the rows (SQLite).
//! Table rows and index entries are separate b-trees: `quick_check` checks each tree's shape
//! but not that they agree, and the digests read the table, so a flipped byte inside an index
//! page would go unseen. The keyed layout's one index, (user_hash, epoch, channel_id), is in
//! user order, not seal order, so it is read once, whole (a covering scan), and each seal's
//! entries are reduced to a [`Fingerprint`] (count and wrapping sums of the user hashes) that
//! must equal the one of the seal's rows, which the digest check computes as it reads them.
//! PostgreSQL checks its own pages (checksums, full_page_writes).

use crate::layout::{TABLE, USER_EPOCHS_INDEX};
use crate::sqlite_raw::{Kind, RawDb, RawError};
use std::collections::HashMap;

/// An order-independent summary of a seal's user hashes: a changed, missing or extra hash
/// changes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    count: u64,
    low: u128,
    high: u128,
}

impl Fingerprint {
    /// Adds one user hash (any length: a damaged one changes the sums all the same).
    pub(crate) fn add(&mut self, user: &[u8]) {
        let half = |b: &[u8]| {
            let mut x = [0u8; 16];
            let n = b.len().min(16);
            x[..n].copy_from_slice(&b[..n]);
            u128::from_le_bytes(x)
        };
        let (lo, hi) = user.split_at(user.len().min(16));
        self.count += 1;
        self.low = self.low.wrapping_add(half(lo));
        self.high = self.high.wrapping_add(half(hi).wrapping_add(user.len() as u128));
    }

    /// Merges another seal part's summary (the sums commute).
    pub(crate) fn merge(&mut self, o: &Fingerprint) {
        self.count += o.count;
        self.low = self.low.wrapping_add(o.low);
        self.high = self.high.wrapping_add(o.high);
    }
}

/// Per seal (epoch, channel id).
pub(crate) type Fingerprints = HashMap<(i64, i64), Fingerprint>;

/// The fingerprints of every seal as the index holds it: one covering scan.
pub(crate) fn index_fingerprints(db: &mut RawDb) -> Result<Fingerprints, RawError> {
    let sql = format!("SELECT epoch, channel_id, user_hash FROM {TABLE} INDEXED BY {USER_EPOCHS_INDEX}");
    let mut q = db.prepare(&sql)?;
    q.reset_with(&[])?;
    let mut out = Fingerprints::new();
    while let Some(r) = q.next()? {
        // A value of another class (a damaged entry) counts under a key of its own.
        let key = if r.kind(0) == Kind::Integer && r.kind(1) == Kind::Integer {
            (r.i64(0), r.i64(1))
        } else {
            (i64::MIN, -1)
        };
        out.entry(key).or_default().add(r.bytes(2));
    }
    Ok(out)
}

/// The seals (epoch, channel id) of `rows` whose index entries differ from their rows, in key
/// order. Index entries of a key the rows do not have are not looked at: a seal committed
/// after the check read its page (a check beside a running daemon) has them; an entry whose
/// key was damaged is missing from its own seal, which is reported.
pub(crate) fn disagreeing(rows: &Fingerprints, index: &Fingerprints) -> Vec<(i64, i64)> {
    let none = Fingerprint::default();
    let mut out: Vec<(i64, i64)> =
        rows.iter().filter(|(k, f)| index.get(k).unwrap_or(&none) != *f).map(|(k, _)| *k).collect();
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(users: &[[u8; 32]]) -> Fingerprint {
        let mut f = Fingerprint::default();
        users.iter().for_each(|u| f.add(u));
        f
    }

    #[test]
    fn any_changed_missing_or_extra_hash_is_seen_in_any_order() {
        let (a, b, c) = ([1u8; 32], [2u8; 32], [3u8; 32]);
        assert_eq!(fp(&[a, b, c]), fp(&[c, a, b]));
        assert_ne!(fp(&[a, b]), fp(&[a, b, c]));
        for at in 0..32 {
            let mut flipped = b;
            flipped[at] ^= 0x10;
            assert_ne!(fp(&[a, b]), fp(&[a, flipped]), "byte {at}");
        }
        let mut short = Fingerprint::default();
        short.add(&a[..31]);
        assert_ne!(short, fp(&[a]));
        let mut merged = fp(&[a]);
        merged.merge(&fp(&[b, c]));
        assert_eq!(merged, fp(&[a, b, c]));
        let rows = Fingerprints::from([((1, 1), fp(&[a])), ((2, 1), fp(&[b]))]);
        let mut index = rows.clone();
        assert!(disagreeing(&rows, &index).is_empty());
        index.insert((9, 9), fp(&[c]));
        assert!(disagreeing(&rows, &index).is_empty(), "a seal written after its page was read");
        index.insert((2, 1), fp(&[c]));
        index.remove(&(1, 1));
        assert_eq!(disagreeing(&rows, &index), vec![(1, 1), (2, 1)]);
    }
}
