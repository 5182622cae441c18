//! The tally: events folded into per-(epoch, channel, user) deltas in memory. Pure; the flush
//! turns a tally into the rows of one transaction. Keyed by interned names (`compact`): the
//! user's identity, the keccak of the lowercase login (`format::user_hash`), is computed once
//! per key when the rows are made, not once per line.

use std::collections::HashMap;

use crate::compact::{CompactEvent, Ident, Interner, Name};
use crate::event::Counts;
use crate::format::{to_hex, user_hash};

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

/// Deltas of one (epoch, channel), keyed by login.
#[derive(Debug)]
struct Group {
    epoch: i64,
    channel: Name,
    users: HashMap<Name, UserDelta>,
}

/// Deltas of a batch of events. A batch touches few (epoch, channel) groups, so groups are
/// found by a short linear scan and users by their login's name: folding allocates nothing
/// but table growth.
#[derive(Debug, Default)]
pub struct Tally {
    groups: Vec<Group>,
    cap: usize,
}

impl Tally {
    /// A tally expecting about `n` events (sizes each group's table up front).
    pub fn with_capacity(n: usize) -> Self {
        Self { groups: Vec::new(), cap: n }
    }

    fn group(&mut self, epoch: i64, channel: Name) -> &mut Group {
        // The last group used is the likeliest: lines of one channel arrive in runs.
        let pos = self.groups.iter().rposition(|g| g.epoch == epoch && g.channel == channel);
        let i = match pos {
            Some(i) => i,
            None => {
                let cap = (self.cap / 8).min(1 << 16);
                self.groups.push(Group { epoch, channel, users: HashMap::with_capacity(cap) });
                self.groups.len() - 1
            }
        };
        &mut self.groups[i]
    }

    /// Folds one event in: first/last seen widen, counts add, the newest user id and display
    /// name win.
    pub fn add(&mut self, ev: &CompactEvent) {
        let g = self.group(ev.epoch, ev.channel);
        match g.users.get_mut(&ev.login) {
            Some(d) => {
                d.first_seen = d.first_seen.min(ev.ts);
                d.last_seen = d.last_seen.max(ev.ts);
                d.counts.add(&ev.counts);
                if ev.user_id.is_some() && d.user_id != ev.user_id {
                    d.user_id.clone_from(&ev.user_id);
                }
                if ev.display_name.is_some() {
                    d.display_name = ev.display_name;
                }
            }
            None => {
                g.users.insert(
                    ev.login,
                    UserDelta {
                        user_id: ev.user_id.clone(),
                        display_name: ev.display_name,
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

    /// Whether no delta is held.
    pub fn is_empty(&self) -> bool {
        self.groups.iter().all(|g| g.users.is_empty())
    }

    /// The delta of (epoch, channel, login), the strings read through `names`.
    pub fn get(&self, epoch: i64, channel: &str, login: &str, names: &Interner) -> Option<&UserDelta> {
        let g = self.groups.iter().find(|g| g.epoch == epoch && names.get(g.channel) == channel)?;
        g.users.iter().find(|(l, _)| names.get(**l) == login).map(|(_, d)| d)
    }

    /// The store rows of this tally, with the user hash of each login; strings read through
    /// `names`, the interner of the events folded in.
    pub fn into_rows(self, names: &Interner) -> Vec<chatseal_schema::ParticipationDelta> {
        let mut rows = Vec::with_capacity(self.len());
        for g in self.groups {
            let channel = names.get(g.channel);
            for (login, d) in g.users {
                let login = names.get(login);
                rows.push(chatseal_schema::ParticipationDelta {
                    epoch: g.epoch,
                    channel: channel.to_owned(),
                    user_hash: to_hex(&user_hash(login)),
                    login: login.to_owned(),
                    user_id: d.user_id.as_ref().map(Ident::to_string),
                    display_name: d.display_name.map(|n| names.get(n).to_owned()),
                    first_seen: d.first_seen,
                    last_seen: d.last_seen,
                    signals: d.counts,
                });
            }
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
        assert_eq!(a.user_hash, to_hex(&user_hash("a")));
        assert_eq!((a.channel.as_str(), a.user_id.as_deref()), ("chan", Some("1")));
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
