//! 1,000 channel actors in one process, with join pacing kept (performance.md: "1,000 channel
//! actors in one process; join pacing keeps to the configured limit").
//!
//! Starts the REAL release binary twice against the fake Twitch server: once with 1 channel
//! and once with `CHATSEAL_BENCH_CHANNELS` (default 1,000), JOINs limited to 20 per 100 ms
//! (`twitch.joins_per_window`, `twitch.join_window`). For the big run it prints: the time from
//! spawn to every channel joined against the least the limit allows ((N/20 - 1) windows), the
//! most JOINs the server saw in any 100 ms (the limit, give or take loopback bunching), the
//! daemon's RSS with all channels joined and the difference per channel against the 1-channel
//! run, then the time until one line sent to every channel is durable. No timed assertions.
//! `cargo bench --bench channels`
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test or bench: a panic is its failure report

#[path = "support/child.rs"]
mod child;
#[allow(dead_code)]
#[path = "support/pipeline_sample.rs"]
mod pipeline_sample;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chatseal::twitchsim::lines::{privmsg, Chatter};
use chatseal::twitchsim::{FakeTwitch, FakeTwitchConfig};
use child::{free_port, terminate};
use pipeline_sample::{rss_bytes, sum_by_name};

const JOINS_PER_WINDOW: usize = 20;
const WINDOW: Duration = Duration::from_millis(100);

fn spawn(fake: &FakeTwitch, url: &str, channels: &[String], port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_chatseal"))
        .arg("run")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CHATSEAL__STORE__URL", url)
        .env("CHATSEAL__TWITCH__SERVER", fake.addr().ip().to_string())
        .env("CHATSEAL__TWITCH__PORT", fake.addr().port().to_string())
        .env("CHATSEAL__TWITCH__TLS", "false")
        .env("CHATSEAL__TWITCH__CHANNELS", channels.join(","))
        .env("CHATSEAL__TWITCH__JOINS_PER_WINDOW", JOINS_PER_WINDOW.to_string())
        .env("CHATSEAL__TWITCH__JOIN_WINDOW", format!("{}ms", WINDOW.as_millis()))
        .env("CHATSEAL__EPOCH__LENGTH", "1h")
        .env("CHATSEAL__HTTP__LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn chatseal: {e}"))
}

/// RSS after it settles: the median of 5 samples a second apart.
async fn settled_rss_mib(pid: u32) -> f64 {
    let mut v = Vec::new();
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if let Some(b) = rss_bytes(pid) {
            v.push(b as f64 / 1_048_576.0);
        }
    }
    pipeline_sample::median(v)
}

/// The most entries of `log` (sorted) inside any half-open span of `span`.
fn most_within(log: &[Instant], span: Duration) -> usize {
    (0..log.len()).map(|i| log[i..].iter().take_while(|t| t.duration_since(log[i]) < span).count()).max().unwrap_or(0)
}

struct Run {
    joined_after: Duration,
    max_in_window: usize,
    slack: Option<Duration>,
    rss_mib: f64,
    durable_after: Option<Duration>,
    exit: Option<i32>,
}

async fn run(n: usize) -> Run {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let url = format!("sqlite://{}", dir.path().join("chatseal.db").display());
    let fake = FakeTwitch::start(FakeTwitchConfig::default()).await.unwrap_or_else(|e| panic!("fake twitch: {e}"));
    let names: Vec<String> = (0..n).map(|i| format!("c{i:04}")).collect();
    let port = free_port();
    let started = Instant::now();
    let mut child = spawn(&fake, &url, &names, port);
    let all = fake.wait_for(Duration::from_secs(600), |t| t.joined_channels().len() == n).await;
    let joined_after = started.elapsed();
    assert!(all, "{n} channels did not all join within 600 s");
    let log: Vec<Instant> = fake.join_log().iter().map(|(t, _, _)| *t).collect();
    let max_in_window = most_within(&log, WINDOW);
    // The limiter grants at most N per sliding window inside the daemon; the server sees each
    // JOIN a little later, by a delay that varies (actor wake-up, socket write). A window at the
    // server that straddles two bursts of grants can then hold more than N. The slack is how much
    // shorter than the window a window must be before no window holds more than N: the
    // spread of that delay, as the server measured it.
    let slack = (0..=WINDOW.as_millis() as u64)
        .map(Duration::from_millis)
        .find(|s| most_within(&log, WINDOW - *s) <= JOINS_PER_WINDOW);
    let rss_mib = settled_rss_mib(child.id()).await;

    let sent = Instant::now();
    let ts =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    for (i, c) in names.iter().enumerate() {
        fake.send_raw(c, &privmsg(c, &Chatter::new("viewer", "42", "viewer"), &format!("bench-{i}"), ts, "hi", None));
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap_or_else(|e| panic!("http client: {e}"));
    let mut durable_after = None;
    while sent.elapsed() < Duration::from_secs(120) {
        if let Ok(resp) = client.get(format!("http://127.0.0.1:{port}/metrics")).send().await {
            if let Ok(text) = resp.text().await {
                if sum_by_name(&text).get("chatseal_events_durable_total").copied().unwrap_or(0.0) >= n as f64 {
                    durable_after = Some(sent.elapsed());
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let exit = terminate(&mut child, Duration::from_secs(60));
    fake.shutdown().await;
    Run { joined_after, max_in_window, slack, rss_mib, durable_after, exit }
}

fn main() {
    let n: usize =
        std::env::var("CHATSEAL_BENCH_CHANNELS").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(1000).max(2);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    println!("load average before the run: {}", std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim());
    let one = rt.block_on(run(1));
    let many = rt.block_on(run(n));
    let least = WINDOW * ((n.div_ceil(JOINS_PER_WINDOW)) as u32 - 1);
    println!("limit: {JOINS_PER_WINDOW} JOINs per {} ms", WINDOW.as_millis());
    println!(
        "{n} channels: all joined {:.2} s after spawn (the limit allows no less than {:.2} s of JOINs); at most {} JOINs in any {} ms at the server",
        many.joined_after.as_secs_f64(),
        least.as_secs_f64(),
        many.max_in_window,
        WINDOW.as_millis()
    );
    match many.slack {
        Some(s) => println!(
            "no span of {} ms at the server held more than {JOINS_PER_WINDOW} JOINs: the spread of the delay from grant to server is under {} ms",
            (WINDOW - s).as_millis(),
            s.as_millis().max(1)
        ),
        None => println!("even the shortest spans at the server held more than {JOINS_PER_WINDOW} JOINs"),
    }
    println!(
        "RSS with every channel joined: {:.1} MiB ({n} channels) against {:.1} MiB (1 channel): {:.1} KiB per channel",
        many.rss_mib,
        one.rss_mib,
        (many.rss_mib - one.rss_mib) * 1024.0 / (n - 1) as f64
    );
    match many.durable_after {
        Some(d) => println!("one line to each of the {n} channels: all durable {:.2} s after sending", d.as_secs_f64()),
        None => println!("one line to each of the {n} channels: NOT all durable within 120 s"),
    }
    println!("SIGTERM exit: {:?} ({n} channels), {:?} (1 channel)", many.exit, one.exit);
    println!("load average at the end: {}", std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim());
}
