//! Opening: idempotent migrations, durability settings really applied, version and
//! corruption checks, URL handling, maintenance calls.

use crate::common::{scalar_i64, stores};
use chatseal_schema::checks::{pg_durability_warnings, sqlite_version_ok, MIN_SQLITE_VERSION};
use chatseal_schema::testing::{fresh_sqlite_url, fresh_urls};
use chatseal_schema::{redact_url, Backend, Store, StoreError};
use sea_orm::{ConnectionTrait, Statement};

async fn text(store: &Store, sql: &str) -> String {
    let db = store.db();
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
    row.try_get_by_index::<String>(0).unwrap()
}

#[tokio::test]
async fn open_twice_keeps_data_and_applies_migrations_once() {
    for (backend, url, _guard) in fresh_urls().await {
        let first = Store::open(&url).await.unwrap();
        first.set_meta("k", "v1").await.unwrap();
        first.close().await.unwrap();
        let second = Store::open(&url).await.unwrap();
        assert_eq!(second.get_meta("k").await.unwrap().as_deref(), Some("v1"), "{backend:?}");
        let applied = scalar_i64(&second, "SELECT COUNT(*) FROM seaql_migrations").await;
        let known =
            <chatseal_schema::migration::Migrator as sea_orm_migration::MigratorTrait>::migrations().len() as i64;
        assert_eq!(applied, known, "{backend:?}: every migration recorded once");
        // Opening while another handle is open works too (PostgreSQL takes the advisory lock).
        let third = Store::open(&url).await.unwrap();
        third.ping().await.unwrap();
        third.close().await.unwrap();
        second.close().await.unwrap();
    }
}

#[tokio::test]
async fn sqlite_pragmas_read_back_as_set() {
    let (url, dir) = fresh_sqlite_url();
    // The parent directory does not exist yet: open creates it and the file.
    let nested = url.replace("chatseal.db", "a/b/chatseal.db");
    let store = Store::open(&nested).await.unwrap();
    assert!(dir.path().join("a/b/chatseal.db").exists());
    assert_eq!(text(&store, "PRAGMA journal_mode").await, "wal");
    assert_eq!(scalar_i64(&store, "PRAGMA synchronous").await, 2, "synchronous=FULL");
    assert_eq!(scalar_i64(&store, "PRAGMA foreign_keys").await, 1);
    assert_eq!(scalar_i64(&store, "PRAGMA busy_timeout").await, 5000);
    // The read connections are read-only and see the same settings where they matter.
    let reader = store.reader();
    let r = reader
        .query_one_raw(Statement::from_string(reader.get_database_backend(), "PRAGMA journal_mode"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.try_get_by_index::<String>(0).unwrap(), "wal");
    let write = reader.execute_unprepared("INSERT INTO meta (key, value) VALUES ('x', 'y')").await;
    assert!(write.is_err(), "reader connections must be read-only");
    assert!(store.quick_check().await.unwrap().is_empty());
    store.checkpoint().await.unwrap();
    store.close().await.unwrap();
}

#[tokio::test]
async fn sqlite_version_is_the_bundled_one_and_older_is_refused() {
    let (url, _dir) = fresh_sqlite_url();
    let store = Store::open(&url).await.unwrap();
    let version = text(&store, "SELECT sqlite_version()").await;
    assert!(sqlite_version_ok(&version).is_ok(), "running SQLite {version}");
    assert_eq!(MIN_SQLITE_VERSION, (3, 51, 3));
    assert!(sqlite_version_ok("3.51.2").is_err());
    assert!(sqlite_version_ok("3.45.0").is_err());
    let e = StoreError::TooOld { found: "3.45.0".into(), need: "3.51.3".into() };
    assert!(e.to_string().contains("3.51.3"));
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_reported_corrupt() {
    let (url, dir) = fresh_sqlite_url();
    std::fs::write(dir.path().join("chatseal.db"), vec![0x5a; 8192]).unwrap();
    let err = Store::open(&url).await.expect_err("garbage must not open");
    assert!(err.is_corrupt(), "{err}");
    assert!(!err.is_unavailable());
    // Nothing was written over it.
    assert_eq!(std::fs::read(dir.path().join("chatseal.db")).unwrap(), vec![0x5a; 8192]);
}

#[tokio::test]
async fn bad_urls_and_unreachable_servers() {
    let err = Store::open("mysql://u:pw@h/db").await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidUrl { .. }), "{err}");
    assert!(!err.to_string().contains("pw@"), "{err}");
    // Nothing listens on port 1: unavailable (retryable), and the password stays secret.
    let opts =
        chatseal_schema::OpenOptions { acquire_timeout: std::time::Duration::from_secs(3), ..Default::default() };
    let err = Store::open_with("postgres://alice:hunter2@127.0.0.1:1/db", &opts).await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    let msg = format!("{err} {err:?}");
    assert!(!msg.contains("hunter2"), "{msg}");
    assert!(msg.contains("alice:***@127.0.0.1:1/db"), "{msg}");
    assert_eq!(redact_url("postgres://alice:hunter2@host/db"), "postgres://alice:***@host/db");
}

#[tokio::test]
async fn maintenance_calls_and_durability_warnings() {
    for (backend, store, _guard) in stores().await {
        store.ping().await.unwrap();
        assert!(store.quick_check().await.unwrap().is_empty(), "{backend:?}");
        store.checkpoint().await.unwrap();
        if backend == Backend::Sqlite {
            assert!(store.durability_warnings().is_empty());
        } else {
            let want = pg_durability_warnings(
                &text(&store, "SHOW fsync").await,
                &text(&store, "SHOW synchronous_commit").await,
                &text(&store, "SHOW full_page_writes").await,
            );
            assert_eq!(store.durability_warnings(), want.as_slice());
        }
        assert!(!store.redacted_url().is_empty());
        store.close().await.unwrap();
    }
}

#[tokio::test]
async fn a_store_written_by_a_newer_schema_is_refused() {
    for (backend, url, _guard) in fresh_urls().await {
        let store = Store::open(&url).await.unwrap();
        store
            .db()
            .execute_unprepared(
                "INSERT INTO seaql_migrations (version, applied_at) VALUES ('m29990101_000001_future', 0)",
            )
            .await
            .unwrap();
        store.close().await.unwrap();
        let err = Store::open(&url).await.unwrap_err();
        assert!(matches!(err, StoreError::Migration { .. }), "{backend:?}: {err}");
        assert!(err.to_string().contains("m29990101_000001_future"), "{err}");
    }
}

#[tokio::test]
async fn damaged_pages_are_caught_by_quick_check_before_any_write() {
    let (url, dir) = fresh_sqlite_url();
    let store = Store::open(&url).await.unwrap();
    let tx = store.begin_flush().await.unwrap();
    let ids: Vec<chatseal_schema::SeenId> = (0..3_000)
        .map(|i| chatseal_schema::SeenId { id: format!("message-id-{i:08}").into(), epoch: 1, channel: "lacy".into() })
        .collect();
    tx.insert_seen_ids(&ids).await.unwrap();
    tx.commit().await.unwrap();
    store.checkpoint().await.unwrap();
    store.close().await.unwrap();

    let path = dir.path().join("chatseal.db");
    let mut bytes = std::fs::read(&path).unwrap();
    let page = 4096;
    assert!(bytes.len() > 8 * page, "the test needs a multi-page file");
    // Overwrite the b-tree headers of a few interior pages (not page 1, the file header).
    for p in [3, 5, 7] {
        bytes[p * page..p * page + 16].fill(0xee);
    }
    std::fs::write(&path, &bytes).unwrap();
    let err = Store::open(&url).await.expect_err("a damaged file must be refused");
    assert!(err.is_corrupt(), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "refused without writing");
}

#[tokio::test]
async fn an_in_memory_store_works() {
    let store = Store::open("sqlite::memory:").await.unwrap();
    store.set_meta("k", "v").await.unwrap();
    assert_eq!(store.get_meta("k").await.unwrap().as_deref(), Some("v"));
    assert!(store.quick_check().await.unwrap().is_empty());
    store.close().await.unwrap();
}
