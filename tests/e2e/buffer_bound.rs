//! The buffer of what is not yet durable is bounded in bytes (`store.max_pending_bytes`): with
//! the smallest allowed bound (8 MiB) and a store that is away (the test holds SQLite's write
//! lock, so every flush waits out the busy timeout and fails), a burst far larger than the
//! bound is read, the events past it are dropped and counted in
//! `chatseal_events_dropped_total{reason="buffer_full"}`, and once the store is back every line
//! is either durable or counted as dropped, while the lines made durable before the outage are
//! all still there. Real binary, fake Twitch on loopback.

use std::time::Duration;

use bytes::BytesMut;
use chatseal::twitchsim::lines::{privmsg, Chatter};
use sqlx::Connection;

use crate::harness::*;

/// Lines before the outage (made durable first) and during it.
const BEFORE: u64 = 200;
const DURING: u64 = 120_000;

async fn metric(base: &str, series: &str) -> Option<f64> {
    let text = reqwest::get(format!("{base}/metrics")).await.ok()?.text().await.ok()?;
    text.lines().find(|l| l.starts_with(series)).and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse().ok())
}

fn line(i: u64) -> String {
    let login = format!("viewer{i}");
    let who = Chatter::new(&login, &format!("{}", 100_000 + i), &format!("Viewer{i}"));
    privmsg("alpha", &who, &format!("{:08x}-8b1d-4f7a-9c2e-{:012x}", i, i), now_ms(), "hello chat", None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_byte_bound_with_the_store_away_drops_and_counts_and_keeps_what_was_durable() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let fake = fake_twitch().await;
    let port = free_port();
    let mut cmd = daemon_command(&fake, &url);
    cmd.env("CHATSEAL__STORE__MAX_PENDING_BYTES", (8 << 20).to_string())
        .env("CHATSEAL__HTTP__LISTEN", format!("127.0.0.1:{port}"));
    let mut child = cmd.spawn().expect("spawn chatseal");
    let base = format!("http://127.0.0.1:{port}");
    assert!(fake.wait_joined("alpha", Duration::from_secs(30)).await, "joined");
    let first_ms = now_ms();

    for i in 0..BEFORE {
        assert_eq!(fake.send_raw("alpha", &line(i)), 1);
    }
    wait_for("the first lines durable", Duration::from_secs(30), || async {
        (metric(&base, "chatseal_events_durable_total").await? >= BEFORE as f64).then_some(())
    })
    .await;

    // The store goes away: every flush waits for the write lock, then fails.
    let mut locker = sqlx::SqliteConnection::connect(&url).await.expect("open the store file");
    sqlx::query("BEGIN IMMEDIATE").execute(&mut locker).await.expect("take the write lock");
    let mut chunk = BytesMut::new();
    for i in BEFORE..BEFORE + DURING {
        chunk.extend_from_slice(line(i).as_bytes());
        chunk.extend_from_slice(b"\r\n");
        if chunk.len() > 256 * 1024 {
            assert_eq!(fake.feed("alpha", chunk.split().freeze()).await, 1);
        }
    }
    assert_eq!(fake.feed("alpha", chunk.split().freeze()).await, 1);
    let total = (BEFORE + DURING) as f64;
    wait_for("every line read", Duration::from_secs(120), || async {
        (metric(&base, "chatseal_irc_lines_total{kind=\"participant\"}").await? >= total).then_some(())
    })
    .await;
    wait_for("drops counted as buffer_full", Duration::from_secs(60), || async {
        let d = metric(&base, "chatseal_events_dropped_total{reason=\"buffer_full\"}").await?;
        (d > 0.0).then_some(())
    })
    .await;
    let pending = metric(&base, "chatseal_events_pending").await.unwrap_or(0.0);
    assert!(
        pending < DURING as f64 / 2.0 && pending > 10_000.0,
        "8 MiB holds some tens of thousands of compact events, not the whole burst: {pending} pending"
    );
    assert_eq!(metric(&base, "chatseal_events_dropped_total{reason=\"aggregator_away\"}").await, Some(0.0));

    // The store is back: what was kept becomes durable.
    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
    drop(locker);
    let (durable, dropped) = wait_for("every line durable or dropped", Duration::from_secs(120), || async {
        let durable = metric(&base, "chatseal_events_durable_total").await?;
        let dropped = metric(&base, "chatseal_events_dropped_total{reason=\"buffer_full\"}").await?;
        let pending = metric(&base, "chatseal_events_pending").await?;
        (pending == 0.0 && durable + dropped >= total).then_some((durable, dropped))
    })
    .await;
    assert!(dropped >= 1.0 && durable + dropped == total, "durable {durable} + dropped {dropped} != {total} lines");

    let status = std::process::Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
    assert!(status.success());
    let exit = wait_for("the daemon to stop", Duration::from_secs(60), || {
        let r = child.try_wait().expect("try_wait");
        async move { r }
    })
    .await;
    assert!(exit.success(), "graceful stop: {exit:?}");

    let mut epochs: Vec<i64> = [first_ms, now_ms()].iter().map(|ms| (ms / 1000).div_euclid(3600) * 3600).collect();
    epochs.dedup();
    let mut counts = std::collections::BTreeMap::new();
    for epoch in epochs {
        counts.extend(message_counts(&url, epoch, "alpha").await);
    }
    for i in 0..BEFORE {
        assert_eq!(counts.get(&format!("viewer{i}")), Some(&1), "viewer{i}, durable before the outage, is kept");
    }
    assert_eq!(counts.values().sum::<i64>() as f64, durable, "the store holds exactly the durable lines");
    assert!(dropped > 0.0);
    fake.shutdown().await;
}
