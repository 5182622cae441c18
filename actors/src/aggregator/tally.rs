//! The tally: events folded into per-(epoch, channel, user) deltas in memory. Pure; the flush
//! turns a tally into the rows of one transaction. Keyed by login (the user's identity is the
//! keccak of the lowercase login, computed once per key at flush, not once per line).

use std::collections::HashMap;
use std::sync::Arc;

use crate::event::{Counts, Event};
use crate::sealer::merkle::{to_hex, user_hash};

/// What one user did in one (epoch, channel) within a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDelta {
    pub user_id: Option<String>,
    pub display_name: Option<String>,
    pub first_seen: i64,
    pub last_seen: i64,
    pub counts: Counts,
}

/// Key of a delta: epoch, channel, login.
pub type DeltaKey = (i64, Arc<str>, String);

/// Deltas of a batch of events.
#[derive(Debug, Default)]
pub struct Tally {
    map: HashMap<DeltaKey, UserDelta>,
}

impl Tally {
    pub fn with_capacity(n: usize) -> Self {
        Self { map: HashMap::with_capacity(n) }
    }

    /// Folds one event in: first/last seen widen, counts add, the newest non-empty
    /// user id and display name win.
    pub fn add(&mut self, ev: &Event) {
        // Look up by reference first so the common case (a known key) allocates nothing.
        let key: DeltaKey = (ev.epoch, ev.channel.clone(), ev.login.clone());
        match self.map.get_mut(&key) {
            Some(d) => {
                d.first_seen = d.first_seen.min(ev.ts);
                d.last_seen = d.last_seen.max(ev.ts);
                d.counts.add(&ev.counts);
                if ev.user_id.is_some() {
                    d.user_id.clone_from(&ev.user_id);
                }
                if ev.display_name.is_some() {
                    d.display_name.clone_from(&ev.display_name);
                }
            }
            None => {
                self.map.insert(
                    key,
                    UserDelta {
                        user_id: ev.user_id.clone(),
                        display_name: ev.display_name.clone(),
                        first_seen: ev.ts,
                        last_seen: ev.ts,
                        counts: ev.counts,
                    },
                );
            }
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn get(&self, epoch: i64, channel: &str, login: &str) -> Option<&UserDelta> {
        self.map.get(&(epoch, Arc::from(channel), login.to_string()))
    }

    /// The store rows of this tally, with the user hash of each login.
    pub fn into_rows(self) -> Vec<chatseal_schema::ParticipationDelta> {
        self.map
            .into_iter()
            .map(|((epoch, channel, login), d)| chatseal_schema::ParticipationDelta {
                epoch,
                channel: channel.to_string(),
                user_hash: to_hex(&user_hash(&login)),
                login,
                user_id: d.user_id,
                display_name: d.display_name,
                first_seen: d.first_seen,
                last_seen: d.last_seen,
                signals: d.counts.nonzero().collect(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(login: &str, ts: i64, counts: Counts) -> Event {
        Event {
            id: None,
            channel: Arc::from("chan"),
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
        let mut t = Tally::default();
        let msg = Counts { message: 1, ..Default::default() };
        t.add(&ev("a", 10, msg));
        t.add(&ev("a", 5, Counts { bits: 100, message: 1, ..Default::default() }));
        t.add(&ev("a", 20, Counts { sub: 1, ..Default::default() }));
        t.add(&ev("b", 7, msg));
        assert_eq!(t.len(), 2);
        let a = t.get(0, "chan", "a").unwrap();
        assert_eq!((a.first_seen, a.last_seen), (5, 20));
        assert_eq!(a.counts, Counts { message: 2, bits: 100, sub: 1, ..Default::default() });
        let rows = t.into_rows();
        let a = rows.iter().find(|r| r.login == "a").unwrap();
        assert_eq!(a.user_hash, to_hex(&user_hash("a")));
        let mut sig = a.signals.clone();
        sig.sort();
        assert_eq!(sig, vec![("bits", 100), ("message", 2), ("sub", 1)]);
    }

    #[test]
    fn newest_identity_wins() {
        let mut t = Tally::default();
        let mut e = ev("a", 1, Counts::default());
        e.display_name = Some("A".into());
        t.add(&e);
        let mut e2 = ev("a", 2, Counts::default());
        e2.display_name = Some("Aa".into());
        e2.user_id = None;
        t.add(&e2);
        let d = t.get(0, "chan", "a").unwrap();
        assert_eq!(d.display_name.as_deref(), Some("Aa"));
        assert_eq!(d.user_id.as_deref(), Some("1"));
    }
}
