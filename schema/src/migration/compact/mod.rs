//! The conversion of an existing store to the compact layout (migration m20261207_000009,
//! `crate::layout`), in place, in batches. Each batch is ONE write transaction that:
//! 1. reads the next seals after the recorded progress (a run of about
//!    [`CompactOptions::batch_participants`] participants, whole seals only);
//! 2. re-checks each seal's digest over its old rows (and that every hash is 64 lowercase hex,
//!    the only text the binary form can hold): a seal that fails stops the conversion before
//!    anything of it is written, naming the seal;
//! 3. copies the rows into the new table in SQL (hex decoded to bytes, channel to its id);
//! 4. reads them back from the new table and checks every digest again, byte for byte;
//! 5. records the last seal converted in `meta` [`PROGRESS_KEY`] and commits.
//!
//! A kill -9 at any point loses at most the batch in flight (its transaction never commits);
//! the next open continues after the recorded seal. Concurrent openers take turns: SQLite's
//! single writer, PostgreSQL's migration advisory lock taken by every batch. The last step,
//! in one transaction, copies any rows that belong to no seal, compares the row counts of the
//! two tables, drops the old table, renames the new one, builds its indexes and deletes the
//! progress key. Digests and roots do not change: `sealed_epochs` is not touched, and a digest
//! covers the roots and every leaf byte for byte. On SQLite a store whose rows were moved is
//! then rewritten by `VACUUM` ([`VACUUM_KEY`]), so that the file shrinks to the new size;
//! PostgreSQL gives the old table's files back when it is dropped.
//!
//! A second step (migration m20261208_000010, [`rows`]) moves `users`, `participation` and
//! `signals` the same way, after the first: batches of rows in key order, each one
//! transaction, each read back and compared field by field, progress in [`ROWS_PROGRESS_KEY`],
//! each table swapped in when its last row has moved, then the same `VACUUM`.
//!
//! A third step (migration m20261209_000011, [`keyed`]) moves `sealed_participants` into the
//! keyed layout (`crate::layout::create_keyed_table_sql`) like the first: batches of whole
//! seals, each checked against its digest over the rows before and after, the rows read back
//! and compared, progress in [`KEYED_PROGRESS_KEY`], the same last step (rows of no seal, row
//! counts, swap, index), then the same `VACUUM`.

mod batch;
mod keyed;
mod rows;

use crate::backend::{write_txn_options, Backend};
use crate::error::{ErrCtx, StoreError};
use crate::layout::{self, STAGING_TABLE, TABLE};
use crate::queries::stmt;
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, TransactionTrait};

/// `meta` key present while the conversion is pending: [`NOT_STARTED`], or the last seal
/// converted as a JSON array `[epoch, "channel"]`.
pub const PROGRESS_KEY: &str = "layout.compact.progress";
/// `meta` key present while the second step (migration m20261208_000010: `users`,
/// `participation`, `signals`) is pending: [`NOT_STARTED`], or the table being moved with the
/// last key converted, as JSON.
pub const ROWS_PROGRESS_KEY: &str = "layout.compact_rows.progress";
/// `meta` key present while the third step (migration m20261209_000011: `sealed_participants`
/// keyed by user) is pending: [`NOT_STARTED`], or the last seal converted, as for
/// [`PROGRESS_KEY`].
pub const KEYED_PROGRESS_KEY: &str = "layout.compact_keyed.progress";
/// The progress value before the first batch.
pub const NOT_STARTED: &str = "";
/// `meta` key present while a SQLite store that was converted still has to be vacuumed (the
/// pages of the old table are free but still in the file until `VACUUM` rewrites it).
pub const VACUUM_KEY: &str = "layout.compact.vacuum";

/// How the conversion runs.
#[derive(Clone, Debug)]
pub struct CompactOptions {
    /// Participants per batch, about (a seal is never split); rows per batch of the second
    /// step. Default 20,000.
    pub batch_participants: i64,
    /// Stop after this many batches (of both steps; a table swapped in is not counted), leaving the rest for the next open (tests simulate an
    /// interrupted conversion with it). Default None: run to the end.
    pub stop_after_batches: Option<u64>,
}

impl Default for CompactOptions {
    fn default() -> Self {
        CompactOptions { batch_participants: 20_000, stop_after_batches: None }
    }
}

/// What one run of the conversion did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactReport {
    /// Batches committed by this run.
    pub batches: u64,
    /// Seals converted (and checked before and after) by this run.
    pub seals: u64,
    /// Rows converted by this run (of every table).
    pub rows: u64,
    /// Tables of the second step swapped in by this run (see [`rows`]).
    pub tables: u64,
    /// The conversion is complete (this run or an earlier one finished it).
    pub finished: bool,
    /// SQLite: the file was rewritten by `VACUUM` after the conversion (this run).
    pub vacuumed: bool,
}

/// The engine of a migration's connection.
pub(crate) fn backend_of(db: &impl ConnectionTrait) -> Backend {
    match db.get_database_backend() {
        DbBackend::Postgres => Backend::Postgres,
        _ => Backend::Sqlite,
    }
}

/// Marks a step of the conversion as pending (a migration's last statement): the progress
/// `key` at [`NOT_STARTED`], unless it is there already.
pub(crate) async fn mark_pending(db: &impl ConnectionTrait, key: &str) -> Result<(), DbErr> {
    db.execute_raw(stmt(
        db.get_database_backend(),
        "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        vec![key.into(), NOT_STARTED.into()],
    ))
    .await
    .map(|_| ())
}

/// Why a step of the compact layout has no `down`.
pub(crate) fn cannot_undo() -> DbErr {
    DbErr::Migration("the compact layout cannot be undone in place: restore a backup taken before the upgrade".into())
}

/// The last seal converted, from the progress value.
fn parse_progress(raw: &str) -> Result<Option<(i64, String)>, String> {
    if raw == NOT_STARTED {
        return Ok(None);
    }
    serde_json::from_str::<(i64, String)>(raw).map(Some).map_err(|e| format!("{raw:?}: {e}"))
}

fn progress_value(epoch: i64, channel: &str) -> String {
    serde_json::json!([epoch, channel]).to_string()
}

/// Runs (or continues) the conversion until it is done or `o.stop_after_batches` batches were
/// committed: first `sealed_participants`, then the tables of [`rows`]. Nothing to do on a
/// store already converted.
pub(crate) async fn convert(
    db: &DatabaseConnection,
    backend: Backend,
    ctx: &ErrCtx,
    o: &CompactOptions,
) -> Result<CompactReport, StoreError> {
    let mut report = CompactReport::default();
    if convert_sealed(db, backend, ctx, o, &mut report, SealStep::Compact).await?
        && convert_rows(db, backend, ctx, o, &mut report).await?
        && convert_sealed(db, backend, ctx, o, &mut report, SealStep::Keyed).await?
    {
        report.finished = true;
        report.vacuumed = vacuum_if_pending(db, backend, ctx).await?;
    }
    Ok(report)
}

/// A conversion batch's transaction, under the migration lock on PostgreSQL, with the value of
/// the progress key `key` (None when that step is done).
async fn begin_batch(
    db: &DatabaseConnection,
    backend: Backend,
    ctx: &ErrCtx,
    key: &str,
) -> Result<(DatabaseTransaction, Option<String>), StoreError> {
    let txn = db.begin_with_options(write_txn_options(backend)).await.map_err(ctx.at("starting a conversion batch"))?;
    if backend == Backend::Postgres {
        txn.execute_raw(stmt(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            vec![super::PG_MIGRATION_LOCK.into()],
        ))
        .await
        .map_err(ctx.at("locking the conversion"))?;
    }
    let row = txn
        .query_one_raw(stmt(txn.get_database_backend(), "SELECT value FROM meta WHERE key = $1", vec![key.into()]))
        .await
        .map_err(ctx.at("reading the conversion's progress"))?;
    let raw = row
        .map(|r| r.try_get_by_index::<String>(0))
        .transpose()
        .map_err(ctx.at("reading the conversion's progress"))?;
    Ok((txn, raw))
}

/// The next turn of a step's loop.
enum Turn {
    /// `o.stop_after_batches` batches were committed.
    Stop,
    /// The step is done (its progress key is gone).
    Done,
    /// A batch to do: its transaction and the progress value.
    Batch(DatabaseTransaction, String),
}

/// The start of each turn of a step whose progress is in `key`.
async fn turn(
    db: &DatabaseConnection,
    backend: Backend,
    ctx: &ErrCtx,
    o: &CompactOptions,
    report: &CompactReport,
    key: &str,
) -> Result<Turn, StoreError> {
    if o.stop_after_batches.is_some_and(|n| report.batches >= n) {
        return Ok(Turn::Stop);
    }
    let (txn, raw) = begin_batch(db, backend, ctx, key).await?;
    match raw {
        Some(raw) => Ok(Turn::Batch(txn, raw)),
        None => {
            txn.rollback().await.map_err(ctx.at("ending a conversion batch"))?;
            Ok(Turn::Done)
        }
    }
}

/// A step that moves `sealed_participants` a batch of whole seals at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SealStep {
    /// The first step (m20261207_000009): from the text layout to the compact one.
    Compact,
    /// The third step (m20261209_000011, [`keyed`]): from the compact layout to the keyed one.
    Keyed,
}

impl SealStep {
    fn key(self) -> &'static str {
        match self {
            SealStep::Compact => PROGRESS_KEY,
            SealStep::Keyed => KEYED_PROGRESS_KEY,
        }
    }

    fn layout(self) -> &'static str {
        match self {
            SealStep::Compact => "compact",
            SealStep::Keyed => "keyed",
        }
    }
}

/// The first or the third step, `sealed_participants` (see the module doc); true when it is
/// done.
async fn convert_sealed(
    db: &DatabaseConnection,
    backend: Backend,
    ctx: &ErrCtx,
    o: &CompactOptions,
    report: &mut CompactReport,
    step: SealStep,
) -> Result<bool, StoreError> {
    loop {
        let (txn, raw) = match turn(db, backend, ctx, o, report, step.key()).await? {
            Turn::Stop => return Ok(false),
            Turn::Done => return Ok(true),
            Turn::Batch(txn, raw) => (txn, raw),
        };
        let after = parse_progress(&raw).map_err(|d| ctx.corrupt("reading the conversion's progress", d))?;
        let seals = batch::next_seals(&txn, ctx, after.as_ref(), o.batch_participants).await?;
        let Some(last) = seals.last().map(|s| (s.epoch, s.channel.clone())) else {
            match step {
                SealStep::Compact => finish(&txn, backend, ctx, after.as_ref()).await?,
                SealStep::Keyed => keyed::finish(&txn, backend, ctx).await?,
            }
            txn.commit().await.map_err(ctx.at("committing the end of the conversion"))?;
            tracing::info!(
                seals = report.seals,
                rows = report.rows,
                layout = step.layout(),
                "sealed_participants converted"
            );
            return Ok(true);
        };
        let rows = match step {
            SealStep::Compact => batch::convert_seals(&txn, backend, ctx, after.as_ref(), &seals).await?,
            SealStep::Keyed => keyed::convert_seals(&txn, backend, ctx, &seals).await?,
        };
        txn.execute_raw(stmt(
            txn.get_database_backend(),
            "UPDATE meta SET value = $1 WHERE key = $2",
            vec![progress_value(last.0, &last.1).into(), step.key().into()],
        ))
        .await
        .map_err(ctx.at("recording the conversion's progress"))?;
        fail::fail_point!("compact.before_commit", |arg| Err(crate::error::fail_action("compact.before_commit", arg)));
        txn.commit().await.map_err(ctx.at("committing a conversion batch"))?;
        report.batches += 1;
        report.seals += seals.len() as u64;
        report.rows += rows;
        tracing::info!(
            epoch = last.0,
            channel = %last.1,
            seals = report.seals,
            rows = report.rows,
            layout = step.layout(),
            "sealed_participants: batch converted and checked"
        );
    }
}

/// The second step, `users`, `participation` and `signals` (see [`rows`]); true when it is
/// done.
async fn convert_rows(
    db: &DatabaseConnection,
    backend: Backend,
    ctx: &ErrCtx,
    o: &CompactOptions,
    report: &mut CompactReport,
) -> Result<bool, StoreError> {
    loop {
        let (txn, raw) = match turn(db, backend, ctx, o, report, ROWS_PROGRESS_KEY).await? {
            Turn::Stop => return Ok(false),
            Turn::Done => return Ok(true),
            Turn::Batch(txn, raw) => (txn, raw),
        };
        let at = rows::parse_progress(&raw).map_err(|d| ctx.corrupt("reading the conversion's progress", d))?;
        let done = rows::convert_batch(&txn, backend, ctx, &at, o.batch_participants).await?;
        rows::record(&txn, ctx, done.next.as_ref()).await?;
        fail::fail_point!("compact.before_commit", |arg| Err(crate::error::fail_action("compact.before_commit", arg)));
        txn.commit().await.map_err(ctx.at("committing a conversion batch"))?;
        if done.table_done {
            report.tables += 1;
        } else {
            report.batches += 1;
            report.rows += done.rows;
            tracing::info!(table = %at.table, rows = report.rows, "compact layout: batch converted and checked");
        }
        if done.next.is_none() {
            return Ok(true);
        }
    }
}

/// SQLite, after a conversion that moved rows: `VACUUM` (outside any transaction; it rewrites
/// the file without the old table's free pages, atomically), then the key is deleted. A kill
/// during it leaves the key, and the next open vacuums again. Returns whether it ran.
async fn vacuum_if_pending(db: &DatabaseConnection, backend: Backend, ctx: &ErrCtx) -> Result<bool, StoreError> {
    if backend != Backend::Sqlite {
        return Ok(false);
    }
    let what = "vacuuming the converted store";
    let b = db.get_database_backend();
    let row = db
        .query_one_raw(stmt(b, "SELECT value FROM meta WHERE key = $1", vec![VACUUM_KEY.into()]))
        .await
        .map_err(ctx.at(what))?;
    if row.is_none() {
        return Ok(false);
    }
    tracing::info!("compact layout: rewriting the file without the old table's pages (VACUUM)");
    db.execute_unprepared("VACUUM").await.map_err(ctx.at(what))?;
    db.execute_raw(stmt(b, "DELETE FROM meta WHERE key = $1", vec![VACUUM_KEY.into()])).await.map_err(ctx.at(what))?;
    Ok(true)
}

/// The last step of the first step (see the module doc), inside the caller's transaction.
async fn finish(
    txn: &DatabaseTransaction,
    backend: Backend,
    ctx: &ErrCtx,
    after: Option<&(i64, String)>,
) -> Result<(), StoreError> {
    // Rows of no seal (none in a store chatseal wrote) keep their place all the same.
    batch::copy_rows(txn, backend, ctx, after, None).await?;
    swap_in(txn, backend, ctx, STAGING_TABLE, PROGRESS_KEY, &layout::create_indexes_sql()).await
}

/// Ends a step that moved `sealed_participants` into `staging`, inside the caller's
/// transaction: compares the row counts of the two tables, drops the old one, renames the new
/// one, builds its `indexes`, deletes the progress `key` and (SQLite, rows were moved) marks
/// the file for `VACUUM`.
async fn swap_in(
    txn: &DatabaseTransaction,
    backend: Backend,
    ctx: &ErrCtx,
    staging: &str,
    key: &str,
    indexes: &[String],
) -> Result<(), StoreError> {
    let b = txn.get_database_backend();
    let count = |table: String| async move {
        let what = "counting rows at the end of the conversion";
        let row =
            txn.query_one_raw(stmt(b, format!("SELECT COUNT(*) FROM {table}"), vec![])).await.map_err(ctx.at(what))?;
        row.map(|r| r.try_get_by_index::<i64>(0)).transpose().map_err(ctx.at(what)).map(|n| n.unwrap_or(0))
    };
    let (old, new) = (count(TABLE.to_owned()).await?, count(staging.to_owned()).await?);
    if backend == Backend::Sqlite && old > 0 {
        txn.execute_raw(stmt(
            b,
            "INSERT INTO meta (key, value) VALUES ($1, 'pending') ON CONFLICT (key) DO NOTHING",
            vec![VACUUM_KEY.into()],
        ))
        .await
        .map_err(ctx.at("recording the vacuum to do"))?;
    }
    if old != new {
        return Err(ctx.corrupt(
            "converting sealed_participants",
            format!(
                "the old table holds {old} rows and the converted one {new}: nothing was dropped; run chatseal doctor"
            ),
        ));
    }
    let mut ddl = vec![format!("DROP TABLE {TABLE}"), format!("ALTER TABLE {staging} RENAME TO {TABLE}")];
    if backend == Backend::Postgres {
        ddl.push(format!("ALTER INDEX {staging}_pkey RENAME TO {TABLE}_pkey"));
    }
    ddl.extend(indexes.iter().cloned());
    for sql in ddl {
        txn.execute_unprepared(&sql).await.map_err(ctx.at("swapping in the compact table"))?;
    }
    txn.execute_raw(stmt(b, "DELETE FROM meta WHERE key = $1", vec![key.into()]))
        .await
        .map_err(ctx.at("recording the end of the conversion"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_round_trips() {
        assert_eq!(parse_progress(NOT_STARTED).unwrap(), None);
        let v = progress_value(1761753600, "a \"quoted\" name");
        assert_eq!(parse_progress(&v).unwrap(), Some((1761753600, "a \"quoted\" name".into())));
        assert!(parse_progress("garbage").is_err());
    }
}
