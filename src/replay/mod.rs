//! `chatseal replay`: a chat log (raw IRC lines with tags, one per row, optionally after a
//! `[YYYY-MM-DD HH:MM:SS] ` timestamp) fed into the store through the SAME path as live chat:
//! each line is parsed by the channel actor's parser ([`line::replay_line`]), and the
//! participant events are written by the aggregator's [`write_batch`] in chunks of
//! `chunk_events`, one transaction each. So a sealed epoch never changes (its lines are counted
//! late), a message id already recorded counts once (a log replayed twice, or overlapping what
//! the daemon saw live), excluded and opted-out users are dropped, and participation, signals
//! and users are merged exactly as a flush merges them. Lines without an `id` tag cannot be
//! deduplicated (Twitch always sends one on PRIVMSG and USERNOTICE).
//!
//! Receive time. The parser distrusts a `tmi-sent-ts` further than `epoch.max_skew` from the
//! receive time; for a replay the receive time (`ParseCtx::recv_ms`) is the line's OWN time
//! (`tmi-sent-ts`, else the prefix), so an old log lands in the epochs it was said in.
//!
//! It needs no running daemon: with SQLite, stop the daemon first; with PostgreSQL it can share
//! the store with a running daemon (a line of an epoch the daemon is sealing at that moment may
//! be recorded after the seal read its participants: it is then in `participation` but never
//! in that seal). Replayed lines add no coverage.

pub mod line;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use chatseal_actors::aggregator::flush::{write_batch, Batch, FlushReport};
use chatseal_actors::channel::parse::ParseCtx;
use chatseal_schema::{Store, StoreError};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, BufReader};

use line::{replay_line, Replayed};

/// Events written per transaction, unless told otherwise.
pub const CHUNK_EVENTS: usize = 5_000;

/// What a replay parses with.
#[derive(Debug, Clone)]
pub struct ReplayConfig {
    /// Epoch length, seconds.
    pub epoch_len: i64,
    /// Longest line accepted, bytes (without the time prefix).
    pub max_line_bytes: usize,
    /// Lowercase logins never recorded (bots).
    pub excluded: HashSet<String>,
    /// Lowercase logins of users who opted out.
    pub opted_out: HashSet<String>,
    /// Events per write transaction (at least 1).
    pub chunk_events: usize,
    /// The replay's wall-clock time, Unix ms, and `epoch.max_skew` in ms: a line timed later
    /// than their sum is from the future and rejected (`bad_timestamp`).
    pub now_ms: i64,
    /// `epoch.max_skew` in ms: also how far a `tmi-sent-ts` may stray from the line's own time.
    pub max_skew_ms: i64,
}

/// What a replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplaySummary {
    /// Lines read, blank ones included.
    pub lines: u64,
    /// Lines that were empty or only whitespace.
    pub blank: u64,
    /// Participant events parsed.
    pub events: u64,
    /// ... of which timed by the logger's prefix (no `tmi-sent-ts`).
    pub timed_by_prefix: u64,
    /// Events newly counted in the store.
    pub written: u64,
    /// Events whose message id was already recorded.
    pub duplicates: u64,
    /// Events of sealed epochs (nothing written).
    pub late: u64,
    /// Dropped on purpose, by reason (excluded, opted_out, anonymous_gift, shared_chat_copy).
    pub discarded: BTreeMap<&'static str, u64>,
    /// Unusable lines, by reason.
    pub rejected: BTreeMap<&'static str, u64>,
    /// Valid lines without a participant (PING, ROOMSTATE, CLEARCHAT, ...).
    pub other: u64,
}

impl ReplaySummary {
    fn add_flush(&mut self, r: &FlushReport) {
        self.written += r.durable as u64;
        self.duplicates += r.duplicates as u64;
        self.late += r.late as u64;
    }

    /// The summary as printed by the command, one fact per line.
    pub fn render(&self) -> String {
        let by = |m: &BTreeMap<&'static str, u64>| {
            let total: u64 = m.values().sum();
            let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k} {v}")).collect();
            if parts.is_empty() {
                total.to_string()
            } else {
                format!("{total} ({})", parts.join(", "))
            }
        };
        format!(
            "lines read:          {}\n\
             blank:               {}\n\
             participant events:  {} ({} timed by the line's [time] prefix)\n\
             newly counted:       {}\n\
             duplicates:          {} (message id already recorded)\n\
             late:                {} (epoch already sealed; nothing changed)\n\
             discarded:           {}\n\
             rejected:            {}\n\
             other lines:         {} (no participant: PING, ROOMSTATE, CLEARCHAT, ...)\n",
            self.lines,
            self.blank,
            self.events,
            self.timed_by_prefix,
            self.written,
            self.duplicates,
            self.late,
            by(&self.discarded),
            by(&self.rejected),
            self.other
        )
    }
}

/// Replays the lines of `reader` into `store` (see the module doc). On a store error the chunks
/// written before it stay written; running the replay again is safe.
pub async fn replay_lines<R: AsyncBufRead + Unpin>(
    store: &Store,
    mut reader: R,
    cfg: &ReplayConfig,
) -> Result<ReplaySummary, ReplayError> {
    let ctx = ParseCtx {
        // The replay's clock and skew bound (the future limit); replay_line parses each line
        // with the line's own time as receive time.
        recv_ms: cfg.now_ms,
        epoch_len: cfg.epoch_len.max(1),
        max_skew_ms: cfg.max_skew_ms,
        excluded: &cfg.excluded,
        opted_out: &cfg.opted_out,
        own_nick: "",
    };
    let chunk = cfg.chunk_events.max(1);
    let mut sum = ReplaySummary::default();
    let mut batch = Batch::default();
    let mut buf = Vec::with_capacity(1024);
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).await.map_err(|e| ReplayError::Read(e.to_string()))?;
        if n == 0 {
            break;
        }
        sum.lines += 1;
        match replay_line(&buf, cfg.max_line_bytes, &ctx) {
            Replayed::Blank => sum.blank += 1,
            Replayed::Event { event, from_prefix } => {
                sum.events += 1;
                sum.timed_by_prefix += u64::from(from_prefix);
                batch.push(&event);
                if batch.events.len() >= chunk {
                    sum.add_flush(&write_batch(store, &batch).await?);
                    batch = Batch::default();
                }
            }
            Replayed::Discarded(r) => *sum.discarded.entry(r).or_default() += 1,
            Replayed::Rejected(r) => *sum.rejected.entry(r).or_default() += 1,
            Replayed::Other(_) => sum.other += 1,
        }
    }
    if !batch.events.is_empty() {
        sum.add_flush(&write_batch(store, &batch).await?);
    }
    Ok(sum)
}

/// Replays the file at `path` (see [`replay_lines`]).
pub async fn replay_file(store: &Store, path: &Path, cfg: &ReplayConfig) -> Result<ReplaySummary, ReplayError> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| ReplayError::Open { path: path.display().to_string(), detail: e.to_string() })?;
    replay_lines(store, BufReader::new(file), cfg).await
}

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The log file cannot be opened.
    #[error("cannot open the log {path}: {detail}; check the path and that it is readable")]
    Open {
        /// The path as given.
        path: String,
        /// The I/O error.
        detail: String,
    },
    /// Reading the log failed part-way (the I/O error); what was written before stays.
    #[error("reading the log failed: {0}")]
    Read(String),
    /// A chunk could not be written to the store.
    #[error("writing to the store failed: {0}; the chunks written before stay written, and a second replay of the same log is safe")]
    Store(#[from] StoreError),
}
