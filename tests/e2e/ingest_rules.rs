//! Lines the daemon must not count, through the fake Twitch server: a Shared Chat copy read
//! BEFORE its original (same message id; a PRIVMSG, then a resub's `sharedchatnotice` with
//! `source-only=1`) counts nobody and does not hide the original; a
//! `tmi-sent-ts` outside the sane window is rejected as `bad_timestamp`, never recorded (no epoch
//! of 1969, no receive-time fallback); and a manual seal of an epoch whose end overflows is a 400.

use std::time::Duration;

use chatseal::twitchsim::lines::{privmsg, room_id, Chatter};
use serde_json::json;

use crate::harness::*;

const TOKEN: &str = "ingest-rules-admin-token-0123456789";

/// The value of one series (exact name with labels) in the daemon's /metrics, if present.
async fn metric(base: &str, series: &str) -> Option<f64> {
    let text = reqwest::get(format!("{base}/metrics")).await.ok()?.text().await.ok()?;
    text.lines().find(|l| l.starts_with(series)).and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse().ok())
}

async fn wait_metric_at_least(base: &str, series: &str, at_least: f64) {
    wait_for(&format!("{series} >= {at_least}"), Duration::from_secs(30), || async {
        (metric(base, series).await.unwrap_or(0.0) >= at_least).then_some(())
    })
    .await;
}

/// A Shared Chat PRIVMSG (message id `id`, written in #origin) as shown in #`channel`.
fn shared_line(channel: &str, id: &str, ts_ms: i64) -> String {
    format!(
        "@badge-info=;badges=;color=#0000FF;display-name=SharedViewer;emotes=;first-msg=0;flags=;\
         id={id};mod=0;returning-chatter=0;room-id={room};source-badge-info=;source-badges=;\
         source-id={id};source-room-id={origin};subscriber=0;tmi-sent-ts={ts_ms};turbo=0;\
         user-id=987123456;user-type= :sharedviewer!sharedviewer@sharedviewer.tmi.twitch.tv \
         PRIVMSG #{channel} :hello both rooms",
        room = room_id(channel),
        origin = room_id("origin"),
    )
}

/// A Shared Chat resub (`msg_id` `resub` in #origin, `sharedchatnotice` in the other room, with
/// `source-msg-id=resub` and `source-only=1`) as shown in #`channel`.
fn shared_resub(channel: &str, id: &str, msg_id: &str, ts_ms: i64) -> String {
    format!(
        "@badge-info=subscriber/7;badges=subscriber/6;color=#FF4500;display-name=Resubber;emotes=;\
         flags=;id={id};login=resubber;mod=0;msg-id={msg_id};msg-param-cumulative-months=7;\
         msg-param-months=0;msg-param-should-share-streak=0;msg-param-sub-plan=1000;room-id={room};\
         source-badge-info=subscriber/7;source-badges=subscriber/6;source-id={id};\
         source-msg-id=resub;source-only=1;source-room-id={origin};subscriber=1;\
         system-msg=Resubber\\ssubscribed\\sat\\sTier\\s1.;tmi-sent-ts={ts_ms};user-id=192837465;\
         user-type=;vip=0 :tmi.twitch.tv USERNOTICE #{channel} :still here",
        room = room_id(channel),
        origin = room_id("origin"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_chat_copy_read_first_counts_nobody_and_the_original_counts() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let fake = fake_twitch().await;
    let daemon = Daemon::start(settings_for(&fake, &url, &["origin", "other"], &[])).await;
    for ch in ["origin", "other"] {
        assert!(fake.wait_joined(ch, Duration::from_secs(30)).await, "#{ch} joined");
    }
    let ts = now_ms();
    let epoch = (ts / 1000).div_euclid(3600) * 3600;
    let id = "3b1c6a86-5ae3-4d7e-9e11-d5a3d1b8a0c2";
    // The copy first, and fully handled (discarded, or, without the rule, durable and its id
    // marked seen) before the original is sent.
    assert_eq!(fake.send_raw("other", &shared_line("other", id, ts)), 1);
    wait_for("the copy handled", Duration::from_secs(30), || async {
        let discarded =
            metric(&daemon.base, "chatseal_events_discarded_total{reason=\"shared_chat_copy\"}").await.unwrap_or(0.0);
        let durable = metric(&daemon.base, "chatseal_events_durable_total").await.unwrap_or(0.0);
        (discarded + durable >= 1.0).then_some(())
    })
    .await;
    assert_eq!(fake.send_raw("origin", &shared_line("origin", id, ts + 1)), 1);
    let marker = Chatter::new("marker", "5001", "Marker");
    assert_eq!(fake.send_raw("origin", &privmsg("origin", &marker, "marker-1", ts + 2, "after", None)), 1);
    wait_metric_at_least(&daemon.base, "chatseal_events_durable_total", 2.0).await;
    assert_eq!(
        metric(&daemon.base, "chatseal_events_discarded_total{reason=\"shared_chat_copy\"}").await,
        Some(1.0),
        "the copy is counted as discarded with its reason"
    );
    // A shared resub: its copy (`sharedchatnotice`, `source-only=1`, same id) first, then the
    // origin room's `resub`.
    let resub_id = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
    assert_eq!(fake.send_raw("other", &shared_resub("other", resub_id, "sharedchatnotice", ts + 3)), 1);
    wait_metric_at_least(&daemon.base, "chatseal_events_discarded_total{reason=\"shared_chat_copy\"}", 2.0).await;
    assert_eq!(fake.send_raw("origin", &shared_resub("origin", resub_id, "resub", ts + 4)), 1);
    wait_metric_at_least(&daemon.base, "chatseal_events_durable_total", 3.0).await;
    daemon.stop().await.expect("graceful stop");

    let origin = message_counts(&url, epoch, "origin").await;
    assert_eq!(origin.get("sharedviewer"), Some(&1), "the original counts in its own room: {origin:?}");
    assert_eq!(origin.get("marker"), Some(&1), "{origin:?}");
    assert_eq!(origin.get("resubber"), Some(&0), "the origin room's resub counts (no message): {origin:?}");
    let other = message_counts(&url, epoch, "other").await;
    assert!(other.is_empty(), "the room showing the copy counts nobody: {other:?}");
    fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insane_timestamps_are_rejected_live_and_an_overflowing_seal_is_a_400() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let fake = fake_twitch().await;
    let extra = [("CHATSEAL__EPOCH__LENGTH", "10s"), ("CHATSEAL__HTTP__ADMIN_TOKEN", TOKEN)];
    let daemon = Daemon::start(settings_for(&fake, &url, &["alpha"], &extra)).await;
    assert!(fake.wait_joined("alpha", Duration::from_secs(30)).await, "joined");

    let timeless = Chatter::new("timeless", "6001", "Timeless");
    let ontime = Chatter::new("ontime", "6002", "OnTime");
    let now = now_ms();
    for (i, ts) in [-5_i64, 99_999_999_999_999].into_iter().enumerate() {
        assert_eq!(fake.send_raw("alpha", &privmsg("alpha", &timeless, &format!("bad-ts-{i}"), ts, "when?", None)), 1);
    }
    assert_eq!(fake.send_raw("alpha", &privmsg("alpha", &ontime, "good-ts", now, "now", None)), 1);
    wait_metric_at_least(&daemon.base, "chatseal_events_durable_total", 1.0).await;
    assert_eq!(
        metric(&daemon.base, "chatseal_irc_lines_rejected_total{reason=\"bad_timestamp\"}").await,
        Some(2.0),
        "both insane timestamps are counted with their reason"
    );

    // 9223372036854775800 is a multiple of 10: only its overflowing end can refuse it.
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/admin/seal", daemon.base))
        .bearer_auth(TOKEN)
        .json(&json!({"epoch": 9_223_372_036_854_775_800_i64}))
        .send()
        .await
        .expect("POST /v1/admin/seal");
    let status = resp.status().as_u16();
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    assert_eq!((status, body["error"].as_str()), (400, Some("bad_request")), "{body}");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("overflow")), "{body}");
    daemon.stop().await.expect("graceful stop");

    // Nothing of `timeless` anywhere: not in 1969 (epoch -10), not at the receive time, not in 5138.
    let store = chatseal_schema::Store::open(&url).await.expect("open store");
    let now_epoch = (now / 1000).div_euclid(10) * 10;
    for epoch in [-10, now_epoch - 10, now_epoch, now_epoch + 10, 99_999_999_990] {
        let rows = store.participants_for_seal(epoch, "alpha").await.expect("read participants");
        assert!(rows.iter().all(|r| r.login != "timeless"), "timeless recorded in epoch {epoch}");
        if epoch == now_epoch {
            assert!(rows.iter().any(|r| r.login == "ontime"), "the sane line counts");
        }
    }
    fake.shutdown().await;
}
