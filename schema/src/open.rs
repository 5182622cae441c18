//! Opening a store: parse the URL, connect with the durability settings, check the engine
//! (SQLite version and pragmas read back, PostgreSQL fsync/synchronous_commit/full_page_writes),
//! run SQLite's quick_check BEFORE anything is written, then run the pending migrations in one
//! transaction.
//!
//! Connections. SQLite: every write goes through ONE writer connection (a pool of size 1), so
//! writes are serialized inside the process and never spin on SQLITE_BUSY; write transactions
//! start with BEGIN IMMEDIATE so another process (a CLI command) waits on the 5 s busy timeout
//! instead of failing mid-transaction. Reads that need no transaction (API lookups, the
//! sealer's reads, digest checks) use a separate pool of read-only connections, which WAL lets
//! run beside the writer. An in-memory store uses the writer for everything. PostgreSQL: one
//! pool serves both.

use crate::backend::Backend;
use crate::checks::{
    pg_durability_warnings, sqlite_pragma_problems, sqlite_version_ok, SqlitePragmas, MIN_SQLITE_VERSION,
};
use crate::error::{ErrCtx, StoreError};
use crate::quick_check::sqlite_quick_check;
use crate::redact::{redact_url, Scrubber};
use crate::warm::warm_page_cache;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, Statement};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// How long a SQLite connection waits for another process's lock.
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Page cache of the SQLite writer connection, KiB (`PRAGMA cache_size` = -this). SQLite's
/// default of 2 MiB makes every flush re-read the b-tree pages of `seen_ids` and
/// `participation` that it touches at random positions, and a seal re-read its own inserts.
pub const SQLITE_WRITER_CACHE_KIB: u32 = 64 * 1024;
/// Page cache of each SQLite read connection, KiB.
pub const SQLITE_READER_CACHE_KIB: u32 = 16 * 1024;

/// The shortest [`OpenOptions::pg_stale_session`] the daemon uses: a store's own transactions
/// (a batch of the layout conversion, a large seal) may be busy on the client side between
/// statements for a few seconds on a loaded host, and must not be cut.
pub const MIN_PG_STALE_SESSION: Duration = Duration::from_secs(10);

/// The PostgreSQL settings every session of the store starts with (sent in the start-up
/// packet, `-c name=value`), so the server itself ends a session whose client vanished:
/// `idle_in_transaction_session_timeout` (a client silent inside a transaction: its locks are
/// released), `lock_timeout` (a wait for a lock held that long fails and is retried by the
/// caller, instead of hanging a member's loop), `tcp_user_timeout` (data unacknowledged that
/// long: the peer is gone) and TCP keepalives (a silent peer outside a transaction). All from
/// `stale` (at least 1 s).
pub fn pg_session_settings(stale: Duration) -> Vec<(&'static str, String)> {
    let ms = stale.max(Duration::from_secs(1)).as_millis();
    let secs = (ms / 1000).max(1);
    vec![
        ("idle_in_transaction_session_timeout", ms.to_string()),
        ("lock_timeout", ms.to_string()),
        ("tcp_user_timeout", ms.to_string()),
        ("tcp_keepalives_idle", (secs / 3).max(1).to_string()),
        ("tcp_keepalives_interval", (secs / 10).max(1).to_string()),
        ("tcp_keepalives_count", "3".to_string()),
    ]
}

/// Knobs for [`Store::open_with`]; `Default` is what [`Store::open`] uses.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    /// SQLite: run `PRAGMA quick_check` before migrating and refuse a damaged file
    /// (`StoreError::Corrupt`). Default true.
    pub quick_check: bool,
    /// PostgreSQL: refuse (`StoreError::Durability`) instead of warning when fsync,
    /// synchronous_commit or full_page_writes put commits at risk. Default false.
    pub require_durable: bool,
    /// SQLite: read-only connections beside the single writer. Default 4.
    pub sqlite_readers: u32,
    /// PostgreSQL: pool size. Default 8.
    pub pg_max_connections: u32,
    /// How long an operation waits for a pooled connection (or for a server to accept one)
    /// before failing as unavailable. Default 10 s.
    pub acquire_timeout: Duration,
    /// PostgreSQL: how long the server keeps a session of this store that went quiet inside a
    /// transaction, waits for a row lock, or sends to a peer that stopped acknowledging, before
    /// it ends it (see [`pg_session_settings`]). A member cut off from the network in the
    /// middle of a transaction would otherwise keep its row locks (a role's, a slot's) until
    /// the server's TCP notices the dead peer, hours later, and block the member that takes
    /// over. The daemon uses `cluster.lease_ttl`, never less than [`MIN_PG_STALE_SESSION`].
    /// Default 60 s.
    pub pg_stale_session: Duration,
    /// The conversion of an existing store to the compact layout, run after the migrations
    /// (see `migration::compact`). Default: to the end, in batches of 20,000 participants.
    pub compact: crate::migration::compact::CompactOptions,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            quick_check: true,
            require_durable: false,
            sqlite_readers: 4,
            pg_max_connections: 8,
            acquire_timeout: Duration::from_secs(10),
            pg_stale_session: Duration::from_secs(60),
            compact: Default::default(),
        }
    }
}

/// An open store. Cheap to clone (pools are shared, so `close` on one clone closes them for
/// all). On SQLite a write (flush, seal, opt-out, meta) waits while another write transaction,
/// such as an open `FlushTx`, holds the single writer: never call a writing method of the
/// store while holding a `FlushTx` in the same task.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) writer: DatabaseConnection,
    pub(crate) reader: DatabaseConnection,
    pub(crate) backend: Backend,
    pub(crate) ctx: Arc<ErrCtx>,
    pub(crate) warnings: Arc<[String]>,
}

/// The kind of URL, decided before connecting.
enum Target {
    Sqlite { opts: Box<SqliteConnectOptions>, in_memory: bool },
    Postgres,
}

fn parse_target(url: &str, ctx: &ErrCtx) -> Result<Target, StoreError> {
    let invalid = |reason: String| StoreError::InvalidUrl { url: ctx.url.clone(), reason: ctx.scrubber.scrub(&reason) };
    if url.starts_with("sqlite:") {
        let opts = SqliteConnectOptions::from_str(url).map_err(|e| invalid(e.to_string()))?;
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        Ok(Target::Sqlite { opts: Box::new(opts), in_memory })
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Target::Postgres)
    } else {
        Err(invalid("the scheme must be sqlite: or postgres://".into()))
    }
}

impl Store {
    /// Opens (creating if needed) and migrates the store at `url` with default options.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        Store::open_with(url, &OpenOptions::default()).await
    }

    /// Opens (creating if needed) and migrates the store at `url`: `sqlite://PATH` (parent
    /// directories are created), `sqlite::memory:`, or `postgres://USER[:PW]@HOST[:PORT]/DB`.
    /// With `quick_check` on (the default) a SQLite file has been checked before this returns;
    /// there is no need to call [`Store::quick_check`] again at start-up.
    pub async fn open_with(url: &str, o: &OpenOptions) -> Result<Store, StoreError> {
        let redacted = redact_url(url);
        let mut ctx = ErrCtx { url: redacted.clone(), scrubber: Scrubber::for_url(url), sqlite: true };
        let (writer, reader, backend, warnings) = match parse_target(url, &ctx)? {
            Target::Sqlite { opts, in_memory } => {
                let (w, r) = open_sqlite(url, &opts, in_memory, o, &ctx).await?;
                (w, r, Backend::Sqlite, Vec::new())
            }
            Target::Postgres => {
                ctx.sqlite = false;
                let (db, warnings) = open_postgres(url, o, &ctx).await?;
                (db.clone(), db, Backend::Postgres, warnings)
            }
        };
        for w in &warnings {
            tracing::warn!(store = %redacted, "{w}");
        }
        crate::migration::run_pending(&writer, backend, &ctx).await?;
        let converted = crate::migration::compact::convert(&writer, backend, &ctx, &o.compact).await?;
        if !converted.finished {
            return Err(StoreError::Migration {
                url: redacted,
                detail: format!(
                    "the conversion to the compact layout stopped after {} batches as asked; open the store again to continue it",
                    converted.batches
                ),
            });
        }
        tracing::info!(store = %redacted, backend = ?backend, "store open");
        Ok(Store { writer, reader, backend, ctx: Arc::new(ctx), warnings: warnings.into() })
    }

    /// SQLite or PostgreSQL.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection that writes (on SQLite, the single writer connection).
    pub fn db(&self) -> &DatabaseConnection {
        &self.writer
    }

    /// The connections for plain reads (read-only on SQLite; the same pool on PostgreSQL).
    pub fn reader(&self) -> &DatabaseConnection {
        &self.reader
    }

    /// The URL with any password masked: safe for logs and messages.
    pub fn redacted_url(&self) -> &str {
        &self.ctx.url
    }

    /// PostgreSQL settings that put acknowledged commits at risk (empty when all is well).
    pub fn durability_warnings(&self) -> &[String] {
        &self.warnings
    }
}

async fn connect(opt: ConnectOptions, ctx: &ErrCtx) -> Result<DatabaseConnection, StoreError> {
    Database::connect(opt).await.map_err(ctx.at("connecting"))
}

async fn open_sqlite(
    url: &str,
    parsed: &SqliteConnectOptions,
    in_memory: bool,
    o: &OpenOptions,
    ctx: &ErrCtx,
) -> Result<(DatabaseConnection, DatabaseConnection), StoreError> {
    if !in_memory {
        if let Some(dir) = parsed.get_filename().parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Io {
                url: ctx.url.clone(),
                path: dir.display().to_string(),
                detail: e.to_string(),
            })?;
        }
    }
    if !in_memory && o.quick_check {
        // Before quick_check: a cold page cache would make it read the file at random.
        let path = parsed.get_filename().to_path_buf();
        let started = std::time::Instant::now();
        match tokio::task::spawn_blocking(move || warm_page_cache(&path)).await {
            Ok(Ok(w)) => tracing::debug!(warmed = ?w, elapsed = ?started.elapsed(), "store pages read ahead"),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "reading the store ahead of quick_check failed; quick_check reads it")
            }
            Err(e) => tracing::warn!(error = %e, "reading the store ahead of quick_check stopped"),
        }
    }
    let mut w = ConnectOptions::new(url.to_owned());
    w.max_connections(1)
        .min_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .acquire_timeout(o.acquire_timeout)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|s| {
            s.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .foreign_keys(true)
                .pragma("cache_size", format!("-{SQLITE_WRITER_CACHE_KIB}"))
                .pragma("temp_store", "MEMORY")
        });
    let writer = connect(w, ctx).await?;
    check_sqlite(&writer, in_memory, o, ctx).await?;
    if in_memory || o.sqlite_readers == 0 {
        return Ok((writer.clone(), writer));
    }
    let mut r = ConnectOptions::new(url.to_owned());
    r.max_connections(o.sqlite_readers)
        .min_connections(0)
        .max_lifetime(None)
        .acquire_timeout(o.acquire_timeout)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|s| {
            s.read_only(true)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .foreign_keys(true)
                .pragma("cache_size", format!("-{SQLITE_READER_CACHE_KIB}"))
                .pragma("temp_store", "MEMORY")
        });
    let reader = connect(r, ctx).await?;
    Ok((writer, reader))
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

/// Version, pragmas read back, and (optionally) quick_check, before anything is written.
async fn check_sqlite(
    db: &DatabaseConnection,
    in_memory: bool,
    o: &OpenOptions,
    ctx: &ErrCtx,
) -> Result<(), StoreError> {
    let version: String = scalar(db, "SELECT sqlite_version()", ctx).await?;
    if let Err(need) = sqlite_version_ok(&version) {
        return Err(StoreError::TooOld { found: version, need });
    }
    let pragmas = SqlitePragmas {
        journal_mode: scalar(db, "PRAGMA journal_mode", ctx).await?,
        synchronous: scalar(db, "PRAGMA synchronous", ctx).await?,
        foreign_keys: scalar(db, "PRAGMA foreign_keys", ctx).await?,
        busy_timeout_ms: scalar(db, "PRAGMA busy_timeout", ctx).await?,
    };
    let problems = sqlite_pragma_problems(&pragmas, in_memory);
    if !problems.is_empty() {
        return Err(StoreError::Durability { url: ctx.url.clone(), detail: problems.join("; ") });
    }
    if o.quick_check {
        let problems = sqlite_quick_check(db, ctx).await?;
        if !problems.is_empty() {
            return Err(ctx.corrupt("PRAGMA quick_check at open", problems.join("; ")));
        }
    }
    tracing::debug!(sqlite = %version, min = ?MIN_SQLITE_VERSION, "sqlite checks passed");
    Ok(())
}

async fn open_postgres(
    url: &str,
    o: &OpenOptions,
    ctx: &ErrCtx,
) -> Result<(DatabaseConnection, Vec<String>), StoreError> {
    let mut opt = ConnectOptions::new(url.to_owned());
    opt.max_connections(o.pg_max_connections)
        .min_connections(1)
        .acquire_timeout(o.acquire_timeout)
        .connect_timeout(o.acquire_timeout)
        .sqlx_logging(false);
    let settings = pg_session_settings(o.pg_stale_session);
    opt.map_sqlx_postgres_opts(move |p| p.options(settings.iter().map(|(k, v)| (*k, v.as_str()))));
    let db = connect(opt, ctx).await?;
    let fsync: String = scalar(&db, "SHOW fsync", ctx).await?;
    let sync_commit: String = scalar(&db, "SHOW synchronous_commit", ctx).await?;
    let fpw: String = scalar(&db, "SHOW full_page_writes", ctx).await?;
    let warnings = pg_durability_warnings(&fsync, &sync_commit, &fpw);
    if o.require_durable && !warnings.is_empty() {
        return Err(StoreError::Durability { url: ctx.url.clone(), detail: warnings.join("; ") });
    }
    Ok((db, warnings))
}
