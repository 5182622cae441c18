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
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chatseal"));
    cmd.arg("run")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("FAILPOINTS", failpoints)
        .env("CHATSEAL__TWITCH__SERVER", fake.addr().ip().to_string())
        .env("CHATSEAL__TWITCH__PORT", fake.addr().port().to_string())
        .env("CHATSEAL__TWITCH__TLS", "false")
        .env("CHATSEAL__TWITCH__CHANNELS", "alpha")
        .env("CHATSEAL__TWITCH__RECONNECT_MIN", "100ms")
        .env("CHATSEAL__TWITCH__RECONNECT_MAX", "1s")
        .env("CHATSEAL__STORE__URL", url)
        .env("CHATSEAL__STORE__FLUSH_INTERVAL", "100ms")
        .env("CHATSEAL__EPOCH__LENGTH", "2s")
        .env("CHATSEAL__EPOCH__GRACE", "1s")
        .env("CHATSEAL__HTTP__LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.spawn().expect("spawn chatseal")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
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
    assert_eq!(status.code(), Some(chatseal::exit::INTERNAL), "escalation exits 70 instead of spinning");
}
