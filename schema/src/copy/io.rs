//! The reads and writes of a copy, on one store: a keyset page of a table, rows by their keys,
//! row counts, an insert that keeps what is there and says which keys were new, and moving a
//! PostgreSQL identity sequence past the copied keys. Rows are decoded by column kind, so
//! BIGINT, INTEGER, DOUBLE, TEXT, BLOB and NULL come back as the same `Value`s on both backends.

use super::spec::{ColKind, ColSpec, TableSpec};
use crate::backend::{write_txn_options, Backend};
use crate::error::StoreError;
use crate::open::Store;
use crate::queries::{rows_per_chunk, stmt};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbErr, QueryResult, TransactionTrait, Value};
use std::collections::{HashMap, HashSet};

/// A row in its table's column order.
pub type Row = Vec<Value>;

fn decode(r: &QueryResult, i: usize, c: &ColSpec) -> Result<Value, DbErr> {
    Ok(match c.kind {
        ColKind::Int64 => Value::BigInt(r.try_get_by_index::<Option<i64>>(i)?),
        ColKind::Int32 => Value::Int(r.try_get_by_index::<Option<i32>>(i)?),
        ColKind::Double => Value::Double(r.try_get_by_index::<Option<f64>>(i)?),
        ColKind::Text => Value::String(r.try_get_by_index::<Option<String>>(i)?),
        ColKind::Bytes => Value::Bytes(r.try_get_by_index::<Option<Vec<u8>>>(i)?),
    })
}

/// Decodes a result row holding `cols` in order.
pub(crate) fn decode_row(r: &QueryResult, cols: &[ColSpec]) -> Result<Row, DbErr> {
    cols.iter().enumerate().map(|(i, c)| decode(r, i, c)).collect()
}

/// Inserts `rows` inside `txn` with `ON CONFLICT DO NOTHING`; returns the keys inserted.
pub(crate) async fn insert_rows(
    txn: &DatabaseTransaction,
    spec: &TableSpec,
    rows: &[Row],
) -> Result<HashSet<Row>, DbErr> {
    let backend = txn.get_database_backend();
    let key_cols = spec.key_columns();
    let mut inserted = HashSet::with_capacity(rows.len());
    for chunk in rows.chunks(rows_per_chunk(spec.columns.len())) {
        let values = chunk.iter().flatten().cloned().collect();
        let sql = spec.insert_sql(backend, chunk.len());
        for r in txn.query_all_raw(stmt(backend, sql, values)).await? {
            inserted.insert(decode_row(&r, &key_cols)?);
        }
    }
    Ok(inserted)
}

impl Store {
    fn copy_err(&self, what: &str, table: &str) -> impl Fn(DbErr) -> StoreError + '_ {
        let what = format!("{what} of table {table}");
        move |e| self.ctx.db(&what, e)
    }

    /// Rows of `spec`'s table in key order: the first `limit`, or those after the key `after`.
    pub async fn read_page(
        &self,
        spec: &TableSpec,
        after: Option<&[Value]>,
        limit: usize,
    ) -> Result<Vec<Row>, StoreError> {
        let backend = self.reader.get_database_backend();
        let sql = spec.page_sql(backend, after.is_some(), limit);
        let values = after.map(|k| k.to_vec()).unwrap_or_default();
        let err = self.copy_err("reading a page", spec.name);
        let rows = self.reader.query_all_raw(stmt(backend, sql, values)).await.map_err(&err)?;
        rows.iter().map(|r| decode_row(r, &spec.columns).map_err(&err)).collect()
    }

    /// The rows of `spec`'s table whose keys are among `keys`, by key.
    pub async fn rows_by_keys(&self, spec: &TableSpec, keys: &[Row]) -> Result<HashMap<Row, Row>, StoreError> {
        let backend = self.reader.get_database_backend();
        let err = self.copy_err("reading rows by key", spec.name);
        let mut out = HashMap::with_capacity(keys.len());
        for chunk in keys.chunks(rows_per_chunk(spec.key.len())) {
            let values = chunk.iter().flatten().cloned().collect();
            let sql = spec.by_keys_sql(backend, chunk.len());
            for r in self.reader.query_all_raw(stmt(backend, sql, values)).await.map_err(&err)? {
                let row = decode_row(&r, &spec.columns).map_err(&err)?;
                out.insert(spec.key_of(&row), row);
            }
        }
        Ok(out)
    }

    /// How many rows `spec`'s table holds.
    pub async fn count_rows(&self, spec: &TableSpec) -> Result<u64, StoreError> {
        let backend = self.reader.get_database_backend();
        let err = self.copy_err("counting rows", spec.name);
        let row = self.reader.query_one_raw(stmt(backend, spec.count_sql(), vec![])).await.map_err(&err)?;
        let n = match row {
            Some(r) => r.try_get_by_index::<i64>(0).map_err(&err)?,
            None => 0,
        };
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Inserts rows into several tables in ONE write transaction, keeping rows already there;
    /// returns, per table in the order given, the keys that were new.
    pub async fn insert_tables(&self, tables: &[(&TableSpec, &[Row])]) -> Result<Vec<HashSet<Row>>, StoreError> {
        let txn = self
            .writer
            .begin_with_options(write_txn_options(self.backend))
            .await
            .map_err(self.ctx.at("starting a copy transaction"))?;
        let mut out = Vec::with_capacity(tables.len());
        for (spec, rows) in tables {
            out.push(insert_rows(&txn, spec, rows).await.map_err(self.copy_err("inserting rows", spec.name))?);
        }
        txn.commit().await.map_err(self.ctx.at("committing a copy transaction"))?;
        Ok(out)
    }

    /// PostgreSQL: moves the identity sequence of `spec`'s generated key past the largest key
    /// present, so the next generated key does not collide with a copied one. SQLite's
    /// AUTOINCREMENT follows explicit keys by itself. A table without generated key: nothing.
    pub async fn follow_sequence(&self, spec: &TableSpec) -> Result<(), StoreError> {
        if self.backend != Backend::Postgres || !spec.auto_increment || spec.key.len() != 1 {
            return Ok(());
        }
        let key = spec.columns[spec.key[0]].name;
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence('\"{t}\"', '{key}'), m) FROM (SELECT MAX(\"{key}\") AS m FROM \"{t}\") AS k WHERE m IS NOT NULL",
            t = spec.name
        );
        self.writer
            .execute_raw(stmt(self.writer.get_database_backend(), sql, vec![]))
            .await
            .map_err(self.copy_err("moving the key sequence", spec.name))?;
        Ok(())
    }
}
