//! Opening a store only to look at it (`chatseal doctor`): no file or database is created, no
//! migration runs, nothing is written. A SQLite file is opened read-only; when it has no `-wal`
//! file (a daemon stopped cleanly, nothing running on it) it is opened immutable, so not even the
//! `-shm` and `-wal` side files are created; with a `-wal` file (a running daemon, or one killed)
//! the connection reads through the WAL as the daemon's own readers do. A PostgreSQL session is
//! opened with `default_transaction_read_only = on`. Also: the engine facts an operator judges
//! durability by ([`EngineFacts`]), read the way the daemon's start-up checks read them, and
//! judged by the same rules (`checks`).

use crate::backend::Backend;
use crate::checks::{
    journal_mode_of_header, pg_durability_warnings, sqlite_pragma_problems, sqlite_version_ok, SqlitePragmas,
};
use crate::error::{ErrCtx, StoreError};
use crate::open::{Store, SQLITE_BUSY_TIMEOUT};
use crate::redact::{redact_url, Scrubber};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, Statement};
use sqlx::sqlite::SqliteSynchronous;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// What the engine says about itself, as the daemon's start-up checks read it.
#[derive(Clone, Debug, PartialEq)]
pub enum EngineFacts {
    /// A SQLite store.
    Sqlite {
        /// `sqlite_version()`.
        version: String,
        /// From the file header ("wal" or "rollback"), or what is wrong with the header.
        journal_mode: Result<String, String>,
        /// The pragmas of this connection, opened with the daemon's settings (synchronous FULL,
        /// foreign keys on, the busy timeout), read back.
        pragmas: SqlitePragmas,
    },
    /// A PostgreSQL store.
    Postgres {
        /// `SHOW server_version`.
        version: String,
        /// `SHOW fsync`: anything but "on" is warned about.
        fsync: String,
        /// `SHOW synchronous_commit`: "off" is warned about.
        synchronous_commit: String,
        /// `SHOW full_page_writes`: anything but "on" is warned about.
        full_page_writes: String,
    },
}

impl EngineFacts {
    /// "SQLite 3.51.3" / "PostgreSQL 16.4".
    pub fn engine(&self) -> String {
        match self {
            EngineFacts::Sqlite { version, .. } => format!("SQLite {version}"),
            EngineFacts::Postgres { version, .. } => format!("PostgreSQL {version}"),
        }
    }

    /// Problems with the engine version (empty when it is one chatseal accepts).
    pub fn version_problems(&self) -> Vec<String> {
        match self {
            EngineFacts::Sqlite { version, .. } => match sqlite_version_ok(version) {
                Ok(()) => Vec::new(),
                Err(need) => vec![format!("SQLite {version} is older than {need}, which chatseal needs")],
            },
            EngineFacts::Postgres { .. } => Vec::new(),
        }
    }

    /// The durability problems the daemon's start-up checks would find: on SQLite they make
    /// it refuse to start, on PostgreSQL it logs them as warnings.
    pub fn durability_problems(&self) -> Vec<String> {
        match self {
            EngineFacts::Sqlite { journal_mode, pragmas, .. } => {
                let mode = match journal_mode {
                    Ok(m) => m.clone(),
                    Err(e) => return vec![format!("the file header cannot be read: {e}")],
                };
                sqlite_pragma_problems(&SqlitePragmas { journal_mode: mode, ..pragmas.clone() }, false)
            }
            EngineFacts::Postgres { fsync, synchronous_commit, full_page_writes, .. } => {
                pg_durability_warnings(fsync, synchronous_commit, full_page_writes)
            }
        }
    }

    /// "journal_mode wal, synchronous 2 (FULL)" / "fsync on, synchronous_commit on, ...".
    pub fn durability_summary(&self) -> String {
        match self {
            EngineFacts::Sqlite { journal_mode, pragmas, .. } => format!(
                "journal_mode {} (file header), synchronous {} ({}) as the daemon sets it",
                journal_mode.as_deref().unwrap_or("unreadable"),
                pragmas.synchronous,
                match pragmas.synchronous {
                    0 => "OFF",
                    1 => "NORMAL",
                    2 => "FULL",
                    3 => "EXTRA",
                    _ => "unknown",
                }
            ),
            EngineFacts::Postgres { fsync, synchronous_commit, full_page_writes, .. } => {
                format!("fsync {fsync}, synchronous_commit {synchronous_commit}, full_page_writes {full_page_writes}")
            }
        }
    }
}

/// `path` with `suffix` appended to its file name (`chatseal.db` -> `chatseal.db-wal`).
fn side_file(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

impl Store {
    /// Opens the store at `url` for reading only: never creates, migrates or writes (see the
    /// module doc). A missing SQLite file is `StoreError::Io`; a server that does not answer
    /// within `timeout` is `StoreError::Unavailable`; a file SQLite cannot read is
    /// `StoreError::Corrupt`. No quick_check runs here: call [`Store::quick_check`].
    pub async fn open_read_only(url: &str, timeout: Duration) -> Result<Store, StoreError> {
        let redacted = redact_url(url);
        let mut ctx = ErrCtx { url: redacted.clone(), scrubber: Scrubber::for_url(url), sqlite: true };
        let db = if url.starts_with("sqlite:") {
            let Some(path) = crate::backup::sqlite_path(url) else {
                return Err(StoreError::InvalidUrl {
                    url: redacted,
                    reason:
                        "an in-memory store lives only inside the process that opened it; there is nothing to inspect"
                            .into(),
                });
            };
            if !path.is_file() {
                return Err(StoreError::Io {
                    url: redacted,
                    path: path.display().to_string(),
                    detail: "no such file: the daemon creates it at its first start; check store.url".into(),
                });
            }
            let immutable = !side_file(&path, "-wal").exists();
            let mut o = ConnectOptions::new(url.to_owned());
            o.max_connections(1).min_connections(0).acquire_timeout(timeout).sqlx_logging(false).map_sqlx_sqlite_opts(
                move |s| {
                    s.read_only(true)
                        .create_if_missing(false)
                        .immutable(immutable)
                        .synchronous(SqliteSynchronous::Full)
                        .busy_timeout(SQLITE_BUSY_TIMEOUT)
                        .foreign_keys(true)
                },
            );
            Database::connect(o).await.map_err(ctx.at("opening read-only"))?
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            ctx.sqlite = false;
            let mut o = ConnectOptions::new(url.to_owned());
            o.max_connections(2)
                .min_connections(0)
                .acquire_timeout(timeout)
                .connect_timeout(timeout)
                .sqlx_logging(false)
                .map_sqlx_postgres_opts(|p| p.options([("default_transaction_read_only", "on")]));
            let db = Database::connect(o).await.map_err(ctx.at("connecting read-only"))?;
            db.ping().await.map_err(ctx.at("connecting read-only"))?;
            db
        } else {
            return Err(StoreError::InvalidUrl {
                url: redacted,
                reason: "the scheme must be sqlite: or postgres://".into(),
            });
        };
        let backend = if ctx.sqlite { Backend::Sqlite } else { Backend::Postgres };
        tracing::debug!(store = %redacted, backend = ?backend, "store open read-only");
        Ok(Store { writer: db.clone(), reader: db, backend, ctx: Arc::new(ctx), warnings: Arc::from(Vec::new()) })
    }

    /// The engine's version and durability settings (see [`EngineFacts`]). `sqlite_file` is
    /// the database file of a SQLite store, whose header records the journal mode.
    pub async fn engine_facts(&self, sqlite_file: Option<&Path>) -> Result<EngineFacts, StoreError> {
        let db = &self.reader;
        match self.backend {
            Backend::Sqlite => {
                let journal_mode = match sqlite_file {
                    Some(p) => read_header(p).and_then(|h| journal_mode_of_header(&h).map(str::to_owned)),
                    None => Err("no database file (in-memory store)".into()),
                };
                Ok(EngineFacts::Sqlite {
                    version: scalar(db, "SELECT sqlite_version()", &self.ctx).await?,
                    journal_mode,
                    pragmas: SqlitePragmas {
                        journal_mode: scalar(db, "PRAGMA journal_mode", &self.ctx).await?,
                        synchronous: scalar(db, "PRAGMA synchronous", &self.ctx).await?,
                        foreign_keys: scalar(db, "PRAGMA foreign_keys", &self.ctx).await?,
                        busy_timeout_ms: scalar(db, "PRAGMA busy_timeout", &self.ctx).await?,
                    },
                })
            }
            Backend::Postgres => Ok(EngineFacts::Postgres {
                version: scalar(db, "SHOW server_version", &self.ctx).await?,
                fsync: scalar(db, "SHOW fsync", &self.ctx).await?,
                synchronous_commit: scalar(db, "SHOW synchronous_commit", &self.ctx).await?,
                full_page_writes: scalar(db, "SHOW full_page_writes", &self.ctx).await?,
            }),
        }
    }
}

/// The first 100 bytes of `path` (fewer when the file is shorter).
fn read_header(path: &Path) -> Result<Vec<u8>, String> {
    let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut h = Vec::with_capacity(100);
    f.take(100).read_to_end(&mut h).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(h)
}

async fn scalar<T: sea_orm::TryGetable>(db: &DatabaseConnection, sql: &str, ctx: &ErrCtx) -> Result<T, StoreError> {
    let what = format!("reading `{sql}`");
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .map_err(ctx.at(&what))?
        .ok_or_else(|| ctx.db(&what, sea_orm::DbErr::RecordNotFound(sql.to_owned())))?;
    row.try_get_by_index::<T>(0).map_err(ctx.at(&what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_read_only_open_creates_nothing_and_refuses_writes() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("c.db").display());
        let missing = Store::open_read_only(&url, Duration::from_secs(5)).await.unwrap_err();
        assert!(matches!(missing, StoreError::Io { .. }), "{missing}");
        assert!(!dir.path().join("c.db").exists(), "a missing store is not created");

        let store = Store::open(&url).await.unwrap();
        store.set_meta("k", "v").await.unwrap();
        store.checkpoint().await.unwrap();
        store.close().await.unwrap();
        let before: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        let bytes = std::fs::read(dir.path().join("c.db")).unwrap();

        let ro = Store::open_read_only(&url, Duration::from_secs(5)).await.unwrap();
        assert_eq!(ro.get_meta("k").await.unwrap().as_deref(), Some("v"));
        assert!(ro.quick_check().await.unwrap().is_empty());
        let facts = ro.engine_facts(Some(&dir.path().join("c.db"))).await.unwrap();
        assert!(facts.durability_problems().is_empty(), "{facts:?}");
        assert!(facts.version_problems().is_empty());
        assert!(ro.set_meta("k", "w").await.is_err(), "writes fail on a read-only open");
        ro.close().await.unwrap();

        let after: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(before, after, "no side file is created");
        assert_eq!(std::fs::read(dir.path().join("c.db")).unwrap(), bytes);
    }
}
