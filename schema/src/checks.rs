//! The pure half of the store's start-up checks: which SQLite versions are accepted, what the
//! connection pragmas must read back as, and which PostgreSQL settings put acknowledged
//! commits at risk. `open.rs` queries the values; this module judges them.

/// The oldest SQLite accepted (the version bundled through libsqlite3-sys).
pub const MIN_SQLITE_VERSION: (u32, u32, u32) = (3, 51, 3);

/// `"3.51.3"` -> `(3, 51, 3)`; a missing patch level reads as 0.
pub fn parse_sqlite_version(v: &str) -> Option<(u32, u32, u32)> {
    let mut parts = v.trim().split('.').map(|p| p.parse::<u32>().ok());
    let major = parts.next()??;
    let minor = parts.next()??;
    let patch = parts.next().unwrap_or(Some(0))?;
    Some((major, minor, patch))
}

/// `Ok(())` when `found` is at least [`MIN_SQLITE_VERSION`], else the version needed.
pub fn sqlite_version_ok(found: &str) -> Result<(), String> {
    let (a, b, c) = MIN_SQLITE_VERSION;
    match parse_sqlite_version(found) {
        Some(v) if v >= MIN_SQLITE_VERSION => Ok(()),
        _ => Err(format!("{a}.{b}.{c}")),
    }
}

/// What the pragmas of a SQLite connection read back as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlitePragmas {
    /// `PRAGMA journal_mode` as read back, e.g. "wal" (required for a file-backed store).
    pub journal_mode: String,
    /// 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA.
    pub synchronous: i64,
    /// `PRAGMA foreign_keys`: 1 on (required), 0 off.
    pub foreign_keys: i64,
    /// `PRAGMA busy_timeout` in ms: how long a connection waits for a lock; 0 is a problem.
    pub busy_timeout_ms: i64,
}

/// Problems with the pragmas of a file-backed store (an in-memory store has no journal to
/// check): WAL, synchronous FULL or EXTRA, foreign keys on, a busy timeout.
pub fn sqlite_pragma_problems(p: &SqlitePragmas, in_memory: bool) -> Vec<String> {
    let mut problems = Vec::new();
    if !in_memory && !p.journal_mode.eq_ignore_ascii_case("wal") {
        problems.push(format!(
            "journal_mode is {:?}, not \"wal\" (the filesystem may not support WAL's shared memory; use a local disk)",
            p.journal_mode
        ));
    }
    if !in_memory && p.synchronous < 2 {
        problems.push(format!(
            "synchronous is {}, not FULL (2): a power loss could lose acknowledged commits",
            p.synchronous
        ));
    }
    if p.foreign_keys != 1 {
        problems.push(format!("foreign_keys is {}, not 1", p.foreign_keys));
    }
    if p.busy_timeout_ms <= 0 {
        problems.push("busy_timeout is 0: a second process would fail at once instead of waiting".into());
    }
    problems
}

/// Warnings for PostgreSQL settings (values as `SHOW` prints them) that let a crash or power
/// loss lose commits the server acknowledged.
pub fn pg_durability_warnings(fsync: &str, synchronous_commit: &str, full_page_writes: &str) -> Vec<String> {
    let mut w = Vec::new();
    if !fsync.eq_ignore_ascii_case("on") {
        w.push(format!(
            "PostgreSQL fsync is {fsync:?}: a crash of the machine can corrupt the database; set fsync = on"
        ));
    }
    if synchronous_commit.eq_ignore_ascii_case("off") {
        w.push(
            "PostgreSQL synchronous_commit is \"off\": a server crash can lose recently acknowledged commits; set synchronous_commit = on"
                .to_owned(),
        );
    }
    if !full_page_writes.eq_ignore_ascii_case("on") {
        w.push(format!(
            "PostgreSQL full_page_writes is {full_page_writes:?}: a power loss can leave torn pages; set full_page_writes = on"
        ));
    }
    w
}

/// The journal mode a SQLite file's header records: `"wal"` (write/read versions 2 at bytes 18
/// and 19), `"rollback"` (1, any rollback-journal mode), or an error naming what is wrong with
/// the header. Reading the header needs no connection, so it works on an immutable open too.
pub fn journal_mode_of_header(header: &[u8]) -> Result<&'static str, String> {
    const MAGIC: &[u8; 16] = b"SQLite format 3\0";
    if header.len() < 100 {
        return Err(format!("the file is {} bytes long, shorter than a SQLite header (100)", header.len()));
    }
    if &header[..16] != MAGIC {
        return Err("the file does not start with the SQLite header string".into());
    }
    match (header[18], header[19]) {
        (2, 2) => Ok("wal"),
        (1, 1) => Ok("rollback"),
        (w, r) => {
            Err(format!("header file-format bytes are write {w} / read {r}, neither 1/1 (rollback) nor 2/2 (wal)"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(parse_sqlite_version("3.51.3"), Some((3, 51, 3)));
        assert_eq!(parse_sqlite_version("3.52"), Some((3, 52, 0)));
        assert_eq!(parse_sqlite_version("x"), None);
        assert!(sqlite_version_ok("3.51.3").is_ok());
        assert!(sqlite_version_ok("3.54.1").is_ok());
        assert!(sqlite_version_ok("4.0.0").is_ok());
        assert_eq!(sqlite_version_ok("3.51.2"), Err("3.51.3".into()));
        assert_eq!(sqlite_version_ok("3.9.99"), Err("3.51.3".into()));
        assert!(sqlite_version_ok("garbage").is_err());
    }

    #[test]
    fn pragmas() {
        let good = SqlitePragmas { journal_mode: "wal".into(), synchronous: 2, foreign_keys: 1, busy_timeout_ms: 5000 };
        assert!(sqlite_pragma_problems(&good, false).is_empty());
        let bad = SqlitePragmas { journal_mode: "delete".into(), synchronous: 1, foreign_keys: 0, busy_timeout_ms: 0 };
        assert_eq!(sqlite_pragma_problems(&bad, false).len(), 4);
        let mem = SqlitePragmas { journal_mode: "memory".into(), ..good };
        assert!(sqlite_pragma_problems(&mem, true).is_empty());
    }

    #[test]
    fn journal_mode_from_the_header() {
        let mut h = b"SQLite format 3\0".to_vec();
        h.resize(100, 0);
        h[18] = 2;
        h[19] = 2;
        assert_eq!(journal_mode_of_header(&h), Ok("wal"));
        h[18] = 1;
        h[19] = 1;
        assert_eq!(journal_mode_of_header(&h), Ok("rollback"));
        h[19] = 7;
        assert!(journal_mode_of_header(&h).unwrap_err().contains("read 7"));
        h[0] = b'X';
        assert!(journal_mode_of_header(&h).unwrap_err().contains("header string"));
        assert!(journal_mode_of_header(&h[..20]).unwrap_err().contains("20 bytes"));
    }

    #[test]
    fn pg_settings() {
        assert!(pg_durability_warnings("on", "on", "on").is_empty());
        assert!(pg_durability_warnings("on", "local", "on").is_empty());
        assert!(pg_durability_warnings("on", "remote_apply", "on").is_empty());
        assert_eq!(pg_durability_warnings("off", "off", "off").len(), 3);
        assert_eq!(pg_durability_warnings("on", "off", "on").len(), 1);
    }
}
