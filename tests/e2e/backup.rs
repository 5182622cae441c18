//! Backups end to end: a backup taken while lines flow restores to exactly what its manifest
//! says (row counts, every sealed root); `backup list/verify` and `restore` through the real
//! binary, refusing a damaged backup and an existing store without --force; a damaged store
//! refused with on_corruption = "refuse", and quarantined, restored and topped up from the
//! damaged file with "restore"; an abort at the `backup.rename` failpoint. PostgreSQL: `backup_pg`.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chatseal::twitchsim::lines::{privmsg, Chatter};
use chatseal::twitchsim::FakeTwitch;
use chatseal_actors::backup::manifest::{DATA_DIR, SQLITE_FILE};
use chatseal_schema::Store;
use serde_json::Value;

use crate::harness::*;
use crate::invariants::check_store;

const LEN: i64 = 2;
const TOKEN: &str = "backup-tok-93ad";

fn short(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut v = vec![
        ("CHATSEAL__EPOCH__LENGTH", "2s"),
        ("CHATSEAL__EPOCH__GRACE", "1s"),
        ("CHATSEAL__HTTP__ADMIN_TOKEN", TOKEN),
    ];
    v.extend_from_slice(extra);
    v
}

/// Runs the real binary with only these settings in its environment: (exit code, stdout, stderr).
fn cli(args: &[&str], store_url: &str, backup_dir: &Path) -> (i32, String, String) {
    cli_env(args, store_url, backup_dir, &[])
}

pub fn cli_env(args: &[&str], store_url: &str, backup_dir: &Path, extra: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_chatseal"))
        .args(args)
        .env_clear()
        .envs(extra.iter().copied())
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CHATSEAL__STORE__URL", store_url)
        .env("CHATSEAL__BACKUP__DIR", backup_dir)
        .env("CHATSEAL__TWITCH__CHANNELS", "alpha")
        // Nothing listens on port 1: `restore` onto store.url sees no running daemon.
        .env("CHATSEAL__HTTP__LISTEN", "127.0.0.1:1")
        .output()
        .expect("run chatseal");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn send(fake: &FakeTwitch, login: &str, id: &str, ts_ms: i64) {
    fake.send_raw("alpha", &privmsg("alpha", &Chatter::new(login, "7", login), id, ts_ms, "hi", None));
}

fn next_epoch() -> i64 {
    (now_ms() / 1000).div_euclid(LEN) * LEN + LEN
}

async fn wait_sealed(base: &str, epoch: i64) -> Value {
    wait_for("the epoch sealed", Duration::from_secs(30), || async {
        let (code, body) = get_json(&format!("{base}/v1/epochs/{epoch}/alpha")).await;
        (code == 200).then_some(body)
    })
    .await
}

async fn post_backup(base: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{base}/v1/admin/backup"))
        .header("authorization", format!("Bearer {TOKEN}"))
        .send()
        .await
        .expect("POST backup");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_under_write_load_restores_to_its_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let fake = fake_twitch().await;
    let d = Daemon::start(settings_for(&fake, &url, &["alpha"], &short(&[]))).await;
    assert!(fake.wait_joined("alpha", Duration::from_secs(20)).await);
    // Lines keep flowing, spread over the epochs, while the backup is taken.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (fake, stop) = (fake.clone(), stop.clone());
        tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                send(&fake, &format!("w{}", n % 40), &format!("load-{n}"), now_ms());
                n += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            n
        })
    };
    let first = wait_sealed(&d.base, next_epoch()).await;
    assert!(first["participants"].as_i64().unwrap_or(0) > 0, "{first}");
    let (status, manifest) = post_backup(&d.base).await;
    assert_eq!(status, 200, "{manifest}");
    let newest_in_backup = manifest["newest_sealed_epoch"].as_i64().expect("a sealed epoch in the backup");
    // The store moves on after the backup: one more epoch sealed.
    wait_sealed(&d.base, newest_in_backup + 2 * LEN).await;
    stop.store(true, Ordering::Relaxed);
    let lines = writer.await.unwrap();
    let (_, status) = get_json(&format!("{}/v1/status", d.base)).await;
    assert_eq!(status["last_backup"]["id"], manifest["id"], "{status}");
    assert_eq!(status["backup_failures"], 0, "{status}");
    d.stop().await.expect("graceful stop");
    assert!(lines > 100, "only {lines} lines were sent");

    let id = manifest["id"].as_str().unwrap().to_string();
    let backup_dir = backup_dir_for(&url);
    let target_dir = tempfile::tempdir().unwrap();
    let target = sqlite_url(target_dir.path());
    let (code, out, err) = cli(&["restore", "--from", &id, "--to", &target], &url, &backup_dir);
    assert_eq!(code, 0, "{out}{err}");
    let restored = check_store(&target, "alpha").await;
    let counts = restored.row_counts().await.unwrap();
    for (table, n) in manifest["row_counts"].as_object().unwrap() {
        // `restore` writes one audit entry saying what it restored.
        let want = n.as_i64().unwrap() + i64::from(table == "audit_log");
        assert_eq!(counts[table], want, "{table}: restored {counts:?}, manifest {}", manifest["row_counts"]);
    }
    let source = Store::open(&url).await.unwrap();
    let seals = restored.sealed_epochs(None, 100_000).await.unwrap();
    assert_eq!(seals.len() as i64, manifest["sealed_epochs"].as_i64().unwrap());
    assert!(
        (source.sealed_epochs(None, 100_000).await.unwrap().len()) > seals.len(),
        "the source sealed more after the backup"
    );
    for s in &seals {
        let there = source.sealed_epoch(s.epoch, &s.channel).await.unwrap().expect("the source has the seal");
        assert_eq!(
            (&there.root, &there.claim_root, &there.digest, there.participants),
            (&s.root, &s.claim_root, &s.digest, s.participants),
            "epoch {}",
            s.epoch
        );
    }
    assert_eq!(restored.last_sealed_epoch().await.unwrap(), Some(newest_in_backup));
    let audit = restored.audit_log(1).await.unwrap();
    assert_eq!((audit[0].action.as_str(), audit[0].subject.as_str()), ("restore", id.as_str()));
}

/// A stopped daemon's store with epoch `e` sealed (participants p0..p{n-1}).
async fn sealed_store(fake: &FakeTwitch, url: &str, n: usize) -> i64 {
    let d = Daemon::start(settings_for(fake, url, &["alpha"], &short(&[]))).await;
    assert!(fake.wait_joined("alpha", Duration::from_secs(20)).await);
    let e = next_epoch();
    for u in 0..n {
        send(fake, &format!("p{u}"), &format!("p-{u}"), e * 1000 + u as i64);
    }
    wait_sealed(&d.base, e).await;
    d.stop().await.expect("graceful stop");
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_lists_verifies_and_refuses_damaged_backups_and_live_stores() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let backups = dir.path().join("backups");
    let fake = fake_twitch().await;
    sealed_store(&fake, &url, 4).await;
    let (code, out, err) = cli(&["backup", "now"], &url, &backups);
    assert_eq!(code, 0, "{out}{err}");
    let id = out.split_whitespace().nth(1).expect("backup <id> taken").to_string();
    let (code, out, _) = cli(&["backup", "list"], &url, &backups);
    assert_eq!(code, 0);
    assert!(out.lines().any(|l| l.starts_with(&id) && l.contains("yes")), "{out}");
    let (code, out, err) = cli(&["backup", "verify"], &url, &backups);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("ok   {id}")), "{out}");

    // Restoring over the live store: refused without --force; with it the old files are kept.
    let live_before = std::fs::read(dir.path().join("chatseal.db")).unwrap();
    let (code, out, err) = cli(&["restore", "--from", &id], &url, &backups);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(std::fs::read(dir.path().join("chatseal.db")).unwrap(), live_before, "refused means untouched");
    let (code, out, err) = cli(&["restore", "--from", &id, "--force"], &url, &backups);
    assert_eq!(code, 0, "{out}{err}");
    let aside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("chatseal.db.replaced-"))
        .collect();
    assert_eq!(aside.len(), 1, "the replaced store is moved aside: {out}");
    assert_eq!(std::fs::read(aside[0].path()).unwrap(), live_before, "moved aside byte for byte");
    check_store(&url, "alpha").await;

    // One flipped byte in the backup: verify says BAD (exit 1), restore refuses.
    let file = backups.join(&id).join(DATA_DIR).join(SQLITE_FILE);
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(&file, &bytes).unwrap();
    let (code, out, _) = cli(&["backup", "verify", &id], &url, &backups);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("BAD") && out.contains("sha256"), "{out}");
    let fresh = tempfile::tempdir().unwrap();
    let (code, _, err) = cli(&["restore", "--from", &id, "--to", &sqlite_url(fresh.path())], &url, &backups);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("refusing") && err.contains("damaged"), "{err}");
    assert!(!fresh.path().join("chatseal.db").exists(), "nothing restored from a damaged backup");
}

/// Flips one byte inside a sealed row of `epoch` (a digit of its amount) in the (checkpointed)
/// file; returns the bytes.
async fn flip_sealed_row(url: &str, db: &Path, epoch: i64) -> Vec<u8> {
    let row = {
        let store = Store::open(url).await.unwrap();
        let rows = store.sealed_participants(epoch, "alpha").await.unwrap();
        store.checkpoint().await.unwrap();
        store.close().await.unwrap();
        rows[1].clone()
    };
    let mut bytes = std::fs::read(db).unwrap();
    let at = sealed_amount_offset(&bytes, epoch, &row);
    bytes[at] ^= 0x01;
    std::fs::write(db, &bytes).unwrap();
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_store_is_refused_or_quarantined_restored_and_topped_up() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let db = dir.path().join("chatseal.db");
    let fake = fake_twitch().await;
    let e0 = sealed_store(&fake, &url, 4).await;
    let (code, out, err) = cli(&["backup", "now"], &url, &backup_dir_for(&url));
    assert_eq!(code, 0, "{out}{err}");
    let backup_id = out.split_whitespace().nth(1).unwrap().to_string();
    // After the backup: epoch e1 sealed, and lines of an epoch still open (2 min ahead).
    let d = Daemon::start(settings_for(&fake, &url, &["alpha"], &short(&[]))).await;
    assert!(fake.wait_joined("alpha", Duration::from_secs(20)).await);
    let e1 = next_epoch();
    let open = (now_ms() / 1000).div_euclid(LEN) * LEN + 120;
    for u in 0..3 {
        send(&fake, &format!("r{u}"), &format!("r-{u}"), e1 * 1000 + u);
        send(&fake, &format!("q{u}"), &format!("q-{u}"), open * 1000 + u);
    }
    let sealed_e1 = wait_sealed(&d.base, e1).await;
    d.stop().await.expect("graceful stop");
    let damaged = flip_sealed_row(&url, &db, e0).await;

    // on_corruption = "refuse": not started, nothing touched.
    let d =
        Daemon::start(settings_for(&fake, &url, &["alpha"], &short(&[("CHATSEAL__BACKUP__ON_CORRUPTION", "refuse")])))
            .await;
    let err = d.stop().await.expect_err("refused").to_string();
    assert!(err.contains("digest"), "{err}");
    assert_eq!(std::fs::read(&db).unwrap(), damaged);
    assert!(!dir.path().join("quarantine").exists());

    // The default, "restore": quarantined, restored from the backup, the rest merged back.
    let d = Daemon::start(settings_for(&fake, &url, &["alpha"], &short(&[]))).await;
    let status = wait_for("the daemon up after the recovery", Duration::from_secs(30), || async {
        let (code, body) = get_json(&format!("{}/v1/status", d.base)).await;
        (code == 200).then_some(body)
    })
    .await;
    let rec = &status["last_recovery"];
    assert_eq!(
        (rec["outcome"].as_str(), rec["backup_id"].as_str()),
        (Some("restored"), Some(backup_id.as_str())),
        "{status}"
    );
    assert!(rec["damage"].as_str().unwrap_or("").contains("digest"), "{rec}");
    assert!(rec["salvage"]["merged"]["participation"].as_i64().unwrap_or(0) >= 6, "{rec}");
    // The sealer seals e1 again from the merged participation: the same root as before.
    let again = wait_sealed(&d.base, e1).await;
    assert_eq!(
        (&again["root"], &again["claim_root"], &again["participants"]),
        (&sealed_e1["root"], &sealed_e1["claim_root"], &sealed_e1["participants"])
    );
    d.stop().await.expect("graceful stop");
    let quarantined = Path::new(rec["quarantine"].as_str().unwrap()).join("chatseal.db");
    assert_eq!(std::fs::read(&quarantined).unwrap(), damaged, "the damaged file is kept byte for byte");
    let store = check_store(&url, "alpha").await;
    let open_counts = message_counts(&url, open, "alpha").await;
    assert_eq!(
        open_counts.keys().cloned().collect::<Vec<_>>(),
        ["q0", "q1", "q2"],
        "lines after the backup are merged back"
    );
    assert!(open_counts.values().all(|n| *n == 1), "{open_counts:?}");
    assert_eq!(store.audit_log(5).await.unwrap().iter().filter(|a| a.action == "restore").count(), 1);
}

/// Crash point: the process aborts between the copy's fsync and its rename (`backup.rename`).
/// What is left is an incomplete folder, never a backup: listed as incomplete, skipped by
/// verify and by the recovery; the store is intact and the next backup succeeds.
#[cfg(feature = "failpoints")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashpoints_abort_at_backup_rename_leaves_no_backup() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let backups = dir.path().join("backups");
    let fake = fake_twitch().await;
    sealed_store(&fake, &url, 3).await;
    let (code, out, err) =
        cli_env(&["backup", "now"], &url, &backups, &[("FAILPOINTS", "backup.rename=return(abort)")]);
    assert_ne!(code, 0, "the process aborted at the failpoint: {out}{err}");
    assert!(err.contains("failpoint backup.rename"), "{err}");
    let (code, out, _) = cli(&["backup", "list"], &url, &backups);
    assert_eq!(code, 0);
    assert!(out.contains("incomplete"), "{out}");
    let (code, out, err) = cli(&["backup", "verify"], &url, &backups);
    assert_eq!(code, 1, "no complete backup to verify: {out}{err}");
    check_store(&url, "alpha").await;
    let (code, out, err) = cli(&["backup", "now"], &url, &backups);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = cli(&["backup", "verify"], &url, &backups);
    assert_eq!(code, 0, "the incomplete folder is skipped, the new backup verifies: {out}{err}");
    assert!(out.contains("skip") && out.contains("ok "), "{out}");
}
