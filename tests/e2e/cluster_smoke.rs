//! Cluster mode end to end, small: two real members (replicas = 1) on one PostgreSQL share six
//! channels, each channel read by exactly one member (seen by the fake Twitch server and in
//! GET /v1/cluster), one sealer; kill -9 one member and the other takes its channels over within
//! 2 x lease_ttl plus the join pacing, and the sealer role with a higher fencing number.

use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::harness::{daemon_command, fake_twitch, free_port, wait_for};

const CHANNELS: [&str; 6] = ["c0", "c1", "c2", "c3", "c4", "c5"];

fn member(fake: &chatseal::twitchsim::FakeTwitch, url: &str, name: &str, port: u16, log: &std::path::Path) -> Child {
    let file = std::fs::File::create(log).expect("log file");
    daemon_command(fake, url)
        .env("CHATSEAL__TWITCH__CHANNELS", CHANNELS.join(","))
        .env("CHATSEAL__TWITCH__JOIN_WINDOW", "1s")
        .env("CHATSEAL__HTTP__LISTEN", format!("127.0.0.1:{port}"))
        .env("CHATSEAL__CLUSTER__ENABLED", "true")
        .env("CHATSEAL__CLUSTER__INSTANCE", name)
        .env("CHATSEAL__CLUSTER__REPLICAS", "1")
        .env("CHATSEAL__CLUSTER__LEASE_TTL", "3s")
        .stderr(Stdio::from(file))
        .spawn()
        .expect("spawn member")
}

/// /v1/cluster of the member on `port`; None while it does not answer yet.
async fn cluster(port: u16) -> Option<Value> {
    let resp = reqwest::get(format!("http://127.0.0.1:{port}/v1/cluster")).await.ok()?;
    if !resp.status().is_success() {
        return None;
    }
    resp.json().await.ok()
}

/// Slots held per live member, from /v1/cluster.
fn slots_of(v: &Value) -> Vec<(String, usize)> {
    v["members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["alive"] == true)
        .map(|m| (m["instance"].as_str().unwrap_or("").to_owned(), m["slots"].as_array().map_or(0, |s| s.len())))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "multi-process cluster scenario: run alone by .ci/run (cargo test --test e2e cluster -- --ignored)"]
async fn two_members_split_the_channels_and_one_takes_over_after_a_kill() {
    let Some((url, _db)) = chatseal_schema::testing::fresh_pg_url().await else {
        eprintln!("CHATSEAL_SKIP_PG set: cluster mode needs PostgreSQL");
        return;
    };
    let fake = fake_twitch().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (pa, pb) = (free_port(), free_port());
    let mut a = member(&fake, &url, "a", pa, &dir.path().join("a.log"));
    let mut b = member(&fake, &url, "b", pb, &dir.path().join("b.log"));
    let logs = || format!("logs: {}", dir.path().display());

    // Both members hold 3 slots each, every channel joined by exactly one connection.
    let view = wait_for(&format!("an even split of six channels ({})", logs()), Duration::from_secs(90), || async {
        let v = cluster(pa).await?;
        let slots = slots_of(&v);
        let even = slots.len() == 2 && slots.iter().all(|(_, n)| *n == 3);
        let once = CHANNELS.iter().all(|c| fake.joined_connections(c) == 1);
        (even && once).then_some(v)
    })
    .await;
    let sealer = view["roles"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["role"] == "sealer"))
        .cloned()
        .expect("a sealer role");
    let (holder, fence) = (sealer["holder"].as_str().unwrap_or("").to_owned(), sealer["fence"].as_i64().unwrap_or(0));
    assert!(holder == "a" || holder == "b", "one member holds the sealer role: {view}");

    // kill -9 the sealer; the other takes every channel and the role (fence grows).
    let (dead, alive_port) = if holder == "a" { (&mut a, pb) } else { (&mut b, pa) };
    dead.kill().expect("kill -9");
    let _ = dead.wait();
    let killed = std::time::Instant::now();
    let after = wait_for(
        &format!("the survivor to hold all six channels and the sealer role ({})", logs()),
        Duration::from_secs(60),
        || async {
            let v = cluster(alive_port).await?;
            let slots = slots_of(&v);
            let all = slots.len() == 1 && slots[0].1 == 6;
            let joined = CHANNELS.iter().all(|c| fake.joined_connections(c) == 1);
            let role = v["roles"].as_array().and_then(|r| r.iter().find(|r| r["role"] == "sealer")).cloned()?;
            (all && joined && role["holder"] != holder.as_str() && role["fence"].as_i64()? > fence).then_some(v)
        },
    )
    .await;
    eprintln!("takeover after kill -9: {:?} (lease_ttl 3 s): {after}", killed.elapsed());
    // /v1/status says the same of the survivor.
    let status: Value = reqwest::get(format!("http://127.0.0.1:{alive_port}/v1/status"))
        .await
        .expect("status")
        .json()
        .await
        .expect("json");
    assert_eq!(status["cluster"]["enabled"], true, "{status}");
    assert_eq!(status["cluster"]["slots"].as_array().map(|s| s.len()), Some(6), "{status}");
    assert_eq!(status["cluster"]["members"], 1, "{status}");
    assert!(
        status["cluster"]["roles"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["role"] == "sealer" && r["fence"].as_i64() > Some(fence))),
        "{status}"
    );
    for c in [&mut a, &mut b] {
        let _ = c.kill();
        let _ = c.wait();
    }
}
