//! The tally: events folded into per-(epoch, channel, user) deltas in memory. Pure; the flush
//! turns a tally into the rows of one transaction. Keyed by interned names (`compact`): the
//! user's identity, the keccak of the lowercase login (`format::user_hash`), is computed once
//! per key when the rows are made, not once per line.
//!
//! Memory (performance.md: <= 200 bytes per tallied key): the deltas sit in one vector, sized
//! up front to the batch's events (an upper bound on its keys, so it never regrows), found
//! through one table of `u32` indexes (5 bytes per bucket) rather than a map of whole entries
//! per (epoch, channel), whose buckets, half empty after a doubling, held a whole delta each.

use std::borrow::Cow;
use std::hash::BuildHasher;

use hashbrown::HashTable;

use crate::compact::{CompactEvent, Ident, Interner, Name};
use crate::event::Counts;
use crate::format::user_hash;

/// What one user did in one (epoch, channel) within a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDelta {
    /// The newest user id seen.
    pub user_id: Option<Ident>,
    /// The newest display name seen.
    pub display_name: Option<Name>,
    /// Earliest line, Unix seconds.
    pub first_seen: i64,
    /// Latest line, Unix seconds.
    pub last_seen: i64,
    /// Signal sums.
    pub counts: Counts,
}

/// The key of a delta: epoch, channel, login.
type Key = (i64, Name, Name);

/// One delta with its key.
#[derive(Debug)]
struct Entry {
    key: Key,
    delta: UserDelta,
}

/// Deltas of a batch of events, in the order their keys first appeared.
#[derive(Debug, Default)]
pub struct Tally {
    entries: Vec<Entry>,
    /// Index into `entries`, by the key's hash.
    table: HashTable<u32>,
    hasher: std::collections::hash_map::RandomState,
}

impl Tally {
    /// A tally of at most `n` keys without regrowing (the flush passes its events' number).
    pub fn with_capacity(n: usize) -> Self {
        Self { entries: Vec::with_capacity(n), table: HashTable::with_capacity(n), ..Self::default() }
    }

    /// Folds one event in: first/last seen widen, counts add, the newest user id and display
    /// name win.
    pub fn add(&mut self, ev: &CompactEvent) {
        let key = (ev.epoch, ev.channel, ev.login);
        let hash = self.hasher.hash_one(key);
        let entries = &self.entries;
        if let Some(&i) = self.table.find(hash, |&i| entries[i as usize].key == key) {
            let d = &mut self.entries[i as usize].delta;
            d.first_seen = d.first_seen.min(ev.ts);
            d.last_seen = d.last_seen.max(ev.ts);
            d.counts.add(&ev.counts);
            if ev.user_id.is_some() && d.user_id != ev.user_id {
                d.user_id.clone_from(&ev.user_id);
            }
            if ev.display_name.is_some() {
                d.display_name = ev.display_name;
            }
            return;
        }
        // Past u32::MAX keys (never: a flush holds at most `store.max_flush_events` events)
        // the index would not fit; such a key is folded into a new entry all the same.
        let i = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
        self.entries.push(Entry {
            key,
            delta: UserDelta {
                user_id: ev.user_id.clone(),
                display_name: ev.display_name,
                first_seen: ev.ts,
                last_seen: ev.ts,
                counts: ev.counts,
            },
        });
        let (entries, hasher) = (&self.entries, &self.hasher);
        self.table.insert_unique(hash, i, |&j| hasher.hash_one(entries[j as usize].key));
    }

    /// Number of (epoch, channel, user) deltas.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no delta is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The delta of (epoch, channel, login), the strings read through `names`.
    pub fn get(&self, epoch: i64, channel: &str, login: &str, names: &Interner) -> Option<&UserDelta> {
        self.entries
            .iter()
            .find(|e| e.key.0 == epoch && names.get(e.key.1) == channel && names.get(e.key.2) == login)
            .map(|e| &e.delta)
    }

    /// The store rows of this tally, with the user hash of each login (its bytes); strings
    /// borrowed from `names`, the interner of the events folded in (a user id in binary form
    /// is the one text made here).
    pub fn into_rows(self, names: &Interner) -> Vec<chatseal_schema::ParticipationDelta<'_>> {
        drop(self.table);
        let mut rows = Vec::with_capacity(self.entries.len());
        for Entry { key: (epoch, channel, login), delta: d } in self.entries {
            let login = names.get(login);
            rows.push(chatseal_schema::ParticipationDelta {
                epoch,
                channel: Cow::Borrowed(names.get(channel)),
                user_hash: user_hash(login),
                login: Cow::Borrowed(login),
                user_id: d.user_id.as_ref().map(|i| Cow::Owned(i.to_string())),
                display_name: d.display_name.map(|n| Cow::Borrowed(names.get(n))),
                first_seen: d.first_seen,
                last_seen: d.last_seen,
                signals: d.counts,
            });
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use chatseal_schema::SignalKind::{Bits, Message, Sub};

    fn ev(login: &str, ts: i64, counts: Counts) -> Event {
        Event {
            id: None,
            channel: "chan".into(),
            login: login.into(),
            user_id: Some("1".into()),
            display_name: None,
            ts,
            epoch: 0,
            counts,
        }
    }

    #[test]
    fn folds_first_last_and_counts() {
        let mut names = Interner::new();
        let mut t = Tally::default();
        let msg = Counts::default().with(Message, 1);
        for e in [
            ev("a", 10, msg),
            ev("a", 5, Counts::default().with(Bits, 100).with(Message, 1)),
            ev("a", 20, Counts::default().with(Sub, 1)),
            ev("b", 7, msg),
        ] {
            t.add(&CompactEvent::new(&e, &mut names));
        }
        assert_eq!(t.len(), 2);
        let a = t.get(0, "chan", "a", &names).unwrap();
        assert_eq!((a.first_seen, a.last_seen), (5, 20));
        assert_eq!(a.counts, Counts::default().with(Message, 2).with(Bits, 100).with(Sub, 1));
        let rows = t.into_rows(&names);
        let a = rows.iter().find(|r| r.login == "a").unwrap();
        assert_eq!(a.user_hash, user_hash("a"));
        assert_eq!((&*a.channel, a.user_id.as_deref()), ("chan", Some("1")));
        assert_eq!(a.signals, Counts::default().with(Message, 2).with(Bits, 100).with(Sub, 1));
    }

    #[test]
    fn newest_identity_wins() {
        let mut names = Interner::new();
        let mut t = Tally::default();
        let mut e = ev("a", 1, Counts::default());
        e.display_name = Some("A".into());
        t.add(&CompactEvent::new(&e, &mut names));
        let mut e2 = ev("a", 2, Counts::default());
        e2.display_name = Some("Aa".into());
        e2.user_id = None;
        t.add(&CompactEvent::new(&e2, &mut names));
        let d = t.get(0, "chan", "a", &names).unwrap();
        assert_eq!(d.display_name.map(|n| names.get(n)), Some("Aa"));
        assert_eq!(d.user_id, Some(Ident::Num(1)));
    }
}
