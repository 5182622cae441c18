//! Looking after an open store: ping, SQLite's quick_check, WAL checkpoint, close.

use crate::backend::Backend;
use crate::error::StoreError;
use crate::open::Store;
use crate::quick_check::sqlite_quick_check;
use sea_orm::{ConnectionTrait, Statement};

impl Store {
    /// Checks that the store answers (one round trip per pool).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.writer.ping().await.map_err(self.ctx.at("pinging"))?;
        self.reader.ping().await.map_err(self.ctx.at("pinging the readers"))
    }

    /// SQLite: the problems `PRAGMA quick_check` reports (empty: the file is sound).
    /// PostgreSQL: always empty (the server checks its own pages).
    pub async fn quick_check(&self) -> Result<Vec<String>, StoreError> {
        match self.backend {
            Backend::Sqlite => sqlite_quick_check(&self.reader, &self.ctx).await,
            Backend::Postgres => Ok(Vec::new()),
        }
    }

    /// SQLite: copies the WAL into the database file and truncates it
    /// (`PRAGMA wal_checkpoint(TRUNCATE)`); unavailable if a reader kept it from finishing.
    /// PostgreSQL: nothing to do.
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        if self.backend != Backend::Sqlite {
            return Ok(());
        }
        let what = "checkpointing the WAL";
        let row = self
            .writer
            .query_one_raw(Statement::from_string(
                self.writer.get_database_backend(),
                "PRAGMA wal_checkpoint(TRUNCATE)",
            ))
            .await
            .map_err(self.ctx.at(what))?;
        let busy: i64 = match row {
            Some(r) => r.try_get_by_index(0).map_err(self.ctx.at(what))?,
            None => 0,
        };
        if busy != 0 {
            return Err(StoreError::Unavailable {
                url: self.ctx.url.clone(),
                what: what.to_owned(),
                detail: "another connection is reading the WAL (SQLITE_BUSY); try again".to_owned(),
            });
        }
        Ok(())
    }

    /// Closes every connection (readers first, then the writer; closing a pool twice, where
    /// reader and writer are one pool, is harmless).
    pub async fn close(self) -> Result<(), StoreError> {
        self.reader.close_by_ref().await.map_err(self.ctx.at("closing the readers"))?;
        self.writer.close_by_ref().await.map_err(self.ctx.at("closing"))?;
        tracing::info!(store = %self.ctx.url, "store closed");
        Ok(())
    }
}
