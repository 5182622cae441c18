//! The dynamic channel set end to end: SIGHUP (and SIGUSR1, SIGUSR2) never stop the real
//! binary and SIGQUIT stops it gracefully, as does a SIGTERM during start-up; SIGHUP after an edit of the config file joins the
//! new channel and parts the removed one while every line of the remaining channel counts (a
//! config that no longer loads is ignored); `chatseal channels add/remove` reaches a running
//! daemon within its poll interval on SQLite and PostgreSQL, audited; `POST
//! /v1/admin/channels` (401 without the token, 400 for a bad name, 200 with).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chatseal::twitchsim::lines::{privmsg, Chatter};
use chatseal::twitchsim::FakeTwitch;
use serde_json::{json, Value};

use crate::harness::*;

const TOKEN: &str = "channels-admin-tok";

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "kill -{sig} {}", child.id());
}

/// The exit status once the process ended (panics after `timeout`).
async fn wait_exit(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    wait_for("the process to exit", timeout, || {
        let r = child.try_wait().expect("try_wait");
        async move { r }
    })
    .await
}

fn still_running(child: &mut Child, what: &str) {
    if let Some(status) = child.try_wait().expect("try_wait") {
        panic!("{what}: the daemon exited with {status}");
    }
}

/// Waits until `needle` appears in the log file (the daemon's stderr).
async fn wait_log(log: &Path, needle: &str) {
    wait_for(&format!("{needle:?} in the daemon's log"), Duration::from_secs(20), || async {
        std::fs::read_to_string(log).ok().filter(|t| t.contains(needle)).map(|_| ())
    })
    .await;
}

/// Waits until no live connection of the fake server has joined `channel`.
async fn wait_parted(fake: &FakeTwitch, channel: &str, timeout: Duration) {
    wait_for(&format!("#{channel} parted"), timeout, || async {
        (fake.joined_connections(channel) == 0).then_some(())
    })
    .await;
}

/// Sends one line per login on `channel`, all stamped `ts_ms` (one epoch), ids unique by `tag`.
fn chat(fake: &FakeTwitch, channel: &str, ts_ms: i64, logins: &[String], tag: &str) {
    for (i, login) in logins.iter().enumerate() {
        let who = Chatter::new(login, &format!("{}", 7000 + i), login);
        assert_eq!(
            fake.send_raw(channel, &privmsg(channel, &who, &format!("{tag}-{channel}-{login}"), ts_ms, "hi", None)),
            1,
            "#{channel} is joined by one connection"
        );
    }
}

fn logins(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

/// `chatseal` with these arguments against the store at `url`; (exit code, stdout, stderr).
fn cli(args: &[&str], url: &str) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_chatseal"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CHATSEAL__STORE__URL", url)
        .env("CHATSEAL__TWITCH__CHANNELS", "alpha")
        .output()
        .expect("run chatseal");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_and_the_user_signals_never_stop_the_daemon_and_sigquit_stops_it_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let log = dir.path().join("daemon.log");
    let fake = fake_twitch().await;
    let port = free_port();
    let mut child = daemon_command(&fake, &url)
        .env("CHATSEAL__HTTP__LISTEN", format!("127.0.0.1:{port}"))
        .env("CHATSEAL__BACKUP__DIR", dir.path().join("backups"))
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
        .spawn()
        .expect("spawn chatseal");
    assert!(fake.wait_joined("alpha", Duration::from_secs(30)).await, "joined");
    let ts = now_ms();
    chat(&fake, "alpha", ts, &logins("before", 3), "hup");
    signal(&child, "HUP");
    wait_log(&log, "SIGHUP: reading twitch.channels again").await;
    signal(&child, "USR1");
    wait_log(&log, "status (SIGUSR1)").await;
    signal(&child, "USR2");
    wait_log(&log, "signal received and ignored").await;
    let (code, _) = get_json(&format!("http://127.0.0.1:{port}/healthz")).await;
    assert_eq!(code, 200, "the daemon still answers after SIGHUP, SIGUSR1 and SIGUSR2");
    still_running(&mut child, "after SIGHUP, SIGUSR1 and SIGUSR2");
    assert_eq!(fake.joined_connections("alpha"), 1, "SIGHUP with an unchanged config changes no channel");
    chat(&fake, "alpha", ts, &logins("after", 2), "hup");
    // SIGQUIT: the graceful path of SIGTERM (drain, flush), exit 0, no core dump.
    signal(&child, "QUIT");
    let status = wait_exit(&mut child, Duration::from_secs(30)).await;
    assert_eq!(status.code(), Some(0), "SIGQUIT stops gracefully with 0: {status}");
    let epoch = (ts / 1000).div_euclid(3600) * 3600;
    let counts = message_counts(&url, epoch, "alpha").await;
    assert_eq!(counts.len(), 5, "every line received before SIGQUIT was made durable: {counts:?}");
}

/// SIGTERM while the daemon is still starting (store open, not yet serving) is kept and obeyed
/// once it can stop gracefully: exit 0, never the signal's default action (killed by SIGTERM).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_start_up_stops_it_gracefully() {
    for round in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let url = sqlite_url(dir.path());
        let log = dir.path().join("daemon.log");
        let fake = fake_twitch().await;
        let mut child = daemon_command(&fake, &url)
            .env("CHATSEAL__HTTP__LISTEN", format!("127.0.0.1:{}", free_port()))
            .env("CHATSEAL__BACKUP__DIR", dir.path().join("backups"))
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
            .spawn()
            .expect("spawn chatseal");
        // The first line after the store opened: signals are installed, READY is not sent yet.
        wait_log(&log, "store open").await;
        signal(&child, "TERM");
        let status = wait_exit(&mut child, Duration::from_secs(30)).await;
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert_eq!(status.code(), Some(0), "round {round}: SIGTERM during start-up stops with 0: {status}\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_after_a_config_edit_joins_the_new_channel_and_parts_the_removed_one() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let log = dir.path().join("daemon.log");
    let config = dir.path().join("chatseal.toml");
    std::fs::write(&config, "[twitch]\nchannels = [\"alpha\", \"beta\"]\n").unwrap();
    let fake = fake_twitch().await;
    let mut cmd = daemon_command(&fake, &url);
    cmd.env_remove("CHATSEAL__TWITCH__CHANNELS")
        .arg("--config")
        .arg(&config)
        .env("CHATSEAL__BACKUP__DIR", dir.path().join("backups"))
        .env("CHATSEAL__TWITCH__JOIN_WINDOW", "1s")
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()));
    let mut child = cmd.spawn().expect("spawn chatseal");
    for c in ["alpha", "beta"] {
        assert!(fake.wait_joined(c, Duration::from_secs(30)).await, "#{c} joined");
    }
    let ts = now_ms();
    let mut sent_alpha = Vec::new();
    let batch = logins("a", 20);
    chat(&fake, "alpha", ts, &batch, "one");
    sent_alpha.extend(batch);
    chat(&fake, "beta", ts, &logins("b", 5), "one");

    std::fs::write(&config, "[twitch]\nchannels = [\"alpha\", \"gamma\"]\n").unwrap();
    let asked = Instant::now();
    signal(&child, "HUP");
    // Lines keep coming on the channel that stays while the set changes.
    let mut round = 0;
    while !(fake.joined_connections("gamma") == 1 && fake.joined_connections("beta") == 0) {
        assert!(asked.elapsed() < Duration::from_secs(15), "gamma joined and beta parted within 15 s of SIGHUP");
        let batch = logins(&format!("r{round}x"), 5);
        chat(&fake, "alpha", ts, &batch, "during");
        sent_alpha.extend(batch);
        round += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let parted_at = now_ms();
    still_running(&mut child, "after SIGHUP");
    chat(&fake, "gamma", ts, &logins("g", 4), "new");
    let batch = logins("z", 10);
    chat(&fake, "alpha", ts, &batch, "after");
    sent_alpha.extend(batch);

    // A config that no longer loads: logged, ignored, nothing changes, the daemon goes on.
    std::fs::write(&config, "[twitch]\nchannels = [\"alpha\"\nnot toml").unwrap();
    signal(&child, "HUP");
    wait_log(&log, "the configuration does not load").await;
    still_running(&mut child, "after SIGHUP with a broken config");
    assert_eq!(
        (fake.joined_connections("alpha"), fake.joined_connections("gamma")),
        (1, 1),
        "a broken config changes no channel"
    );

    signal(&child, "TERM");
    let status = wait_exit(&mut child, Duration::from_secs(30)).await;
    assert_eq!(status.code(), Some(0), "{status}");
    let epoch = (ts / 1000).div_euclid(3600) * 3600;
    let alpha = message_counts(&url, epoch, "alpha").await;
    assert_eq!(alpha.len(), sent_alpha.len(), "every line on #alpha counts, across the change");
    assert!(alpha.values().all(|n| *n == 1), "{alpha:?}");
    assert_eq!(message_counts(&url, epoch, "beta").await.len(), 5, "what #beta read before it was parted is durable");
    assert_eq!(message_counts(&url, epoch, "gamma").await.len(), 4);
    let store = chatseal_schema::Store::open(&url).await.unwrap();
    assert_eq!(store.channel_set().await.unwrap(), ["alpha", "gamma"]);
    let audit: Vec<(String, String, String)> =
        store.audit_log(10).await.unwrap().into_iter().map(|r| (r.action, r.subject, r.detail)).collect();
    assert!(audit.contains(&("channel_add".into(), "#gamma".into(), "by=config".into())), "{audit:?}");
    assert!(audit.contains(&("channel_remove".into(), "#beta".into(), "by=config".into())), "{audit:?}");
    // #beta's coverage span was closed by the hand-over, before the part was seen, while
    // #alpha's went on until the stop.
    let spans = store.coverage_spans(Some("beta"), epoch * 1000, now_ms() + 3_600_000).await.unwrap();
    assert!(!spans.is_empty() && spans.iter().all(|s| s.until_ms <= parted_at), "{spans:?} after {parted_at}");
    let alpha_end = store
        .coverage_spans(Some("alpha"), epoch * 1000, now_ms() + 3_600_000)
        .await
        .unwrap()
        .iter()
        .map(|s| s.until_ms)
        .max();
    let beta_end = spans.iter().map(|s| s.until_ms).max();
    assert!(alpha_end > beta_end, "#alpha ({alpha_end:?}) was covered after #beta's end ({beta_end:?})");
}

/// `chatseal channels add/remove` against a running daemon on the store at `url`.
async fn cli_changes_reach_a_running_daemon(url: &str) {
    let fake = fake_twitch().await;
    let daemon = Daemon::start(settings_for(&fake, url, &["alpha"], &[])).await;
    assert!(fake.wait_joined("alpha", Duration::from_secs(30)).await, "joined");
    let ts = now_ms();
    chat(&fake, "alpha", ts, &logins("x", 3), "cli");

    let (code, out, err) = cli(&["channels", "add", "#Beta", "gamma"], url);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("added #beta") && out.contains("added #gamma"), "{out}");
    let added = Instant::now();
    for c in ["beta", "gamma"] {
        assert!(fake.wait_joined(c, Duration::from_secs(10)).await, "#{c} joined after `channels add`");
    }
    // Poll interval (1 s) plus the join pacing of two channels (harness: 1 s window).
    assert!(added.elapsed() < Duration::from_secs(6), "joined within {:?}", added.elapsed());
    let (_, status) = get_json(&format!("{}/v1/status", daemon.base)).await;
    let names: Vec<&str> =
        status["channels"].as_array().unwrap().iter().filter_map(|c| c["channel"].as_str()).collect();
    assert_eq!(names, ["alpha", "beta", "gamma"], "/v1/status follows the set");

    let (code, out, err) = cli(&["channels", "remove", "alpha"], url);
    assert_eq!(code, 0, "{out}{err}");
    wait_parted(&fake, "alpha", Duration::from_secs(6)).await;
    wait_for("/readyz without #alpha", Duration::from_secs(10), || async {
        let (code, body) = get_json(&format!("{}/readyz", daemon.base)).await;
        (code == 200).then_some(body)
    })
    .await;
    let (_, status) = get_json(&format!("{}/v1/status", daemon.base)).await;
    let names: Vec<&str> =
        status["channels"].as_array().unwrap().iter().filter_map(|c| c["channel"].as_str()).collect();
    assert_eq!(names, ["beta", "gamma"], "a removed channel leaves /v1/status");

    let (code, out, _) = cli(&["channels", "list"], url);
    assert_eq!(code, 0);
    assert!(out.contains("#beta\tadded") && out.contains("by cli") && !out.contains("#alpha"), "{out}");
    let (code, _, err) = cli(&["channels", "add", "bad-name"], url);
    assert_eq!(code, chatseal::exit::Exit::Usage.code(), "{err}");
    assert!(err.contains("bad-name"), "{err}");

    daemon.stop().await.expect("clean stop");
    let epoch = (ts / 1000).div_euclid(3600) * 3600;
    assert_eq!(message_counts(url, epoch, "alpha").await.len(), 3, "what #alpha read before its removal is durable");
    let store = chatseal_schema::Store::open(url).await.unwrap();
    let audit: Vec<(String, String, String)> =
        store.audit_log(10).await.unwrap().into_iter().map(|r| (r.action, r.subject, r.detail)).collect();
    for want in [
        ("channel_add", "#beta", "by=cli"),
        ("channel_add", "#gamma", "by=cli"),
        ("channel_remove", "#alpha", "by=cli"),
        ("channel_add", "#alpha", "by=config"),
    ] {
        assert!(audit.contains(&(want.0.into(), want.1.into(), want.2.into())), "{want:?} in {audit:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chatseal_channels_add_and_remove_reach_a_running_daemon_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    cli_changes_reach_a_running_daemon(&sqlite_url(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chatseal_channels_add_and_remove_reach_a_running_daemon_on_postgres() {
    let Some((url, _db)) = chatseal_schema::testing::fresh_pg_url().await else { return };
    cli_changes_reach_a_running_daemon(&url).await;
}

async fn post(url: &str, auth: Option<&str>, body: Value) -> (u16, Value) {
    let mut req = reqwest::Client::new().post(url).json(&body);
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let resp = req.send().await.unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = resp.status().as_u16();
    (status, resp.json::<Value>().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_route_changes_the_set_with_the_token_only() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let fake = fake_twitch().await;
    let daemon = Daemon::start(settings_for(&fake, &url, &["alpha"], &[("CHATSEAL__HTTP__ADMIN_TOKEN", TOKEN)])).await;
    assert!(fake.wait_joined("alpha", Duration::from_secs(30)).await, "joined");
    let route = format!("{}/v1/admin/channels", daemon.base);
    let bearer = format!("Bearer {TOKEN}");

    let (code, body) = post(&route, None, json!({"add": ["beta"]})).await;
    assert_eq!((code, body["error"].as_str()), (401, Some("unauthorized")), "{body}");
    let (code, body) = post(&route, Some("Bearer wrong"), json!({"add": ["beta"]})).await;
    assert_eq!(code, 401, "{body}");
    let (code, body) = post(&route, Some(&bearer), json!({"add": ["beta", "evil\r\nJOIN #x"]})).await;
    assert_eq!((code, body["error"].as_str()), (400, Some("bad_request")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("CR, LF or NUL"), "{body}");
    let store = chatseal_schema::Store::open(&url).await.unwrap();
    assert_eq!(store.channel_set().await.unwrap(), ["alpha"], "refused requests change nothing");

    let (code, body) = post(&route, Some(&bearer), json!({"add": ["Beta"], "remove": ["alpha"]})).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["added"], json!(["beta"]));
    assert_eq!(body["removed"], json!(["alpha"]));
    assert_eq!(body["channels"], json!(["beta"]));
    assert!(fake.wait_joined("beta", Duration::from_secs(10)).await, "#beta joined");
    wait_parted(&fake, "alpha", Duration::from_secs(10)).await;
    let audit: Vec<(String, String, String)> =
        store.audit_log(10).await.unwrap().into_iter().map(|r| (r.action, r.subject, r.detail)).collect();
    assert!(audit.contains(&("channel_add".into(), "#beta".into(), "by=admin".into())), "{audit:?}");
    assert!(audit.contains(&("channel_remove".into(), "#alpha".into(), "by=admin".into())), "{audit:?}");
    daemon.stop().await.expect("clean stop");
}
