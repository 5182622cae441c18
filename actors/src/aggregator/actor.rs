//! The aggregator actor: buffers events from every channel actor and, every flush interval,
//! hands ONE batch to a write task (a single writer), so a slow store never blocks the socket
//! readers. While the store is unavailable, events stay in memory up to the gate's bounds
//! (`store.max_pending_events`, `store.max_pending_bytes`), then are dropped and counted;
//! flushes retry with backoff. Nothing here survives a crash except what the store committed,
//! which is why nothing needs reloading in pre_start: dedup and sealed-ness live in the store
//! and are checked inside each flush transaction.
//!
//! The queueing, waiters, backoff and re-queueing are the pure state machine of `queue`; this
//! actor feeds it messages, spawns the write tasks it asks for and answers the waiters it
//! releases. Events arrive and are buffered in the compact chunks the channel readers made
//! (`compact::Chunk`, each with its own names), so taking them in costs this actor nothing per
//! event; the write task merges a batch's chunks under one interner (`flush::Batch`). The
//! actor's [`Permit`] holds exactly the events and bytes it holds, so the gate (`gate`) bounds
//! what the readers may add on top.
//!
//! A flush transaction takes at most `max_flush_events` events (the oldest first), so when the
//! store falls behind, commits stay regular and bounded instead of rare and huge; while more is
//! pending (a full batch is ready, or the flush timer fired during the write) the next flush
//! starts as soon as the previous one committed.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chatseal_schema::{CoverageSpan, Store, StoreError};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use super::flush::{write_batch, Batch, FlushReport};
use super::gate::{DropReason, IngestGate, Permit};
use super::outcome::{FlushDone, FlushError};
use super::queue::{Finished, Limits, Queue};
use crate::clock::SharedClock;
use crate::compact::Chunk;
use crate::event::Ingest;
use crate::telemetry::names as m;

/// Settings of the aggregator.
#[derive(Debug, Clone)]
pub struct AggregatorArgs {
    /// The store flushes write to.
    pub store: Store,
    /// The epoch clock (coverage spans' ends, the last flush time).
    pub clock: SharedClock,
    /// Interval between flushes (`store.flush_interval`).
    pub flush_interval: Duration,
    /// Most events received and not durable (`store.max_pending_events`).
    pub max_pending: usize,
    /// Most bytes of events received and not durable (`store.max_pending_bytes`).
    pub max_pending_bytes: usize,
    /// Most events in one flush transaction (`store.max_flush_events`).
    pub max_flush_events: usize,
    /// Shared with the channel readers: bounds what is not durable (see `gate`).
    pub gate: IngestGate,
}

/// Messages the aggregator takes.
pub enum AggregatorMsg {
    /// Lines from a channel actor, in order, with the gate's room its events hold.
    Ingest(Vec<Ingest>, Permit),
    /// Flush timer.
    Tick,
    /// A write task finished.
    FlushDone(Box<FlushDone>),
    /// Make everything received so far durable, then reply. With `close_through`, events of
    /// epochs up to it that arrive afterwards are late (the sealer is about to seal them).
    Flush {
        /// The last epoch the sealer is about to seal, if any.
        close_through: Option<i64>,
        /// Answered once everything received before this message is durable, or a flush failed.
        reply: RpcReplyPort<Result<(), FlushError>>,
    },
    /// Snapshot for /readyz and /v1/status.
    Status(RpcReplyPort<AggregatorStatus>),
}

/// What the aggregator reports about itself.
#[derive(Debug, Clone, Default)]
pub struct AggregatorStatus {
    /// Events waiting for a flush.
    pub pending: usize,
    /// Events in the flush in flight (1 for a flush of coverage spans only).
    pub in_flight: usize,
    /// Whether the last flush succeeded.
    pub store_up: bool,
    /// Unix ms of the last committed flush.
    pub last_flush_ms: Option<i64>,
    /// The error of the last failed flush, until one succeeds.
    pub last_error: Option<String>,
    /// Events dropped so far (the aggregator's own and the gate's refusals).
    pub dropped: u64,
    /// Flush transactions committed since this aggregator started.
    pub flushes: u64,
}

/// The aggregator's state between messages.
pub struct AggregatorState {
    args: AggregatorArgs,
    queue: Queue<Chunk, RpcReplyPort<Result<(), FlushError>>>,
    /// Room held in the gate: exactly what is held here.
    permit: Permit,
    /// Coverage spans open right now: (channel, started Unix ms). Two at once for one channel
    /// during a RECONNECT overlap.
    open_cov: HashSet<(Arc<str>, i64)>,
    /// Closed spans not yet written.
    closed_cov: Vec<CoverageSpan>,
    closed_through: Option<i64>,
    store_up: bool,
    last_flush_ms: Option<i64>,
    last_error: Option<String>,
    dropped: u64,
    flushes: u64,
}

/// The aggregator (see the module doc).
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
        args.gate.start(args.max_pending, args.max_pending_bytes);
        let limits = Limits { max_events: args.max_pending, max_batch: args.max_flush_events };
        Ok(AggregatorState {
            permit: args.gate.permit(),
            args,
            queue: Queue::new(limits),
            open_cov: HashSet::new(),
            closed_cov: Vec::new(),
            closed_through: None,
            store_up: true,
            last_flush_ms: None,
            last_error: None,
            dropped: 0,
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
            AggregatorMsg::Ingest(items, permit) => st.ingest(items, permit),
            AggregatorMsg::Tick => {
                fail::fail_point!("aggregator.tick", |_| Err("failpoint aggregator.tick".into()));
                st.queue.tick();
                st.maybe_flush(&myself);
            }
            AggregatorMsg::FlushDone(done) => {
                let FlushDone { result, batch, upto, started } = *done;
                if st.finish_flush(result, batch, upto, started) {
                    st.maybe_flush(&myself);
                }
            }
            AggregatorMsg::Flush { close_through, reply } => {
                if let Some(e) = close_through {
                    st.closed_through = Some(st.closed_through.map_or(e, |c| c.max(e)));
                }
                if let Some(reply) = st.queue.wait(reply, !st.closed_cov.is_empty()) {
                    let _ = reply.send(Ok(()));
                } else {
                    st.maybe_flush(&myself);
                }
            }
            AggregatorMsg::Status(reply) => {
                let _ = reply.send(AggregatorStatus {
                    pending: st.queue.pending(),
                    in_flight: if st.queue.flushing() { st.queue.in_flight().max(1) } else { 0 },
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
    fn ingest(&mut self, items: Vec<Ingest>, permit: Permit) {
        self.permit.merge(permit);
        for item in items {
            match item {
                Ingest::Events(mut chunk) => {
                    if let Some(c) = self.closed_through {
                        let late = chunk.retain(|e| e.epoch > c);
                        metrics::counter!(m::LATE_LINES_TOTAL).increment(late as u64);
                    }
                    if let Err(refused) = self.queue.push(chunk) {
                        self.dropped += refused.len() as u64;
                        DropReason::BufferFull.count(refused.len() as u64);
                    }
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
        self.account();
    }

    /// Sets the permit to exactly what is held (events not durable and their bytes: the
    /// chunks pending and in flight) and the pending gauge.
    fn account(&mut self) {
        let held = self.queue.held();
        self.permit.set(held, self.queue.bytes());
        metrics::gauge!(m::EVENTS_PENDING).set(held as f64);
    }

    fn maybe_flush(&mut self, myself: &ActorRef<AggregatorMsg>) {
        let now = Instant::now();
        if !self.queue.can_start(now) {
            return;
        }
        let at_ms = self.args.clock.now_ms();
        let mut coverage = std::mem::take(&mut self.closed_cov);
        coverage.extend(self.open_cov.iter().map(|(c, s)| CoverageSpan {
            channel: c.to_string(),
            started_ms: *s,
            until_ms: at_ms.max(*s),
        }));
        let Some(taken) = self.queue.start(now, !coverage.is_empty()) else {
            self.closed_cov = coverage.into_iter().filter(|s| !self.is_open(s)).collect();
            return;
        };
        let chunks = taken.runs;
        let upto = taken.upto;
        let store = self.args.store.clone();
        let me = myself.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let batch = Batch::from_chunks(chunks, coverage);
            let result = write_batch(&store, &batch).await;
            // If the aggregator is gone (restarting), the batch is lost from memory; what the
            // transaction committed stays, and the loss is bounded by one flush interval.
            let _ = me.cast(AggregatorMsg::FlushDone(Box::new(FlushDone { result, batch, upto, started })));
        });
        self.account();
    }

    fn is_open(&self, s: &CoverageSpan) -> bool {
        self.open_cov.contains(&(Arc::from(s.channel.as_str()), s.started_ms))
    }

    /// Takes a finished flush in; true when the next one should start right away.
    fn finish_flush(
        &mut self,
        result: Result<FlushReport, StoreError>,
        batch: Batch,
        upto: u64,
        started: Instant,
    ) -> bool {
        let again = match result {
            Ok(r) => {
                self.flushes += 1;
                metrics::histogram!(m::FLUSH_SECONDS).record(started.elapsed().as_secs_f64());
                metrics::histogram!(m::FLUSH_BATCH_EVENTS).record(batch.events.len() as f64);
                for (phase, took) in r.phases.iter() {
                    metrics::histogram!(m::FLUSH_PHASE_SECONDS, "phase" => phase.as_str()).record(took.as_secs_f64());
                }
                metrics::counter!(m::EVENTS_DURABLE_TOTAL).increment(r.durable as u64);
                metrics::counter!(m::EVENTS_DUPLICATE_TOTAL).increment(r.duplicates as u64);
                metrics::counter!(m::LATE_LINES_TOTAL).increment(r.late as u64);
                metrics::gauge!(m::STORE_UP).set(1.0);
                if !self.store_up {
                    tracing::info!("store available again; flushes resumed");
                }
                self.store_up = true;
                self.last_error = None;
                self.last_flush_ms = Some(self.args.clock.now_ms());
                let Finished { waiters, again, .. } = self.queue.committed(upto);
                // Accounted before anyone hears it is durable.
                self.account();
                for port in waiters {
                    let _ = port.send(Ok(()));
                }
                again
            }
            Err(e) => {
                metrics::counter!(m::STORE_ERRORS_TOTAL, "op" => super::STORE_OP_FLUSH).increment(1);
                metrics::gauge!(m::STORE_UP).set(0.0);
                if self.store_up {
                    tracing::warn!(error = %e, "flush failed; events kept in memory and retried with backoff");
                }
                self.store_up = false;
                self.last_error = Some(e.to_string());
                // Back in front of the pending chunks, as one chunk.
                let (chunk, coverage) = batch.into_chunk();
                let Finished { waiters, dropped, again } = self.queue.failed(vec![chunk], Instant::now());
                if dropped > 0 {
                    self.dropped += dropped as u64;
                    DropReason::BufferFull.count(dropped as u64);
                    tracing::error!(dropped, "in-memory buffer full while the store is unavailable: events dropped");
                }
                // Open spans are re-derived at the next flush; closed ones must be kept.
                let closed: Vec<CoverageSpan> = coverage.into_iter().filter(|s| !self.is_open(s)).collect();
                self.closed_cov.extend(closed);
                self.account();
                let e = Arc::new(e);
                for port in waiters {
                    let _ = port.send(Err(FlushError::Store(e.clone())));
                }
                again
            }
        };
        again
    }
}
