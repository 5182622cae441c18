//! A buffered event in compact form: names instead of strings, ids in binary, counts as the
//! one signal vector. 128 bytes inline and no heap of its own unless an id is text.

use super::ident::Ident;
use super::interner::{Interner, Name, Resolve};
use crate::event::{Counts, Event};

/// One [`Event`] as the aggregator buffers it; its names belong to one [`Interner`] (frozen
/// with its chunk, `compact::chunk`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactEvent {
    /// The message id (dedup key), when the line had one.
    pub id: Option<Ident>,
    /// The numeric Twitch user id, when present.
    pub user_id: Option<Ident>,
    /// Channel login.
    pub channel: Name,
    /// The participant's lowercase login.
    pub login: Name,
    /// `display-name`, when present.
    pub display_name: Option<Name>,
    /// Unix seconds of the line on the epoch clock.
    pub ts: i64,
    /// Epoch start (Unix seconds) the line counts in.
    pub epoch: i64,
    /// Signals this line carries.
    pub counts: Counts,
}

impl CompactEvent {
    /// Bytes a buffered compact event takes inline.
    pub const INLINE_BYTES: usize = std::mem::size_of::<CompactEvent>();

    /// The compact form of `e`, its strings interned into `names`.
    pub fn new(e: &Event, names: &mut Interner) -> CompactEvent {
        CompactEvent {
            id: e.id.as_deref().map(Ident::new),
            user_id: e.user_id.as_deref().map(Ident::new),
            channel: names.intern(&e.channel),
            login: names.intern(&e.login),
            display_name: e.display_name.as_deref().map(|d| names.intern(d)),
            ts: e.ts,
            epoch: e.epoch,
            counts: e.counts,
        }
    }

    /// Gives this event the names `map` maps its own to: `map[i]` is the new name of name `i`
    /// (a chunk's names moved into a batch's interner, each string looked up once per chunk,
    /// not once per event). The map covers every name of the event's table; a name past its
    /// end (never given by that table) is kept as it is rather than panicking.
    pub fn remap(&mut self, map: &[Name]) {
        let to = |n: Name| map.get(n.index() as usize).copied().unwrap_or(n);
        self.channel = to(self.channel);
        self.login = to(self.login);
        self.display_name = self.display_name.map(to);
    }

    /// The full event again, its names read from `names`.
    pub fn to_event(&self, names: &impl Resolve) -> Event {
        Event {
            id: self.id.as_ref().map(Ident::to_string),
            channel: names.get(self.channel).into(),
            login: names.get(self.login).to_owned(),
            user_id: self.user_id.as_ref().map(Ident::to_string),
            display_name: self.display_name.map(|d| names.get(d).to_owned()),
            ts: self.ts,
            epoch: self.epoch,
            counts: self.counts,
        }
    }

    /// Bytes this event holds: inline plus any text id (the interned names are counted once,
    /// with their interner).
    pub fn bytes(&self) -> usize {
        Self::INLINE_BYTES
            + self.id.as_ref().map_or(0, Ident::heap_bytes)
            + self.user_id.as_ref().map_or(0, Ident::heap_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chatseal_schema::SignalKind;

    fn ev(id: &str, login: &str) -> Event {
        Event {
            id: Some(id.into()),
            channel: "chan".into(),
            login: login.into(),
            user_id: Some("123456".into()),
            display_name: Some(login.to_uppercase()),
            ts: 1_717_000_000,
            epoch: 1_716_998_400,
            counts: Counts::default().with(SignalKind::Message, 1).with(SignalKind::Bits, 5),
        }
    }

    #[test]
    fn round_trips_and_shares_names() {
        let mut names = Interner::new();
        let a = ev("3f6c2a9e-8b1d-4f7a-9c2e-5d4b3a2f1e0d", "alice");
        let b = ev("not-a-uuid", "alice");
        let ca = CompactEvent::new(&a, &mut names);
        let cb = CompactEvent::new(&b, &mut names);
        assert_eq!(ca.to_event(&names), a);
        assert_eq!(cb.to_event(&names), b);
        assert_eq!((ca.login, ca.channel, ca.display_name), (cb.login, cb.channel, cb.display_name));
        assert_eq!(names.len(), 3, "chan, alice, ALICE");
        assert_eq!(ca.bytes(), CompactEvent::INLINE_BYTES);
        assert_eq!(cb.bytes(), CompactEvent::INLINE_BYTES + "not-a-uuid".len());
        const { assert!(CompactEvent::INLINE_BYTES <= 128) };
    }

    #[test]
    fn remapped_into_another_interner_keeps_the_event() {
        let mut own = Interner::new();
        own.intern("unrelated");
        let e = ev("k:0123456789abcdef0123456789abcdef", "bob");
        let c = CompactEvent::new(&e, &mut own);
        let own = own.freeze();
        let mut batch = Interner::new();
        batch.intern("other");
        let map: Vec<Name> = own.iter().map(|s| batch.intern(s)).collect();
        let mut moved = c.clone();
        moved.remap(&map);
        assert_eq!(moved.to_event(&batch), e);
        assert_eq!(c.to_event(&own), e, "the frozen names read the same");
        assert_eq!(batch.len(), 5, "other, unrelated, chan, bob, BOB");
    }
}
