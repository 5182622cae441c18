//! Folding a flush batch before it reaches SQL: one row per key, merged with the same rules the
//! upserts apply against stored rows (first_seen min, last_seen max, signals summed, user
//! fields from the newest sighting that has them, coverage until_ms max). PostgreSQL refuses an
//! `ON CONFLICT DO UPDATE` that touches a row twice in one statement, so this is required,
//! and it shrinks the statements. Pure; validates hashes and kinds on the way.

use crate::error::StoreError;
use crate::rows::{check_hash, CoverageSpan, ParticipationDelta, SeenId};
use crate::signals::SignalKind;
use std::collections::{BTreeMap, HashSet};

/// A participation row to upsert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PartRow {
    pub first_seen: i64,
    pub last_seen: i64,
}

/// A users row to upsert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UserRow {
    pub login: String,
    pub user_id: Option<String>,
    pub display_name: Option<String>,
    pub first_seen: i64,
    pub last_seen: i64,
}

/// A batch folded per key. BTreeMaps give a stable statement order (fewer lock-order surprises
/// between concurrent writers on PostgreSQL).
#[derive(Debug, Default)]
pub(crate) struct Folded {
    pub participation: BTreeMap<(i64, String, String), PartRow>,
    pub signals: BTreeMap<(i64, String, String, SignalKind), i64>,
    pub users: BTreeMap<String, UserRow>,
}

/// Newest non-null: `newer` wins where it has a value.
fn pick(older: &Option<String>, newer: &Option<String>) -> Option<String> {
    newer.clone().or_else(|| older.clone())
}

impl UserRow {
    fn merge(&mut self, other: UserRow) {
        let (old, new) = if other.last_seen >= self.last_seen { (&*self, &other) } else { (&other, &*self) };
        let merged = UserRow {
            login: new.login.clone(),
            user_id: pick(&old.user_id, &new.user_id),
            display_name: pick(&old.display_name, &new.display_name),
            first_seen: self.first_seen.min(other.first_seen),
            last_seen: self.last_seen.max(other.last_seen),
        };
        *self = merged;
    }
}

pub(crate) fn fold_deltas(rows: &[ParticipationDelta]) -> Result<Folded, StoreError> {
    let mut f = Folded::default();
    for d in rows {
        check_hash("participation user_hash", &d.user_hash)?;
        if d.first_seen > d.last_seen {
            return Err(StoreError::Invalid {
                what: "participation delta",
                detail: format!("user {} first_seen {} is after last_seen {}", d.user_hash, d.first_seen, d.last_seen),
            });
        }
        let key = (d.epoch, d.channel.clone(), d.user_hash.clone());
        f.participation
            .entry(key)
            .and_modify(|p| {
                p.first_seen = p.first_seen.min(d.first_seen);
                p.last_seen = p.last_seen.max(d.last_seen);
            })
            .or_insert(PartRow { first_seen: d.first_seen, last_seen: d.last_seen });
        for (kind, value) in d.signals.nonzero() {
            let sum = f.signals.entry((d.epoch, d.channel.clone(), d.user_hash.clone(), kind)).or_insert(0);
            *sum = sum.saturating_add(value);
        }
        let user = UserRow {
            login: d.login.clone(),
            user_id: d.user_id.clone(),
            display_name: d.display_name.clone(),
            first_seen: d.first_seen,
            last_seen: d.last_seen,
        };
        match f.users.get_mut(&d.user_hash) {
            Some(u) => u.merge(user),
            None => {
                f.users.insert(d.user_hash.clone(), user);
            }
        }
    }
    Ok(f)
}

/// One span per (channel, started_ms), with the largest until_ms.
pub(crate) fn fold_coverage(spans: &[CoverageSpan]) -> Result<BTreeMap<(String, i64), i64>, StoreError> {
    let mut out = BTreeMap::new();
    for s in spans {
        if s.until_ms < s.started_ms {
            return Err(StoreError::Invalid {
                what: "coverage span",
                detail: format!("channel {} ends at {} before it starts at {}", s.channel, s.until_ms, s.started_ms),
            });
        }
        let e = out.entry((s.channel.clone(), s.started_ms)).or_insert(s.until_ms);
        *e = (*e).max(s.until_ms);
    }
    Ok(out)
}

/// The ids in first-occurrence order, each once.
pub(crate) fn unique_ids(ids: &[SeenId]) -> Vec<&SeenId> {
    let mut seen = HashSet::with_capacity(ids.len());
    ids.iter().filter(|s| seen.insert(s.id.as_str())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::Signals;
    use SignalKind::{Bits, Message};

    fn d(
        user: char,
        first: i64,
        last: i64,
        login: &str,
        uid: Option<&str>,
        signals: Signals<i64>,
    ) -> ParticipationDelta {
        ParticipationDelta {
            epoch: 1,
            channel: "c".into(),
            user_hash: std::iter::repeat_n(user, 64).collect(),
            login: login.into(),
            user_id: uid.map(Into::into),
            display_name: None,
            first_seen: first,
            last_seen: last,
            signals,
        }
    }

    #[test]
    fn folds_per_key() {
        let f = fold_deltas(&[
            d('a', 10, 20, "old", Some("1"), Signals::default().with(Message, 2).with(Bits, 100)),
            d('a', 5, 15, "older", None, Signals::default().with(Message, 3)),
            d('a', 12, 30, "new", None, Signals::default()),
            d('b', 1, 1, "b", None, Signals::default()),
        ])
        .unwrap();
        assert_eq!(f.participation.len(), 2);
        let a = std::iter::repeat_n('a', 64).collect::<String>();
        assert_eq!(f.participation[&(1, "c".into(), a.clone())], PartRow { first_seen: 5, last_seen: 30 });
        assert_eq!(f.signals[&(1, "c".into(), a.clone(), Message)], 5);
        assert_eq!(f.signals[&(1, "c".into(), a.clone(), Bits)], 100);
        assert_eq!(f.signals.len(), 2, "zero sums are not written");
        let u = &f.users[&a];
        assert_eq!((u.login.as_str(), u.user_id.as_deref(), u.first_seen, u.last_seen), ("new", Some("1"), 5, 30));
    }

    #[test]
    fn rejects_bad_input() {
        let mut bad = d('a', 1, 2, "x", None, Signals::default());
        bad.user_hash = "0xabc".into();
        assert!(fold_deltas(&[bad]).is_err());
        assert!(fold_deltas(&[d('a', 3, 2, "x", None, Signals::default())]).is_err());
    }

    #[test]
    fn coverage_and_ids() {
        let span = |s, u| CoverageSpan { channel: "c".into(), started_ms: s, until_ms: u };
        let f = fold_coverage(&[span(1, 5), span(1, 9), span(1, 7), span(2, 3)]).unwrap();
        assert_eq!(f[&("c".into(), 1)], 9);
        assert_eq!(f.len(), 2);
        assert!(fold_coverage(&[span(5, 1)]).is_err());
        let id = |s: &str| SeenId { id: s.into(), epoch: 1, channel: "c".into() };
        let ids = [id("x"), id("y"), id("x")];
        assert_eq!(unique_ids(&ids).iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["x", "y"]);
    }
}
