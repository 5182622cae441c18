//! A PostgreSQL store backed up through pg_dump from an exported snapshot: the manifest's
//! counts, a verification that catches one flipped byte, and pg_restore into an empty database
//! (refused, changing nothing, into one that is not).

use chatseal_actors::backup::manifest::{Method, PG_DUMP_FILE};
use chatseal_actors::backup::{pg, take_backup, verify, BackupError, PgDump};
use chatseal_schema::Store;

use crate::backup_layout::seed_one_sealed_epoch;
use crate::harness::now_ms;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_backup_through_pg_dump_restores_into_an_empty_database() {
    let Some((url, _db)) = chatseal_schema::testing::fresh_pg_url().await else { return };
    assert!(pg::find_on_path("pg_dump").is_some(), "this test needs pg_dump on PATH (apt-get install postgresql-client)");
    let store = Store::open(&url).await.unwrap();
    let e = seed_one_sealed_epoch(&store, 5).await;

    let dir = tempfile::tempdir().unwrap();
    let m = take_backup(&store, &url, dir.path(), now_ms(), &PgDump::Auto).await.expect("backup");
    assert_eq!(m.method, Method::PgDump);
    assert!(m.checks.iter().any(|c| c == "pg_restore --list"), "{:?}", m.checks);
    assert_eq!((m.sealed_epochs, m.newest_sealed_epoch, m.row_counts["participation"]), (1, Some(e), 5));
    let folder = dir.path().join(&m.id);
    verify(&folder).await.expect("the fresh backup verifies");

    let Some((url2, _db2)) = chatseal_schema::testing::fresh_pg_url().await else { return };
    pg::restore_dump(&url2, &m.data_file(&folder, PG_DUMP_FILE)).expect("pg_restore into an empty database");
    let restored = Store::open(&url2).await.unwrap();
    assert_eq!(restored.row_counts().await.unwrap(), m.row_counts);
    assert!(restored.verify_digests().await.unwrap().is_empty());
    assert_eq!(restored.sealed_epoch(e, "alpha").await.unwrap(), store.sealed_epoch(e, "alpha").await.unwrap());
    // A second restore into the same (no longer empty) database changes nothing and fails.
    assert!(matches!(pg::restore_dump(&url2, &m.data_file(&folder, PG_DUMP_FILE)), Err(BackupError::Tool { .. })));
    assert_eq!(restored.row_counts().await.unwrap(), m.row_counts);

    let dump = m.data_file(&folder, PG_DUMP_FILE);
    let mut bytes = std::fs::read(&dump).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&dump, &bytes).unwrap();
    assert!(matches!(verify(&folder).await, Err(BackupError::Damaged { .. })));
}
