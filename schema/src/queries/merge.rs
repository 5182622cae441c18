//! Folding a flush batch before it reaches SQL: one row per key, merged with the same rules the
//! upserts apply against stored rows (first_seen min, last_seen max, signals summed, user
//! fields from the newest sighting that has them, coverage until_ms max). PostgreSQL refuses an
//! `ON CONFLICT DO UPDATE` that touches a row twice in one statement, so this is required,
//! and it shrinks the statements. Pure; checks the times on the way (a delta's user is its
//! hash's bytes: nothing to check there).

use crate::error::StoreError;
use crate::keys::HashBytes;
use crate::rows::{CoverageSpan, ParticipationDelta, SeenId};
use crate::signals::Signals;
use std::collections::{BTreeMap, HashMap, HashSet};

/// A participation row to upsert, with the signal sums of its key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PartRow {
    pub epoch: i64,
    /// Index into [`Folded::channels`].
    pub channel: usize,
    pub user: HashBytes,
    pub first_seen: i64,
    pub last_seen: i64,
    pub signals: Signals<i64>,
}

/// A users row to upsert; its texts borrowed from the deltas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct UserRow<'a> {
    pub user: HashBytes,
    pub login: &'a str,
    pub user_id: Option<&'a str>,
    pub display_name: Option<&'a str>,
    pub first_seen: i64,
    pub last_seen: i64,
}

/// A batch folded per key, each list sorted by its key (participation by epoch, channel name,
/// user; users by user): a stable statement order gives fewer lock-order surprises between
/// concurrent writers on PostgreSQL, and neighbouring keys land on neighbouring pages.
#[derive(Debug, Default)]
pub(crate) struct Folded<'a> {
    /// The batch's channels, by name.
    pub channels: Vec<&'a str>,
    pub participation: Vec<PartRow>,
    pub users: Vec<UserRow<'a>>,
}

impl<'a> UserRow<'a> {
    fn of(d: &'a ParticipationDelta<'_>) -> Self {
        UserRow {
            user: d.user_hash,
            login: &d.login,
            user_id: d.user_id.as_deref(),
            display_name: d.display_name.as_deref(),
            first_seen: d.first_seen,
            last_seen: d.last_seen,
        }
    }

    /// Folds in a sighting given after this one: the newer (by last_seen; on a tie, `other`)
    /// gives the login, and its user id and display name where it has them.
    fn merge(&mut self, other: UserRow<'a>) {
        let (old, new) = if other.last_seen >= self.last_seen { (*self, other) } else { (other, *self) };
        *self = UserRow {
            user: self.user,
            login: new.login,
            user_id: new.user_id.or(old.user_id),
            display_name: new.display_name.or(old.display_name),
            first_seen: self.first_seen.min(other.first_seen),
            last_seen: self.last_seen.max(other.last_seen),
        };
    }
}

/// The channels of `rows`, sorted, and the index of each row's channel in that list.
fn channels_of<'a>(rows: &'a [ParticipationDelta<'_>]) -> (Vec<&'a str>, Vec<usize>) {
    let mut first: HashMap<&str, usize> = HashMap::new();
    let mut of_row = Vec::with_capacity(rows.len());
    for d in rows {
        let n = first.len();
        of_row.push(*first.entry(&d.channel).or_insert(n));
    }
    let mut names: Vec<(&str, usize)> = first.into_iter().collect();
    names.sort_unstable();
    let mut rank = vec![0; names.len()];
    for (r, (_, i)) in names.iter().enumerate() {
        rank[*i] = r;
    }
    for c in &mut of_row {
        *c = rank[*c];
    }
    (names.into_iter().map(|(n, _)| n).collect(), of_row)
}

/// Folds `rows` per (epoch, channel, user) and per user, each key's rows merged in the order
/// given. Sorting a vector of fixed-size keys, not a map of texts.
pub(crate) fn fold_deltas<'a>(rows: &'a [ParticipationDelta<'_>]) -> Result<Folded<'a>, StoreError> {
    if let Some(d) = rows.iter().find(|d| d.first_seen > d.last_seen) {
        return Err(StoreError::Invalid {
            what: "participation delta",
            detail: format!(
                "user {} first_seen {} is after last_seen {}",
                crate::keys::hash_from_bytes(&d.user_hash),
                d.first_seen,
                d.last_seen
            ),
        });
    }
    let (channels, channel_of) = channels_of(rows);

    let mut keys: Vec<(i64, usize, HashBytes, usize)> =
        rows.iter().zip(&channel_of).enumerate().map(|(i, (d, &c))| (d.epoch, c, d.user_hash, i)).collect();
    keys.sort_unstable();
    let mut participation: Vec<PartRow> = Vec::with_capacity(keys.len());
    for (epoch, channel, user, i) in keys {
        let d = &rows[i];
        match participation.last_mut() {
            Some(p) if (p.epoch, p.channel, p.user) == (epoch, channel, user) => {
                p.first_seen = p.first_seen.min(d.first_seen);
                p.last_seen = p.last_seen.max(d.last_seen);
                p.signals.add(&d.signals);
            }
            _ => participation.push(PartRow {
                epoch,
                channel,
                user,
                first_seen: d.first_seen,
                last_seen: d.last_seen,
                signals: d.signals,
            }),
        }
    }

    let mut by_user: Vec<(HashBytes, usize)> = rows.iter().enumerate().map(|(i, d)| (d.user_hash, i)).collect();
    by_user.sort_unstable();
    let mut users: Vec<UserRow<'a>> = Vec::with_capacity(by_user.len());
    for (user, i) in by_user {
        let row = UserRow::of(&rows[i]);
        match users.last_mut() {
            Some(u) if u.user == user => u.merge(row),
            _ => users.push(row),
        }
    }
    Ok(Folded { channels, participation, users })
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

/// The positions in `ids` of each id's first occurrence, in order.
pub(crate) fn unique_ids(ids: &[SeenId<'_>]) -> Vec<usize> {
    let mut seen = HashSet::with_capacity(ids.len());
    (0..ids.len()).filter(|&i| seen.insert(&ids[i].id)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::SignalKind::{Bits, Message};

    fn d(
        user: u8,
        first: i64,
        last: i64,
        login: &str,
        uid: Option<&str>,
        signals: Signals<i64>,
    ) -> ParticipationDelta<'static> {
        ParticipationDelta {
            epoch: 1,
            channel: "c".into(),
            user_hash: [user; 32],
            login: login.to_owned().into(),
            user_id: uid.map(|u| u.to_owned().into()),
            display_name: None,
            first_seen: first,
            last_seen: last,
            signals,
        }
    }

    #[test]
    fn folds_per_key() {
        let rows = [
            d(0xaa, 10, 20, "old", Some("1"), Signals::default().with(Message, 2).with(Bits, 100)),
            d(0xbb, 1, 1, "b", None, Signals::default()),
            d(0xaa, 5, 15, "older", None, Signals::default().with(Message, 3)),
            d(0xaa, 12, 30, "new", None, Signals::default()),
        ];
        let f = fold_deltas(&rows).unwrap();
        assert_eq!(f.channels, ["c"]);
        assert_eq!(f.participation.len(), 2);
        let a = &f.participation[0];
        assert_eq!((a.user, a.channel, a.first_seen, a.last_seen), ([0xaa; 32], 0, 5, 30));
        assert_eq!(a.signals, Signals::default().with(Message, 5).with(Bits, 100));
        assert_eq!(f.participation[1].user, [0xbb; 32]);
        assert_eq!(f.users.len(), 2);
        let u = &f.users[0];
        assert_eq!((u.login, u.user_id, u.first_seen, u.last_seen), ("new", Some("1"), 5, 30));
    }

    #[test]
    fn keys_come_sorted_and_ties_go_to_the_later_row() {
        let mut rows = vec![d(2, 1, 1, "x", None, Signals::default()), d(1, 1, 1, "y", None, Signals::default())];
        rows[0].channel = "zz".into();
        rows.push(d(3, 1, 1, "z", None, Signals::default()));
        rows[2].epoch = 0;
        let mut same = d(1, 1, 1, "y2", Some("7"), Signals::default());
        same.channel = "zz".into();
        rows.push(same);
        let f = fold_deltas(&rows).unwrap();
        assert_eq!(f.channels, ["c", "zz"]);
        let keys: Vec<_> = f.participation.iter().map(|p| (p.epoch, p.channel, p.user[0])).collect();
        assert_eq!(keys, [(0, 0, 3), (1, 0, 1), (1, 1, 1), (1, 1, 2)]);
        let users: Vec<_> = f.users.iter().map(|u| (u.user[0], u.login, u.user_id)).collect();
        assert_eq!(users, [(1, "y2", Some("7")), (2, "x", None), (3, "z", None)]);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(fold_deltas(&[d(1, 3, 2, "x", None, Signals::default())]).is_err());
        assert!(fold_deltas(&[]).unwrap().participation.is_empty());
    }

    #[test]
    fn coverage_and_ids() {
        let span = |s, u| CoverageSpan { channel: "c".into(), started_ms: s, until_ms: u };
        let f = fold_coverage(&[span(1, 5), span(1, 9), span(1, 7), span(2, 3)]).unwrap();
        assert_eq!(f[&("c".into(), 1)], 9);
        assert_eq!(f.len(), 2);
        assert!(fold_coverage(&[span(5, 1)]).is_err());
        let id = |s: &'static str| SeenId { id: s.into(), epoch: 1, channel: "c".into() };
        let ids = [id("x"), id("y"), id("x")];
        assert_eq!(unique_ids(&ids), [0, 1]);
    }
}
