//! One epoch length per store, with the real binary on both engines: a store recorded with
//! 10 s epochs (and an unsealed past epoch that is not hour-aligned) is refused by `run` with
//! `epoch.length = "1h"` (exit 78, naming both lengths and the way out) before it connects to
//! Twitch; `doctor` fails `epoch.length` and still lists the unsealed epoch, judged by the
//! store's own length; a store from before the record with such an epoch is refused too; and
//! the recorded length starts as before.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use chatseal_schema::Store;
use serde_json::Value;

use crate::harness::*;

/// 10 s aligned, not hour-aligned, long past.
const EPOCH_10S: i64 = 1_700_000_010;

fn with_length(mut cmd: Command, length: &str, backups: &Path) -> Command {
    cmd.env("CHATSEAL__EPOCH__LENGTH", length)
        .env("CHATSEAL__EPOCH__GRACE", "1s")
        .env("CHATSEAL__BACKUP__DIR", backups)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Waits (at most 30 s) for `cmd` to exit: (code, stdout+stderr).
fn exits(mut cmd: Command) -> (i32, String) {
    let mut child = cmd.spawn().expect("spawn chatseal");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("poll chatseal").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chatseal {:?} was expected to exit within 30 s and did not", cmd.get_args().collect::<Vec<_>>());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("collect output");
    (
        out.status.code().unwrap_or(-1),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
    )
}

/// `daemon_command` turned into `chatseal <args>` (same environment).
fn subcommand(fake: &chatseal::twitchsim::FakeTwitch, url: &str, args: &[&str]) -> Command {
    let base = daemon_command(fake, url);
    let mut cmd = Command::new(base.get_program());
    cmd.env_clear().args(args);
    for (k, v) in base.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    cmd
}

/// Starts the daemon `cmd`, waits until it joins `alpha`, stops it with SIGTERM and checks it
/// exits 0.
async fn start_join_and_stop(fake: &chatseal::twitchsim::FakeTwitch, mut cmd: Command) {
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn");
    assert!(fake.wait_joined("alpha", Duration::from_secs(30)).await, "the daemon joins");
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    let status = wait_for("the daemon to stop", Duration::from_secs(30), || {
        let r = child.try_wait().expect("try_wait");
        async move { r }
    })
    .await;
    assert_eq!(status.code(), Some(0));
}

async fn scenario(url: String, backups: &Path) {
    let fake = fake_twitch().await;
    {
        let store = Store::open(&url).await.expect("open store");
        write_chatters(&store, EPOCH_10S, "alpha", 3).await;
        store.record_epoch_length(10).await.expect("record 10 s");
        store.close().await.unwrap();
    }

    let (code, text) = exits(with_length(daemon_command(&fake, &url), "1h", backups));
    assert_eq!(code, 78, "a changed epoch.length is a configuration error: {text}");
    for part in ["epoch.length = \"1h\"", "\"10s\" long", "new store"] {
        assert!(text.contains(part), "the refusal names {part:?}: {text}");
    }
    assert_eq!(fake.total_connections(), 0, "refused before connecting to Twitch");

    let (code, out) = exits(with_length(subcommand(&fake, &url, &["doctor", "--json"]), "1h", backups));
    let json_start = out.find('{').unwrap_or_else(|| panic!("doctor printed no JSON: {out}"));
    // stdout (the report) comes first, the log lines on stderr after it.
    let report: Value = serde_json::Deserializer::from_str(&out[json_start..])
        .into_iter::<Value>()
        .next()
        .and_then(Result::ok)
        .unwrap_or_else(|| panic!("doctor printed no JSON report: {out}"));
    assert_eq!(code, 1, "{report}");
    let check = |name: &str| {
        report["checks"].as_array().and_then(|c| c.iter().find(|c| c["name"] == name)).cloned().unwrap_or(Value::Null)
    };
    assert_eq!(check("epoch.length")["status"], "fail", "{report}");
    assert_eq!(check("epoch.length")["value"]["recorded"], 10, "{report}");
    let backlog = check("sealing.backlog");
    assert_eq!(backlog["status"], "fail", "the unsealed past epoch is not called sealed: {report}");
    assert!(backlog.to_string().contains(&EPOCH_10S.to_string()), "{backlog}");

    // With the recorded length the daemon starts, joins, and stops cleanly.
    start_join_and_stop(&fake, with_length(daemon_command(&fake, &url), "10s", backups)).await;
    fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_epoch_length_is_refused_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    scenario(sqlite_url(dir.path()), &dir.path().join("backups")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_epoch_length_is_refused_postgres() {
    let Some((url, _db)) = chatseal_schema::testing::fresh_pg_url().await else { return };
    let dir = tempfile::tempdir().unwrap();
    scenario(url, &dir.path().join("backups")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_from_before_the_record_with_epochs_of_another_length_is_refused_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    before_the_record(sqlite_url(dir.path()), dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_from_before_the_record_with_epochs_of_another_length_is_refused_postgres() {
    let Some((url, _db)) = chatseal_schema::testing::fresh_pg_url().await else { return };
    let dir = tempfile::tempdir().unwrap();
    before_the_record(url, dir.path()).await;
}

async fn before_the_record(url: String, dir: &Path) {
    let fake = fake_twitch().await;
    let store = Store::open(&url).await.expect("open store");
    write_chatters(&store, EPOCH_10S, "alpha", 2).await;
    store.close().await.unwrap();
    let (code, text) = exits(with_length(daemon_command(&fake, &url), "1h", &dir.join("backups")));
    assert_eq!(code, 78, "{text}");
    assert!(text.contains(&format!("holds epoch {EPOCH_10S}")), "{text}");
    assert_eq!(fake.total_connections(), 0);
    // Nothing was recorded by the refused start: the store still has no recorded length.
    let store = Store::open(&url).await.expect("open store");
    assert_eq!(store.recorded_epoch_length().await.expect("read meta"), None);
    store.close().await.unwrap();
    fake.shutdown().await;
}

/// The daemon records the length at its first start: a later start with a length the old
/// epochs happen to be multiples of (1 h epochs, then 10 s) is refused all the same, which the
/// alignment check of an unrecorded store alone could not see.
async fn recorded_at_first_start(url: String, backups: &Path) {
    let fake = fake_twitch().await;
    start_join_and_stop(&fake, with_length(daemon_command(&fake, &url), "1h", backups)).await;
    let store = Store::open(&url).await.expect("open store");
    assert_eq!(store.recorded_epoch_length().await.expect("read meta"), Some(3600), "the first start records 1h");
    store.close().await.unwrap();

    let (code, text) = exits(with_length(daemon_command(&fake, &url), "10s", backups));
    assert_eq!(code, 78, "a store recorded with 1h epochs refuses 10s: {text}");
    assert!(text.contains("epoch.length = \"10s\"") && text.contains("\"1h\" long"), "{text}");
    fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_start_records_the_length_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    recorded_at_first_start(sqlite_url(dir.path()), &dir.path().join("backups")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_start_records_the_length_postgres() {
    let Some((url, _db)) = chatseal_schema::testing::fresh_pg_url().await else { return };
    let dir = tempfile::tempdir().unwrap();
    recorded_at_first_start(url, &dir.path().join("backups")).await;
}
