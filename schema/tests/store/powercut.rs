//! Power loss (SQLite only: it needs the "powercut" VFS of `powercut_vfs`). Commits are made
//! and acknowledged through the shim, the power is cut (unsynced writes are lost), every
//! connection is closed, and the files are reopened with the normal VFS, as after a reboot.
//! In WAL mode synchronous=NORMAL syncs only at checkpoints, so it loses every acknowledged
//! commit since the last checkpoint; synchronous=FULL (what `Store::open` sets) loses none,
//! and the store's own flushes and seals survive with their checks passing.

use crate::common::{delta, seal, FAILPOINTS};
use crate::powercut_vfs::{Machine, VFS_NAME};
use chatseal_schema::testing::fresh_sqlite_url;
use chatseal_schema::SignalKind::Message;
use chatseal_schema::{SealWrite, SeenId, Store};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{AssertSqlSafe, Connection, SqliteConnection};
use std::path::Path;

/// Rows made durable by a checkpoint before the commits under test.
const BEFORE_CHECKPOINT: i64 = 5;
/// Acknowledged commits before the power cut.
const COMMITS: i64 = 20;

struct Outcome {
    acknowledged: i64,
    survived: i64,
    lost_bytes: u64,
}

async fn count(conn: &mut SqliteConnection, sql: &str) -> i64 {
    sqlx::query_scalar(AssertSqlSafe(sql.to_owned())).fetch_one(conn).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn exec(conn: &mut SqliteConnection, sql: &str) {
    sqlx::query(AssertSqlSafe(sql.to_owned())).execute(conn).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Raw sqlx on the shim: a checkpointed table, then `COMMITS` acknowledged transactions, then
/// the cut; returns how many of the commits are there after the reboot.
async fn commit_then_cut(dir: &Path, mode: SqliteSynchronous) -> Outcome {
    let machine = Machine::power_on().await;
    let path = dir.join("raw.db");
    let opts = SqliteConnectOptions::new()
        .filename(&path)
        .vfs(VFS_NAME)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(mode);
    let mut conn = SqliteConnection::connect_with(&opts)
        .await
        .unwrap_or_else(|e| panic!("opening {} on the {VFS_NAME} VFS: {e}", path.display()));
    assert!(machine.stats().files_opened >= 1, "the database file is opened through the shim");
    exec(&mut conn, "CREATE TABLE acks (n INTEGER PRIMARY KEY, payload TEXT NOT NULL)").await;
    for n in 0..BEFORE_CHECKPOINT {
        exec(&mut conn, &format!("INSERT INTO acks VALUES ({n}, 'durable')")).await;
    }
    let busy = count(&mut conn, "PRAGMA wal_checkpoint(TRUNCATE)").await;
    assert_eq!(busy, 0, "the checkpoint finished");

    for n in BEFORE_CHECKPOINT..BEFORE_CHECKPOINT + COMMITS {
        let mut tx = conn.begin().await.expect("BEGIN");
        sqlx::query("INSERT INTO acks VALUES (?, ?)")
            .bind(n)
            .bind(format!("commit {n}"))
            .execute(&mut *tx)
            .await
            .expect("INSERT");
        tx.commit().await.expect("COMMIT"); // acknowledged
    }
    let visible = count(&mut conn, "SELECT COUNT(*) FROM acks").await;
    assert_eq!(visible, BEFORE_CHECKPOINT + COMMITS, "all commits visible before the cut");
    assert!(machine.stats().writes_held > 0, "writes went through the shim");

    let lost_bytes = machine.cut();
    // The machine is off: whatever closing tries to write (a checkpoint) is dropped, and it
    // may fail reading frames that never reached the disk. Only the files matter now.
    let _ = conn.close().await;

    let reboot = SqliteConnectOptions::new().filename(&path);
    let mut conn = SqliteConnection::connect_with(&reboot)
        .await
        .unwrap_or_else(|e| panic!("reopening {} after the cut: {e}", path.display()));
    let check: String =
        sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&mut conn).await.expect("integrity_check");
    assert_eq!(check, "ok", "the file is sound after the reboot");
    let durable = count(&mut conn, "SELECT COUNT(*) FROM acks WHERE payload = 'durable'").await;
    assert_eq!(durable, BEFORE_CHECKPOINT, "checkpointed rows survive in every mode");
    let survived = count(&mut conn, "SELECT COUNT(*) FROM acks WHERE payload LIKE 'commit %'").await;
    conn.close().await.expect("closing after the reboot");
    Outcome { acknowledged: COMMITS, survived, lost_bytes }
}

#[tokio::test]
async fn synchronous_normal_loses_acknowledged_commits() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let o = commit_then_cut(dir.path(), SqliteSynchronous::Normal).await;
    println!(
        "power cut, WAL + synchronous=NORMAL: {} of {} acknowledged commits lost ({} unsynced bytes dropped)",
        o.acknowledged - o.survived,
        o.acknowledged,
        o.lost_bytes
    );
    assert!(o.lost_bytes > 0, "NORMAL left the commits unsynced");
    assert_eq!(o.survived, 0, "NORMAL loses every commit since the last checkpoint");
}

#[tokio::test]
async fn synchronous_full_keeps_every_acknowledged_commit() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let o = commit_then_cut(dir.path(), SqliteSynchronous::Full).await;
    println!(
        "power cut, WAL + synchronous=FULL: {} of {} acknowledged commits lost ({} unsynced bytes dropped)",
        o.acknowledged - o.survived,
        o.acknowledged,
        o.lost_bytes
    );
    assert_eq!(o.survived, o.acknowledged, "FULL keeps every acknowledged commit");
    assert_eq!(o.lost_bytes, 0, "nothing was pending after the last commit's sync");
}

/// The real store on the shim: flushes and a seal acknowledged, then the cut.
#[tokio::test]
async fn store_keeps_acknowledged_flushes_and_seals() {
    let _fp = FAILPOINTS.read().await;
    let machine = Machine::power_on().await;
    let (url, _dir) = fresh_sqlite_url();
    let shim_url = format!("{url}?vfs={VFS_NAME}");
    let store = Store::open(&shim_url).await.unwrap_or_else(|e| panic!("opening the store on the {VFS_NAME} VFS: {e}"));
    assert!(machine.stats().files_opened >= 2, "database and WAL opened through the shim: {:?}", machine.stats());

    let (epoch, sealed_epoch, channel) = (100, 99, "lacy");
    let flush = |user: u64| {
        let store = store.clone();
        async move {
            let tx = store.begin_flush().await.expect("begin_flush");
            tx.upsert_participation(&[delta(epoch, channel, user, 10, 20, vec![(Message, 1)])])
                .await
                .expect("upsert_participation");
            tx.insert_seen_ids(&[SeenId { id: format!("line-{user}").into(), epoch, channel: channel.into() }])
                .await
                .expect("insert_seen_ids");
            tx.commit().await.expect("commit"); // acknowledged
        }
    };
    let half = COMMITS as u64 / 2;
    for user in 1..=half {
        flush(user).await;
    }
    let sealed = seal(sealed_epoch, channel, 3);
    let SealWrite::Sealed(stored) = store.write_seal(&sealed).await.expect("write_seal") else {
        panic!("the epoch was not sealed before");
    };
    for user in half + 1..=COMMITS as u64 {
        flush(user).await;
    }
    let before = machine.stats();
    assert!(before.syncs >= COMMITS as u64, "every commit synced: {before:?}");

    let lost_bytes = machine.cut();
    let _ = store.close().await; // the machine is off; see commit_then_cut

    let store = Store::open(&url)
        .await
        .unwrap_or_else(|e| panic!("reopening the store after the cut (quick_check included): {e}"));
    let rows = store.participants_for_seal(epoch, channel).await.expect("participants_for_seal");
    println!(
        "power cut, chatseal store: {} of {COMMITS} acknowledged flushes and 1 seal survived ({lost_bytes} unsynced bytes dropped)",
        rows.len()
    );
    assert_eq!(rows.len() as i64, COMMITS, "every acknowledged flush is there");
    assert_eq!(
        store.sealed_epoch(sealed_epoch, channel).await.expect("sealed_epoch"),
        Some(stored),
        "the acknowledged seal is there"
    );
    assert_eq!(
        store.sealed_participants(sealed_epoch, channel).await.expect("sealed_participants"),
        sealed.participants
    );
    assert_eq!(store.verify_digests().await.expect("verify_digests"), vec![]);
    assert_eq!(store.quick_check().await.expect("quick_check"), Vec::<String>::new());
    store.close().await.expect("closing after the reboot");
}
