//! SIGTERM while the store hangs (real binary, `--features failpoints`): the flush of a batch
//! holding `hangme`'s event never returns, so the graceful stop runs out of
//! `daemon.shutdown_timeout`; the daemon exits 70 and its message carries the exact number of
//! events not made durable: what was sent minus what the store holds.

use std::process::{Command, Stdio};
use std::time::Duration;

use chatseal::twitchsim::lines::{privmsg, Chatter};

use crate::harness::*;

async fn metric(base: &str, series: &str) -> Option<f64> {
    let text = reqwest::get(format!("{base}/metrics")).await.ok()?.text().await.ok()?;
    text.lines().find(|l| l.starts_with(series)).and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse().ok())
}

/// The number just before " events received were not made durable" in `log`.
fn reported_lost(log: &str) -> Option<u64> {
    let at = log.find(" events received were not made durable")?;
    log[..at].rsplit(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_a_hung_store_reports_the_exact_number_of_events_lost() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let log_path = dir.path().join("daemon.log");
    let fake = fake_twitch().await;
    let port = free_port();
    let mut cmd = daemon_command(&fake, &url);
    cmd.env("FAILPOINTS", "flush.hang_on=return(hangme)")
        .env("CHATSEAL__DAEMON__SHUTDOWN_TIMEOUT", "3s")
        .env("CHATSEAL__HTTP__LISTEN", format!("127.0.0.1:{port}"))
        .stderr(Stdio::from(std::fs::File::create(&log_path).unwrap()));
    let mut child = cmd.spawn().expect("spawn chatseal");
    let base = format!("http://127.0.0.1:{port}");
    assert!(fake.wait_joined("alpha", Duration::from_secs(30)).await, "joined");

    let start_ms = now_ms();
    let line = |login: &str, i: i64| {
        privmsg(
            "alpha",
            &Chatter::new(login, &format!("{}", 7000 + i), login),
            &format!("m-{login}"),
            now_ms(),
            "hi",
            None,
        )
    };
    // Five events made durable while the store answers.
    for i in 0..5 {
        assert_eq!(fake.send_raw("alpha", &line(&format!("early{i}"), i)), 1);
    }
    wait_for("5 events durable", Duration::from_secs(30), || async {
        (metric(&base, "chatseal_events_durable_total").await? >= 5.0).then_some(())
    })
    .await;
    // Then the store hangs on the flush holding hangme's event; four more arrive behind it.
    assert_eq!(fake.send_raw("alpha", &line("hangme", 10)), 1);
    for i in 0..4 {
        assert_eq!(fake.send_raw("alpha", &line(&format!("late{i}"), 20 + i)), 1);
    }
    let sent = 10_u64;
    wait_for("the last 5 events held by the aggregator", Duration::from_secs(30), || async {
        (metric(&base, "chatseal_events_pending").await? >= 5.0).then_some(())
    })
    .await;

    let status = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().expect("send SIGTERM");
    assert!(status.success());
    let exit = wait_for("the daemon to give up its graceful stop", Duration::from_secs(30), || {
        let r = child.try_wait().expect("try_wait");
        async move { r }
    })
    .await;
    assert_eq!(exit.code(), Some(chatseal::exit::Exit::Internal.code()), "a shutdown past its deadline exits 70");

    let log = std::fs::read_to_string(&log_path).unwrap();
    let lost = reported_lost(&log).unwrap_or_else(|| panic!("no count of events not made durable in the log:\n{log}"));
    assert!(!log.contains("may be lost"), "the vague message is gone:\n{log}");
    // What the store holds, read after the process is gone (each user sent one message).
    let mut durable = 0_u64;
    let mut epochs: Vec<i64> = [start_ms, now_ms()].iter().map(|ms| (ms / 1000).div_euclid(3600) * 3600).collect();
    epochs.dedup();
    for epoch in epochs {
        durable += message_counts(&url, epoch, "alpha").await.values().map(|&n| n as u64).sum::<u64>();
    }
    assert_eq!(durable, 5, "the first five are durable, nothing after the hang");
    assert_eq!(lost, sent - durable, "the message's count is what was sent minus what is durable:\n{log}");
    fake.shutdown().await;
}
