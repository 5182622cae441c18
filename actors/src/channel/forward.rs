//! Forwarding ingest to the aggregator without ever waiting on it: items are batched and cast
//! (ractor mailboxes never block the sender). While the aggregator is restarting the batch is
//! held locally, bounded; past the bound events are dropped and counted
//! (`reason="aggregator_away"`), never silently. Each event first takes its room in the daemon's
//! ingest gate (`aggregator::gate`): while what is received and not durable reaches
//! `store.max_pending_events` or `store.max_pending_bytes`, new events are dropped and counted
//! here (`reason="buffer_full"`), so an overloaded store bounds memory instead of growing the
//! mailbox. The room travels with the batch ([`Permit`]) and is released once the events are
//! durable or dropped.

use crate::aggregator::gate::{DropReason, Permit};
use crate::aggregator::AggregatorMsg;
use crate::compact::event_bytes;
use crate::event::Ingest;
use crate::routes::Routes;

/// Most items held while the aggregator cannot be reached.
const MAX_HELD: usize = 200_000;
/// A batch is cast as soon as it has this many items.
pub const BATCH: usize = 512;

/// One channel reader's forwarding buffer.
pub struct Forwarder {
    routes: Routes,
    buf: Vec<Ingest>,
    /// The gate's room held by the events in `buf`.
    permit: Permit,
}

impl Forwarder {
    /// A forwarder to the aggregator of `routes`, through its gate.
    pub fn new(routes: Routes) -> Self {
        let permit = routes.gate().permit();
        Self { routes, buf: Vec::with_capacity(BATCH), permit }
    }

    /// Buffers one item (an event only if the gate has room for it), casting a full batch.
    pub fn push(&mut self, item: Ingest) {
        if let Ingest::Event(e) = &item {
            if self.buf.len() >= MAX_HELD {
                DropReason::AggregatorAway.count(1);
                return;
            }
            if !self.permit.admit(event_bytes(e)) {
                DropReason::BufferFull.count(1);
                return;
            }
        } else if self.buf.len() >= MAX_HELD {
            return;
        }
        self.buf.push(item);
        if self.buf.len() >= BATCH {
            self.flush();
        }
    }

    /// Casts what is held; keeps it if the aggregator is not there right now.
    pub fn flush(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let Some(agg) = self.routes.aggregator() else { return };
        let items = std::mem::replace(&mut self.buf, Vec::with_capacity(BATCH));
        let permit = std::mem::replace(&mut self.permit, self.routes.gate().permit());
        // The mailbox is closed (stopping): take the items and their room back to retry.
        if let Err(ractor::MessagingErr::SendErr(AggregatorMsg::Ingest(items, permit))) =
            agg.cast(AggregatorMsg::Ingest(items, permit))
        {
            self.buf = items;
            self.permit.merge(permit);
        }
    }

    /// Items buffered.
    pub fn held(&self) -> usize {
        self.buf.len()
    }
}
