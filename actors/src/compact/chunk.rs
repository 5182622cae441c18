//! A chunk: a run of compact events with the names they refer to, as one channel reader makes
//! it and the aggregator keeps it. The reader makes its events compact as it parses them
//! ([`ChunkBuilder`]), so what travels through the aggregator's mailbox and waits in its queue
//! is already the buffered form: about 128 bytes inline per event plus its share of the
//! chunk's names, and no per-event work is left for the one aggregator (which the readers
//! outran under a burst, so parsed events used to pile up in its mailbox). A chunk is cut to
//! size when it is finished and never grows again; the aggregator's queue holds chunks as they
//! came and splits one only where a bound falls inside it.

use std::sync::Arc;

use super::event::CompactEvent;
use super::interner::{Interner, Names};
use crate::event::Event;

/// Bytes a chunk holds beyond its events and names: itself (a queue entry) and the shared
/// allocation of its names.
const CHUNK_OVERHEAD: usize = std::mem::size_of::<Chunk>() + std::mem::size_of::<Names>() + 16;

/// Most events in one chunk: its vector is taken whole at the first event, so a chunk never
/// regrows (nor copies) while it fills, and what an event adds is known before it is added.
pub const CHUNK_EVENTS: usize = 128;

/// A chunk being filled by a channel reader.
#[derive(Debug, Default)]
pub struct ChunkBuilder {
    events: Vec<CompactEvent>,
    names: Interner,
    id_bytes: usize,
}

impl ChunkBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// At most the bytes [`ChunkBuilder::push`] of `e` adds to [`ChunkBuilder::bytes`]: the
    /// chunk itself and its vector for the first event, the event's ids as text, its names as
    /// if new.
    pub fn room_for(&self, e: &Event) -> usize {
        let vector =
            if self.events.capacity() == 0 { CHUNK_OVERHEAD + CHUNK_EVENTS * CompactEvent::INLINE_BYTES } else { 0 };
        // An id takes its text at most (nothing when it is a UUID or a number).
        let ids = e.id.as_ref().map_or(0, String::len) + e.user_id.as_ref().map_or(0, String::len);
        let names = e.login.len() + e.display_name.as_ref().map_or(0, |d| d.len() + 4) + 4;
        let channel = if self.names.is_empty() { e.channel.len() + 4 } else { 0 };
        vector + ids + names + channel
    }

    /// Adds `e` in compact form; the builder is full at [`CHUNK_EVENTS`] (finish it then).
    pub fn push(&mut self, e: &Event) {
        if self.events.capacity() == 0 {
            self.events.reserve_exact(CHUNK_EVENTS);
        }
        let c = CompactEvent::new(e, &mut self.names);
        self.id_bytes += c.bytes() - CompactEvent::INLINE_BYTES;
        self.events.push(c);
    }

    /// Events added.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether no event was added.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Whether the chunk is full.
    pub fn is_full(&self) -> bool {
        self.events.len() >= CHUNK_EVENTS
    }

    /// Bytes held now: the vector, the text ids, the names' text and index. The interner's
    /// lookup table and spare room (a few kilobytes at most) are left out: they go when the
    /// chunk is finished, and an event's room must be known before it is added.
    pub fn bytes(&self) -> usize {
        if self.events.capacity() == 0 {
            return 0;
        }
        CHUNK_OVERHEAD
            + self.events.capacity() * CompactEvent::INLINE_BYTES
            + self.id_bytes
            + self.names.content_bytes()
    }

    /// The chunk: events and names cut to size, the names' lookup table freed.
    pub fn finish(self) -> Chunk {
        let mut events = self.events;
        events.shrink_to_fit();
        Chunk { events, names: Arc::new(self.names.freeze()), id_bytes: self.id_bytes }
    }
}

/// A finished run of compact events and their names. The names are shared by the parts of a
/// split chunk (each part counts them in full: at most a few kilobytes more per split).
#[derive(Debug, Clone)]
pub struct Chunk {
    events: Vec<CompactEvent>,
    names: Arc<Names>,
    /// Heap bytes of the events' text ids (the rare id that is not a UUID or a number).
    id_bytes: usize,
}

impl Chunk {
    /// The chunk of `events`, made compact.
    pub fn of(events: &[Event]) -> Chunk {
        let mut b = ChunkBuilder::new();
        for e in events {
            b.push(e);
        }
        b.finish()
    }

    /// The chunk of `events` whose names are `names` (a failed flush's batch, going back).
    pub fn from_parts(events: Vec<CompactEvent>, names: Names) -> Chunk {
        let id_bytes = id_bytes(&events);
        Chunk { events, names: Arc::new(names), id_bytes }
    }

    /// Events held.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether no event is held.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The events, oldest first.
    pub fn events(&self) -> &[CompactEvent] {
        &self.events
    }

    /// The names the events refer to.
    pub fn names(&self) -> &Names {
        &self.names
    }

    /// Bytes held: the events' vector (its capacity), their text ids, the names, the chunk.
    pub fn bytes(&self) -> usize {
        CHUNK_OVERHEAD + self.events.capacity() * CompactEvent::INLINE_BYTES + self.id_bytes + self.names.heap_bytes()
    }

    /// Splits the chunk: this keeps its first `at` events (all of them when `at` is past the
    /// end), the rest is returned, with the same names.
    pub fn split_off(&mut self, at: usize) -> Chunk {
        let rest = self.events.split_off(at.min(self.events.len()));
        let rest_ids = id_bytes(&rest);
        self.id_bytes = self.id_bytes.saturating_sub(rest_ids);
        Chunk { events: rest, names: self.names.clone(), id_bytes: rest_ids }
    }

    /// Keeps the events `keep` accepts, in order; returns how many were removed.
    pub fn retain(&mut self, keep: impl FnMut(&CompactEvent) -> bool) -> usize {
        let before = self.events.len();
        self.events.retain(keep);
        if self.events.len() < before {
            self.id_bytes = id_bytes(&self.events);
        }
        before - self.events.len()
    }

    /// The events and their names.
    pub fn into_parts(self) -> (Vec<CompactEvent>, Arc<Names>) {
        (self.events, self.names)
    }
}

fn id_bytes(events: &[CompactEvent]) -> usize {
    events.iter().map(|e| e.bytes() - CompactEvent::INLINE_BYTES).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Counts;
    use chatseal_schema::SignalKind;

    fn ev(i: usize) -> Event {
        Event {
            id: Some(if i.is_multiple_of(4) {
                format!("text-id-{i}")
            } else {
                format!("{i:08x}-8b1d-4f7a-9c2e-5d4b3a2f1e0d")
            }),
            channel: "chan".into(),
            login: format!("viewer{}", i % 5),
            user_id: Some(format!("{}", 1000 + i % 5)),
            display_name: Some(format!("Viewer{}", i % 5)),
            ts: 1_717_000_000 + i as i64,
            epoch: 1_716_998_400 + (i as i64 % 2) * 3600,
            counts: Counts::default().with(SignalKind::Message, 1),
        }
    }

    fn events(c: &Chunk) -> Vec<Event> {
        c.events().iter().map(|e| e.to_event(c.names())).collect()
    }

    #[test]
    fn a_finished_chunk_gives_back_every_event_in_order_and_is_cut_to_size() {
        let all: Vec<Event> = (0..37).map(ev).collect();
        let mut b = ChunkBuilder::new();
        assert_eq!(b.bytes(), 0);
        for e in &all {
            let (before, room) = (b.bytes(), b.room_for(e));
            b.push(e);
            assert!(b.bytes() - before <= room, "an event adds at most its room");
        }
        assert!(!b.is_full());
        let building = b.bytes();
        let c = b.finish();
        assert_eq!(events(&c), all);
        assert_eq!(c.names().len(), 11, "chan and 5 logins and 5 display names, each once");
        let text_ids: usize =
            all.iter().filter_map(|e| e.id.as_ref()).filter(|i| i.starts_with("text")).map(String::len).sum();
        let names: usize = c.names().iter().map(|s| s.len() + 4).sum();
        assert_eq!(c.bytes(), CHUNK_OVERHEAD + 37 * CompactEvent::INLINE_BYTES + text_ids + names);
        assert!(c.bytes() < building, "the builder's spare room is gone");
    }

    #[test]
    fn split_and_retain_keep_order_names_and_bytes() {
        let all: Vec<Event> = (0..20).map(ev).collect();
        let mut c = Chunk::of(&all);
        let (ids, before) = (c.id_bytes, c.bytes());
        assert_eq!(
            ids,
            ["text-id-0", "text-id-4", "text-id-8", "text-id-12", "text-id-16"].map(str::len).iter().sum::<usize>()
        );
        let rest = c.split_off(7);
        assert_eq!((events(&c), events(&rest)), (all[..7].to_vec(), all[7..].to_vec()));
        assert_eq!(c.id_bytes + rest.id_bytes, ids, "the text ids are counted once, in the part holding them");
        assert_eq!(c.bytes(), before - (ids - c.id_bytes), "the first part keeps the vector's room");
        assert!(c.clone().split_off(99).is_empty(), "a split past the end takes nothing");
        let mut late = rest;
        let removed = late.retain(|e| e.epoch == 1_716_998_400);
        assert_eq!(removed, 7, "the odd ones of 7..20 are of the next epoch");
        let kept: Vec<Event> = all[7..].iter().filter(|e| e.epoch == 1_716_998_400).cloned().collect();
        assert_eq!(events(&late), kept);
        let (evs, names) = late.into_parts();
        let back = Chunk::from_parts(evs, (*names).clone());
        assert_eq!(events(&back), kept);
    }
}
