//! Reading the old system's database (SQLite, opened read-only, or PostgreSQL). Nothing is
//! ever written to it. Every column is cast to TEXT in SQL, so rows come back as
//! `Vec<Option<String>>` on both engines, whatever types the old schema used. Rows are
//! streamed (sqlx `fetch`), so memory stays bounded whatever the size of the old tables, and
//! nothing relies on indexes the old tables may lack: the participation data of all four
//! per-epoch tables comes through ONE query sorted by (epoch, channel), so each (epoch,
//! channel) arrives as one contiguous run of rows.

use std::str::FromStr;

use futures::stream::{BoxStream, StreamExt};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::Row;

use chatseal_schema::redact::Scrubber;

use super::LegacyError;

/// The old tables, as the import expects them.
pub const TABLES: [&str; 5] =
    ["channel_participation", "user_signals", "sealed_epochs", "sealed_participants", "user_mapping"];

/// user_mapping: user_hash, username, first_seen.
pub const USERS_SQL: &str =
    r#"SELECT CAST("user_hash" AS TEXT), CAST("username" AS TEXT), CAST("first_seen" AS TEXT) FROM "user_mapping""#;

/// Every per-epoch row, tagged by its table, sorted by (epoch, channel). Columns: epoch,
/// channel, tag, then a, b, c, d as [`GroupRow`] reads them.
pub const GROUPS_SQL: &str = r#"SELECT CAST("epoch" AS TEXT), CAST("channel" AS TEXT), 'p', CAST("user_hash" AS TEXT), CAST("first_seen" AS TEXT), CAST(NULL AS TEXT), CAST(NULL AS TEXT) FROM "channel_participation"
UNION ALL SELECT CAST("epoch" AS TEXT), CAST("channel" AS TEXT), 's', CAST("user_hash" AS TEXT), CAST("signal_type" AS TEXT), CAST("value" AS TEXT), CAST("timestamp" AS TEXT) FROM "user_signals"
UNION ALL SELECT CAST("epoch" AS TEXT), CAST("channel" AS TEXT), 'e', CAST("root" AS TEXT), CAST("sealed_at" AS TEXT), CAST(NULL AS TEXT), CAST(NULL AS TEXT) FROM "sealed_epochs"
UNION ALL SELECT CAST("epoch" AS TEXT), CAST("channel" AS TEXT), 'm', CAST("idx" AS TEXT), CAST("user_hash" AS TEXT), CAST("username" AS TEXT), CAST(NULL AS TEXT) FROM "sealed_participants"
ORDER BY 1, 2"#;

/// A text row.
pub type TextRow = Vec<Option<String>>;

/// One row of [`GROUPS_SQL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRow {
    /// The old `epoch` column, as text.
    pub epoch: Option<String>,
    /// The old `channel` column, as text.
    pub channel: Option<String>,
    /// Which table the row comes from: `p` channel_participation, `s` user_signals,
    /// `e` sealed_epochs, `m` sealed_participants.
    pub tag: String,
    /// `p`, `s`: user_hash; `e`: root; `m`: idx.
    pub a: Option<String>,
    /// `p`: first_seen; `s`: signal_type; `e`: sealed_at; `m`: user_hash.
    pub b: Option<String>,
    /// `s`: value; `m`: username; otherwise null.
    pub c: Option<String>,
    /// `s`: timestamp; otherwise null.
    pub d: Option<String>,
}

impl GroupRow {
    /// The row from its text columns in [`GROUPS_SQL`] order; missing columns are null and a
    /// missing tag is empty.
    pub fn from_text(mut r: TextRow) -> GroupRow {
        r.resize(7, None);
        let mut it = r.into_iter();
        let mut next = || it.next().flatten();
        GroupRow {
            epoch: next(),
            channel: next(),
            tag: next().unwrap_or_default(),
            a: next(),
            b: next(),
            c: next(),
            d: next(),
        }
    }
}

enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// An old database, open for reading.
pub struct LegacyDb {
    pool: Pool,
    /// The URL with its password masked.
    pub url: String,
    scrubber: Scrubber,
}

fn text_row<R: Row>(row: &R, n: usize) -> Result<TextRow, sqlx::Error>
where
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    usize: sqlx::ColumnIndex<R>,
{
    (0..n).map(|i| row.try_get::<Option<String>, usize>(i)).collect()
}

impl LegacyDb {
    /// Opens `url` (`sqlite://PATH`, read-only and never created, or `postgres://...`).
    pub async fn open(url: &str) -> Result<LegacyDb, LegacyError> {
        let redacted = chatseal_schema::redact_url(url);
        let scrubber = Scrubber::for_url(url);
        let unavailable =
            |e: sqlx::Error| LegacyError::Unavailable { url: redacted.clone(), detail: scrubber.scrub(&e.to_string()) };
        let pool = if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)
                .map_err(|e| LegacyError::Usage(format!("--from {redacted}: {}", scrubber.scrub(&e.to_string()))))?
                .read_only(true)
                .create_if_missing(false);
            Pool::Sqlite(SqlitePoolOptions::new().max_connections(2).connect_with(opts).await.map_err(unavailable)?)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Pool::Postgres(PgPoolOptions::new().max_connections(2).connect(url).await.map_err(unavailable)?)
        } else {
            return Err(LegacyError::Usage(format!("--from {redacted}: use sqlite://PATH or postgres://USER@HOST/DB")));
        };
        Ok(LegacyDb { pool, url: redacted, scrubber })
    }

    /// Fails naming the first old table that cannot be read.
    pub async fn check_tables(&self) -> Result<(), LegacyError> {
        for t in TABLES {
            let sql = || sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM \"{t}\""));
            let res = match &self.pool {
                Pool::Sqlite(p) => sqlx::query(sql()).fetch_one(p).await.map(|_| ()),
                Pool::Postgres(p) => sqlx::query(sql()).fetch_one(p).await.map(|_| ()),
            };
            res.map_err(|e| LegacyError::NotLegacy {
                url: self.url.clone(),
                table: t,
                detail: self.scrubber.scrub(&e.to_string()),
            })?;
        }
        Ok(())
    }

    /// The rows of `sql` (every column TEXT), `n` columns each, streamed.
    pub fn rows(&self, sql: &'static str, n: usize) -> BoxStream<'_, Result<TextRow, LegacyError>> {
        let err =
            |e: sqlx::Error| LegacyError::Read { url: self.url.clone(), detail: self.scrubber.scrub(&e.to_string()) };
        match &self.pool {
            Pool::Sqlite(p) => {
                sqlx::query(sql).fetch(p).map(move |r| r.and_then(|r| text_row(&r, n)).map_err(err)).boxed()
            }
            Pool::Postgres(p) => {
                sqlx::query(sql).fetch(p).map(move |r| r.and_then(|r| text_row(&r, n)).map_err(err)).boxed()
            }
        }
    }

    /// Closes the connection pool, waiting for its connections to end.
    pub async fn close(self) {
        match self.pool {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_rows() {
        let r = GroupRow::from_text(vec![Some("1".into()), Some("c".into()), Some("p".into()), Some("h".into())]);
        assert_eq!((r.epoch.as_deref(), r.tag.as_str(), r.a.as_deref(), r.d), (Some("1"), "p", Some("h"), None));
    }
}
