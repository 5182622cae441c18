//! The takeover side of the `cluster` bench: two members with replicas = 1 split the channels
//! while lines flow; one of them is stopped (kill -9, or SIGTERM) and the bench watches, every
//! 20 ms, when the survivor reads the stopped member's channels again, three ways:
//! * *joined*: the fake server received the survivor's JOIN of every such channel (from its join
//!   log, to the microsecond): from then on the survivor gets the channel's lines;
//! * *slots*: the survivor's `GET /v1/cluster` lists every such slot as its own;
//! * *line*: the survivor's `chatseal_channel_last_line_timestamp_seconds` of every such channel
//!   shows a line received after the stop. That gauge has whole seconds, so this time is
//!   rounded up to the next second boundary after the stop (an upper bound).
//!
//! For SIGTERM it also records, per channel, how long no connection at all was joined to it
//! at the fake server (the gap in which lines were lost with replicas = 1).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::members::{channels, Cluster, ClusterView};
use crate::pipeline_load::{channel_templates, feeder, Control};

/// JOINs per window and the window the members are configured with (`plain_env`).
pub const JOINS_PER_WINDOW: u64 = 20;
pub const JOIN_WINDOW: Duration = Duration::from_secs(1);

/// How the member is stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    Kill9,
    Sigterm,
}

/// What one takeover run measured (seconds from the stop).
#[derive(Clone, Debug)]
pub struct Takeover {
    pub victim_channels: usize,
    pub joined_s: f64,
    pub slots_s: f64,
    pub line_s: f64,
    /// The bar: 2 x lease_ttl + the join pacing of the victim's channels.
    pub bar_s: f64,
    /// SIGTERM: the longest time one of its channels had no joined connection (0: none).
    pub gap_s: f64,
    /// SIGTERM: the stopped member's exit code, and seconds from SIGTERM to its exit.
    pub exit: Option<i32>,
    pub stopped_s: f64,
}

/// The slot plan has settled: members' slot counts differ by at most one (a joining member
/// takes its share make before break, which `/v1/cluster` shows only once done).
pub fn balanced(v: &ClusterView) -> bool {
    let held: Vec<usize> = v.alive().iter().map(|m| m.slots.len()).collect();
    held.iter().max().zip(held.iter().min()).is_some_and(|(max, min)| max - min <= 1)
}

/// Join pacing of `n` channels: the limiter's windows they need.
pub fn pacing(n: usize) -> Duration {
    JOIN_WINDOW * (n as u64).div_ceil(JOINS_PER_WINDOW) as u32
}

fn key(channel: &str) -> String {
    channel.trim_start_matches('#').to_ascii_lowercase()
}

/// `chatseal_channel_last_line_timestamp_seconds` by channel, from a Prometheus text.
pub fn last_line_seconds(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("chatseal_channel_last_line_timestamp_seconds{")) {
        let Some((series, value)) = line.rsplit_once(' ') else { continue };
        let Some(rest) = series.split("channel=\"").nth(1) else { continue };
        let Some(channel) = rest.split('"').next() else { continue };
        if let Ok(v) = value.trim().parse::<f64>() {
            out.insert(key(channel), v);
        }
    }
    out
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// One run: a fresh database and fake server, members `a` and `b` with `lease` and
/// replicas = 1 over `n_channels` channels, `rate` lines/s over all channels, `a` stopped.
pub async fn run(n_channels: usize, users: usize, rate: f64, epoch: &str, lease: Duration, stop: Stop) -> Takeover {
    let mut c = Cluster::new().await;
    let chans = channels("cltk", n_channels);
    let place = c.local_place();
    let lease_s = format!("{}ms", lease.as_millis());
    let extra = [
        ("CHATSEAL__CLUSTER__LEASE_TTL", lease_s.as_str()),
        ("CHATSEAL__STORE__FLUSH_INTERVAL", "250ms"),
        ("CHATSEAL__EPOCH__LENGTH", epoch),
    ];
    for name in ["a", "b"] {
        let i = c.add(name, place.clone(), 1, &chans, &extra);
        c.member(i).start();
    }
    for m in &c.members {
        m.wait_healthy(Duration::from_secs(60)).await;
    }
    let once = |v: &ClusterView| {
        v.alive().len() == 2
            && chans.iter().all(|ch| v.readers(ch).len() == 1)
            && v.unowned_slots.is_empty()
            && balanced(v)
    };
    let v = c.wait_view("2 members, each channel read by exactly one, balanced", Duration::from_secs(90), once).await;
    c.wait_joined_by(&chans, 1, Duration::from_secs(30)).await;

    let ctl = Arc::new(Control::default());
    ctl.allowed.store(u64::MAX, Ordering::Relaxed);
    let run_id: u32 = rand::random();
    let mut feeders = Vec::new();
    for (i, ch) in chans.iter().enumerate() {
        let templates = channel_templates(ch, i, chans.len(), users);
        let per = rate / chans.len() as f64;
        feeders.push(tokio::spawn(feeder(c.fake.clone(), ch.clone(), i, run_id, templates, per, ctl.clone())));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    let victim: BTreeSet<String> = v
        .members
        .iter()
        .find(|m| m.instance == "a")
        .map(|m| m.slots.iter().map(|s| key(s)).collect())
        .unwrap_or_default();
    assert!(!victim.is_empty(), "a holds slots: {v:#?}");
    let old: BTreeSet<u64> = c
        .fake
        .sessions()
        .iter()
        .filter(|s| s.channels.iter().any(|ch| victim.contains(&key(ch))))
        .map(|s| s.id)
        .collect();
    let bar = 2 * lease + pacing(victim.len());

    let t0 = Instant::now();
    let t0_s = unix_ms() as f64 / 1000.0;
    match stop {
        Stop::Kill9 => c.member(0).kill9(),
        Stop::Sigterm => {
            let pid = c.members[0].pid().unwrap_or_else(|| panic!("a is not running"));
            let ok = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
            assert!(matches!(ok, Ok(s) if s.success()), "kill -TERM {pid}: {ok:?}");
        }
    }

    let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().expect("http client");
    let survivor = c.members[1].base();
    let mut unread_from: BTreeMap<String, Instant> = BTreeMap::new();
    let mut read_again: BTreeMap<String, Instant> = BTreeMap::new();
    let (mut slots_at, mut line_at) = (None, None);
    let deadline = t0 + bar + Duration::from_secs(30);
    let mut i = 0u64;
    while Instant::now() < deadline {
        let now = Instant::now();
        let sessions = c.fake.sessions();
        for ch in &victim {
            let readers: Vec<u64> =
                sessions.iter().filter(|s| s.channels.iter().any(|x| key(x) == *ch)).map(|s| s.id).collect();
            if readers.is_empty() && !read_again.contains_key(ch) {
                unread_from.entry(ch.clone()).or_insert(now);
            }
            if readers.iter().any(|id| !old.contains(id)) {
                read_again.entry(ch.clone()).or_insert(now);
            }
        }
        if i.is_multiple_of(5) {
            if slots_at.is_none() {
                let url = format!("{survivor}/v1/cluster");
                if let Ok(r) = client.get(&url).send().await {
                    if let Ok(v) = r.json::<ClusterView>().await {
                        let mine: BTreeSet<String> = v
                            .members
                            .iter()
                            .filter(|m| m.instance == "b" && m.alive)
                            .flat_map(|m| m.slots.iter().map(|s| key(s)))
                            .collect();
                        if victim.is_subset(&mine) {
                            slots_at = Some(Instant::now());
                        }
                    }
                }
            }
            if line_at.is_none() {
                if let Ok(r) = client.get(format!("{survivor}/metrics")).send().await {
                    if let Ok(text) = r.text().await {
                        let last = last_line_seconds(&text);
                        if victim.iter().all(|ch| last.get(ch).is_some_and(|s| *s >= t0_s.ceil())) {
                            line_at = Some(Instant::now());
                        }
                    }
                }
            }
        }
        if read_again.len() == victim.len() && slots_at.is_some() && line_at.is_some() {
            break;
        }
        i += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The exact JOIN times of the new connections, from the fake server's log.
    let log = c.fake.join_log();
    let joined: Vec<Option<Instant>> = victim
        .iter()
        .map(|ch| log.iter().filter(|(at, c, id)| *at >= t0 && !old.contains(id) && key(c) == *ch).map(|e| e.0).min())
        .collect();
    let since = |at: Option<Instant>| at.map_or(f64::INFINITY, |a| (a - t0).as_secs_f64());
    let joined_s = if joined.iter().all(|j| j.is_some()) {
        joined.iter().map(|j| since(*j)).fold(0.0, f64::max)
    } else {
        f64::INFINITY
    };
    let gap_s = victim
        .iter()
        .map(|ch| match (unread_from.get(ch), read_again.get(ch)) {
            (Some(from), Some(again)) => again.saturating_duration_since(*from).as_secs_f64(),
            (Some(_), None) => f64::INFINITY,
            _ => 0.0,
        })
        .fold(0.0, f64::max);
    let exit = match stop {
        Stop::Sigterm => c.members[0].wait_exit(Duration::from_secs(60)),
        Stop::Kill9 => None,
    };
    let stopped_s = t0.elapsed().as_secs_f64();
    ctl.stop.store(true, Ordering::Relaxed);
    for f in feeders {
        let _ = f.await;
    }
    let code = c.member(1).terminate(Duration::from_secs(60));
    if code != 0 {
        println!("  survivor b: SIGTERM exit {code} (expected 0); logs in {}", c.log_dir().display());
    }
    Takeover {
        victim_channels: victim.len(),
        joined_s,
        slots_s: since(slots_at),
        line_s: since(line_at),
        bar_s: bar.as_secs_f64(),
        gap_s,
        exit,
        stopped_s,
    }
}
