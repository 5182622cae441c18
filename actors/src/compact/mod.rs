//! Compact in-memory forms of what the aggregator buffers and tallies (performance.md: <= 200
//! bytes per buffered event and per tallied (epoch, channel, user)). Channels, logins and
//! display names are interned ([`Interner`], `u32` [`Name`]s into one text arena), message and
//! user ids are stored as 16-byte binary UUIDs, 16-byte content keys or numbers where they
//! parse and as text otherwise ([`Ident`], always round-tripping to the exact original text),
//! and a buffered event ([`CompactEvent`]) holds no heap string of its own in the common case.
//! Events travel and wait in [`Chunk`]s: a channel reader's run of compact events with their
//! frozen [`Names`]. Pure: no I/O, no clock.

mod chunk;
mod event;
mod ident;
mod interner;

pub use chunk::{Chunk, ChunkBuilder, CHUNK_EVENTS};
pub use event::CompactEvent;
pub use ident::Ident;
pub use interner::{Interner, Name, Names, Resolve};
