//! One flush: a batch of events and coverage spans written in ONE transaction. Inside it the
//! store decides what counts: events of sealed channel-epochs are late (counted, never written),
//! an id already recorded is a duplicate (counted, never written), and everything else is
//! tallied and upserted together with its user mapping and its dedup id.

use std::borrow::Cow;
use std::collections::HashSet;

use std::time::Instant;

use chatseal_schema::flush_phases::{FlushPhase, FlushTimings};
use chatseal_schema::{CoverageSpan, SeenId, Store, StoreError};

use super::tally::Tally;
use crate::compact::{Chunk, CompactEvent, Ident, Interner, Name};

/// What one flush takes to the store.
#[derive(Debug, Default)]
pub struct Batch {
    /// The events, oldest first, in compact form.
    pub events: Vec<CompactEvent>,
    /// The batch's own interner: the names of `events`, one name per distinct string across
    /// the chunks it was made of (the tally keys users by name).
    pub names: Interner,
    /// Coverage spans to upsert.
    pub coverage: Vec<CoverageSpan>,
}

impl Batch {
    /// A batch of `events` (made compact, with their own interner) and `coverage`.
    pub fn of(events: &[crate::event::Event], coverage: Vec<CoverageSpan>) -> Batch {
        let mut names = Interner::new();
        let events = events.iter().map(|e| CompactEvent::new(e, &mut names)).collect();
        Batch { events, names, coverage }
    }

    /// Adds `event`, made compact with this batch's names.
    pub fn push(&mut self, event: &crate::event::Event) {
        self.events.push(CompactEvent::new(event, &mut self.names));
    }

    /// The batch of `chunks` (oldest first) and `coverage`: their events under one interner,
    /// each chunk's strings looked up once, not once per event. The write task makes it, so the
    /// aggregator never does per-event work.
    pub fn from_chunks(chunks: Vec<Chunk>, coverage: Vec<CoverageSpan>) -> Batch {
        let mut events = Vec::with_capacity(chunks.iter().map(Chunk::len).sum());
        let mut names = Interner::new();
        for chunk in chunks {
            let (evs, own) = chunk.into_parts();
            let map: Vec<Name> = own.iter().map(|s| names.intern(s)).collect();
            events.extend(evs.into_iter().map(|mut e| {
                e.remap(&map);
                e
            }));
        }
        Batch { events, names, coverage }
    }

    /// The events as one chunk again (a failed flush's, going back to the queue) and the
    /// coverage spans.
    pub fn into_chunk(self) -> (Chunk, Vec<CoverageSpan>) {
        (Chunk::from_parts(self.events, self.names.freeze()), self.coverage)
    }
}

/// What one committed flush did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FlushReport {
    /// The time each phase took (`chatseal_flush_phase_seconds`).
    pub phases: FlushTimings,
    /// Events whose rows were committed.
    pub durable: usize,
    /// Events dropped because their id was already recorded (in the store or earlier in the batch).
    pub duplicates: usize,
    /// Events dropped because their channel-epoch is sealed.
    pub late: usize,
    /// Participation rows (epoch, channel, user) upserted.
    pub rows: usize,
}

/// Writes `batch` in one transaction. On error nothing was committed and the caller keeps the
/// batch to retry it.
pub async fn write_batch(store: &Store, batch: &Batch) -> Result<FlushReport, StoreError> {
    // Test builds only: `flush.hang_on=return(LOGIN)` makes the flush of a batch holding an
    // event of LOGIN hang forever, as a store that stopped answering does.
    #[cfg(feature = "failpoints")]
    if let Some(login) = fail::eval("flush.hang_on", |arg| arg.unwrap_or_default()) {
        if batch.events.iter().any(|e| batch.names.get(e.login) == login) {
            std::future::pending::<()>().await;
        }
    }
    let mut report = FlushReport::default();
    let tx = store.begin_flush().await?;

    let names = &batch.names;
    // Events come in runs of one channel reader's chunk: a group is hashed when it changes,
    // not once per event.
    let mut groups: HashSet<(i64, crate::compact::Name)> = HashSet::new();
    let mut last = None;
    for e in &batch.events {
        if last != Some((e.epoch, e.channel)) {
            last = Some((e.epoch, e.channel));
            groups.insert((e.epoch, e.channel));
        }
    }
    let mut keys: Vec<(i64, String)> = groups.iter().map(|&(e, c)| (e, names.get(c).to_owned())).collect();
    keys.sort();
    let sealed = if keys.is_empty() { HashSet::new() } else { tx.sealed_among(&keys).await? };
    let sealed: HashSet<(i64, crate::compact::Name)> =
        groups.into_iter().filter(|&(e, c)| sealed.contains(&(e, names.get(c).to_owned()))).collect();

    // Batch-local dedup first (a RECONNECT overlap puts both copies in one batch), then the
    // store's record of ids decides for the rest. `ids[i]` is the id of `candidates[i]`, if any.
    let mut local: HashSet<&Ident> = HashSet::with_capacity(batch.events.len());
    let mut candidates: Vec<(&CompactEvent, Option<usize>)> = Vec::with_capacity(batch.events.len());
    let mut ids: Vec<SeenId> = Vec::with_capacity(batch.events.len());
    for e in &batch.events {
        if !sealed.is_empty() && sealed.contains(&(e.epoch, e.channel)) {
            report.late += 1;
            continue;
        }
        let mut slot = None;
        if let Some(id) = e.id.as_ref() {
            if !local.insert(id) {
                report.duplicates += 1;
                continue;
            }
            slot = Some(ids.len());
            ids.push(SeenId { id: id.seen_key(), epoch: e.epoch, channel: Cow::Borrowed(names.get(e.channel)) });
        }
        candidates.push((e, slot));
    }
    let fresh = if ids.is_empty() { Vec::new() } else { tx.insert_seen_ids(&ids).await? };

    let tallying = Instant::now();
    let mut tally = Tally::with_capacity(candidates.len());
    for (e, slot) in candidates {
        if slot.is_some_and(|i| !fresh[i]) {
            report.duplicates += 1;
            continue;
        }
        tally.add(e);
        report.durable += 1;
    }
    let rows = tally.into_rows(names);
    let tallied = tallying.elapsed();
    report.rows = rows.len();
    if !rows.is_empty() {
        tx.upsert_participation(&rows).await?;
    }
    if !batch.coverage.is_empty() {
        tx.upsert_coverage(&batch.coverage).await?;
    }
    report.phases = tx.timings();
    report.phases.add(FlushPhase::Tally, tallied);
    let committing = Instant::now();
    tx.commit().await?;
    report.phases.add(FlushPhase::Commit, committing.elapsed());
    Ok(report)
}
