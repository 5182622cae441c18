//! The second step of the conversion (migration m20261208_000010): `users`, `participation`
//! and `signals` moved into their compact tables ([`layout::create_row_table_sql`]), one table
//! after the other, in batches over the old table's primary key. Each batch is ONE write
//! transaction (the caller's) that:
//! 1. reads the next rows after the recorded key, in key order;
//! 2. checks each one can be held by the compact form (a hash of 64 lowercase hex, a known
//!    signal kind): a row that cannot stops the conversion before anything of its batch is
//!    written, naming it;
//! 3. writes them into the new table (hash to 32 bytes, channel to its id, kind to its code);
//! 4. reads them back from the new table by their new keys and compares every field with the
//!    old row, in the old text form, and the row count;
//! 5. records the table and the last key converted in `meta` [`ROWS_PROGRESS_KEY`].
//!
//! When a table has no row left, the same kind of transaction compares the row counts of the
//! two tables, drops the old one, renames the new one and goes on with the next table; after
//! the last one the progress key is deleted. These tables are not covered by seal digests (a
//! seal's rows live in `sealed_participants`, which this step does not touch), so the check is
//! the field-by-field comparison.

use super::{NOT_STARTED, ROWS_PROGRESS_KEY};
use crate::backend::Backend;
use crate::error::{ErrCtx, StoreError};
use crate::keys::{hash_from_bytes, hash_to_bytes};
use crate::layout::{row_staging, ROW_TABLES};
use crate::queries::channel_ids::{channel_names, ensure_channel_id};
use crate::queries::{rows_per_chunk, stmt, values_list};
use crate::rows::is_hash_hex;
use crate::signals::SignalKind;
use sea_orm::{ConnectionTrait, DatabaseTransaction, QueryResult, Value};
use std::collections::HashMap;

/// A field in the old layout's form (the form of the store's API).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub(super) enum Field {
    /// BIGINT.
    Int(i64),
    /// TEXT.
    Text(String),
    /// A NULL text.
    Null,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Text,
    OptText,
}

/// One table of the step: its old columns (key first) with their kinds, and the new names of
/// the same columns in the same order.
struct Spec {
    table: &'static str,
    cols: &'static [(&'static str, Kind)],
    key_len: usize,
    new_cols: &'static [&'static str],
}

const SPECS: [Spec; 3] = [
    Spec {
        table: "users",
        cols: &[
            ("user_hash", Kind::Text),
            ("login", Kind::Text),
            ("user_id", Kind::OptText),
            ("display_name", Kind::OptText),
            ("first_seen", Kind::Int),
            ("last_seen", Kind::Int),
        ],
        key_len: 1,
        new_cols: &["user_hash", "login", "user_id", "display_name", "first_seen", "last_seen"],
    },
    Spec {
        table: "participation",
        cols: &[
            ("epoch", Kind::Int),
            ("channel", Kind::Text),
            ("user_hash", Kind::Text),
            ("first_seen", Kind::Int),
            ("last_seen", Kind::Int),
        ],
        key_len: 3,
        new_cols: &["epoch", "channel_id", "user_hash", "first_seen", "last_seen"],
    },
    Spec {
        table: "signals",
        cols: &[
            ("epoch", Kind::Int),
            ("channel", Kind::Text),
            ("user_hash", Kind::Text),
            ("kind", Kind::Text),
            ("value", Kind::Int),
        ],
        key_len: 4,
        new_cols: &["epoch", "channel_id", "user_hash", "kind", "value"],
    },
];

/// Where the step stands: the table being moved and the last key of it converted.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) struct Progress {
    /// One of [`ROW_TABLES`].
    pub table: String,
    /// The last key converted (old form), None before the table's first batch.
    pub after: Option<Vec<Field>>,
}

/// The progress value, None when the step has not started.
pub(super) fn parse_progress(raw: &str) -> Result<Progress, String> {
    if raw == NOT_STARTED {
        return Ok(Progress { table: ROW_TABLES[0].into(), after: None });
    }
    let p: Progress = serde_json::from_str(raw).map_err(|e| format!("{raw:?}: {e}"))?;
    if !ROW_TABLES.contains(&p.table.as_str()) {
        return Err(format!("{raw:?}: {:?} is not one of {ROW_TABLES:?}", p.table));
    }
    Ok(p)
}

/// The text of a progress.
pub(super) fn progress_value(p: &Progress) -> String {
    serde_json::to_string(p).unwrap_or_default()
}

fn spec_of(table: &str) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.table == table)
}

fn field(r: &QueryResult, i: usize, kind: Kind) -> Result<Field, sea_orm::DbErr> {
    Ok(match kind {
        Kind::Int => Field::Int(r.try_get_by_index(i)?),
        Kind::Text => Field::Text(r.try_get_by_index(i)?),
        Kind::OptText => r.try_get_by_index::<Option<String>>(i)?.map_or(Field::Null, Field::Text),
    })
}

fn to_value(f: &Field) -> Value {
    match f {
        Field::Int(n) => Value::BigInt(Some(*n)),
        Field::Text(t) => Value::String(Some(t.clone())),
        Field::Null => Value::String(None),
    }
}

/// What one batch did.
pub(super) struct Batch {
    /// Rows moved.
    pub rows: u64,
    /// The table was swapped in (no row was left).
    pub table_done: bool,
    /// The new progress, None when the step is over.
    pub next: Option<Progress>,
}

/// Converts one batch of at most `limit` rows (or swaps a table in when none is left).
pub(super) async fn convert_batch(
    txn: &DatabaseTransaction,
    backend: Backend,
    ctx: &ErrCtx,
    at: &Progress,
    limit: i64,
) -> Result<Batch, StoreError> {
    let spec = spec_of(&at.table)
        .ok_or_else(|| ctx.corrupt("reading the conversion's progress", format!("no table {:?}", at.table)))?;
    let old = read_old(txn, ctx, spec, at.after.as_deref(), limit).await?;
    let Some(last) = old.last() else {
        swap(txn, backend, ctx, spec).await?;
        let next = ROW_TABLES
            .iter()
            .position(|t| *t == spec.table)
            .and_then(|i| ROW_TABLES.get(i + 1))
            .map(|t| Progress { table: (*t).into(), after: None });
        return Ok(Batch { rows: 0, table_done: true, next });
    };
    let next = Progress { table: spec.table.into(), after: Some(last[..spec.key_len].to_vec()) };
    let mut ids = HashMap::new();
    let mut new_rows = Vec::with_capacity(old.len());
    for row in &old {
        new_rows.push(encode(txn, ctx, spec, row, &mut ids).await?);
    }
    let what = format!("copying rows into the compact {}", spec.table);
    let staging = row_staging(spec.table);
    let b = txn.get_database_backend();
    let n = spec.new_cols.len();
    for chunk in new_rows.chunks(rows_per_chunk(n)) {
        let sql =
            format!("INSERT INTO {staging} ({}) VALUES {}", spec.new_cols.join(", "), values_list(b, chunk.len(), n));
        txn.execute_raw(stmt(b, sql, chunk.iter().flatten().cloned().collect())).await.map_err(ctx.at(&what))?;
    }
    let mut back = read_back(txn, ctx, spec, &new_rows).await?;
    back.sort();
    let mut want = old;
    want.sort();
    if back != want {
        let differ = back.iter().zip(&want).find(|(a, b)| a != b).map(|(a, b)| format!(": {a:?} for {b:?}"));
        return Err(ctx.corrupt(
            "converting to the compact layout",
            format!(
                "{} rows of {} read back as {} rows{}; nothing of the batch was kept: run chatseal doctor",
                want.len(),
                spec.table,
                back.len(),
                differ.unwrap_or_default()
            ),
        ));
    }
    Ok(Batch { rows: want.len() as u64, table_done: false, next: Some(next) })
}

/// The next rows of the old table after `after`, in key order.
async fn read_old(
    txn: &DatabaseTransaction,
    ctx: &ErrCtx,
    spec: &Spec,
    after: Option<&[Field]>,
    limit: i64,
) -> Result<Vec<Vec<Field>>, StoreError> {
    let what = format!("reading {} rows to convert", spec.table);
    let names: Vec<&str> = spec.cols.iter().map(|(c, _)| *c).collect();
    let key = names[..spec.key_len].join(", ");
    let b = txn.get_database_backend();
    let (filter, values) = match after {
        Some(k) => (format!(" WHERE ({key}) > {}", values_list(b, 1, k.len())), k.iter().map(to_value).collect()),
        None => (String::new(), Vec::new()),
    };
    let sql = format!("SELECT {} FROM {}{filter} ORDER BY {key} LIMIT {}", names.join(", "), spec.table, limit.max(1));
    let rows = txn.query_all_raw(stmt(b, sql, values)).await.map_err(ctx.at(&what))?;
    rows.iter()
        .map(|r| spec.cols.iter().enumerate().map(|(i, (_, k))| field(r, i, *k)).collect::<Result<Vec<_>, _>>())
        .collect::<Result<_, _>>()
        .map_err(ctx.at(&what))
}

/// The new row of an old one, or why the compact form cannot hold it.
async fn encode(
    txn: &DatabaseTransaction,
    ctx: &ErrCtx,
    spec: &Spec,
    row: &[Field],
    ids: &mut HashMap<String, i32>,
) -> Result<Vec<Value>, StoreError> {
    let bad = |detail: String| {
        ctx.corrupt(
            "converting to the compact layout",
            format!(
                "a row of {} ({row:?}) {detail}; nothing of its batch was converted: run chatseal doctor",
                spec.table
            ),
        )
    };
    let mut out = Vec::with_capacity(row.len());
    for ((name, _), f) in spec.cols.iter().zip(row) {
        let v = match (*name, f) {
            ("user_hash", Field::Text(h)) if is_hash_hex(h) => {
                Value::Bytes(Some(hash_to_bytes("user_hash", h).map_err(|e| bad(e.to_string()))?))
            }
            ("user_hash", _) => return Err(bad("has a user_hash that is not 64 lowercase hex".into())),
            ("channel", Field::Text(c)) => {
                let id = match ids.get(c) {
                    Some(id) => *id,
                    None => {
                        let id = ensure_channel_id(txn, c).await.map_err(ctx.at("giving a channel its id"))?;
                        ids.insert(c.clone(), id);
                        id
                    }
                };
                Value::Int(Some(id))
            }
            ("kind", Field::Text(k)) => match SignalKind::from_name(k) {
                Some(kind) => Value::Int(Some(kind.code())),
                None => return Err(bad(format!("has a signal kind {k:?} that is not one of the known kinds"))),
            },
            (_, f) => to_value(f),
        };
        out.push(v);
    }
    Ok(out)
}

/// The rows of the new table with the keys of `new_rows`, in the old form.
async fn read_back(
    txn: &DatabaseTransaction,
    ctx: &ErrCtx,
    spec: &Spec,
    new_rows: &[Vec<Value>],
) -> Result<Vec<Vec<Field>>, StoreError> {
    let what = format!("reading converted {} rows back", spec.table);
    let b = txn.get_database_backend();
    let names = channel_names(txn).await.map_err(ctx.at(&what))?;
    let key = spec.new_cols[..spec.key_len].join(", ");
    let mut out = Vec::with_capacity(new_rows.len());
    for chunk in new_rows.chunks(rows_per_chunk(spec.key_len)) {
        let sql = format!(
            "SELECT {} FROM {} WHERE ({key}) IN (VALUES {})",
            spec.new_cols.join(", "),
            row_staging(spec.table),
            values_list(b, chunk.len(), spec.key_len)
        );
        let values = chunk.iter().flat_map(|r| r[..spec.key_len].iter().cloned()).collect();
        for r in txn.query_all_raw(stmt(b, sql, values)).await.map_err(ctx.at(&what))? {
            let mut row = Vec::with_capacity(spec.cols.len());
            for (i, ((_, kind), new)) in spec.cols.iter().zip(spec.new_cols).enumerate() {
                let f = match *new {
                    "user_hash" => {
                        Field::Text(hash_from_bytes(&r.try_get_by_index::<Vec<u8>>(i).map_err(ctx.at(&what))?))
                    }
                    "channel_id" => {
                        let id = r.try_get_by_index::<i32>(i).map_err(ctx.at(&what))?;
                        names.get(&id).map_or(Field::Null, |n| Field::Text(n.clone()))
                    }
                    "kind" => {
                        let code = r.try_get_by_index::<i32>(i).map_err(ctx.at(&what))?;
                        SignalKind::from_code(code).map_or(Field::Null, |k| Field::Text(k.name().into()))
                    }
                    _ => field(&r, i, *kind).map_err(ctx.at(&what))?,
                };
                row.push(f);
            }
            out.push(row);
        }
    }
    Ok(out)
}

/// The end of one table: equal row counts, then the old table dropped and the new one renamed.
async fn swap(txn: &DatabaseTransaction, backend: Backend, ctx: &ErrCtx, spec: &Spec) -> Result<(), StoreError> {
    let b = txn.get_database_backend();
    let table = spec.table;
    let staging = row_staging(table);
    let what = "counting rows at the end of a table's conversion";
    let mut counts = Vec::with_capacity(2);
    for t in [table, staging.as_str()] {
        let row =
            txn.query_one_raw(stmt(b, format!("SELECT COUNT(*) FROM {t}"), vec![])).await.map_err(ctx.at(what))?;
        counts.push(row.map(|r| r.try_get_by_index::<i64>(0)).transpose().map_err(ctx.at(what))?.unwrap_or(0));
    }
    if counts[0] != counts[1] {
        return Err(ctx.corrupt(
            "converting to the compact layout",
            format!(
                "the old {table} holds {} rows and the converted one {}: nothing was dropped; run chatseal doctor",
                counts[0], counts[1]
            ),
        ));
    }
    if backend == Backend::Sqlite && counts[0] > 0 {
        txn.execute_raw(stmt(
            b,
            "INSERT INTO meta (key, value) VALUES ($1, 'pending') ON CONFLICT (key) DO NOTHING",
            vec![super::VACUUM_KEY.into()],
        ))
        .await
        .map_err(ctx.at("recording the vacuum to do"))?;
    }
    let mut ddl = vec![format!("DROP TABLE {table}"), format!("ALTER TABLE {staging} RENAME TO {table}")];
    if backend == Backend::Postgres {
        ddl.push(format!("ALTER INDEX {staging}_pkey RENAME TO {table}_pkey"));
    }
    for sql in ddl {
        txn.execute_unprepared(&sql).await.map_err(ctx.at("swapping in a compact table"))?;
    }
    tracing::info!(table, rows = counts[0], "compact layout: table converted and swapped in");
    Ok(())
}

/// Records `next` as the progress (deletes the key when the step is over).
pub(super) async fn record(txn: &DatabaseTransaction, ctx: &ErrCtx, next: Option<&Progress>) -> Result<(), StoreError> {
    let b = txn.get_database_backend();
    let s = match next {
        Some(p) => stmt(
            b,
            "UPDATE meta SET value = $1 WHERE key = $2",
            vec![progress_value(p).into(), ROWS_PROGRESS_KEY.into()],
        ),
        None => stmt(b, "DELETE FROM meta WHERE key = $1", vec![ROWS_PROGRESS_KEY.into()]),
    };
    txn.execute_raw(s).await.map_err(ctx.at("recording the conversion's progress"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_round_trips_and_names_a_table() {
        assert_eq!(parse_progress(NOT_STARTED).unwrap(), Progress { table: "users".into(), after: None });
        let p = Progress {
            table: "signals".into(),
            after: Some(vec![Field::Int(3600), Field::Text("a \"c\"".into()), Field::Text("ab".into())]),
        };
        assert_eq!(parse_progress(&progress_value(&p)).unwrap(), p);
        assert!(parse_progress(r#"{"table":"seen_ids","after":null}"#).is_err());
        assert!(parse_progress("garbage").is_err());
    }

    #[test]
    fn every_table_of_the_step_has_a_spec_in_order() {
        let specs: Vec<&str> = SPECS.iter().map(|s| s.table).collect();
        assert_eq!(specs, ROW_TABLES);
        for s in &SPECS {
            assert_eq!(s.cols.len(), s.new_cols.len(), "{}", s.table);
            let sql = crate::layout::create_row_table_sql(Backend::Sqlite, s.table, s.table).unwrap_or_default();
            let key = format!("PRIMARY KEY ({})", s.new_cols[..s.key_len].join(", "));
            assert!(sql.contains(&key), "{sql} / {key}");
            for c in s.new_cols {
                assert!(sql.contains(&format!("{c} ")), "{c} in {sql}");
            }
        }
    }
}
