//! Supervision, on the real binary built with `--features failpoints` (failpoints configured
//! per process through FAILPOINTS): a failure injected into each actor kind is followed by a
//! restart and the daemon goes on recording and sealing; a failure that keeps coming back
//! exhausts the restart intensity and the process exits non-zero (so systemd restarts it).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chatseal::twitchsim::lines::{privmsg, Chatter};
use chatseal::twitchsim::FakeTwitch;

use crate::harness::*;

fn spawn(fake: &FakeTwitch, url: &str, port: u16, failpoints: &str, extra: &[(&str, &str)]) -> Child {
    spawn_logged(fake, url, port, failpoints, extra, None)
}

/// As `spawn`, with the daemon's log (stderr) written to `log` when given.
fn spawn_logged(
    fake: &FakeTwitch,
    url: &str,
    port: u16,
    failpoints: &str,
    extra: &[(&str, &str)],
    log: Option<&std::path::Path>,
) -> Child {
    let mut cmd = daemon_command(fake, url);
    cmd.env("FAILPOINTS", failpoints)
        .env("CHATSEAL__EPOCH__LENGTH", "2s")
        .env("CHATSEAL__EPOCH__GRACE", "1s")
        .env("CHATSEAL__HTTP__LISTEN", format!("127.0.0.1:{port}"))
        .stderr(match log {
            Some(p) => Stdio::from(std::fs::File::create(p).expect("log file")),
            None => Stdio::null(),
        });
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.spawn().expect("spawn chatseal")
}

fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines().find(|l| l.starts_with(series)).and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_actor_kind_is_restarted_and_the_daemon_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let fake = fake_twitch().await;
    let port = free_port();
    let fp = "aggregator.tick=1*return;clock.tick=1*return;sealer.pre_start=1*return;backup.pre_start=1*return;channel.pre_start=1*return";
    let mut child = spawn(&fake, &url, port, fp, &[]);
    let base = format!("http://127.0.0.1:{port}");
    assert!(fake.wait_joined("alpha", Duration::from_secs(30)).await, "channel actor restarted and joined");
    for kind in ["aggregator", "clock", "sealer", "backup", "channel"] {
        let series = format!("chatseal_actor_restarts_total{{actor=\"{kind}\"}}");
        wait_for(&format!("{kind} restarted"), Duration::from_secs(30), || async {
            let text = reqwest::get(format!("{base}/metrics")).await.ok()?.text().await.ok()?;
            (metric(&text, &series)? >= 1.0).then_some(())
        })
        .await;
    }
    // The pipeline still records and seals after the restarts.
    let epoch = (now_ms() / 1000).div_euclid(2) * 2 + 2;
    let who = Chatter::new("survivor", "1", "Survivor");
    fake.send_raw("alpha", &privmsg("alpha", &who, "after-restarts", epoch * 1000 + 10, "hi", None));
    let body = wait_for("a seal after the restarts", Duration::from_secs(30), || async {
        let (code, body) = get_json(&format!("{base}/v1/epochs/{epoch}/alpha")).await;
        (code == 200).then_some(body)
    })
    .await;
    assert_eq!(body["participants"].as_u64(), Some(1), "{body}");
    let (code, _) = get_json(&format!("{base}/healthz")).await;
    assert_eq!(code, 200);
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_that_keeps_coming_back_escalates_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fake_twitch().await;
    let extra = [("CHATSEAL__DAEMON__RESTART_LIMIT", "3"), ("CHATSEAL__DAEMON__RESTART_WINDOW", "60s")];
    let mut child = spawn(&fake, &sqlite_url(dir.path()), free_port(), "aggregator.tick=return", &extra);
    let status = wait_for("the process to give up", Duration::from_secs(60), || {
        let r = child.try_wait().expect("try_wait");
        async move { r }
    })
    .await;
    assert_eq!(status.code(), Some(chatseal::exit::Exit::Internal.code()), "escalation exits 70 instead of spinning");
}

async fn restarts(base: &str, kind: &str) -> Option<f64> {
    let text = reqwest::get(format!("{base}/metrics")).await.ok()?.text().await.ok()?;
    metric(&text, &format!("chatseal_actor_restarts_total{{actor=\"{kind}\"}}"))
}

/// The kinds named by the daemon's "actor restarted" log lines, in the order they were logged.
fn restarted_in_order(log: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter(|l| l.contains("actor restarted"))
        .filter_map(|l| {
            ["clock", "aggregator", "sealer", "backup", "channel"]
                .iter()
                .find(|k| l.contains(&format!("actor=\"{k}\"")) || l.contains(&format!("actor={k}")))
                .map(|k| k.to_string())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_failure_restarts_its_dependants_in_order_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("daemon.log");
    let fake = fake_twitch().await;
    let port = free_port();
    // The clock fails once, after about 3 s of ticks (250 ms each): everything after it in the
    // pipeline (aggregator, sealer, backup) is stopped, drained, and started again in order.
    let mut child =
        spawn_logged(&fake, &sqlite_url(dir.path()), port, "clock.tick=12*off->1*return->off", &[], Some(&log));
    let base = format!("http://127.0.0.1:{port}");
    assert!(fake.wait_joined("alpha", Duration::from_secs(30)).await, "joined");
    let epoch = (now_ms() / 1000).div_euclid(2) * 2 + 4;
    let before = Chatter::new("before", "11", "Before");
    fake.send_raw("alpha", &privmsg("alpha", &before, "before-restart", epoch * 1000 + 10, "hi", None));
    for kind in ["clock", "aggregator", "sealer", "backup"] {
        wait_for(&format!("{kind} restarted"), Duration::from_secs(30), || async {
            (restarts(&base, kind).await? >= 1.0).then_some(())
        })
        .await;
    }
    assert_eq!(restarts(&base, "channel").await, Some(0.0), "channels are not dependants of the clock");
    assert_eq!(restarted_in_order(&log), ["clock", "aggregator", "sealer", "backup"], "restarted in dependency order");
    let after = Chatter::new("after", "12", "After");
    fake.send_raw("alpha", &privmsg("alpha", &after, "after-restart", epoch * 1000 + 20, "hi", None));
    let body = wait_for("the epoch sealed after the restart", Duration::from_secs(30), || async {
        let (code, body) = get_json(&format!("{base}/v1/epochs/{epoch}/alpha")).await;
        (code == 200).then_some(body)
    })
    .await;
    assert_eq!(
        body["participants"].as_u64(),
        Some(2),
        "the lines on both sides of the restart count once each: {body}"
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_failure_restarts_only_that_channel() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fake_twitch().await;
    let port = free_port();
    let mut child = spawn(&fake, &sqlite_url(dir.path()), port, "channel.pre_start=1*return", &[]);
    let base = format!("http://127.0.0.1:{port}");
    assert!(fake.wait_joined("alpha", Duration::from_secs(30)).await, "the channel actor restarted and joined");
    wait_for("channel restarted", Duration::from_secs(30), || async {
        (restarts(&base, "channel").await? >= 1.0).then_some(())
    })
    .await;
    for kind in ["clock", "aggregator", "sealer", "backup"] {
        assert_eq!(restarts(&base, kind).await, Some(0.0), "{kind} is not restarted for a channel (one_for_one)");
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "kill -{sig} {}", child.id());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_exits_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fake_twitch().await;
    let port = free_port();
    // Every flush commit stalls 20 s, so the graceful drain after the first SIGTERM would take
    // at least that long; the second signal must end the process now, with 130.
    let mut child = spawn(
        &fake,
        &sqlite_url(dir.path()),
        port,
        "flush.before_commit=sleep(20000)",
        &[("CHATSEAL__DAEMON__SHUTDOWN_TIMEOUT", "60s")],
    );
    let base = format!("http://127.0.0.1:{port}");
    assert!(fake.wait_joined("alpha", Duration::from_secs(30)).await, "joined");
    let who = Chatter::new("pending", "21", "Pending");
    fake.send_raw("alpha", &privmsg("alpha", &who, "pending-line", now_ms(), "hi", None));
    wait_for("the line received", Duration::from_secs(10), || async {
        let text = reqwest::get(format!("{base}/metrics")).await.ok()?.text().await.ok()?;
        (metric(&text, "chatseal_events_pending")? >= 1.0).then_some(())
    })
    .await;
    signal(&child, "TERM");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "the first signal starts a graceful stop, which waits on the stalled flush"
    );
    signal(&child, "TERM");
    let status = wait_for("the exit after the second signal", Duration::from_secs(15), || {
        let r = child.try_wait().expect("try_wait");
        async move { r }
    })
    .await;
    assert_eq!(status.code(), Some(130), "the second signal exits at once with 130, not after the drain");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_that_keeps_failing_neither_ends_the_process_nor_restarts_the_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fake_twitch().await;
    let port = free_port();
    // #beta's actor fails at every start. The pipeline's budget (3 in 60 s) is smaller than
    // the restarts #beta goes through; #beta's own budget (2 in 60 s) is spent, then it waits
    // its penalty (2 s) between starts.
    let extra = [
        ("CHATSEAL__TWITCH__CHANNELS", "alpha,beta"),
        ("CHATSEAL__DAEMON__RESTART_LIMIT", "3"),
        ("CHATSEAL__DAEMON__RESTART_WINDOW", "60s"),
        ("CHATSEAL__DAEMON__CHANNEL_RESTART_LIMIT", "2"),
        ("CHATSEAL__DAEMON__CHANNEL_RESTART_WINDOW", "60s"),
        ("CHATSEAL__DAEMON__CHANNEL_RESTART_PENALTY", "2s"),
    ];
    let mut child = spawn(&fake, &sqlite_url(dir.path()), port, "channel.pre_start=return(beta)", &extra);
    let base = format!("http://127.0.0.1:{port}");
    assert!(fake.wait_joined("alpha", Duration::from_secs(30)).await, "#alpha joined");
    wait_for("#beta restarted past its budget and the pipeline's", Duration::from_secs(40), || async {
        (restarts(&base, "channel").await? >= 5.0).then_some(())
    })
    .await;
    assert!(child.try_wait().expect("try_wait").is_none(), "the process goes on");
    for kind in ["clock", "aggregator", "sealer", "backup", "channels"] {
        assert_eq!(restarts(&base, kind).await, Some(0.0), "{kind} is not restarted for a failing channel");
    }
    let (code, status) = get_json(&format!("{base}/v1/status")).await;
    assert_eq!(code, 200);
    let beta =
        status["channels"].as_array().unwrap().iter().find(|c| c["channel"] == "beta").cloned().unwrap_or_default();
    assert!(beta["last_error"].as_str().unwrap_or("").contains("keeps failing"), "{status}");
    // #alpha still records and seals.
    let epoch = (now_ms() / 1000).div_euclid(2) * 2 + 2;
    let who = Chatter::new("steady", "31", "Steady");
    fake.send_raw("alpha", &privmsg("alpha", &who, "steady-line", epoch * 1000 + 10, "hi", None));
    let body = wait_for("#alpha sealed", Duration::from_secs(30), || async {
        let (code, body) = get_json(&format!("{base}/v1/epochs/{epoch}/alpha")).await;
        (code == 200).then_some(body)
    })
    .await;
    assert_eq!(body["participants"].as_u64(), Some(1), "{body}");
    assert!(child.try_wait().expect("try_wait").is_none(), "the process goes on");
    let _ = child.kill();
    let _ = child.wait();
}
