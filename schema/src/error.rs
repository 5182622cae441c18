//! What can go wrong with the store, in words an operator can act on. Driver errors are
//! classified here (unavailable: retry; corrupt: restore; anything else: a query error) and
//! their text is scrubbed of the URL's password before it is kept: no message this crate
//! builds can contain a secret.

use crate::redact::Scrubber;
use sea_orm::{DbErr, RuntimeErr};

/// Errors of the store. Every variant names the store by its redacted URL where one applies.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `store.url` cannot be parsed or names an unsupported scheme.
    #[error("store URL {url:?} is invalid: {reason}; use sqlite://PATH or postgres://USER@HOST/DB")]
    InvalidUrl {
        /// The store's URL, password redacted.
        url: String,
        /// Why it is invalid.
        reason: String,
    },

    /// The database cannot be reached right now (refused, closed, pool timeout, SQLite busy): retry.
    #[error("store {url} is unavailable while {what}: {detail}; check that the database is running and reachable (the daemon retries)")]
    Unavailable {
        /// The store's URL, password redacted.
        url: String,
        /// What was being done.
        what: String,
        /// The driver's message, scrubbed of the password.
        detail: String,
    },

    /// The database reports damage (or an integrity check failed): restore, never write.
    #[error("store {url} is corrupt ({what}): {detail}; do not write to it: move its files aside and restore the latest verified backup (`chatseal restore`)")]
    Corrupt {
        /// The store's URL, password redacted.
        url: String,
        /// What was being done.
        what: String,
        /// The driver's message, scrubbed of the password.
        detail: String,
    },

    /// The linked SQLite library is older than chatseal needs.
    #[error("SQLite {found} is too old: chatseal needs {need} or newer; build with the bundled SQLite (the default), not a system library")]
    TooOld {
        /// The linked SQLite's version.
        found: String,
        /// The oldest version chatseal accepts.
        need: String,
    },

    /// The store's settings could lose acknowledged writes at a crash or power cut (SQLite pragmas
    /// other than WAL and synchronous FULL, PostgreSQL fsync or synchronous_commit off, ...).
    #[error("store {url} is not durable: {detail}")]
    Durability {
        /// The store's URL, password redacted.
        url: String,
        /// Each setting that is unsafe, and what to set instead.
        detail: String,
    },

    /// The database refused the configured login: fix the configuration, retrying cannot help.
    #[error("store {url} refused chatseal while {what}: {detail}; this is configuration, not an outage: check the user, password and database name in store.url (env DATABASE_URL), or create the role and database (createuser, createdb), then start again")]
    Refused {
        /// The store's URL, password redacted.
        url: String,
        /// What was being done.
        what: String,
        /// The driver's message, scrubbed of the password.
        detail: String,
    },

    /// The volume holding the store is full: the write is retried.
    #[error("store {url}: disk full while {what}: {detail}; free space on the volume holding the store (events stay in memory up to store.max_pending_events and the write is retried)")]
    DiskFull {
        /// The store's URL, password redacted.
        url: String,
        /// What was being done.
        what: String,
        /// The driver's message, scrubbed of the password.
        detail: String,
    },

    /// Any other driver error.
    #[error("store {url}: query failed while {what}: {detail}")]
    Query {
        /// The store's URL, password redacted.
        url: String,
        /// What was being done.
        what: String,
        /// The driver's message, scrubbed of the password.
        detail: String,
    },

    /// Applying the schema migrations failed.
    #[error("store {url}: migrating the schema failed: {detail}; if another chatseal version wrote this store, run the version that matches it or restore a backup")]
    Migration {
        /// The store's URL, password redacted.
        url: String,
        /// The migration's error.
        detail: String,
    },

    /// A file or directory the store needs cannot be created or read.
    #[error("store {url}: cannot prepare {path}: {detail}; check that the directory can be created and is writable by the chatseal user")]
    Io {
        /// The store's URL, password redacted.
        url: String,
        /// The file or directory.
        path: String,
        /// The operating system's error.
        detail: String,
    },

    /// A value handed to the store, or read from it, is not well-formed.
    #[error("invalid {what}: {detail}")]
    Invalid {
        /// What the value is (e.g. "table").
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },

    /// A fenced write whose role moved to another member: refused, nothing changed.
    #[error("store {url}: the {role} role moved to another member (this member's fencing number {fence} is no longer current); the write was refused and nothing changed")]
    Fenced {
        /// The store's URL, password redacted.
        url: String,
        /// The role (e.g. `sealer`).
        role: String,
        /// This member's fencing number, no longer current.
        fence: i64,
    },

    /// A named failpoint fired (test builds only).
    #[error("failpoint {0} triggered (test build)")]
    FailPoint(&'static str),
}

impl StoreError {
    /// True for errors that go away by themselves (connection refused or closed, pool timed
    /// out, SQLite busy or out of disk): the caller keeps its data and retries.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. } | StoreError::DiskFull { .. })
    }

    /// True when the store refused the configured login (wrong password, no such role or
    /// database): an operator must fix the configuration; retrying cannot help.
    pub fn is_config(&self) -> bool {
        matches!(self, StoreError::Refused { .. })
    }

    /// True when the store's content is damaged and must not be written to.
    pub fn is_corrupt(&self) -> bool {
        matches!(self, StoreError::Corrupt { .. })
    }
}

/// How a driver error should be handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErrClass {
    Unavailable,
    /// Out of disk space: retried like `Unavailable`, but said as it is.
    DiskFull,
    /// The server refused the login or the database named: configuration.
    Refused,
    Corrupt,
    Other,
}

/// ENOSPC on Linux and the BSDs.
const ENOSPC: i32 = 28;

/// True when an I/O error says the volume is full (ENOSPC).
pub(crate) fn is_disk_full(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(ENOSPC) || e.kind() == std::io::ErrorKind::StorageFull
}

fn io_class(e: &std::io::Error) -> ErrClass {
    if is_disk_full(e) {
        ErrClass::DiskFull
    } else {
        ErrClass::Unavailable
    }
}

/// Classifies a sea-orm error; `sqlite` selects how database error codes are read
/// (SQLite result codes versus PostgreSQL SQLSTATEs).
pub(crate) fn classify(err: &DbErr, sqlite: bool) -> ErrClass {
    match err {
        DbErr::ConnectionAcquire(_) => ErrClass::Unavailable,
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => classify_sqlx(e, sqlite),
        DbErr::Conn(_) => ErrClass::Unavailable,
        _ => ErrClass::Other,
    }
}

fn classify_sqlx(err: &sqlx::Error, sqlite: bool) -> ErrClass {
    match err {
        sqlx::Error::Io(e) => io_class(e),
        sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => ErrClass::Unavailable,
        sqlx::Error::Database(db) => match db.code() {
            Some(code) if sqlite => sqlite_code_class(&code),
            Some(code) => sqlstate_class(&code),
            None => ErrClass::Other,
        },
        _ => ErrClass::Other,
    }
}

/// SQLite (extended) result code -> class, by its primary code (low byte).
fn sqlite_code_class(code: &str) -> ErrClass {
    const BUSY: i64 = 5;
    const LOCKED: i64 = 6;
    const IOERR: i64 = 10;
    const CORRUPT: i64 = 11;
    const FULL: i64 = 13;
    const CANTOPEN: i64 = 14;
    const NOTADB: i64 = 26;
    match code.parse::<i64>().map(|c| c & 0xff) {
        Ok(FULL) => ErrClass::DiskFull,
        Ok(BUSY | LOCKED | IOERR | CANTOPEN) => ErrClass::Unavailable,
        Ok(CORRUPT | NOTADB) => ErrClass::Corrupt,
        _ => ErrClass::Other,
    }
}

/// PostgreSQL SQLSTATE -> class.
fn sqlstate_class(code: &str) -> ErrClass {
    match code {
        // connection exceptions; admin/crash shutdown, cannot connect now; too many connections
        c if c.starts_with("08") => ErrClass::Unavailable,
        "57P01" | "57P02" | "57P03" | "53300" => ErrClass::Unavailable,
        // disk_full
        "53100" => ErrClass::DiskFull,
        // invalid_password, invalid_authorization_specification (no such role), no such database
        "28P01" | "28000" | "3D000" => ErrClass::Refused,
        "XX001" | "XX002" => ErrClass::Corrupt,
        _ => ErrClass::Other,
    }
}

/// What an error needs to name its store without leaking secrets.
#[derive(Clone, Debug)]
pub(crate) struct ErrCtx {
    pub url: String,
    pub scrubber: Scrubber,
    pub sqlite: bool,
}

impl ErrCtx {
    /// Turns a driver error met while doing `what` into a classified, scrubbed `StoreError`.
    pub fn db(&self, what: &str, err: DbErr) -> StoreError {
        self.classified(what, classify(&err, self.sqlite), &err.to_string())
    }

    fn classified(&self, what: &str, class: ErrClass, detail: &str) -> StoreError {
        let detail = self.scrubber.scrub(detail);
        let (url, what) = (self.url.clone(), what.to_owned());
        match class {
            ErrClass::Unavailable => StoreError::Unavailable { url, what, detail },
            ErrClass::DiskFull => StoreError::DiskFull { url, what, detail },
            ErrClass::Refused => StoreError::Refused { url, what, detail },
            ErrClass::Corrupt => StoreError::Corrupt { url, what, detail },
            ErrClass::Other => StoreError::Query { url, what, detail },
        }
    }

    /// A `map_err` adapter: `.map_err(ctx.at("reading meta"))`.
    pub fn at<'a>(&'a self, what: &'a str) -> impl Fn(DbErr) -> StoreError + 'a {
        move |e| self.db(what, e)
    }

    /// Turns an error of the direct SQLite reads (`sqlite_raw`) into a `StoreError`,
    /// classified by SQLite's result code as [`ErrCtx::db`] classifies the driver's.
    pub fn raw(&self, what: &str, err: crate::sqlite_raw::RawError) -> StoreError {
        self.classified(what, err.code.map_or(ErrClass::Other, |c| sqlite_code_class(&c.to_string())), &err.detail)
    }

    /// A corruption found by our own checks (quick_check, a row that cannot be decoded).
    pub fn corrupt(&self, what: &str, detail: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            url: self.url.clone(),
            what: what.to_owned(),
            detail: self.scrubber.scrub(&detail.into()),
        }
    }
}

/// A failpoint that stalls the calling TASK (not its thread, unlike the `sleep` action) for
/// the milliseconds given as its return value, e.g.
/// `FAILPOINTS="seal.stall_in_txn=1*return(20000)"`: the multi-process tests cut a member off
/// while it sits inside a transaction. Does nothing without the `failpoints` feature.
pub(crate) async fn stall_point(name: &'static str) {
    fn stall_ms(name: &'static str) -> Option<u64> {
        let _ = name;
        fail::fail_point!(name, |arg: Option<String>| arg.and_then(|a| a.parse().ok()));
        None
    }
    if let Some(ms) = stall_ms(name) {
        eprintln!("failpoint {name}: stalling {ms} ms");
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        eprintln!("failpoint {name}: done");
    }
}

/// What a configured failpoint does (test builds only): `return(abort)` aborts the process
/// right there, like a kill -9 or a power cut at that exact point; any other `return` makes
/// the operation fail with [`StoreError::FailPoint`].
#[cfg_attr(not(feature = "failpoints"), allow(dead_code))]
pub(crate) fn fail_action(name: &'static str, arg: Option<String>) -> StoreError {
    if arg.as_deref() == Some("abort") {
        eprintln!("failpoint {name}: aborting the process");
        std::process::abort();
    }
    StoreError::FailPoint(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::ConnAcquireErr;
    use std::sync::Arc;

    fn sqlx_err(e: sqlx::Error) -> DbErr {
        DbErr::Query(RuntimeErr::SqlxError(Arc::new(e)))
    }

    #[test]
    fn pool_and_io_errors_are_unavailable() {
        assert_eq!(classify(&DbErr::ConnectionAcquire(ConnAcquireErr::Timeout), false), ErrClass::Unavailable);
        assert_eq!(classify(&sqlx_err(sqlx::Error::PoolClosed), true), ErrClass::Unavailable);
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(classify(&sqlx_err(sqlx::Error::Io(refused)), false), ErrClass::Unavailable);
        assert_eq!(classify(&sqlx_err(sqlx::Error::RowNotFound), false), ErrClass::Other);
        assert_eq!(classify(&DbErr::Custom("x".into()), false), ErrClass::Other);
    }

    #[test]
    fn sqlite_codes_by_primary_code() {
        assert_eq!(sqlite_code_class("5"), ErrClass::Unavailable);
        assert_eq!(sqlite_code_class("517"), ErrClass::Unavailable); // SQLITE_BUSY_SNAPSHOT
        assert_eq!(sqlite_code_class("11"), ErrClass::Corrupt);
        assert_eq!(sqlite_code_class("26"), ErrClass::Corrupt);
        assert_eq!(sqlite_code_class("1555"), ErrClass::Other); // constraint primary key
    }

    #[test]
    fn disk_full_is_said_as_it_is_and_retried() {
        assert_eq!(sqlite_code_class("13"), ErrClass::DiskFull);
        assert_eq!(sqlstate_class("53100"), ErrClass::DiskFull);
        let enospc = std::io::Error::from_raw_os_error(ENOSPC);
        assert_eq!(classify(&sqlx_err(sqlx::Error::Io(enospc)), true), ErrClass::DiskFull);
        let ctx = ErrCtx {
            url: "sqlite://data/x.db".into(),
            scrubber: Scrubber::for_url("sqlite://data/x.db"),
            sqlite: true,
        };
        let e = ctx.db("flushing", sqlx_err(sqlx::Error::Io(std::io::Error::from_raw_os_error(ENOSPC))));
        let msg = e.to_string();
        assert!(msg.contains("disk full") && msg.contains("free space"), "{msg}");
        assert!(e.is_unavailable() && !e.is_config(), "kept in memory and retried: {msg}");
    }

    #[test]
    fn a_refused_login_or_database_is_configuration() {
        for code in ["28P01", "28000", "3D000"] {
            assert_eq!(sqlstate_class(code), ErrClass::Refused, "{code}");
        }
        let e = StoreError::Refused {
            url: "postgres://u:***@h/db".into(),
            what: "connecting".into(),
            detail: "role \"u\" does not exist".into(),
        };
        assert!(e.is_config() && !e.is_unavailable());
        assert!(e.to_string().contains("check the user, password and database name in store.url"), "{e}");
    }

    #[test]
    fn sqlstates() {
        assert_eq!(sqlstate_class("08006"), ErrClass::Unavailable);
        assert_eq!(sqlstate_class("57P01"), ErrClass::Unavailable);
        assert_eq!(sqlstate_class("XX001"), ErrClass::Corrupt);
        assert_eq!(sqlstate_class("23505"), ErrClass::Other);
    }

    #[test]
    fn details_are_scrubbed() {
        let ctx = ErrCtx {
            url: crate::redact::redact_url("postgres://u:hunter2@h/db"),
            scrubber: Scrubber::for_url("postgres://u:hunter2@h/db"),
            sqlite: false,
        };
        let e = ctx
            .db("connecting", DbErr::Conn(RuntimeErr::Internal("connection to postgres://u:hunter2@h/db lost".into())));
        let msg = e.to_string();
        assert!(!msg.contains("hunter2"), "{msg}");
        assert!(e.is_unavailable());
    }
}
