//! The in-place conversion to the compact layout through the real binary: `chatseal migrate`
//! opens a store of the old layout (`chatseal_schema::v1_fixture`) as its source, which
//! converts it; the process is killed with SIGKILL after its first batches committed, again
//! after the first batches of the third step (the keyed layout, m20261209_000011) committed,
//! and the same command run again continues the conversion, finishes it and copies the store.
//! Every seal keeps its root and digest (source and copy), and every leaf reads back as before.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chatseal_actors::format::{claim_id, claim_leaf, participation_leaf, to_hex, user_hash};
use chatseal_schema::migration::compact::{KEYED_PROGRESS_KEY, PROGRESS_KEY};
use chatseal_schema::v1_fixture::{create_v1_store, v1_seals, write_v1_seal};
use chatseal_schema::{NewSeal, SealedParticipant, Store};
use sea_orm::{ConnectionTrait, Statement, TransactionTrait};

use super::chatseal;

const SEALS: usize = 24;
const PER_SEAL: usize = 6_000;

fn seal(n: usize) -> NewSeal {
    let channel = ["alpha", "bravo", "charlie"][n % 3];
    let epoch = 1_761_753_600 + (n / 3) as i64 * 3600;
    let participants: Vec<SealedParticipant> = (0..PER_SEAL)
        .map(|i| {
            let login = format!("v{n}_{i}");
            let uh = user_hash(&login);
            SealedParticipant {
                idx: i as i64,
                user_hash: to_hex(&uh),
                leaf: to_hex(&participation_leaf(&uh, channel, epoch as u64)),
                claim_leaf: to_hex(&claim_leaf(i as u32, 8_000_000_000, &claim_id(channel, &login))),
                amount: "8000000000".into(),
                login,
            }
        })
        .collect();
    NewSeal {
        epoch,
        channel: channel.into(),
        root: Some(to_hex(&user_hash("root"))),
        claim_root: Some(to_hex(&user_hash("claim root"))),
        coverage: 1.0,
        sealed_at: epoch + 3720,
        format_version: 1,
        claim_cut: 0,
        participants,
    }
}

/// The progress of a step of the conversion (its meta `key`) as another process sees it
/// (None: not pending, or unreadable).
async fn progress(db: &sea_orm::DatabaseConnection, key: &str) -> Option<String> {
    let sql = format!("SELECT value FROM meta WHERE key = '{key}'");
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.ok()??;
    row.try_get_by_index::<String>(0).ok()
}

/// Runs `chatseal migrate` and kills it with SIGKILL as soon as a batch of the step whose
/// progress is in `key` has committed (bounded wait).
async fn kill_after_a_batch(db: &sea_orm::DatabaseConnection, from: &str, to: &str, key: &str) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_chatseal"))
        .args(["migrate", "--from", from, "--to", to])
        .env_remove("CHATSEAL_CONFIG")
        .env_remove("DATABASE_URL")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn chatseal migrate");
    let deadline = Instant::now() + Duration::from_secs(120);
    let seen = loop {
        match progress(db, key).await {
            Some(p) if !p.is_empty() => break p,
            _ => {}
        }
        assert!(child.try_wait().unwrap().is_none(), "migrate ended before a batch of {key} was seen");
        assert!(Instant::now() < deadline, "no batch of {key} committed within 120 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success(), "killed: {status:?}");
    assert!(progress(db, key).await.is_some(), "killed while {key} was pending (first batch {seen})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversion_killed_mid_way_continues_when_migrate_runs_again() {
    let dir = tempfile::tempdir().unwrap();
    let from = format!("sqlite://{}", dir.path().join("old.db").display());
    let to = format!("sqlite://{}", dir.path().join("copy.db").display());
    let db = create_v1_store(&from).await.unwrap();
    let mut rows = BTreeMap::new();
    for n in 0..SEALS {
        let s = seal(n);
        let txn = db.begin().await.unwrap();
        write_v1_seal(&txn, &s).await.unwrap();
        txn.commit().await.unwrap();
        rows.insert((s.epoch, s.channel.clone()), s.participants);
    }
    let seals = v1_seals(&db).await.unwrap();
    // WAL, as the daemon sets it: this connection reads the progress while the conversion writes.
    db.execute_unprepared("PRAGMA journal_mode=WAL").await.unwrap();

    for key in [PROGRESS_KEY, KEYED_PROGRESS_KEY] {
        kill_after_a_batch(&db, &from, &to, key).await;
    }
    db.close().await.unwrap();

    let (code, out, err) = chatseal(&["migrate", "--from", &from, "--to", &to], &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    for url in [&from, &to] {
        let store = Store::open(url).await.unwrap();
        assert!(store.verify_digests().await.unwrap().is_empty(), "{url}");
        for s in &seals {
            let now = store.sealed_epoch(s.epoch, &s.channel).await.unwrap().unwrap();
            assert_eq!((&now.root, &now.digest, now.participants), (&s.root, &s.digest, s.participants));
            let back = store.sealed_participants(s.epoch, &s.channel).await.unwrap();
            assert!(back == rows[&(s.epoch, s.channel.clone())], "{url}: epoch {} {}", s.epoch, s.channel);
        }
        // Every leaf of these seals is the computed one: the keyed layout stores none.
        let db = store.db();
        let sql = "SELECT COUNT(*) FROM sealed_participants WHERE leaf IS NOT NULL OR claim_leaf IS NOT NULL";
        let stored = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
        assert_eq!(stored.unwrap().try_get_by_index::<i64>(0).unwrap(), 0, "{url}");
        store.close().await.unwrap();
    }
}
