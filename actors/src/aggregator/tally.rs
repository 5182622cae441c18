//! The tally: events folded into per-(epoch, channel, user) deltas in memory. Pure; the flush
//! turns a tally into the rows of one transaction. Keyed by login (the user's identity is the
//! keccak of the lowercase login, computed once per key at flush, not once per line).

use std::collections::HashMap;
use std::sync::Arc;

use crate::event::{Counts, Event};
use crate::format::{to_hex, user_hash};

/// What one user did in one (epoch, channel) within a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDelta {
    pub user_id: Option<String>,
    pub display_name: Option<String>,
    pub first_seen: i64,
    pub last_seen: i64,
    pub counts: Counts,
}

/// Deltas of one (epoch, channel), keyed by login.
#[derive(Debug, Default)]
struct Group {
    epoch: i64,
    channel: Arc<str>,
    users: HashMap<String, UserDelta>,
}

/// Deltas of a batch of events. A batch touches few (epoch, channel) groups, so groups are
/// found by a short linear scan and users by a `&str` lookup: the common case (a user already
/// seen in this batch) allocates nothing.
#[derive(Debug, Default)]
pub struct Tally {
    groups: Vec<Group>,
    cap: usize,
}

impl Tally {
    pub fn with_capacity(n: usize) -> Self {
        Self { groups: Vec::new(), cap: n }
    }

    fn group(&mut self, epoch: i64, channel: &Arc<str>) -> &mut Group {
        // The last group used is the likeliest: lines of one channel arrive in runs.
        let pos = self.groups.iter().rposition(|g| g.epoch == epoch && *g.channel == **channel);
        let i = match pos {
            Some(i) => i,
            None => {
                let cap = (self.cap / 8).min(1 << 16);
                self.groups.push(Group { epoch, channel: channel.clone(), users: HashMap::with_capacity(cap) });
                self.groups.len() - 1
            }
        };
        &mut self.groups[i]
    }

    /// Folds one event in: first/last seen widen, counts add, the newest non-empty
    /// user id and display name win.
    pub fn add(&mut self, ev: &Event) {
        let g = self.group(ev.epoch, &ev.channel);
        match g.users.get_mut(ev.login.as_str()) {
            Some(d) => {
                d.first_seen = d.first_seen.min(ev.ts);
                d.last_seen = d.last_seen.max(ev.ts);
                d.counts.add(&ev.counts);
                if ev.user_id.is_some() && d.user_id != ev.user_id {
                    d.user_id.clone_from(&ev.user_id);
                }
                if ev.display_name.is_some() && d.display_name != ev.display_name {
                    d.display_name.clone_from(&ev.display_name);
                }
            }
            None => {
                g.users.insert(
                    ev.login.clone(),
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

    /// Number of (epoch, channel, user) deltas.
    pub fn len(&self) -> usize {
        self.groups.iter().map(|g| g.users.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.iter().all(|g| g.users.is_empty())
    }

    pub fn get(&self, epoch: i64, channel: &str, login: &str) -> Option<&UserDelta> {
        self.groups.iter().find(|g| g.epoch == epoch && &*g.channel == channel)?.users.get(login)
    }

    /// The store rows of this tally, with the user hash of each login.
    pub fn into_rows(self) -> Vec<chatseal_schema::ParticipationDelta> {
        self.groups
            .into_iter()
            .flat_map(|g| {
                let (epoch, channel) = (g.epoch, g.channel);
                g.users.into_iter().map(move |(login, d)| (epoch, channel.clone(), login, d))
            })
            .map(|(epoch, channel, login, d)| chatseal_schema::ParticipationDelta {
                epoch,
                channel: channel.to_string(),
                user_hash: to_hex(&user_hash(&login)),
                login,
                user_id: d.user_id,
                display_name: d.display_name,
                first_seen: d.first_seen,
                last_seen: d.last_seen,
                signals: d.counts,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chatseal_schema::SignalKind::{Bits, Message, Sub};

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
        let msg = Counts::default().with(Message, 1);
        t.add(&ev("a", 10, msg));
        t.add(&ev("a", 5, Counts::default().with(Bits, 100).with(Message, 1)));
        t.add(&ev("a", 20, Counts::default().with(Sub, 1)));
        t.add(&ev("b", 7, msg));
        assert_eq!(t.len(), 2);
        let a = t.get(0, "chan", "a").unwrap();
        assert_eq!((a.first_seen, a.last_seen), (5, 20));
        assert_eq!(a.counts, Counts::default().with(Message, 2).with(Bits, 100).with(Sub, 1));
        let rows = t.into_rows();
        let a = rows.iter().find(|r| r.login == "a").unwrap();
        assert_eq!(a.user_hash, to_hex(&user_hash("a")));
        assert_eq!(a.signals, Counts::default().with(Message, 2).with(Bits, 100).with(Sub, 1));
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
