//! The aggregator actor: buffers events from every channel actor and, every flush interval,
//! hands ONE batch to a write task (a single writer), so a slow store never blocks the socket
//! readers. While the store is unavailable, events stay in memory up to a cap, then are dropped
//! and counted; flushes retry with backoff. Nothing here survives a crash except what the store
//! committed, which is why nothing needs reloading in pre_start: dedup and sealed-ness live in
//! the store and are checked inside each flush transaction.
//!
//! A flush transaction takes at most `max_flush_events` events (the oldest first), so when the
//! store falls behind, commits stay regular and bounded instead of rare and huge; while more is
//! pending (a full batch is ready, or the flush timer fired during the write) the next flush
//! starts as soon as the previous one committed. The ingest gate (`gate`) bounds what the
//! channel readers may cast into the mailbox on top of what is pending here.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chatseal_schema::{CoverageSpan, Store, StoreError};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use super::flush::{write_batch, Batch, FlushReport};
use super::gate::IngestGate;
use super::outcome::{FlushDone, FlushError};
use crate::clock::SharedClock;
use crate::event::{Event, Ingest};
use crate::telemetry::names as m;

/// Settings of the aggregator.
#[derive(Debug, Clone)]
pub struct AggregatorArgs {
    pub store: Store,
    pub clock: SharedClock,
    pub flush_interval: Duration,
    pub max_pending: usize,
    /// Most events in one flush transaction (`store.max_flush_events`).
    pub max_flush_events: usize,
    /// Shared with the channel readers: bounds the mailbox (see `gate`).
    pub gate: IngestGate,
}

/// Messages the aggregator takes.
pub enum AggregatorMsg {
    /// Lines from a channel actor, in order.
    Ingest(Vec<Ingest>),
    /// Flush timer.
    Tick,
    /// A write task finished.
    FlushDone(Box<FlushDone>),
    /// Make everything received so far durable, then reply. With `close_through`, events of
    /// epochs up to it that arrive afterwards are late (the sealer is about to seal them).
    Flush { close_through: Option<i64>, reply: RpcReplyPort<Result<(), FlushError>> },
    /// Snapshot for /readyz and /v1/status.
    Status(RpcReplyPort<AggregatorStatus>),
}

/// What the aggregator reports about itself.
#[derive(Debug, Clone, Default)]
pub struct AggregatorStatus {
    pub pending: usize,
    pub in_flight: usize,
    pub store_up: bool,
    pub last_flush_ms: Option<i64>,
    pub last_error: Option<String>,
    pub dropped: u64,
    /// Flush transactions committed since this aggregator started.
    pub flushes: u64,
}

pub struct AggregatorState {
    args: AggregatorArgs,
    /// Events awaiting a flush, oldest first (received sequence order).
    pending: VecDeque<Event>,
    /// Coverage spans open right now: (channel, started Unix ms). Two at once for one channel
    /// during a RECONNECT overlap.
    open_cov: HashSet<(Arc<str>, i64)>,
    /// Closed spans not yet written.
    closed_cov: Vec<CoverageSpan>,
    in_flight: usize,
    /// Events in the flush in flight (0 for a coverage-only flush, where `in_flight` is 1).
    in_flight_events: usize,
    /// Events accepted so far (sequence) and the sequence known durable.
    received: u64,
    durable: u64,
    waiters: Vec<(u64, RpcReplyPort<Result<(), FlushError>>)>,
    closed_through: Option<i64>,
    store_up: bool,
    retry_at: Option<Instant>,
    backoff: Duration,
    last_flush_ms: Option<i64>,
    last_error: Option<String>,
    dropped: u64,
    /// The flush timer fired while a flush was in flight: flush again once it is done.
    flush_due: bool,
    flushes: u64,
}

pub struct AggregatorActor;

impl Actor for AggregatorActor {
    type Msg = AggregatorMsg;
    type State = AggregatorState;
    type Arguments = AggregatorArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<AggregatorMsg>,
        args: AggregatorArgs,
    ) -> Result<AggregatorState, ActorProcessingErr> {
        fail::fail_point!("aggregator.pre_start", |_| Err("failpoint aggregator.pre_start".into()));
        myself.send_interval(args.flush_interval, || AggregatorMsg::Tick);
        args.gate.start(args.max_pending);
        Ok(AggregatorState {
            args,
            pending: VecDeque::new(),
            open_cov: HashSet::new(),
            closed_cov: Vec::new(),
            in_flight: 0,
            in_flight_events: 0,
            received: 0,
            durable: 0,
            waiters: Vec::new(),
            closed_through: None,
            store_up: true,
            retry_at: None,
            backoff: Duration::from_millis(100),
            last_flush_ms: None,
            last_error: None,
            dropped: 0,
            flush_due: false,
            flushes: 0,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<AggregatorMsg>,
        msg: AggregatorMsg,
        st: &mut AggregatorState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            AggregatorMsg::Ingest(items) => st.ingest(items),
            AggregatorMsg::Tick => {
                fail::fail_point!("aggregator.tick", |_| Err("failpoint aggregator.tick".into()));
                if st.in_flight > 0 {
                    st.flush_due = true;
                }
                st.maybe_flush(&myself);
            }
            AggregatorMsg::FlushDone(done) => {
                let FlushDone { result, batch, upto, started } = *done;
                let ok = result.is_ok();
                st.finish_flush(result, batch, upto, started);
                // Keep draining while someone waits, while a full batch is ready, or when the
                // timer fired during the write (after a failure the backoff decides).
                let due = std::mem::take(&mut st.flush_due);
                if !st.waiters.is_empty() || (ok && (due || st.pending.len() >= st.args.max_flush_events.max(1))) {
                    st.maybe_flush(&myself);
                }
            }
            AggregatorMsg::Flush { close_through, reply } => {
                if let Some(e) = close_through {
                    st.closed_through = Some(st.closed_through.map_or(e, |c| c.max(e)));
                }
                if st.received == st.durable && st.in_flight == 0 && st.closed_cov.is_empty() {
                    let _ = reply.send(Ok(()));
                } else {
                    st.waiters.push((st.received, reply));
                    st.retry_at = None;
                    st.maybe_flush(&myself);
                }
            }
            AggregatorMsg::Status(reply) => {
                let _ = reply.send(AggregatorStatus {
                    pending: st.pending.len(),
                    in_flight: st.in_flight,
                    store_up: st.store_up,
                    last_flush_ms: st.last_flush_ms,
                    last_error: st.last_error.clone(),
                    dropped: st.dropped + st.args.gate.dropped(),
                    flushes: st.flushes,
                });
            }
        }
        Ok(())
    }
}

impl AggregatorState {
    fn ingest(&mut self, items: Vec<Ingest>) {
        self.args.gate.taken(super::gate::events_in(&items));
        for item in items {
            match item {
                Ingest::Event(e) => {
                    if self.closed_through.is_some_and(|c| e.epoch <= c) {
                        metrics::counter!(m::LATE_LINES_TOTAL).increment(1);
                        continue;
                    }
                    if self.pending.len() >= self.args.max_pending {
                        self.dropped += 1;
                        metrics::counter!(m::EVENTS_DROPPED_TOTAL).increment(1);
                        continue;
                    }
                    self.pending.push_back(e);
                    self.received += 1;
                }
                Ingest::Joined { channel, at_ms } => {
                    self.open_cov.insert((channel, at_ms));
                }
                Ingest::Left { channel, since_ms, at_ms } => {
                    self.open_cov.remove(&(channel.clone(), since_ms));
                    self.closed_cov.push(CoverageSpan {
                        channel: channel.to_string(),
                        started_ms: since_ms,
                        until_ms: at_ms.max(since_ms),
                    });
                }
            }
        }
        self.gauge();
    }

    fn gauge(&self) {
        // Exact: what this aggregator holds and the store has not committed yet (the daemon
        // reports it at a shutdown that timed out, see `IngestGate::not_durable`).
        let held = self.pending.len() + self.in_flight_events;
        self.args.gate.set_held(held);
        metrics::gauge!(m::EVENTS_PENDING).set(held as f64);
    }

    fn maybe_flush(&mut self, myself: &ActorRef<AggregatorMsg>) {
        if self.in_flight > 0 {
            return;
        }
        if self.retry_at.is_some_and(|t| Instant::now() < t) {
            return;
        }
        let now = self.args.clock.now_ms();
        let mut coverage = std::mem::take(&mut self.closed_cov);
        coverage.extend(self.open_cov.iter().map(|(c, s)| CoverageSpan {
            channel: c.to_string(),
            started_ms: *s,
            until_ms: now.max(*s),
        }));
        if self.pending.is_empty() && coverage.is_empty() {
            return;
        }
        let batch = Batch { events: take_batch(&mut self.pending, self.args.max_flush_events), coverage };
        self.in_flight = batch.events.len().max(1);
        self.in_flight_events = batch.events.len();
        // Sequences are contiguous: what stays pending is the newest `pending.len()`.
        let upto = self.received - self.pending.len() as u64;
        let store = self.args.store.clone();
        let me = myself.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let result = write_batch(&store, &batch).await;
            // If the aggregator is gone (restarting), the batch is lost from memory; what the
            // transaction committed stays, and the loss is bounded by one flush interval.
            let _ = me.cast(AggregatorMsg::FlushDone(Box::new(FlushDone { result, batch, upto, started })));
        });
        self.gauge();
    }

    fn finish_flush(&mut self, result: Result<FlushReport, StoreError>, batch: Batch, upto: u64, started: Instant) {
        self.in_flight = 0;
        self.in_flight_events = 0;
        match result {
            Ok(r) => {
                self.flushes += 1;
                metrics::histogram!(m::FLUSH_SECONDS).record(started.elapsed().as_secs_f64());
                metrics::histogram!(m::FLUSH_BATCH_EVENTS).record(batch.events.len() as f64);
                metrics::counter!(m::EVENTS_DURABLE_TOTAL).increment(r.durable as u64);
                metrics::counter!(m::EVENTS_DUPLICATE_TOTAL).increment(r.duplicates as u64);
                metrics::counter!(m::LATE_LINES_TOTAL).increment(r.late as u64);
                metrics::gauge!(m::STORE_UP).set(1.0);
                if !self.store_up {
                    tracing::info!("store available again; flushes resumed");
                }
                self.store_up = true;
                self.backoff = Duration::from_millis(100);
                self.retry_at = None;
                self.last_error = None;
                self.last_flush_ms = Some(self.args.clock.now_ms());
                self.durable = self.durable.max(upto);
                let durable = self.durable;
                let (ready, waiting): (Vec<_>, Vec<_>) =
                    std::mem::take(&mut self.waiters).into_iter().partition(|(t, _)| *t <= durable);
                self.waiters = waiting;
                for (_, port) in ready {
                    let _ = port.send(Ok(()));
                }
            }
            Err(e) => {
                metrics::counter!(m::STORE_ERRORS_TOTAL, "op" => super::STORE_OP_FLUSH).increment(1);
                metrics::gauge!(m::STORE_UP).set(0.0);
                if self.store_up {
                    tracing::warn!(error = %e, "flush failed; events kept in memory and retried with backoff");
                }
                self.store_up = false;
                self.last_error = Some(e.to_string());
                // Put the batch back in front of what arrived meanwhile, within the cap.
                let Batch { mut events, coverage } = batch;
                let room = self.args.max_pending.saturating_sub(self.pending.len());
                if events.len() > room {
                    let lost = events.len() - room;
                    events.truncate(room);
                    self.dropped += lost as u64;
                    metrics::counter!(m::EVENTS_DROPPED_TOTAL).increment(lost as u64);
                    tracing::error!(lost, "in-memory buffer full while the store is unavailable: events dropped");
                }
                for e in events.into_iter().rev() {
                    self.pending.push_front(e);
                }
                // Open spans are re-derived at the next flush; closed ones must be kept.
                let open = &self.open_cov;
                self.closed_cov.extend(
                    coverage.into_iter().filter(|s| !open.contains(&(Arc::from(s.channel.as_str()), s.started_ms))),
                );
                self.retry_at = Some(Instant::now() + self.backoff);
                self.backoff = (self.backoff * 2).min(Duration::from_secs(5));
                let e = Arc::new(e);
                for (_, port) in std::mem::take(&mut self.waiters) {
                    let _ = port.send(Err(FlushError::Store(e.clone())));
                }
            }
        }
        self.gauge();
    }
}

/// The oldest `cap` events of `pending` (all of them when fewer; at least one per flush even
/// with a cap of 0), in order; the rest stay pending.
pub fn take_batch(pending: &mut VecDeque<Event>, cap: usize) -> Vec<Event> {
    let n = pending.len().min(cap.max(1));
    if n == pending.len() {
        return Vec::from(std::mem::take(pending));
    }
    pending.drain(..n).collect()
}
