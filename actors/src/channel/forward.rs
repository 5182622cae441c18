//! Forwarding ingest to the aggregator without ever waiting on it: items are batched and cast
//! (ractor mailboxes never block the sender). While the aggregator is restarting the batch is
//! held locally, bounded; past the bound items are dropped and counted, never silently.
//! Events also pass the daemon's ingest gate (`aggregator::gate`): while the aggregator's
//! mailbox plus what it holds reach `store.max_pending_events`, new events are dropped and
//! counted here, so an overloaded store bounds memory instead of growing the mailbox.

use crate::aggregator::gate::events_in;
use crate::aggregator::AggregatorMsg;
use crate::event::Ingest;
use crate::routes::Routes;
use crate::telemetry::names as m;

/// Most items held while the aggregator cannot be reached.
const MAX_HELD: usize = 200_000;
/// A batch is cast as soon as it has this many items.
pub const BATCH: usize = 512;

pub struct Forwarder {
    routes: Routes,
    buf: Vec<Ingest>,
}

impl Forwarder {
    pub fn new(routes: Routes) -> Self {
        Self { routes, buf: Vec::with_capacity(BATCH) }
    }

    pub fn push(&mut self, item: Ingest) {
        let is_event = matches!(item, Ingest::Event(_));
        if is_event && !self.routes.gate().admit() {
            metrics::counter!(m::EVENTS_DROPPED_TOTAL).increment(1);
            return;
        }
        if self.buf.len() >= MAX_HELD {
            if is_event {
                metrics::counter!(m::EVENTS_DROPPED_TOTAL).increment(1);
            }
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
        let events = events_in(&items);
        // Counted before the cast, so the aggregator never takes more than was counted.
        self.routes.gate().sent(events);
        if let Err(e) = agg.cast(AggregatorMsg::Ingest(items)) {
            self.routes.gate().taken(events);
            // The mailbox is closed (stopping): take the items back to retry.
            if let ractor::MessagingErr::SendErr(AggregatorMsg::Ingest(items)) = e {
                self.buf = items;
            }
        }
    }

    pub fn held(&self) -> usize {
        self.buf.len()
    }
}
