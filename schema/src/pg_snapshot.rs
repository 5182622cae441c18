//! A consistent, read-only view of a PostgreSQL store for a backup: one REPEATABLE READ
//! transaction whose snapshot is exported (`pg_export_snapshot()`), so `pg_dump --snapshot`
//! dumps exactly what the row counts taken in the same transaction saw, while the daemon keeps
//! writing. Without pg_dump, the tables are exported from the same snapshot as JSON lines
//! (`row_to_json`), read through a cursor so memory stays bounded.

use crate::backend::Backend;
use crate::entity::TABLES;
use crate::error::{ErrCtx, StoreError};
use crate::open::Store;
use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseTransaction, IsolationLevel, Statement, TransactionOptions, TransactionTrait,
};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Rows fetched per round trip of a table export.
const FETCH_ROWS: usize = 2_000;

/// An open snapshot transaction. Keep it open while pg_dump runs; [`PgSnapshot::finish`] ends it.
pub struct PgSnapshot {
    txn: DatabaseTransaction,
    id: String,
    ctx: Arc<ErrCtx>,
}

impl Store {
    /// Starts a read-only REPEATABLE READ transaction and exports its snapshot.
    pub async fn pg_snapshot(&self) -> Result<PgSnapshot, StoreError> {
        if self.backend != Backend::Postgres {
            return Err(StoreError::Invalid {
                what: "backup method",
                detail: "an exported snapshot is PostgreSQL's; a SQLite store is copied with VACUUM INTO".into(),
            });
        }
        let opts = TransactionOptions {
            isolation_level: Some(IsolationLevel::RepeatableRead),
            access_mode: Some(AccessMode::ReadOnly),
            sqlite_transaction_mode: None,
        };
        let txn = self
            .writer
            .begin_with_options(opts)
            .await
            .map_err(self.ctx.at("starting a snapshot transaction for a backup"))?;
        // The snapshot's transaction idles while pg_dump reads through it: exempt it from the
        // store's idle-in-transaction limit (it takes no row lock a takeover could wait for).
        txn.execute_unprepared("SET LOCAL idle_in_transaction_session_timeout = 0")
            .await
            .map_err(self.ctx.at("starting a snapshot transaction for a backup"))?;
        let what = "exporting the backup snapshot";
        let row = txn
            .query_one_raw(Statement::from_string(txn.get_database_backend(), "SELECT pg_export_snapshot()"))
            .await
            .map_err(self.ctx.at(what))?
            .ok_or_else(|| self.ctx.corrupt(what, "pg_export_snapshot() returned no row"))?;
        let id: String = row.try_get_by_index(0).map_err(self.ctx.at(what))?;
        Ok(PgSnapshot { txn, id, ctx: self.ctx.clone() })
    }
}

impl PgSnapshot {
    /// The exported snapshot id, for `pg_dump --snapshot`.
    pub fn id(&self) -> &str {
        &self.id
    }

    async fn scalar_i64(&self, sql: &str, what: &str) -> Result<Option<i64>, StoreError> {
        let row = self
            .txn
            .query_one_raw(Statement::from_string(self.txn.get_database_backend(), sql))
            .await
            .map_err(self.ctx.at(what))?;
        match row {
            Some(r) => r.try_get_by_index::<Option<i64>>(0).map_err(self.ctx.at(what)),
            None => Ok(None),
        }
    }

    /// Rows per table of [`TABLES`] in the snapshot.
    pub async fn row_counts(&self) -> Result<BTreeMap<String, i64>, StoreError> {
        let mut out = BTreeMap::new();
        for table in TABLES {
            let what = format!("counting the rows of {table}");
            let n = self.scalar_i64(&format!("SELECT COUNT(*) FROM {table}"), &what).await?;
            out.insert(table.to_owned(), n.unwrap_or(0));
        }
        Ok(out)
    }

    /// The newest sealed epoch in the snapshot.
    pub async fn newest_sealed_epoch(&self) -> Result<Option<i64>, StoreError> {
        self.scalar_i64("SELECT MAX(epoch) FROM sealed_epochs", "reading the newest sealed epoch").await
    }

    /// The newest migration applied, as the snapshot sees it.
    pub async fn schema_version(&self) -> Result<Option<String>, StoreError> {
        let what = "reading the schema version";
        let row = self
            .txn
            .query_one_raw(Statement::from_string(
                self.txn.get_database_backend(),
                "SELECT MAX(version) FROM seaql_migrations",
            ))
            .await
            .map_err(self.ctx.at(what))?;
        match row {
            Some(r) => r.try_get_by_index::<Option<String>>(0).map_err(self.ctx.at(what)),
            None => Ok(None),
        }
    }

    /// Exports `table` (one of [`TABLES`]) as JSON objects, one per row, handing each batch
    /// of lines to `sink`; returns the number of rows.
    pub async fn export_json<F>(&self, table: &str, mut sink: F) -> Result<u64, StoreError>
    where
        F: FnMut(&[String]) -> Result<(), StoreError>,
    {
        if !TABLES.contains(&table) {
            return Err(StoreError::Invalid { what: "table", detail: format!("{table:?} is not a chatseal table") });
        }
        let backend = self.txn.get_database_backend();
        let what = format!("exporting {table}");
        let cursor = format!("chatseal_export_{table}");
        self.txn
            .execute_raw(Statement::from_string(
                backend,
                format!("DECLARE {cursor} NO SCROLL CURSOR FOR SELECT row_to_json(t)::text FROM {table} t"),
            ))
            .await
            .map_err(self.ctx.at(&what))?;
        let mut rows = 0u64;
        loop {
            let batch = self
                .txn
                .query_all_raw(Statement::from_string(backend, format!("FETCH {FETCH_ROWS} FROM {cursor}")))
                .await
                .map_err(self.ctx.at(&what))?;
            if batch.is_empty() {
                break;
            }
            let lines = batch
                .iter()
                .map(|r| r.try_get_by_index::<String>(0).map_err(self.ctx.at(&what)))
                .collect::<Result<Vec<_>, _>>()?;
            rows += lines.len() as u64;
            sink(&lines)?;
        }
        self.txn
            .execute_raw(Statement::from_string(backend, format!("CLOSE {cursor}")))
            .await
            .map_err(self.ctx.at(&what))?;
        Ok(rows)
    }

    /// Ends the snapshot transaction (it wrote nothing).
    pub async fn finish(self) -> Result<(), StoreError> {
        self.txn.commit().await.map_err(self.ctx.at("ending the backup snapshot"))
    }
}
