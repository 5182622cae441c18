//! What backups need from the store: a consistent copy of a live SQLite store while the writer
//! keeps committing (`VACUUM INTO` on a read connection: a read transaction, so flushes go on),
//! opening such a copy read-only without changing a byte of it ([`Store::open_copy`]: immutable,
//! no migrations, quick_check first), row counts per table, the schema migration version, and
//! the file behind a SQLite URL. PostgreSQL's consistent snapshot is in `pg_snapshot`.

use crate::backend::Backend;
use crate::entity::TABLES;
use crate::error::{ErrCtx, StoreError};
use crate::open::Store;
use crate::redact::Scrubber;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, Statement, Value};
use sqlx::sqlite::SqliteConnectOptions;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

/// The database file of a `sqlite://PATH` URL; None for in-memory stores and other schemes.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    if !url.starts_with("sqlite:") || url.contains(":memory:") || url.contains("mode=memory") {
        return None;
    }
    let opts = SqliteConnectOptions::from_str(url).ok()?;
    Some(opts.get_filename().to_path_buf())
}

/// A path as SQLite takes it in a statement (UTF-8), or an `Invalid` error naming it.
fn utf8(path: &Path) -> Result<&str, StoreError> {
    path.to_str().ok_or_else(|| StoreError::Invalid {
        what: "backup path",
        detail: format!("{} is not valid UTF-8; choose a backup.dir whose path is", path.display()),
    })
}

impl Store {
    /// SQLite: writes a consistent, compacted copy of the whole store to `dest` (which must not
    /// exist) with `VACUUM INTO`, on a read connection, so the writer keeps committing while it
    /// runs. The copy is not synced: the caller fsyncs it. PostgreSQL: `Invalid` (use
    /// [`Store::pg_snapshot`] and pg_dump).
    pub async fn vacuum_into(&self, dest: &Path) -> Result<(), StoreError> {
        if self.backend != Backend::Sqlite {
            return Err(StoreError::Invalid {
                what: "backup method",
                detail: "VACUUM INTO is SQLite's; a PostgreSQL store is backed up with pg_dump".into(),
            });
        }
        let what = format!("copying the store into {} (VACUUM INTO)", dest.display());
        let stmt = Statement::from_sql_and_values(
            self.reader.get_database_backend(),
            "VACUUM INTO ?",
            [Value::from(utf8(dest)?.to_owned())],
        );
        self.reader.execute_raw(stmt).await.map_err(self.ctx.at(&what))?;
        Ok(())
    }

    /// Opens a SQLite file that must not change (a backup, a copy) read-only and immutable:
    /// no journal, no locks, no migrations, not a byte written. `PRAGMA quick_check` runs
    /// first; a damaged file is `StoreError::Corrupt`. Reads (counts, digests, seals) work as on
    /// any store; writes fail.
    pub async fn open_copy(path: &Path) -> Result<Store, StoreError> {
        let url = format!("sqlite://{}", utf8(path)?);
        let ctx = ErrCtx { url: url.clone(), scrubber: Scrubber::for_url(&url), sqlite: true };
        if !path.is_file() {
            return Err(StoreError::Io { url, path: path.display().to_string(), detail: "no such file".into() });
        }
        let mut o = ConnectOptions::new(url.clone());
        o.max_connections(1)
            .min_connections(1)
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(|s| s.read_only(true).immutable(true).create_if_missing(false));
        let db = Database::connect(o).await.map_err(ctx.at("opening a copy read-only"))?;
        let problems = crate::quick_check::sqlite_quick_check(&db, &ctx).await?;
        if !problems.is_empty() {
            let _ = db.close_by_ref().await;
            return Err(ctx.corrupt("PRAGMA quick_check of a copy", problems.join("; ")));
        }
        Ok(Store {
            writer: db.clone(),
            reader: db,
            backend: Backend::Sqlite,
            ctx: Arc::new(ctx),
            warnings: Arc::from(Vec::new()),
        })
    }

    /// Rows per table of [`TABLES`], by table name. A table the store does not have (a copy
    /// made before the migration that added it) is left out, so old backups still compare
    /// equal to their manifests.
    pub async fn row_counts(&self) -> Result<BTreeMap<String, i64>, StoreError> {
        let mut out = BTreeMap::new();
        let backend = self.reader.get_database_backend();
        let list = match backend {
            sea_orm::DbBackend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table'",
            _ => "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema()",
        };
        let present: Vec<String> = self
            .reader
            .query_all_raw(Statement::from_string(backend, list))
            .await
            .map_err(self.ctx.at("listing the tables"))?
            .into_iter()
            .filter_map(|r| r.try_get_by_index::<String>(0).ok())
            .collect();
        for table in TABLES.into_iter().filter(|t| present.iter().any(|p| p == t)) {
            let sql = format!("SELECT COUNT(*) FROM {table}");
            let what = format!("counting the rows of {table}");
            let row = self
                .reader
                .query_one_raw(Statement::from_string(self.reader.get_database_backend(), sql))
                .await
                .map_err(self.ctx.at(&what))?;
            let n: i64 = match row {
                Some(r) => r.try_get_by_index(0).map_err(self.ctx.at(&what))?,
                None => 0,
            };
            out.insert(table.to_owned(), n);
        }
        Ok(out)
    }

    /// The newest migration applied to this store (None on a store never migrated).
    pub async fn schema_version(&self) -> Result<Option<String>, StoreError> {
        let what = "reading the schema version";
        let row = self
            .reader
            .query_one_raw(Statement::from_string(
                self.reader.get_database_backend(),
                "SELECT MAX(version) FROM seaql_migrations",
            ))
            .await
            .map_err(self.ctx.at(what))?;
        match row {
            Some(r) => r.try_get_by_index::<Option<String>>(0).map_err(self.ctx.at(what)),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths() {
        assert_eq!(sqlite_path("sqlite://data/chatseal.db"), Some(PathBuf::from("data/chatseal.db")));
        assert_eq!(sqlite_path("sqlite:///var/lib/c.db?mode=rwc"), Some(PathBuf::from("/var/lib/c.db")));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://u@h/db"), None);
    }
}
