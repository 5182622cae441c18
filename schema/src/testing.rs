//! Test support (cargo feature `testing`): a fresh store per test on each backend. SQLite in a
//! temporary directory; PostgreSQL in a new database `chatseal_t_<random>` created on the
//! server named by `CHATSEAL_TEST_PG_URL` (default `postgres://root@127.0.0.1:5432/test`) and
//! dropped when its guard is dropped. An unreachable PostgreSQL FAILS the test with a message
//! saying what to do, unless `CHATSEAL_SKIP_PG=1` is set, in which case PostgreSQL tests are
//! skipped (and say so on stderr). Panicking is this module's way to fail a test.

use crate::backend::Backend;
use crate::redact::redact_url;
use sqlx::{Connection, Executor, PgConnection};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Environment variable naming the PostgreSQL server the tests create their databases on.
pub const PG_URL_ENV: &str = "CHATSEAL_TEST_PG_URL";
/// Environment variable that, set to `1` or `true`, skips the PostgreSQL tests.
pub const SKIP_PG_ENV: &str = "CHATSEAL_SKIP_PG";
/// The server used when [`PG_URL_ENV`] is not set: the local PostgreSQL, trust auth, db `test`.
pub const DEFAULT_PG_URL: &str = "postgres://root@127.0.0.1:5432/test";

/// The server URL tests create their databases on.
pub fn pg_admin_url() -> String {
    std::env::var(PG_URL_ENV).unwrap_or_else(|_| DEFAULT_PG_URL.to_owned())
}

/// True when `CHATSEAL_SKIP_PG=1` (or `true`) asks to skip PostgreSQL tests.
pub fn pg_skipped() -> bool {
    matches!(std::env::var(SKIP_PG_ENV).as_deref(), Ok("1") | Ok("true"))
}

/// `url` with its database name replaced by `db` (query string kept).
pub fn with_database(url: &str, db: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[start..];
    let path_at = rest.find(['/', '?']).unwrap_or(rest.len());
    let query = rest[path_at..].find('?').map_or("", |q| &rest[path_at + q..]);
    format!("{}{}/{db}{query}", &url[..start], &rest[..path_at])
}

fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos() as u64 ^ d.as_secs());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("chatseal_t_{:x}_{:x}_{n}", std::process::id(), nanos)
}

/// A PostgreSQL database that exists for one test; dropping the guard drops the database
/// (`WITH (FORCE)`, so connections left open do not keep it alive).
#[derive(Debug)]
pub struct PgTestDb {
    admin_url: String,
    name: String,
    url: String,
}

impl PgTestDb {
    /// The URL of the test's database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name, `chatseal_t_<random>`.
    pub fn name(&self) -> &str {
        &self.name
    }
}

async fn admin_exec(admin_url: &str, sql: String) -> Result<(), String> {
    let mut conn = PgConnection::connect(admin_url)
        .await
        .map_err(|e| format!("cannot connect to PostgreSQL at {}: {e}", redact_url(admin_url)))?;
    conn.execute(sqlx::AssertSqlSafe(sql.clone()))
        .await
        .map_err(|e| format!("`{sql}` failed on {}: {e}", redact_url(admin_url)))?;
    conn.close().await.map_err(|e| e.to_string())
}

impl Drop for PgTestDb {
    fn drop(&mut self) {
        let (admin, sql) = (self.admin_url.clone(), format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name));
        // Drop runs inside the test's runtime, which cannot be blocked on: use a thread with its own.
        let joined = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
            rt.block_on(admin_exec(&admin, sql))
        })
        .join();
        match joined {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("warning: could not drop test database {}: {e}", self.name),
            Err(_) => eprintln!("warning: dropping test database {} panicked", self.name),
        }
    }
}

/// A fresh PostgreSQL database: `Ok(None)` when skipped by `CHATSEAL_SKIP_PG`, `Err` with an
/// operator-readable message when the server cannot be reached or refuses.
pub async fn try_fresh_pg_url() -> Result<Option<(String, PgTestDb)>, String> {
    if pg_skipped() {
        return Ok(None);
    }
    let admin_url = pg_admin_url();
    let name = unique_name();
    admin_exec(&admin_url, format!("CREATE DATABASE \"{name}\"")).await.map_err(|e| {
        format!(
            "{e}\nPostgreSQL tests need a server: start it (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start), \
             point {PG_URL_ENV} at one, or set {SKIP_PG_ENV}=1 to skip them"
        )
    })?;
    let url = with_database(&admin_url, &name);
    Ok(Some((url.clone(), PgTestDb { admin_url, name, url })))
}

/// A fresh PostgreSQL database (URL and the guard that drops it), or None when skipped.
/// Panics with instructions when PostgreSQL is unreachable: a PG test must not pass silently.
pub async fn fresh_pg_url() -> Option<(String, PgTestDb)> {
    match try_fresh_pg_url().await {
        Ok(Some(db)) => Some(db),
        Ok(None) => {
            eprintln!("{SKIP_PG_ENV} is set: skipping the PostgreSQL half of this test");
            None
        }
        Err(msg) => panic!("{msg}"),
    }
}

/// A SQLite URL for a file in a new temporary directory (the file does not exist yet; the
/// directory lives as long as the returned guard).
pub fn fresh_sqlite_url() -> (String, tempfile::TempDir) {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("cannot create a temporary directory for a test store: {e}"),
    };
    let url = format!("sqlite://{}", dir.path().join("chatseal.db").display());
    (url, dir)
}

/// Keeps a test store's files or database alive.
#[derive(Debug)]
pub enum TestDbGuard {
    /// The temporary directory holding the SQLite file (removed on drop).
    Sqlite(tempfile::TempDir),
    /// The PostgreSQL test database (dropped on drop).
    Postgres(PgTestDb),
}

/// One fresh store URL per backend: SQLite always, PostgreSQL unless skipped.
pub async fn fresh_urls() -> Vec<(Backend, String, TestDbGuard)> {
    let (sqlite, dir) = fresh_sqlite_url();
    let mut out = vec![(Backend::Sqlite, sqlite, TestDbGuard::Sqlite(dir))];
    if let Some((url, db)) = fresh_pg_url().await {
        out.push((Backend::Postgres, url, TestDbGuard::Postgres(db)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_database() {
        assert_eq!(with_database("postgres://root@127.0.0.1:5432/test", "x"), "postgres://root@127.0.0.1:5432/x");
        assert_eq!(with_database("postgres://u:p@h/test?sslmode=disable", "x"), "postgres://u:p@h/x?sslmode=disable");
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
        assert_eq!(with_database("postgres://h?a=b", "x"), "postgres://h/x?a=b");
    }
}
