//! `chatseal doctor` through the real binary, on stores laid out hour by hour (1 h epochs,
//! 2 min grace) with the store API and sealed by the sealer's own code: a healthy store with a
//! fresh backup exits 0 and leaves the directory as it was; an unsealed past epoch, coverage
//! gaps and a missing backup are reported (exit 1); a damaged newest backup fails; a flipped
//! byte in a sealed row exits 1 naming the epoch with the file byte-identical; PostgreSQL is
//! checked read-only; an unreachable store exits 69 and a bad configuration 78.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use chatseal_actors::backup::manifest::{DATA_DIR, SQLITE_FILE};
use chatseal_actors::clock::epoch::last_closed_epoch;
use chatseal_actors::sealer::run::seal_channel_epoch;
use chatseal_schema::{CoverageSpan, Store};
use serde_json::Value;

use crate::harness::{now_ms, sealed_amount_offset, sqlite_url};

const LEN: i64 = 3600;
const GRACE_MS: i64 = 120_000;

/// Runs the real binary with only these settings: (exit code, stdout, stderr).
fn chatseal(args: &[&str], store_url: &str, backup_dir: &Path, extra: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_chatseal"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CHATSEAL__STORE__URL", store_url)
        .env("CHATSEAL__BACKUP__DIR", backup_dir)
        .env("CHATSEAL__TWITCH__CHANNELS", "alpha")
        .env("CHATSEAL__EPOCH__LENGTH", "1h")
        .env("CHATSEAL__EPOCH__GRACE", "2m")
        .envs(extra.iter().copied())
        .output()
        .expect("run chatseal");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `chatseal doctor --json`: (exit code, the report, the text report of a second run).
fn doctor(store_url: &str, backup_dir: &Path) -> (i32, Value, String) {
    let (code, out, err) = chatseal(&["doctor", "--json"], store_url, backup_dir, &[]);
    let report: Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("doctor --json printed no JSON ({e}): {out}{err}"));
    assert_eq!(report["exit"], code, "{report}");
    let (text_code, text, _) = chatseal(&["doctor"], store_url, backup_dir, &[]);
    assert_eq!(text_code, code, "text and JSON runs agree: {text}");
    (code, report, text)
}

/// The check named `name` of a JSON report.
fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no check {name}: {report}"))
}

fn status<'a>(report: &'a Value, name: &str) -> &'a str {
    check(report, name)["status"].as_str().unwrap_or("")
}

fn closed_now() -> i64 {
    last_closed_epoch(now_ms(), LEN, GRACE_MS)
}

/// Three chatters of #alpha in `epoch`.
async fn chat(store: &Store, epoch: i64) {
    crate::harness::write_chatters(store, epoch, "alpha", 3).await;
}

/// #alpha joined during `[from_s, until_s)`.
async fn joined(store: &Store, from_s: i64, until_s: i64) {
    let tx = store.begin_flush().await.unwrap();
    tx.upsert_coverage(&[CoverageSpan {
        channel: "alpha".into(),
        started_ms: from_s * 1000,
        until_ms: until_s * 1000,
    }])
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

/// Seals #alpha in `epoch` as the sealer does.
async fn seal(store: &Store, epoch: i64) {
    let cfg = chatseal::daemon::wiring::seal_config(&chatseal::settings::Settings::default());
    seal_channel_epoch(store, &cfg, epoch, LEN, "alpha", now_ms() / 1000).await.unwrap();
}

/// A store as a daemon leaves it: the five newest closed epochs chatted in, fully covered,
/// sealed, the cursor past the newest. Returns that newest closed epoch.
async fn healthy(url: &str) -> i64 {
    let store = Store::open(url).await.unwrap();
    let closed = closed_now();
    let first = closed - 4 * LEN;
    joined(&store, first, closed + LEN).await;
    for e in (first..=closed).step_by(LEN as usize) {
        chat(&store, e).await;
        seal(&store, e).await;
    }
    store.set_meta("sealer.next_epoch", &(closed + LEN).to_string()).await.unwrap();
    store.close().await.unwrap();
    closed
}

fn listing(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_store_with_a_fresh_backup_exits_0_and_is_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let (url, backups) = (sqlite_url(dir.path()), dir.path().join("backups"));
    let closed = healthy(&url).await;
    let (code, out, err) = chatseal(&["backup", "now"], &url, &backups, &[]);
    assert_eq!(code, 0, "{out}{err}");
    let before = listing(dir.path());
    let (code, report, text) = doctor(&url, &backups);
    assert_eq!(code, 0, "{text}");
    for name in ["store.open", "store.quick_check", "store.digests", "store.durability", "sealing.backlog", "backups"] {
        assert_eq!(status(&report, name), "ok", "{name}: {text}");
    }
    assert_eq!(check(&report, "store.digests")["value"]["seals"], 5, "{report}");
    if closed_now() == closed {
        // (An hour boundary passing during the test would make the new hour a gap, rightly.)
        assert_eq!(status(&report, "coverage"), "ok", "{text}");
        assert_eq!(status(&report, "sealing.cursor"), "ok", "{text}");
        assert!(text.contains("result: all checks passed (exit 0)"), "{text}");
    }
    assert_eq!(listing(dir.path()), before, "doctor created, changed or removed no file beside the store");

    // The newest backup loses bytes: the quick verify fails it.
    let id = check(&report, "backups")["value"]["newest"].as_str().unwrap().to_string();
    let file = backups.join(&id).join(DATA_DIR).join(SQLITE_FILE);
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    let (code, report, text) = doctor(&url, &backups);
    assert_eq!(code, 1, "{text}");
    assert_eq!(status(&report, "backups"), "fail", "{text}");
    assert!(
        text.contains(&format!("newest backup {id}")) && text.contains("does not verify") && text.contains("bytes"),
        "{text}"
    );
    assert!(text.contains(&format!("chatseal backup verify {id}")), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsealed_past_epoch_coverage_gaps_and_no_backup_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (url, backups) = (sqlite_url(dir.path()), dir.path().join("backups"));
    let closed = closed_now();
    let (e0, e1, e2, e3, e4) = (closed - 4 * LEN, closed - 3 * LEN, closed - 2 * LEN, closed - LEN, closed);
    {
        let store = Store::open(&url).await.unwrap();
        // Joined all of e0 and half of e1; again from e2 through e3. Nothing in e4.
        joined(&store, e0, e1 + LEN / 2).await;
        joined(&store, e2, e3 + LEN).await;
        for e in [e0, e1, e2, e3] {
            chat(&store, e).await;
        }
        for e in [e0, e1, e2] {
            seal(&store, e).await;
        }
        // The sealer stopped before e3: it has participants and coverage, and no seal.
        store.set_meta("sealer.next_epoch", &e3.to_string()).await.unwrap();
        store.close().await.unwrap();
    }
    let (code, report, text) = doctor(&url, &backups);
    assert_eq!(code, 1, "{text}");
    assert_eq!(status(&report, "sealing.backlog"), "fail", "{text}");
    assert_eq!(
        check(&report, "sealing.backlog")["value"]["unsealed"],
        serde_json::json!([{"epoch": e3, "channel": "alpha"}]),
        "{report}"
    );
    assert!(
        text.contains(&format!("epoch {e3} #alpha")) && text.contains(&format!("chatseal seal --epoch {e3}")),
        "{text}"
    );
    assert_eq!(status(&report, "sealing.cursor"), "warn", "{text}");

    assert_eq!(status(&report, "coverage"), "warn", "{text}");
    let gaps = check(&report, "coverage")["value"]["gaps"].as_array().unwrap().clone();
    let half = gaps.iter().find(|g| g["epoch"] == e1).unwrap_or_else(|| panic!("e1 is a gap: {gaps:?}"));
    assert_eq!((half["coverage"].as_f64(), half["sealed"].as_bool()), (Some(0.5), Some(true)), "{half}");
    let absent = gaps.iter().find(|g| g["epoch"] == e4).unwrap_or_else(|| panic!("e4 is a gap: {gaps:?}"));
    assert_eq!((absent["coverage"].as_f64(), absent["sealed"].as_bool()), (Some(0.0), Some(false)), "{absent}");
    assert!(
        gaps.iter().all(|g| g["epoch"] != e0 && g["epoch"] != e2 && g["epoch"] != e3),
        "fully covered epochs and the backlog are no gaps: {gaps:?}"
    );
    assert!(
        text.contains(&format!("epoch {e1} #alpha 0.50")) && text.contains(&format!("epoch {e4} #alpha no seal")),
        "{text}"
    );

    assert_eq!(status(&report, "backups"), "fail", "{text}");
    assert!(
        text.contains(&format!("no backup in {}", backups.display())) && text.contains("chatseal backup now"),
        "{text}"
    );
    for name in ["store.open", "store.quick_check", "store.digests", "store.durability"] {
        assert_eq!(status(&report, name), "ok", "{name}: {text}");
    }

    // --epochs 1 looks at the newest closed epoch only: e1's gap is out of the window.
    let (_, out, _) = chatseal(&["doctor", "--json", "--epochs", "1"], &url, &backups, &[]);
    let narrow: Value = serde_json::from_str(&out).unwrap();
    let gaps = check(&narrow, "coverage")["value"]["gaps"].as_array().unwrap().clone();
    assert!(gaps.iter().all(|g| g["epoch"].as_i64() >= Some(e4)), "{gaps:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flipped_byte_in_a_sealed_row_fails_naming_the_epoch_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (url, backups) = (sqlite_url(dir.path()), dir.path().join("backups"));
    let closed = healthy(&url).await;
    let (code, out, err) = chatseal(&["backup", "now"], &url, &backups, &[]);
    assert_eq!(code, 0, "{out}{err}");
    let damaged = closed - 2 * LEN;
    let row = {
        let store = Store::open(&url).await.unwrap();
        let rows = store.sealed_participants(damaged, "alpha").await.unwrap();
        store.checkpoint().await.unwrap();
        store.close().await.unwrap();
        rows[1].clone()
    };
    let path = dir.path().join("chatseal.db");
    let mut bytes = std::fs::read(&path).unwrap();
    // A digit of the row's amount: the text stays valid, only its digest can tell.
    let at = sealed_amount_offset(&bytes, damaged, &row);
    bytes[at] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let before = listing(dir.path());

    let (code, report, text) = doctor(&url, &backups);
    assert_eq!(code, 1, "{text}");
    assert_eq!(status(&report, "store.digests"), "fail", "{text}");
    assert_eq!(
        check(&report, "store.digests")["value"]["bad"],
        serde_json::json!([{"epoch": damaged, "channel": "alpha"}]),
        "{report}"
    );
    assert!(text.contains(&format!("1 of 5 seals do not match their digest: epoch {damaged} #alpha")), "{text}");
    assert!(text.contains("chatseal restore"), "{text}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "the damaged file is byte-identical");
    assert_eq!(listing(dir.path()), before, "no side file appeared");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_is_checked_read_only() {
    let Some((url, _db)) = chatseal_schema::testing::fresh_pg_url().await else { return };
    let backups = tempfile::tempdir().unwrap();
    let closed = healthy(&url).await;
    let (code, out, err) = chatseal(&["backup", "now"], &url, backups.path(), &[]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, report, text) = doctor(&url, backups.path());
    assert_eq!(code, 0, "{text}");
    assert_eq!(report["backend"], "postgres", "{report}");
    assert!(check(&report, "store.open")["summary"].as_str().unwrap().contains("PostgreSQL"), "{text}");
    assert!(text.contains("not applicable: PostgreSQL checks its own pages"), "{text}");
    assert_ne!(status(&report, "store.durability"), "fail", "{text}");
    assert!(check(&report, "store.durability")["summary"].as_str().unwrap().contains("full_page_writes"), "{text}");
    for name in ["store.digests", "sealing.backlog", "backups"] {
        assert_eq!(status(&report, name), "ok", "{name}: {text}");
    }

    // Chat in an older epoch left unsealed: reported, and doctor wrote nothing.
    let store = Store::open(&url).await.unwrap();
    let old = closed - 10 * LEN;
    chat(&store, old).await;
    let counts = store.row_counts().await.unwrap();
    let meta = store.get_meta("sealer.next_epoch").await.unwrap();
    let (code, report, text) = doctor(&url, backups.path());
    assert_eq!(code, 1, "{text}");
    assert_eq!(
        check(&report, "sealing.backlog")["value"]["unsealed"],
        serde_json::json!([{"epoch": old, "channel": "alpha"}]),
        "{report}"
    );
    assert_eq!(store.row_counts().await.unwrap(), counts, "doctor wrote nothing");
    assert_eq!(store.get_meta("sealer.next_epoch").await.unwrap(), meta);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_stores_exit_69_and_bad_config_78() {
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().join("backups");
    let missing = sqlite_url(dir.path());
    let (code, out, err) = chatseal(&["doctor"], &missing, &backups, &[]);
    assert_eq!(code, 69, "{out}{err}");
    assert!(out.contains("FAIL store.open") && out.contains("no such file"), "{out}");
    assert!(out.contains("FAIL backups"), "the other checks are still made: {out}");
    assert!(!dir.path().join("chatseal.db").exists(), "doctor does not create a store");

    let (code, out, err) =
        chatseal(&["doctor", "--json"], "postgres://root@127.0.0.1:1/chatseal_doctor_nowhere", &backups, &[]);
    assert_eq!(code, 69, "{out}{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((report["unreachable"].as_bool(), report["exit"].as_i64()), (Some(true), Some(69)), "{report}");

    let (code, _, err) = chatseal(&["doctor"], &missing, &backups, &[("CHATSEAL__EPOCH__LENGTH", "banana")]);
    assert_eq!(code, 78, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beside_a_running_daemon_it_reads_through_the_wal() {
    use crate::harness::{fake_twitch, get_json, settings_for, wait_for, Daemon};
    use chatseal::twitchsim::lines::{privmsg, Chatter};
    let dir = tempfile::tempdir().unwrap();
    let (url, backups) = (sqlite_url(dir.path()), dir.path().join("backups"));
    let fake = fake_twitch().await;
    let short = [("CHATSEAL__EPOCH__LENGTH", "2s"), ("CHATSEAL__EPOCH__GRACE", "1s")];
    let d = Daemon::start(settings_for(&fake, &url, &["alpha"], &short)).await;
    assert!(fake.wait_joined("alpha", std::time::Duration::from_secs(20)).await);
    let e = (now_ms() / 1000).div_euclid(2) * 2 + 2;
    for u in 0..4 {
        let login = format!("p{u}");
        fake.send_raw(
            "alpha",
            &privmsg("alpha", &Chatter::new(&login, "1", &login), &format!("d-{u}"), e * 1000 + u, "hi", None),
        );
    }
    wait_for("the epoch sealed", std::time::Duration::from_secs(30), || async {
        let (code, _) = get_json(&format!("{}/v1/epochs/{e}/alpha", d.base)).await;
        (code == 200).then_some(())
    })
    .await;
    assert!(dir.path().join("chatseal.db-wal").exists(), "a running daemon keeps its WAL");
    let (_, out, err) = chatseal(&["doctor", "--json"], &url, &backups, &short);
    let report: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    for name in ["store.open", "store.quick_check", "store.digests", "store.durability"] {
        assert_eq!(status(&report, name), "ok", "{name}: {report}");
    }
    assert!(
        check(&report, "store.digests")["value"]["seals"].as_i64() >= Some(1),
        "the seal in the WAL is seen: {report}"
    );
    assert_ne!(status(&report, "sealing.backlog"), "fail", "a running daemon keeps up: {report}");
    d.stop().await.expect("graceful stop");
}
