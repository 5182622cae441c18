//! Forwarding ingest to the aggregator without ever waiting on it: events are made compact
//! here, in the reader, into chunks (`compact::Chunk`) and cast in batches (ractor mailboxes
//! never block the sender), so the aggregator's mailbox holds events in the form it buffers
//! them and the one aggregator has no per-event work to fall behind on. While the aggregator
//! is restarting the batch is held locally, bounded; past the bound events are dropped and
//! counted (`reason="aggregator_away"`), never silently. Each event first takes its room in the
//! daemon's ingest gate (`aggregator::gate`): while what is received and not durable reaches
//! `store.max_pending_events` or `store.max_pending_bytes`, new events are dropped and counted
//! here (`reason="buffer_full"`), so an overloaded store bounds memory instead of growing the
//! mailbox. The room travels with the batch ([`Permit`]), always set to exactly the bytes held
//! here, and is released once the events are durable or dropped.

use std::sync::Arc;

use crate::aggregator::gate::{DropReason, Permit};
use crate::aggregator::AggregatorMsg;
use crate::compact::ChunkBuilder;
use crate::event::{Event, Ingest};
use crate::routes::Routes;

/// Most items (events and coverage notices) held while the aggregator cannot be reached.
const MAX_HELD: usize = 200_000;

/// One channel reader's forwarding buffer.
pub struct Forwarder {
    routes: Routes,
    /// Finished chunks and coverage notices, in order, not cast yet.
    buf: Vec<Ingest>,
    /// Events being made compact, after everything in `buf`.
    open: ChunkBuilder,
    /// Events of the chunks in `buf`.
    buf_events: usize,
    /// Coverage notices in `buf`.
    buf_notices: usize,
    /// Bytes of the chunks in `buf`.
    buf_bytes: usize,
    /// The gate's room held by the events here.
    permit: Permit,
}

impl Forwarder {
    /// A forwarder to the aggregator of `routes`, through its gate.
    pub fn new(routes: Routes) -> Self {
        let permit = routes.gate().permit();
        Self { routes, buf: Vec::new(), open: ChunkBuilder::new(), buf_events: 0, buf_notices: 0, buf_bytes: 0, permit }
    }

    /// Buffers one event in compact form if the gate has room for it, casting a full chunk
    /// (`compact::CHUNK_EVENTS`).
    pub fn event(&mut self, e: Event) {
        if self.held() >= MAX_HELD {
            DropReason::AggregatorAway.count(1);
            return;
        }
        // Room for at most what the event adds, then set to what it added: what is held never
        // passes the gate's bound.
        if !self.permit.admit(self.open.room_for(&e)) {
            DropReason::BufferFull.count(1);
            return;
        }
        self.open.push(&e);
        self.account();
        if self.open.is_full() {
            self.flush();
        }
    }

    /// The channel's join was confirmed at `at_ms` (or the heartbeat of that span).
    pub fn joined(&mut self, channel: Arc<str>, at_ms: i64) {
        self.notice(Ingest::Joined { channel, at_ms });
    }

    /// The span that started at `since_ms` stopped being covered at `at_ms`.
    pub fn left(&mut self, channel: Arc<str>, since_ms: i64, at_ms: i64) {
        self.notice(Ingest::Left { channel, since_ms, at_ms });
    }

    fn notice(&mut self, item: Ingest) {
        if self.held() >= MAX_HELD {
            return;
        }
        self.close();
        self.buf.push(item);
        self.buf_notices += 1;
    }

    /// Finishes the open chunk into `buf`, after what is there.
    fn close(&mut self) {
        if self.open.is_empty() {
            return;
        }
        let chunk = std::mem::take(&mut self.open).finish();
        self.buf_events += chunk.len();
        self.buf_bytes += chunk.bytes();
        self.buf.push(Ingest::Events(chunk));
        self.account();
    }

    /// Sets the permit to exactly what is held here.
    fn account(&mut self) {
        let events = self.buf_events + self.open.len();
        let bytes = self.buf_bytes + self.open.bytes();
        self.permit.set(events, bytes);
    }

    /// Casts what is held; keeps it if the aggregator is not there right now.
    pub fn flush(&mut self) {
        self.close();
        if self.buf.is_empty() {
            return;
        }
        let Some(agg) = self.routes.aggregator() else { return };
        let items = std::mem::take(&mut self.buf);
        let permit = std::mem::replace(&mut self.permit, self.routes.gate().permit());
        (self.buf_events, self.buf_notices, self.buf_bytes) = (0, 0, 0);
        // The mailbox is closed (stopping): take the items and their room back to retry.
        if let Err(ractor::MessagingErr::SendErr(AggregatorMsg::Ingest(items, permit))) =
            agg.cast(AggregatorMsg::Ingest(items, permit))
        {
            for item in &items {
                match item {
                    Ingest::Events(c) => {
                        self.buf_events += c.len();
                        self.buf_bytes += c.bytes();
                    }
                    Ingest::Joined { .. } | Ingest::Left { .. } => self.buf_notices += 1,
                }
            }
            self.buf = items;
            self.permit.merge(permit);
        }
    }

    /// Items buffered: events (finished or not) and coverage notices.
    pub fn held(&self) -> usize {
        self.buf_events + self.buf_notices + self.open.len()
    }
}
