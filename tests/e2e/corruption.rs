//! Detection of a damaged store: a flipped byte in the SQLite header is refused by SQLite, a
//! flipped byte inside a sealed row (which SQLite cannot see) is caught by the seal digests
//! (before ready on a small store; after ready by the background part of the check on a big
//! one, and then the seal is refused and the next start takes the recovery path), a
//! flipped byte in a key of the sealed participants' index by comparing that index with the rows,
//! and in both cases the daemon, finding no verified backup to restore (the default
//! `backup.on_corruption = "restore"`), refuses to start and never writes to the file (the
//! restore itself is tested in `backup.rs`). A WAL truncated at random offsets opens to a
//! consistent prefix.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chatseal::daemon::RunOptions;
use chatseal::twitchsim::lines::{privmsg, Chatter};
use chatseal_schema::Store;

use crate::harness::*;
use crate::invariants::{check_counts, check_store};

const LEN: i64 = 2;

/// A SQLite store with one sealed epoch of `n` participants, WAL checkpointed into the file.
async fn sealed_store(dir: &std::path::Path, n: usize) -> (String, i64) {
    let url = sqlite_url(dir);
    let fake = fake_twitch().await;
    let d = Daemon::start(settings_for(
        &fake,
        &url,
        &["alpha"],
        &[("CHATSEAL__EPOCH__LENGTH", "2s"), ("CHATSEAL__EPOCH__GRACE", "1s")],
    ))
    .await;
    assert!(fake.wait_joined("alpha", Duration::from_secs(20)).await);
    let e = (now_ms() / 1000).div_euclid(LEN) * LEN + LEN;
    for u in 0..n {
        let login = format!("p{u}");
        fake.send_raw(
            "alpha",
            &privmsg("alpha", &Chatter::new(&login, "1", &login), &format!("c-{u}"), e * 1000 + u as i64, "hi", None),
        );
    }
    wait_for("sealed", Duration::from_secs(30), || async {
        let (code, _) = get_json(&format!("{}/v1/epochs/{e}/alpha", d.base)).await;
        (code == 200).then_some(())
    })
    .await;
    d.stop().await.expect("graceful stop");
    (url, e)
}

fn db_path(dir: &std::path::Path) -> std::path::PathBuf {
    dir.join("chatseal.db")
}

/// Starts the daemon with the default `backup.on_corruption = "restore"` and no backup at all:
/// it must refuse, say there is no verified backup, and move nothing.
async fn refuses_to_start(url: &str) -> String {
    refuses_to_start_with(url, RunOptions::default()).await
}

/// [`refuses_to_start`] with injected parts.
async fn refuses_to_start_with(url: &str, opts: RunOptions) -> String {
    let fake = fake_twitch().await;
    let d = Daemon::start_with(settings_for(&fake, url, &["alpha"], &[]), opts).await;
    let err = match d.stop().await {
        Ok(()) => panic!("the daemon started on a damaged store"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("no verified backup"), "{err}");
    let dir =
        chatseal_schema::sqlite_path(url).and_then(|p| p.parent().map(|d| d.to_path_buf())).expect("a SQLite store");
    assert!(!dir.join("quarantine").exists(), "nothing is moved without a backup to restore");
    err
}

/// Flips one bit of a digit of the third participant's amount in the file of a checkpointed
/// store (the text stays valid, only its digest can tell): the file's bytes after the flip and
/// the 32 bytes from the flipped one.
async fn flip_a_sealed_row(dir: &std::path::Path, url: &str, e: i64) -> (Vec<u8>, Vec<u8>) {
    let row = {
        let store = Store::open(url).await.unwrap();
        let rows = store.sealed_participants(e, "alpha").await.unwrap();
        store.checkpoint().await.unwrap();
        rows[2].clone()
    };
    let path = db_path(dir);
    let mut bytes = std::fs::read(&path).unwrap();
    // A digit of the row's amount: the text stays valid, only its digest can tell.
    let at = sealed_amount_offset(&bytes, e, &row);
    bytes[at] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let flipped = bytes[at..(at + 32).min(bytes.len())].to_vec();
    (bytes, flipped)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flipped_byte_in_a_sealed_row_is_caught_by_the_digests() {
    let dir = tempfile::tempdir().unwrap();
    let (url, e) = sealed_store(dir.path(), 6).await;
    let (bytes, _) = flip_a_sealed_row(dir.path(), &url, e).await;
    // A small store is checked whole before ready (the first page of the start-up budget).
    let err = refuses_to_start(&url).await;
    assert!(err.contains("digest") || err.contains("malformed") || err.contains("quick_check"), "{err}");
    assert_eq!(std::fs::read(db_path(dir.path())).unwrap(), bytes, "the damaged file is never written to");
}

/// The digest check left to the background (a start-up budget of zero, as on a store too big
/// to check within it): the daemon gets ready, the check finds the damaged seal after that, the
/// seal is refused for proofs and publishing and named in /v1/status, and the next start
/// refuses the store (the recovery path) even with a zero budget again, from the marker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flipped_byte_in_a_sealed_row_found_after_ready_is_refused_and_stops_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let (url, e) = sealed_store(dir.path(), 6).await;
    let (_, flipped) = flip_a_sealed_row(dir.path(), &url, e).await;
    let background = || RunOptions { digest_budget: Duration::ZERO, ..RunOptions::default() };
    let fake = fake_twitch().await;
    let epochs = [("CHATSEAL__EPOCH__LENGTH", "2s"), ("CHATSEAL__EPOCH__GRACE", "1s")];
    let d = Daemon::start_with(settings_for(&fake, &url, &["alpha"], &epochs), background()).await;
    if !fake.wait_joined("alpha", Duration::from_secs(30)).await {
        panic!("the daemon did not join #alpha: {:?}", d.stop().await);
    }
    let status = wait_for("the background digest check to finish", Duration::from_secs(30), || async {
        let (code, v) = get_json(&format!("{}/v1/status", d.base)).await;
        (code == 200 && v["digest_check"]["done"] == true).then_some(v)
    })
    .await;
    assert_eq!(
        status["digest_check"]["damaged_seals"],
        serde_json::json!([{"epoch": e, "channel": "alpha"}]),
        "{status}"
    );
    wait_for("/readyz 200 (readiness does not wait for the digests)", Duration::from_secs(30), || async {
        (get_json(&format!("{}/readyz", d.base)).await.0 == 200).then_some(())
    })
    .await;
    for url in [
        format!("{}/v1/epochs/{e}/alpha/proof/p1", d.base),
        format!("{}/v1/epochs/{e}/alpha/claim/p1", d.base),
        format!("{}/v1/epochs/{e}/alpha/export", d.base),
    ] {
        let (code, body) = get_json(&url).await;
        assert_eq!((code, body["error"].as_str()), (500, Some("damaged")), "{url}: {body}");
    }
    d.stop().await.expect("graceful stop");
    let after = std::fs::read(db_path(dir.path())).unwrap();
    assert!(after.windows(32).any(|w| w == flipped.as_slice()), "the damaged row is left as it was found");
    let err = refuses_to_start_with(&url, background()).await;
    assert!(err.contains("digest"), "{err}");
    assert_eq!(std::fs::read(db_path(dir.path())).unwrap(), after, "the refused start writes nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flipped_byte_in_an_index_page_is_caught() {
    use sea_orm::{ConnectionTrait, Statement};
    let dir = tempfile::tempdir().unwrap();
    let (url, e) = sealed_store(dir.path(), 6).await;
    // Where the index of sealed participants lives, and one key it holds.
    let (page, page_size, hash) = {
        let store = Store::open(&url).await.unwrap();
        let rows = store.sealed_participants(e, "alpha").await.unwrap();
        let db = store.db();
        let q = |sql: &str| Statement::from_string(db.get_database_backend(), sql.to_string());
        let root = db
            .query_one_raw(q("SELECT rootpage FROM sqlite_master WHERE name = 'idx_sealed_participants_user_epoch'"))
            .await
            .unwrap()
            .expect("the index exists");
        let size = db.query_one_raw(q("PRAGMA page_size")).await.unwrap().expect("page size");
        let (root, size): (i64, i64) = (root.try_get_by_index(0).unwrap(), size.try_get_by_index(0).unwrap());
        store.checkpoint().await.unwrap();
        (root as usize, size as usize, rows[3].user_hash.clone())
    };
    let path = db_path(dir.path());
    let mut bytes = std::fs::read(&path).unwrap();
    // A small index fits its root page, a leaf: flip one bit of a key (32 bytes) in that page only.
    let start = (page - 1) * page_size;
    let hash = hex::decode(&hash).unwrap();
    let at = bytes[start..start + page_size]
        .windows(32)
        .position(|w| w == hash.as_slice())
        .expect("the key is in the index's page")
        + start;
    bytes[at + 20] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let err = refuses_to_start(&url).await;
    assert!(err.contains("digest") || err.contains("malformed") || err.contains("quick_check"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "the damaged file is never written to");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flipped_bytes_in_the_header_are_refused_by_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _) = sealed_store(dir.path(), 3).await;
    let path = db_path(dir.path());
    let mut bytes = std::fs::read(&path).unwrap();
    for b in &mut bytes[0..16] {
        *b ^= 0x5a;
    }
    std::fs::write(&path, &bytes).unwrap();
    let err = refuses_to_start(&url).await;
    assert!(!err.is_empty());
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "the damaged file is never written to");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wal_truncated_at_random_offsets_opens_to_a_consistent_prefix() {
    // A store whose recent writes are still in the WAL: the binary killed with -9.
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let fake = fake_twitch().await;
    let mut child = daemon_command(&fake, &url).env("CHATSEAL__STORE__FLUSH_INTERVAL", "50ms").spawn().unwrap();
    assert!(fake.wait_joined("alpha", Duration::from_secs(30)).await);
    let mut sent = BTreeMap::new();
    let mut epochs = BTreeSet::new();
    for n in 0..400 {
        let login = format!("w{n}");
        let ts = now_ms();
        epochs.insert((ts / 1000).div_euclid(3600) * 3600);
        fake.send_raw(
            "alpha",
            &privmsg("alpha", &Chatter::new(&login, "1", &login), &format!("wal-{n}"), ts, "hi", None),
        );
        sent.insert(login, 1);
        if n % 40 == 0 {
            tokio::time::sleep(Duration::from_millis(60)).await;
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    child.kill().unwrap();
    let _ = child.wait();
    let db = std::fs::read(db_path(dir.path())).unwrap();
    let wal = std::fs::read(dir.path().join("chatseal.db-wal")).expect("a WAL left by the kill");
    assert!(wal.len() > 32, "the WAL holds frames");
    let seed = now_ms() as u64 | 1;
    eprintln!("WAL truncation: seed {seed}, WAL of {} bytes", wal.len());
    let mut x = seed;
    let mut previous: Option<usize> = None;
    let mut offsets: Vec<usize> = (0..8)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % wal.len() as u64) as usize
        })
        .collect();
    offsets.sort_unstable();
    for cut in offsets {
        let copy = tempfile::tempdir().unwrap();
        std::fs::write(db_path(copy.path()), &db).unwrap();
        std::fs::write(copy.path().join("chatseal.db-wal"), &wal[..cut]).unwrap();
        let url = sqlite_url(copy.path());
        let store = check_store(&url, "alpha").await;
        let counted = check_counts(&store, "alpha", &epochs, &sent).await.len();
        // A longer WAL prefix never holds fewer committed lines.
        assert!(previous.is_none_or(|p| counted >= p), "cut at {cut}: {counted} < {previous:?}");
        previous = Some(counted);
    }
}
