//! A PostgreSQL store backed up through pg_dump from an exported snapshot: the manifest's
//! counts, a verification that catches one flipped byte, and pg_restore into an empty database
//! (refused, changing nothing, into one that is not). With `backup.pg_dump = "off"` the
//! portable JSON-lines export instead, restored by `chatseal restore` into an empty PostgreSQL
//! database and into a new SQLite file with the same rows and roots.

use chatseal_actors::backup::catalog::list;
use chatseal_actors::backup::manifest::{Method, PG_DUMP_FILE};
use chatseal_actors::backup::{pg, take_backup, verify, BackupError, PgDump};
use chatseal_schema::Store;

use crate::backup_layout::{cli_env, seed_one_sealed_epoch};
use crate::harness::now_ms;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_backup_through_pg_dump_restores_into_an_empty_database() {
    let Some((url, _db)) = chatseal_schema::testing::fresh_pg_url().await else { return };
    assert!(
        pg::find_on_path("pg_dump").is_some(),
        "this test needs pg_dump on PATH (apt-get install postgresql-client)"
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_json_lines_export_restores_into_either_engine() {
    let Some((url, _db)) = chatseal_schema::testing::fresh_pg_url().await else { return };
    let store = Store::open(&url).await.unwrap();
    let e = seed_one_sealed_epoch(&store, 9).await;
    let sealed = store.sealed_epoch(e, "alpha").await.unwrap();
    store.close().await.unwrap();

    // `backup now` with backup.pg_dump = "off" (pg_dump is on PATH here, and not used).
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().join("backups");
    let off = [("CHATSEAL__BACKUP__PG_DUMP", "off")];
    let (code, text) = cli_env(&["backup", "now"], &url, &backups, &off);
    assert_eq!(code, 0, "{text}");
    let listed = list(&backups).unwrap();
    assert_eq!(listed.len(), 1);
    let m = listed[0].manifest.clone().unwrap();
    assert_eq!(m.method, Method::JsonLines, "{m:?}");
    assert_eq!(m.files.len(), chatseal_schema::entity::TABLES.len());
    assert_eq!((m.sealed_epochs, m.row_counts["participation"], m.row_counts["sealed_participants"]), (1, 9, 9));
    let folder = listed[0].folder.clone();
    verify(&folder).await.expect("the export verifies");
    // A bad value for the key is a config error (exit 78), naming it.
    let (code, text) = cli_env(&["backup", "now"], &url, &backups, &[("CHATSEAL__BACKUP__PG_DUMP", "pg_dump")]);
    assert_eq!(code, 78, "{text}");
    assert!(text.contains("backup.pg_dump"), "{text}");

    // Into an empty PostgreSQL database, and into a new SQLite file.
    let Some((url2, _db2)) = chatseal_schema::testing::fresh_pg_url().await else { return };
    let sq = tempfile::tempdir().unwrap();
    let sqlite = crate::harness::sqlite_url(sq.path());
    let mut want = m.row_counts.clone();
    *want.get_mut("audit_log").unwrap() += 1; // the restore records itself
    for target in [&url2, &sqlite] {
        let (code, text) = cli_env(&["restore", "--from", &m.id, "--to", target], &url, &backups, &[]);
        assert_eq!(code, 0, "{target}: {text}");
        assert!(text.contains("row counts match the manifest"), "{text}");
        let restored = Store::open(target).await.unwrap();
        assert_eq!(restored.row_counts().await.unwrap(), want, "{target}");
        assert!(restored.verify_digests().await.unwrap().is_empty());
        assert_eq!(restored.sealed_epoch(e, "alpha").await.unwrap(), sealed, "{target}: the same roots");
        restored.close().await.unwrap();
    }
    // Not into a store that holds rows: refused, nothing added.
    let (code, text) = cli_env(&["restore", "--from", &m.id, "--to", &url2], &url, &backups, &[]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("not empty"), "{text}");
    let again = Store::open(&url2).await.unwrap();
    assert_eq!(again.row_counts().await.unwrap(), want, "unchanged");

    // One flipped byte in an export file: verify and restore refuse it.
    let file = m.data_file(&folder, "participation.jsonl");
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[2] ^= 0x01;
    std::fs::write(&file, &bytes).unwrap();
    assert!(matches!(verify(&folder).await, Err(BackupError::Damaged { .. })));
    let Some((url3, _db3)) = chatseal_schema::testing::fresh_pg_url().await else { return };
    let (code, text) = cli_env(&["restore", "--from", &m.id, "--to", &url3], &url, &backups, &[]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("damaged"), "{text}");
}
