//! The aggregator's flush: ONE write transaction per batch holding the dedup ids, participation,
//! signal sums, user mapping and coverage. Either all of a batch is durable or none of it.
//! Failpoints `flush.before_commit` and `flush.after_commit` bracket the commit.

use super::merge::{fold_coverage, fold_deltas, unique_ids, PartRow};
use super::{placeholders, rows_per_chunk, stmt, values_list};
use crate::backend::write_txn_options;
use crate::error::{ErrCtx, StoreError};
use crate::flush_phases::{FlushPhase, FlushTimings};
use crate::open::Store;
use crate::queries::channel_ids::ensure_channel_id;
use crate::rows::{CoverageSpan, ParticipationDelta, SeenId};
use crate::signals::SignalKind;
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, TransactionTrait, Value};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// An open flush transaction. Dropping it without `commit` rolls everything back.
pub struct FlushTx {
    txn: DatabaseTransaction,
    ctx: Arc<ErrCtx>,
    /// The channels' ids looked up (or given) in this transaction: each once per flush.
    channel_ids: Mutex<HashMap<String, i32>>,
    /// The time each statement phase took so far.
    timings: Mutex<FlushTimings>,
}

impl Store {
    /// Starts a flush transaction (on SQLite: BEGIN IMMEDIATE on the single writer, so other
    /// WRITES wait until it commits or is dropped; reads go on. Keep it short).
    pub async fn begin_flush(&self) -> Result<FlushTx, StoreError> {
        let txn = self
            .writer
            .begin_with_options(write_txn_options(self.backend))
            .await
            .map_err(self.ctx.at("starting a flush transaction"))?;
        Ok(FlushTx { txn, ctx: self.ctx.clone(), channel_ids: Mutex::default(), timings: Mutex::default() })
    }
}

pub(crate) const UPSERT_PARTICIPATION: &str = " ON CONFLICT (epoch, channel_id, user_hash) DO UPDATE SET \
     first_seen = CASE WHEN excluded.first_seen < participation.first_seen THEN excluded.first_seen ELSE participation.first_seen END, \
     last_seen = CASE WHEN excluded.last_seen > participation.last_seen THEN excluded.last_seen ELSE participation.last_seen END";

const UPSERT_SIGNALS: &str =
    " ON CONFLICT (epoch, channel_id, user_hash, kind) DO UPDATE SET value = signals.value + excluded.value";

// SET expressions see the stored row as it was before this statement, so every CASE below
// compares against the old last_seen.
pub(crate) const UPSERT_USERS: &str = " ON CONFLICT (user_hash) DO UPDATE SET \
     login = CASE WHEN excluded.last_seen >= users.last_seen THEN excluded.login ELSE users.login END, \
     user_id = CASE WHEN excluded.last_seen >= users.last_seen THEN COALESCE(excluded.user_id, users.user_id) ELSE COALESCE(users.user_id, excluded.user_id) END, \
     display_name = CASE WHEN excluded.last_seen >= users.last_seen THEN COALESCE(excluded.display_name, users.display_name) ELSE COALESCE(users.display_name, excluded.display_name) END, \
     first_seen = CASE WHEN excluded.first_seen < users.first_seen THEN excluded.first_seen ELSE users.first_seen END, \
     last_seen = CASE WHEN excluded.last_seen > users.last_seen THEN excluded.last_seen ELSE users.last_seen END";

pub(crate) const UPSERT_COVERAGE: &str = " ON CONFLICT (channel, started_ms) DO UPDATE SET \
     until_ms = CASE WHEN excluded.until_ms > coverage.until_ms THEN excluded.until_ms ELSE coverage.until_ms END";

impl FlushTx {
    fn backend(&self) -> DbBackend {
        self.txn.get_database_backend()
    }

    /// The time each phase of this flush's statements took so far (the caller adds its own
    /// steps: the tally, the commit).
    pub fn timings(&self) -> FlushTimings {
        *self.timings.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn timed(&self, phase: FlushPhase, since: Instant) {
        self.timings.lock().unwrap_or_else(PoisonError::into_inner).add(phase, since.elapsed());
    }

    /// The id of `channel`, given now if it has none: looked up once per transaction.
    async fn channel_id(&self, channel: &str) -> Result<i32, StoreError> {
        let known = self.channel_ids.lock().unwrap_or_else(PoisonError::into_inner).get(channel).copied();
        if let Some(id) = known {
            return Ok(id);
        }
        let id = ensure_channel_id(&self.txn, channel).await.map_err(self.ctx.at("giving a channel its id"))?;
        self.channel_ids.lock().unwrap_or_else(PoisonError::into_inner).insert(channel.to_owned(), id);
        Ok(id)
    }

    /// Inserts `rows` into `head` + VALUES + `tail`, chunked; `bind` appends the `cols` values
    /// of one row to its chunk's list (one list per statement, none per row).
    async fn insert_chunked<T>(
        &self,
        what: &str,
        head: &str,
        tail: &str,
        cols: usize,
        rows: &[T],
        mut bind: impl FnMut(&T, &mut Vec<Value>),
    ) -> Result<(), StoreError> {
        let backend = self.backend();
        for chunk in rows.chunks(rows_per_chunk(cols)) {
            let sql = format!("{head} VALUES {}{tail}", values_list(backend, chunk.len(), cols));
            let mut values = Vec::with_capacity(chunk.len() * cols);
            for row in chunk {
                bind(row, &mut values);
            }
            self.txn.execute_raw(stmt(backend, sql, values)).await.map_err(self.ctx.at(what))?;
        }
        Ok(())
    }

    /// Which of `keys` (epoch, channel) are sealed already (their lines must be dropped).
    pub async fn sealed_among(&self, keys: &[(i64, String)]) -> Result<HashSet<(i64, String)>, StoreError> {
        let started = Instant::now();
        let wanted: HashSet<&(i64, String)> = keys.iter().collect();
        let epochs: Vec<i64> = keys.iter().map(|k| k.0).collect::<BTreeSet<_>>().into_iter().collect();
        let mut out = HashSet::new();
        for chunk in epochs.chunks(rows_per_chunk(1)) {
            let sql = format!(
                "SELECT epoch, channel FROM sealed_epochs WHERE epoch IN ({})",
                placeholders(self.backend(), 1, chunk.len())
            );
            let values = chunk.iter().map(|e| Value::from(*e)).collect();
            let rows = self
                .txn
                .query_all_raw(stmt(self.backend(), sql, values))
                .await
                .map_err(self.ctx.at("reading sealed epochs in a flush"))?;
            for row in rows {
                let key: (i64, String) = (
                    row.try_get_by_index(0).map_err(self.ctx.at("decoding a sealed epoch"))?,
                    row.try_get_by_index(1).map_err(self.ctx.at("decoding a sealed epoch"))?,
                );
                if wanted.contains(&key) {
                    out.insert(key);
                }
            }
        }
        self.timed(FlushPhase::Sealed, started);
        Ok(out)
    }

    /// Records message ids; returns, for each of `ids`, whether it was NEW (not recorded
    /// before, in this or an earlier transaction). An id that `ids` repeats is new at most at
    /// its first position.
    ///
    /// The common case is a chunk of ids all new: each chunk is first inserted inside a
    /// savepoint without `RETURNING`, and when every row went in, all of it is new and no row
    /// travels back. Only a chunk that met an id recorded before is rolled back to its
    /// savepoint and inserted again with `RETURNING id`, which names the new ones.
    pub async fn insert_seen_ids(&self, ids: &[SeenId<'_>]) -> Result<Vec<bool>, StoreError> {
        let started = Instant::now();
        let unique = unique_ids(ids);
        let mut fresh = vec![false; ids.len()];
        let backend = self.backend();
        // The channels' ids, given here to a channel's first message (`crate::layout`).
        let mut channels: HashMap<&str, i32> = HashMap::new();
        for &i in &unique {
            let c = &*ids[i].channel;
            if !channels.contains_key(c) {
                channels.insert(c, self.channel_id(c).await?);
            }
        }
        let exec = |sql: &'static str, what: &'static str| async move {
            self.txn.execute_raw(stmt(backend, sql, vec![])).await.map_err(self.ctx.at(what))
        };
        let values = |chunk: &[usize]| -> Vec<Value> {
            let mut v = Vec::with_capacity(chunk.len() * 3);
            for &i in chunk {
                let s = &ids[i];
                let channel = channels.get(&*s.channel).copied().unwrap_or_default();
                v.extend([Value::Bytes(Some(s.id.as_bytes().to_vec())), Value::from(s.epoch), Value::from(channel)]);
            }
            v
        };
        for chunk in unique.chunks(rows_per_chunk(3)) {
            let insert = format!(
                "INSERT INTO seen_ids (id, epoch, channel_id) VALUES {} ON CONFLICT (id) DO NOTHING",
                values_list(backend, chunk.len(), 3)
            );
            exec("SAVEPOINT seen_ids_chunk", "opening a savepoint for message ids").await?;
            let inserted = self
                .txn
                .execute_raw(stmt(backend, insert.clone(), values(chunk)))
                .await
                .map_err(self.ctx.at("recording message ids"))?
                .rows_affected();
            if inserted == chunk.len() as u64 {
                exec("RELEASE SAVEPOINT seen_ids_chunk", "releasing a savepoint for message ids").await?;
                for &i in chunk {
                    fresh[i] = true;
                }
                continue;
            }
            exec("ROLLBACK TO SAVEPOINT seen_ids_chunk", "rolling back a savepoint for message ids").await?;
            exec("RELEASE SAVEPOINT seen_ids_chunk", "releasing a savepoint for message ids").await?;
            let rows = self
                .txn
                .query_all_raw(stmt(backend, format!("{insert} RETURNING id"), values(chunk)))
                .await
                .map_err(self.ctx.at("recording message ids"))?;
            let mut new = HashSet::with_capacity(rows.len());
            for row in rows {
                new.insert(row.try_get_by_index::<Vec<u8>>(0).map_err(self.ctx.at("decoding a message id"))?);
            }
            for &i in chunk {
                fresh[i] = new.contains(ids[i].id.as_bytes());
            }
        }
        self.timed(FlushPhase::Ids, started);
        Ok(fresh)
    }

    /// Adds a batch of participation deltas to participation, signals and users. The users go
    /// last: their rows are shared between channels, so two cluster members flushing at once
    /// wait on each other's row locks there until commit; written last, those locks are held
    /// only for the users statement and the commit, not for the whole flush. Keys are bound in
    /// the compact layout's form (`crate::layout`): hashes as 32 bytes, channels as their ids
    /// (given here to a channel's first participant), kinds as their codes.
    pub async fn upsert_participation(&self, rows: &[ParticipationDelta<'_>]) -> Result<(), StoreError> {
        let started = Instant::now();
        let f = fold_deltas(rows)?;
        self.timed(FlushPhase::Tally, started);
        let mut ids = Vec::with_capacity(f.channels.len());
        for c in &f.channels {
            ids.push(self.channel_id(c).await?);
        }
        let hash = |h: &[u8; 32]| Value::Bytes(Some(h.to_vec()));
        let started = Instant::now();
        let head = "INSERT INTO participation (epoch, channel_id, user_hash, first_seen, last_seen)";
        self.insert_chunked("upserting participation", head, UPSERT_PARTICIPATION, 5, &f.participation, |p, v| {
            v.extend([p.epoch.into(), ids[p.channel].into(), hash(&p.user), p.first_seen.into(), p.last_seen.into()])
        })
        .await?;
        self.timed(FlushPhase::Participation, started);

        let started = Instant::now();
        let signals: Vec<(&PartRow, SignalKind, i64)> =
            f.participation.iter().flat_map(|p| p.signals.nonzero().map(move |(k, n)| (p, k, n))).collect();
        let head = "INSERT INTO signals (epoch, channel_id, user_hash, kind, value)";
        self.insert_chunked("upserting signals", head, UPSERT_SIGNALS, 5, &signals, |(p, k, n), v| {
            v.extend([p.epoch.into(), ids[p.channel].into(), hash(&p.user), k.code().into(), (*n).into()])
        })
        .await?;
        self.timed(FlushPhase::Signals, started);

        let started = Instant::now();
        let head = "INSERT INTO users (user_hash, login, user_id, display_name, first_seen, last_seen)";
        self.insert_chunked("upserting users", head, UPSERT_USERS, 6, &f.users, |u, v| {
            v.extend([
                hash(&u.user),
                u.login.into(),
                u.user_id.into(),
                u.display_name.into(),
                u.first_seen.into(),
                u.last_seen.into(),
            ])
        })
        .await?;
        self.timed(FlushPhase::Users, started);
        Ok(())
    }

    /// Records joined intervals; a span already stored under (channel, started_ms) is
    /// extended to the larger until_ms.
    pub async fn upsert_coverage(&self, spans: &[CoverageSpan]) -> Result<(), StoreError> {
        let started = Instant::now();
        let rows: Vec<_> = fold_coverage(spans)?.into_iter().collect();
        let head = "INSERT INTO coverage (channel, started_ms, until_ms)";
        self.insert_chunked("upserting coverage", head, UPSERT_COVERAGE, 3, &rows, |((c, s), u), v| {
            v.extend([c.as_str().into(), (*s).into(), (*u).into()])
        })
        .await?;
        self.timed(FlushPhase::Coverage, started);
        Ok(())
    }

    /// Makes the batch durable (synced on SQLite FULL and PostgreSQL with synchronous_commit).
    pub async fn commit(self) -> Result<(), StoreError> {
        fail::fail_point!("flush.before_commit", |arg| Err(crate::error::fail_action("flush.before_commit", arg)));
        self.txn.commit().await.map_err(self.ctx.at("committing a flush"))?;
        fail::fail_point!("flush.after_commit", |arg| Err(crate::error::fail_action("flush.after_commit", arg)));
        Ok(())
    }

    /// Discards the batch.
    pub async fn rollback(self) -> Result<(), StoreError> {
        self.txn.rollback().await.map_err(self.ctx.at("rolling back a flush"))
    }
}
