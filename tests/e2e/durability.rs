//! The aggregator's promises end to end: a restart and a replay change nothing; a kill -9 of
//! the real binary loses nothing that was flushed and the epoch continues; PostgreSQL stopped
//! crashed (`-m immediate`) and started under load loses nothing (ignored by default: it stops the shared server, so
//! `.ci/run` runs it alone after the suite).

use std::collections::BTreeMap;
use std::process::{Child, Command};
use std::time::Duration;

use chatseal::twitchsim::lines::{privmsg, usernotice, Chatter};
use chatseal::twitchsim::FakeTwitch;
use chatseal_schema::{ParticipantRow, SignalKind, Store};
use sea_orm::{ConnectionTrait, Statement};

use crate::harness::*;

fn epoch_now() -> i64 {
    (now_ms() / 1000).div_euclid(3600) * 3600
}

/// The n-th line of a deterministic stream: 12 users, a sub every 7th, bits every 5th.
fn nth_line(channel: &str, n: u64) -> String {
    let login = format!("user{:02}", n % 12);
    let who = Chatter::new(&login, &format!("{}", 5000 + n % 12), &login.to_uppercase());
    let id = format!("{channel}-line-{n}");
    let ts = now_ms();
    if n % 7 == 3 {
        usernotice(channel, &who, &id, ts, "sub", &[])
    } else {
        privmsg(channel, &who, &id, ts, "hello", n.is_multiple_of(5).then_some(50))
    }
}

fn marker(channel: &str, tag: &str) -> String {
    privmsg(channel, &Chatter::new(&format!("marker{tag}"), "1", "M"), &format!("marker-{tag}"), now_ms(), "!", None)
}

async fn rows(url: &str, epoch: i64, channel: &str) -> BTreeMap<String, ParticipantRow> {
    let store = Store::open(url).await.expect("open store");
    store.participants_for_seal(epoch, channel).await.expect("read").into_iter().map(|r| (r.login.clone(), r)).collect()
}

/// Every participant has its user mapping (the old system lost claimable rows without it).
async fn assert_user_mapping_complete(url: &str) {
    let store = Store::open(url).await.expect("open store");
    let db = store.db();
    let sql = "SELECT COUNT(*) AS n FROM participation p LEFT JOIN users u ON u.user_hash = p.user_hash WHERE u.user_hash IS NULL OR u.login = ''";
    let row =
        db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.expect("query").expect("a row");
    let missing: i64 = row.try_get("", "n").expect("count");
    assert_eq!(missing, 0, "participants without a user mapping");
}

async fn wait_durable(url: &str, epoch: i64, channel: &str, login: &str) {
    let store = Store::open(url).await.expect("open store");
    wait_for(&format!("{login} durable"), Duration::from_secs(30), || async {
        let rows = store.participants_for_seal(epoch, channel).await.ok()?;
        rows.iter().any(|r| r.login == login).then_some(())
    })
    .await;
}

async fn restart_and_replay(url: String) {
    let fake = fake_twitch().await;
    let epoch = epoch_now();
    let s = settings_for(&fake, &url, &["alpha"], &[("CHATSEAL__EPOCH__LENGTH", "1h")]);
    let d = Daemon::start(s.clone()).await;
    assert!(fake.wait_joined("alpha", Duration::from_secs(20)).await);
    let lines: Vec<String> = (0..60).map(|n| nth_line("alpha", n)).collect();
    for l in &lines {
        fake.send_raw("alpha", l);
    }
    fake.send_raw("alpha", &marker("alpha", "a"));
    wait_durable(&url, epoch, "alpha", "markera").await;
    d.stop().await.expect("graceful stop");
    let before = rows(&url, epoch, "alpha").await;
    assert_eq!(
        before.values().map(|r| r.signals[SignalKind::Message]).sum::<i64>(),
        60 - 9 + 1,
        "60 lines (9 of them subs) + marker"
    );

    // Restart on the same store and replay every line: nothing changes.
    let fake2 = fake_twitch().await;
    let d2 = Daemon::start(settings_for(&fake2, &url, &["alpha"], &[("CHATSEAL__EPOCH__LENGTH", "1h")])).await;
    assert!(fake2.wait_joined("alpha", Duration::from_secs(20)).await);
    for l in &lines {
        fake2.send_raw("alpha", l);
    }
    fake2.send_raw("alpha", &marker("alpha", "a"));
    fake2.send_raw("alpha", &marker("alpha", "b"));
    wait_durable(&url, epoch, "alpha", "markerb").await;
    d2.stop().await.expect("graceful stop");
    let mut after = rows(&url, epoch, "alpha").await;
    after.remove("markerb");
    assert_eq!(format!("{before:?}"), format!("{after:?}"), "a replay after a restart changes no row");
    assert_user_mapping_complete(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_and_replay_change_nothing_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    restart_and_replay(sqlite_url(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_and_replay_change_nothing_postgres() {
    let Some((url, _db)) = chatseal_schema::testing::fresh_pg_url().await else { return };
    restart_and_replay(url).await;
}

/// The real binary with its config in the environment.
fn spawn_binary(fake: &FakeTwitch, url: &str, http_port: u16) -> Child {
    daemon_command(fake, url)
        .env("CHATSEAL__HTTP__LISTEN", format!("127.0.0.1:{http_port}"))
        .spawn()
        .expect("spawn chatseal")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_nothing_flushed_and_the_epoch_continues() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let fake = fake_twitch().await;
    let epoch = epoch_now();
    let mut child = spawn_binary(&fake, &url, free_port());
    assert!(fake.wait_joined("alpha", Duration::from_secs(30)).await);
    for n in 0..100 {
        fake.send_raw("alpha", &nth_line("alpha", n));
    }
    fake.send_raw("alpha", &marker("alpha", "k"));
    wait_durable(&url, epoch, "alpha", "markerk").await;
    let flushed = rows(&url, epoch, "alpha").await;
    child.kill().expect("kill -9");
    let _ = child.wait();

    let port = free_port();
    let mut child = spawn_binary(&fake, &url, port);
    assert!(
        fake.wait_for(Duration::from_secs(30), |t| t.total_connections() >= 2 && t.joined_connections("alpha") == 1)
            .await
    );
    // the epoch continues: 50 new lines, and 20 old ones again (they count once)
    for n in 80..150 {
        fake.send_raw("alpha", &nth_line("alpha", n));
    }
    fake.send_raw("alpha", &marker("alpha", "l"));
    wait_durable(&url, epoch, "alpha", "markerl").await;
    let (code, status) = get_json(&format!("http://127.0.0.1:{port}/v1/status")).await;
    assert_eq!(code, 200, "{status}");
    let term = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill -TERM");
    assert!(term.success());
    let exit = child.wait().expect("wait");
    assert_eq!(exit.code(), Some(0), "SIGTERM exits 0");

    let after = rows(&url, epoch, "alpha").await;
    for (login, r) in &flushed {
        let a = &after[login];
        assert!(
            a.signals[SignalKind::Message] >= r.signals[SignalKind::Message] && a.first_seen == r.first_seen,
            "{login}: flushed rows kept"
        );
    }
    let messages: i64 =
        after.values().filter(|r| !r.login.starts_with("marker")).map(|r| r.signals[SignalKind::Message]).sum();
    let subs: i64 = after.values().map(|r| r.signals[SignalKind::Sub]).sum();
    let expected_subs = (0..150u64).filter(|n| n % 7 == 3).count() as i64;
    assert_eq!(subs, expected_subs, "each sub counted once");
    assert_eq!(messages, 150 - expected_subs, "each line counted once across the kill");
    assert_user_mapping_complete(&url).await;
}

fn pg_ctl(action: &str) {
    let version = std::fs::read_dir("/etc/postgresql")
        .ok()
        .and_then(|mut d| d.next())
        .and_then(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .expect("a PostgreSQL cluster in /etc/postgresql");
    let mut cmd = Command::new("pg_ctlcluster");
    cmd.args(["--skip-systemctl-redirect", &version, "main", action]);
    if action == "stop" {
        // immediate: a crash of the server (no checkpoint, no clean shutdown of sessions)
        cmd.args(["-m", "immediate"]);
    }
    let st = cmd.status().expect("pg_ctlcluster");
    assert!(st.success(), "pg_ctlcluster {action}");
}

/// Starts the PostgreSQL server again when dropped, also when the test panics.
struct RestartOnDrop;

impl Drop for RestartOnDrop {
    fn drop(&mut self) {
        pg_ctl("start");
    }
}

/// Stops the shared PostgreSQL server: run alone (`.ci/run` does, with `--ignored`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "stops the shared PostgreSQL server; .ci/run runs it alone after the suite"]
async fn postgres_stopped_and_started_under_load() {
    let (url, _db) = chatseal_schema::testing::fresh_pg_url().await.expect("PostgreSQL for this test");
    let fake = fake_twitch().await;
    let epoch = epoch_now();
    let d = Daemon::start(settings_for(&fake, &url, &["alpha"], &[("CHATSEAL__EPOCH__LENGTH", "1h")])).await;
    assert!(fake.wait_joined("alpha", Duration::from_secs(20)).await);
    let mut sent = 0u64;
    let send_for = |from: u64, count: u64| {
        for n in from..from + count {
            fake.send_raw("alpha", &nth_line("alpha", n));
        }
    };
    send_for(0, 500);
    sent += 500;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let restart = RestartOnDrop;
    pg_ctl("stop");
    for _ in 0..10 {
        send_for(sent, 100);
        sent += 100;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    wait_for("not ready while PostgreSQL is down", Duration::from_secs(30), || async {
        let (ready, _) = get_json(&format!("{}/readyz", d.base)).await;
        (ready == 503).then_some(())
    })
    .await;
    drop(restart);
    send_for(sent, 500);
    sent += 500;
    fake.send_raw("alpha", &marker("alpha", "pg"));
    wait_for("recovery after PostgreSQL restart", Duration::from_secs(60), || async {
        let (_, s) = get_json(&format!("{}/v1/status", d.base)).await;
        (s["store_up"] == true && s["events_pending"].as_u64() == Some(0)).then_some(())
    })
    .await;
    let (_, status) = get_json(&format!("{}/v1/status", d.base)).await;
    let dropped = status["events_dropped"].as_u64().unwrap_or(0);
    d.stop().await.expect("graceful stop");
    let after = rows(&url, epoch, "alpha").await;
    let subs = (0..sent).filter(|n| n % 7 == 3).count() as i64;
    let messages: i64 =
        after.values().filter(|r| !r.login.starts_with("marker")).map(|r| r.signals[SignalKind::Message]).sum();
    let total_subs: i64 = after.values().map(|r| r.signals[SignalKind::Sub]).sum();
    assert_eq!(dropped, 0, "no drops below the in-memory cap");
    assert_eq!(
        (messages, total_subs),
        (sent as i64 - subs, subs),
        "every line before, during and after the outage is durable once"
    );
}
