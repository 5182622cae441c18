//! End to end, the load generator of performance.md: the fake Twitch server in this process
//! feeds realistic tagged PRIVMSG lines over loopback to the REAL `chatseal` binary (built in
//! release by `cargo bench`), configured through its environment, which writes them to its
//! store (SQLite FULL in a temp file, or PostgreSQL at `CHATSEAL_BENCH_PG_URL`). Once a second
//! it samples lines sent, lines accepted (`chatseal_irc_lines_total`), events durable
//! (`chatseal_events_durable_total`), pending (`chatseal_events_pending`), what is behind
//! (accepted minus durable, dropped and duplicate, the aggregator's mailbox included), the lag
//! (behind / durable rate over the last 5 s) and the child's RSS and CPU; at the end it prints the table, the medians, peak and final RSS, and checks that
//! SIGTERM stops the daemon with exit 0. For runs of 2 minutes or more (the 10-minute soak:
//! `CHATSEAL_BENCH_SECONDS=600`) it judges RSS flat when the least-squares slope over the second
//! half (the first half is warm-up), extrapolated over the run, stays within 10% of that half's
//! median, and prints the rule with the figures.
//!
//! Environment: `CHATSEAL_BENCH_SECONDS` (60), `CHATSEAL_BENCH_RATE` (150000 lines/s over all
//! channels), `CHATSEAL_BENCH_CHANNELS` (20), `CHATSEAL_BENCH_USERS` (10000 distinct logins),
//! `CHATSEAL_BENCH_PG_URL` (unset: SQLite). No timed assertions: numbers are printed.
//! `cargo bench --bench pipeline`
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test or bench: a panic is its failure report

#[path = "support/child.rs"]
mod child;
#[path = "support/pipeline_load.rs"]
mod pipeline_load;
#[path = "support/pipeline_sample.rs"]
mod pipeline_sample;

use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chatseal::twitchsim::{FakeTwitch, FakeTwitchConfig};
use child::{free_port, terminate};
use pipeline_load::{channel_templates, feeder, Control, HEADROOM};
use pipeline_sample::*;

/// Samples (seconds) over which the durable rate of the lag is measured.
const LAG_WINDOW: usize = 5;

struct Params {
    seconds: u64,
    rate: f64,
    channels: usize,
    users: usize,
    pg_url: Option<String>,
}

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    match std::env::var(key) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| panic!("{key}={v:?} is not a valid number")),
        Err(_) => default,
    }
}

fn params() -> Params {
    Params {
        seconds: env_or("CHATSEAL_BENCH_SECONDS", 60),
        rate: env_or("CHATSEAL_BENCH_RATE", 150_000.0),
        channels: env_or("CHATSEAL_BENCH_CHANNELS", 20usize).max(1),
        users: env_or("CHATSEAL_BENCH_USERS", 10_000usize).max(1),
        pg_url: std::env::var("CHATSEAL_BENCH_PG_URL").ok().filter(|u| !u.is_empty()),
    }
}

fn spawn_daemon(
    fake: &FakeTwitch,
    store_url: &str,
    channels: &[String],
    http_port: u16,
    log: &std::path::Path,
) -> Child {
    let log_file = std::fs::File::create(log).unwrap_or_else(|e| panic!("log file {}: {e}", log.display()));
    let log_err = log_file.try_clone().unwrap_or_else(|e| panic!("log file {}: {e}", log.display()));
    Command::new(env!("CARGO_BIN_EXE_chatseal"))
        .arg("run")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CHATSEAL__TWITCH__SERVER", fake.addr().ip().to_string())
        .env("CHATSEAL__TWITCH__PORT", fake.addr().port().to_string())
        .env("CHATSEAL__TWITCH__TLS", "false")
        .env("CHATSEAL__TWITCH__CHANNELS", channels.join(","))
        .env("CHATSEAL__TWITCH__JOINS_PER_WINDOW", "20")
        .env("CHATSEAL__TWITCH__JOIN_WINDOW", "100ms")
        .env("CHATSEAL__STORE__URL", store_url)
        .env("CHATSEAL__STORE__FLUSH_INTERVAL", "250ms")
        .env("CHATSEAL__HTTP__LISTEN", format!("127.0.0.1:{http_port}"))
        .stdout(Stdio::from(log_file))
        .stderr(Stdio::from(log_err))
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", env!("CARGO_BIN_EXE_chatseal")))
}

/// One sample: the daemon's counters (None while /metrics does not answer) and /proc.
async fn sample(client: &reqwest::Client, metrics_url: &str, pid: u32, ctl: &Control) -> Option<Sample> {
    let text = client.get(metrics_url).send().await.ok()?.text().await.ok()?;
    let m = sum_by_name(&text);
    let get = |k: &str| m.get(k).copied().unwrap_or(0.0);
    Some(Sample {
        at: Instant::now(),
        sent: ctl.sent.load(Ordering::Relaxed),
        accepted: get(LINES),
        durable: get(DURABLE),
        pending: get(PENDING),
        dropped: get(DROPPED),
        duplicate: get(DUPLICATE),
        rss: rss_bytes(pid).unwrap_or(0),
        daemon_ticks: cpu_ticks(&pid.to_string()).unwrap_or(0),
        loadgen_ticks: cpu_ticks("self").unwrap_or(0),
    })
}

fn exited(child: &mut Child, log: &std::path::Path) {
    if let Ok(Some(status)) = child.try_wait() {
        panic!("the daemon exited early ({status}); its log: {}", log.display());
    }
}

/// The daemon's WARN and ERROR lines (the first 20), so a run that dropped or retried says why.
fn print_log_problems(log: &std::path::Path) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let problems: Vec<&str> = text.lines().filter(|l| l.contains("WARN") || l.contains("ERROR")).collect();
    println!("daemon log: {} WARN/ERROR lines", problems.len());
    for l in problems.iter().take(20) {
        println!("  {l}");
    }
}

async fn bench(p: Params) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let (store_url, backend) = match &p.pg_url {
        Some(u) => (u.clone(), "PostgreSQL"),
        None => (format!("sqlite://{}", dir.path().join("pipeline.db").display()), "SQLite (WAL, synchronous FULL)"),
    };
    let log = dir.path().join("chatseal.log");
    let fake = FakeTwitch::start(FakeTwitchConfig::default()).await.unwrap_or_else(|e| panic!("fake twitch: {e}"));
    let channels: Vec<String> = (0..p.channels).map(|c| format!("benchchan{c:04}")).collect();
    let port = free_port();
    let mut child = spawn_daemon(&fake, &store_url, &channels, port, &log);
    let pid = child.id();
    let all = channels.len();
    if !fake.wait_for(Duration::from_secs(120), |t| t.joined_channels().len() >= all).await {
        exited(&mut child, &log);
        panic!(
            "the daemon joined {} of {all} channels within 120 s; log: {}",
            fake.joined_channels().len(),
            log.display()
        );
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap_or_else(|e| panic!("http client: {e}"));
    let metrics_url = format!("http://127.0.0.1:{port}/metrics");
    let ctl = Arc::new(Control::default());
    let ticks = clock_ticks_per_second();
    let mut prev = loop {
        exited(&mut child, &log);
        if let Some(s) = sample(&client, &metrics_url, pid, &ctl).await {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    ctl.allowed.store(prev.accepted as u64 + (HEADROOM * p.rate) as u64, Ordering::Relaxed);

    println!(
        "pipeline: {backend}, {} channels, {} distinct users, target {:.0} lines/s for {} s, flush_interval 250ms",
        p.channels, p.users, p.rate, p.seconds
    );
    println!("load average at start: {}", std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim());
    let run: u32 = rand::random();
    let started = Instant::now();
    let mut feeders = Vec::new();
    for (c, ch) in channels.iter().enumerate() {
        let templates = channel_templates(ch, c, p.channels, p.users);
        let rate = p.rate / p.channels as f64;
        feeders.push(tokio::spawn(feeder(fake.clone(), ch.clone(), c, run, templates, rate, ctl.clone())));
    }

    print_header();
    let first = prev.clone();
    let mut rows: Vec<Row> = Vec::new();
    let mut history: std::collections::VecDeque<Sample> = std::collections::VecDeque::from([prev.clone()]);
    let mut tick =
        tokio::time::interval_at(tokio::time::Instant::now() + Duration::from_secs(1), Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while started.elapsed() < Duration::from_secs(p.seconds) {
        tick.tick().await;
        exited(&mut child, &log);
        let Some(s) = sample(&client, &metrics_url, pid, &ctl).await else { continue };
        ctl.allowed.store(s.accepted as u64 + (HEADROOM * p.rate) as u64, Ordering::Relaxed);
        let r = row(started, &history[0], &prev, &s, ticks);
        history.push_back(s.clone());
        if history.len() > LAG_WINDOW {
            history.pop_front();
        }
        print_row(&r);
        rows.push(r);
        prev = s;
    }
    ctl.stop.store(true, Ordering::Relaxed);
    for f in feeders {
        let _ = f.await;
    }
    let at_end = prev.clone();
    let final_rss = at_end.rss;

    // Drain: everything accepted becomes durable (or is dropped), then SIGTERM.
    let drain_started = Instant::now();
    let mut drained = at_end.clone();
    while drain_started.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        exited(&mut child, &log);
        if let Some(s) = sample(&client, &metrics_url, pid, &ctl).await {
            let done = s.pending == 0.0 && s.accepted == drained.accepted;
            drained = s;
            if done {
                break;
            }
        }
    }
    let drain_s = drain_started.elapsed().as_secs_f64();
    let code = terminate(&mut child, Duration::from_secs(60));

    let med = |f: fn(&Row) -> f64| median(rows.iter().map(f).collect());
    let secs = (at_end.at - first.at).as_secs_f64();
    let peak_rss = rows.iter().map(|r| r.rss_mib).fold(0.0, f64::max);
    println!();
    println!("medians over {} one-second samples ({backend}):", rows.len());
    println!("  lines/s sent      {:>10.0}", med(|r| r.sent));
    println!("  lines/s accepted  {:>10.0}", med(|r| r.accepted));
    println!("  lines/s durable   {:>10.0}", med(|r| r.durable));
    println!("  pending (gauge)   {:>10.0}", med(|r| r.pending));
    println!("  behind            {:>10.0}", med(|r| r.behind));
    println!("  lag (s)           {:>10.2}", med(|r| r.lag));
    println!(
        "  daemon CPU %      {:>10.0}   load generator CPU % {:.0}",
        med(|r| r.daemon_cpu),
        med(|r| r.loadgen_cpu)
    );
    println!(
        "whole run ({secs:.1} s): sent {} ({:.0}/s), accepted {:.0} ({:.0}/s), durable {:.0} ({:.0}/s), dropped {:.0}, duplicate {:.0}, undelivered {}",
        at_end.sent - first.sent,
        (at_end.sent - first.sent) as f64 / secs,
        at_end.accepted - first.accepted,
        (at_end.accepted - first.accepted) / secs,
        at_end.durable - first.durable,
        (at_end.durable - first.durable) / secs,
        drained.dropped - first.dropped,
        drained.duplicate - first.duplicate,
        ctl.undelivered.load(Ordering::Relaxed)
    );
    println!(
        "RSS: peak {peak_rss:.1} MiB, at the end of the load {:.1} MiB, after draining {:.1} MiB",
        final_rss as f64 / 1048576.0,
        drained.rss as f64 / 1048576.0
    );
    println!(
        "drained in {drain_s:.1} s (pending {:.0}, durable total {:.0})",
        drained.pending,
        drained.durable - first.durable
    );
    if rows.len() >= 120 {
        // The first minutes are warm-up (page cache, allocator arenas, hash tables growing to
        // their working size), so the rule looks at the second half only: the least-squares
        // slope of RSS over it, extrapolated over the whole run, must stay within 10% of the
        // second half's median RSS.
        let half = &rows[rows.len() / 2..];
        let points: Vec<(f64, f64)> = half.iter().map(|r| (r.t, r.rss_mib)).collect();
        let slope = least_squares_slope(&points);
        let level = median(half.iter().map(|r| r.rss_mib).collect());
        let span_s = rows.last().map(|r| r.t).unwrap_or(0.0);
        let drift = slope * span_s / level * 100.0;
        let verdict = if drift.abs() <= 10.0 { "flat" } else { "NOT flat" };
        println!(
            "soak RSS rule: least-squares slope of RSS over the second half ({} samples from t = {:.0} s), extrapolated over the {span_s:.0} s run, within 10% of the second half's median",
            half.len(),
            half.first().map(|r| r.t).unwrap_or(0.0)
        );
        println!("soak RSS: slope {:+.2} MiB/min, second-half median {level:.1} MiB, drift over the run {drift:+.1}%: {verdict}", slope * 60.0);
        let first_min = median(half.iter().take(60).map(|r| r.rss_mib).collect());
        let last_min = median(half.iter().rev().take(60).map(|r| r.rss_mib).collect());
        println!("soak RSS (for reference): second half's first-minute median {first_min:.1} MiB, last-minute median {last_min:.1} MiB ({:+.1}%)", (last_min - first_min) / first_min * 100.0);
        let per_minute: Vec<String> =
            rows.chunks(60).map(|m| format!("{:.0}", median(m.iter().map(|r| r.rss_mib).collect()))).collect();
        println!("soak RSS median per minute (MiB): {}", per_minute.join(", "));
    }
    println!("load average at the end: {}", std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim());
    print_log_problems(&log);
    match code {
        Some(0) => println!("SIGTERM: exit 0"),
        other => {
            println!("SIGTERM: exit {other:?} (expected 0); log: {}", log.display());
            let _ = dir.keep();
            std::process::exit(1);
        }
    }
    fake.shutdown().await;
}

fn main() {
    // `cargo test --benches` runs bench targets without `--bench`: nothing to measure then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("tokio runtime: {e}"));
    rt.block_on(bench(params()));
}
