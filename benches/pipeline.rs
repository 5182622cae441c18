//! End to end, the load generator of performance.md: the fake Twitch server in this process
//! feeds realistic tagged PRIVMSG lines over loopback to the REAL `chatseal` binary (built in
//! release by `cargo bench`, or `CHATSEAL_BENCH_BIN`), configured through its environment, which
//! writes them to its store (SQLite with default settings in a temp file, or PostgreSQL at
//! `CHATSEAL_BENCH_PG_URL`). Two workloads (`CHATSEAL_BENCH_WORKLOAD`):
//!
//! * `sustained` (default): a fixed offered rate for `CHATSEAL_BENCH_SECONDS`. Once a second it
//!   samples lines sent, lines accepted (`chatseal_irc_lines_total`), events durable
//!   (`chatseal_events_durable_total`), pending (`chatseal_events_pending`), what is behind
//!   (accepted minus durable, dropped and duplicate, the aggregator's mailbox included), the lag
//!   (behind / durable rate over the last 5 s) and the child's RSS and CPU, and prints the
//!   table and the medians. For runs of 2 minutes or more (the 10-minute soak:
//!   `CHATSEAL_BENCH_SECONDS=600`) it judges RSS flat when the least-squares slope over the second
//!   half (the first half is warm-up), extrapolated over the run, stays within 10% of that
//!   half's median, and prints the rule with the figures.
//! * `burst`: the high-cardinality burst (`support/pipeline_burst.rs`): 1,000,000 fully tagged
//!   lines (about 400 bytes) to 10 channels from 200,000 users, in one epoch, written as fast as
//!   the daemon reads.
//!
//! Every run ends with the same summary (`support/pipeline_report.rs`): lines/s read, lines/s
//! durable, dropped, peak RSS (VmHWM from /proc/<pid>/status), CPU per line (utime + stime from
//! /proc/<pid>/stat from the load's start until every line is durable, divided by the lines;
//! the seals that follow are not in it; on SQLite also the part on SQLite's worker threads),
//! the flush's time per line by phase (`chatseal_flush_phase_seconds`), and bytes on disk per
//! sealed participant (the bench waits, bounded, for the run's epochs to be sealed: the epoch length is
//! `CHATSEAL_BENCH_EPOCH`, default 1 minute, with the default grace of 2 minutes), and checks
//! that SIGTERM stops the daemon with exit 0.
//!
//! Environment: `CHATSEAL_BENCH_WORKLOAD` (sustained | burst), `CHATSEAL_BENCH_SECONDS` (60),
//! `CHATSEAL_BENCH_RATE` (150000 lines/s over all channels), `CHATSEAL_BENCH_CHANNELS` (20; burst
//! 10), `CHATSEAL_BENCH_USERS` (10000; burst 200000), `CHATSEAL_BENCH_LINES` (burst: 1000000),
//! `CHATSEAL_BENCH_EPOCH` (60 seconds), `CHATSEAL_BENCH_PG_URL` (unset: SQLite; a fresh database),
//! `CHATSEAL_BENCH_BIN` (another `chatseal` binary, to measure a build before a change),
//! `CHATSEAL_BENCH_KEEP_STORE=1` (burst: keep the SQLite store's folder and print where, to look
//! at it table by table).
//! Extra daemon settings go through as `CHATSEAL__...` variables (the daemon's own environment is
//! cleared otherwise). No timed assertions: numbers are printed.
//! `cargo bench --bench pipeline`, `CHATSEAL_BENCH_WORKLOAD=burst cargo bench --bench pipeline`
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test or bench: a panic is its failure report

#[path = "support/child.rs"]
mod child;
#[path = "support/pipeline_burst.rs"]
mod pipeline_burst;
#[path = "support/pipeline_daemon.rs"]
mod pipeline_daemon;
#[path = "support/pipeline_load.rs"]
mod pipeline_load;
#[path = "support/pipeline_report.rs"]
mod pipeline_report;
#[path = "support/pipeline_sample.rs"]
mod pipeline_sample;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chatseal::twitchsim::{FakeTwitch, FakeTwitchConfig};
use chatseal_schema::flush_phases::FlushPhase;
use child::terminate;
use pipeline_daemon::{binary, passed_settings, Daemon};
use pipeline_load::{channel_templates, feeder, Control, HEADROOM};
use pipeline_report::{print_summary, sealed_participants, store_bytes, Summary};
use pipeline_sample::*;

/// Samples (seconds) over which the durable rate of the lag is measured.
const LAG_WINDOW: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Workload {
    Sustained,
    Burst,
}

struct Params {
    workload: Workload,
    seconds: u64,
    rate: f64,
    channels: usize,
    users: usize,
    lines: usize,
    epoch_secs: u64,
    pg_url: Option<String>,
}

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    match std::env::var(key) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| panic!("{key}={v:?} is not a valid number")),
        Err(_) => default,
    }
}

fn params() -> Params {
    let workload = match std::env::var("CHATSEAL_BENCH_WORKLOAD").as_deref().map(str::trim) {
        Err(_) | Ok("") | Ok("sustained") => Workload::Sustained,
        Ok("burst") => Workload::Burst,
        Ok(other) => panic!("CHATSEAL_BENCH_WORKLOAD={other:?}: sustained or burst"),
    };
    let burst = workload == Workload::Burst;
    Params {
        workload,
        seconds: env_or("CHATSEAL_BENCH_SECONDS", 60),
        rate: env_or("CHATSEAL_BENCH_RATE", 150_000.0),
        channels: env_or("CHATSEAL_BENCH_CHANNELS", if burst { 10usize } else { 20 }).max(1),
        users: env_or("CHATSEAL_BENCH_USERS", if burst { 200_000usize } else { 10_000 }).max(1),
        lines: env_or("CHATSEAL_BENCH_LINES", 1_000_000usize).max(1),
        epoch_secs: env_or("CHATSEAL_BENCH_EPOCH", 60u64).max(1),
        pg_url: std::env::var("CHATSEAL_BENCH_PG_URL").ok().filter(|u| !u.is_empty()),
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn now_s() -> i64 {
    now_ms() / 1000
}

fn epoch_of(ts_s: i64, len: u64) -> i64 {
    ts_s.div_euclid(len as i64) * len as i64
}

/// What [`finish`] needs to know about a run.
struct Run<'a> {
    workload: String,
    backend: &'static str,
    store_url: &'a str,
    sqlite_file: Option<PathBuf>,
    channels: &'a [String],
    /// The sample taken just before the load started.
    first: &'a Sample,
    /// When every line had been read, and when every line was durable, dropped, duplicate or
    /// late (burst only; the sustained run measures over its whole length).
    read_at: Option<Instant>,
    durable_at: Option<Instant>,
    /// The epochs the run's lines count in (first, last), Unix seconds.
    epochs: (i64, i64),
}

/// The end of every run: CPU and peak RSS of the load, the seals of its epochs (waited for up to
/// their close plus the default grace of 2 minutes plus 2 minutes), SIGTERM, the store's size.
async fn finish(d: &mut Daemon, p: &Params, run: Run<'_>) -> Summary {
    let ticks = clock_ticks_per_second();
    let Some(end) = d.sample(0).await else { panic!("/metrics stopped answering; log: {}", d.log.display()) };
    let peak_rss = peak_rss_bytes(d.pid);
    let lines = match p.workload {
        Workload::Burst => p.lines as u64,
        Workload::Sustained => (end.participants - run.first.participants).max(0.0) as u64,
    };
    let cpu_s = end.daemon_ticks.saturating_sub(run.first.daemon_ticks) as f64 / ticks;
    let sqlite_cpu_s = end.sqlite_ticks.saturating_sub(run.first.sqlite_ticks) as f64 / ticks;
    let phases = FlushPhase::NAMES
        .iter()
        .zip(end.phases.iter().zip(&run.first.phases))
        .map(|(name, (e, f))| (*name, (e - f).max(0.0)))
        .collect();
    let since = |t: Option<Instant>| t.map(|t| (t - run.first.at).as_secs_f64());
    let whole = Some((end.at - run.first.at).as_secs_f64());
    let (first_epoch, last_epoch) = run.epochs;
    let closes = last_epoch + p.epoch_secs as i64 + 120;
    let wait_s = (closes - now_s()).max(0) as u64 + 120;
    println!(
        "waiting up to {wait_s} s for the seals of epochs {first_epoch}..={last_epoch} on {} channels",
        run.channels.len()
    );
    let deadline = Instant::now() + Duration::from_secs(wait_s);
    let (sealed, done) = sealed_participants(&d.client, &d.base, run.channels, first_epoch, last_epoch, deadline).await;
    println!("sealed: {sealed} participants; epoch {last_epoch} sealed on {done} of {} channels", run.channels.len());
    println!("peak RSS including the seals: {:.1} MiB", peak_rss_bytes(d.pid).unwrap_or(0) as f64 / 1048576.0);
    let after = cpu_ticks(&d.pid.to_string()).unwrap_or(end.daemon_ticks);
    println!(
        "daemon CPU after the run until the seals were found (the seals, idle ticks): {:.2} s (not in CPU per line)",
        after.saturating_sub(end.daemon_ticks) as f64 / ticks
    );
    let exit = terminate(&mut d.child, Duration::from_secs(60));
    let bytes = store_bytes(run.store_url, run.sqlite_file.as_deref()).await;
    Summary {
        workload: run.workload,
        backend: run.backend.to_string(),
        lines,
        read_s: since(run.read_at).or(whole),
        durable: (end.durable - run.first.durable).max(0.0) as u64,
        durable_s: since(run.durable_at).or(whole),
        dropped: (end.dropped - run.first.dropped).max(0.0) as u64,
        duplicate: (end.duplicate - run.first.duplicate).max(0.0) as u64,
        late: (end.late - run.first.late).max(0.0) as u64,
        peak_rss,
        cpu_s,
        sqlite_cpu_s,
        phases,
        sealed,
        store_bytes: bytes,
        exit,
    }
}

/// The high-cardinality burst (see `support/pipeline_burst.rs`).
async fn burst(p: Params) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let (store_url, backend) = match &p.pg_url {
        Some(u) => (u.clone(), "PostgreSQL"),
        None => (format!("sqlite://{}", dir.path().join("pipeline.db").display()), "SQLite (default settings)"),
    };
    let channels: Vec<String> = (0..p.channels).map(|c| format!("benchchan{c:04}")).collect();
    let ts_ms = now_ms();
    let composing = Instant::now();
    let run: u32 = rand::random();
    let lines = pipeline_burst::compose(&channels, p.users, p.lines, ts_ms, run, 18);
    println!(
        "burst composed in {:.1} s: {} lines, {:.0} bytes per line on average (with CR LF), {} distinct (channel, user)",
        composing.elapsed().as_secs_f64(),
        lines.lines,
        lines.bytes as f64 / lines.lines as f64,
        lines.pairs
    );
    let log = dir.path().join("chatseal.log");
    let fake = FakeTwitch::start(FakeTwitchConfig::default()).await.unwrap_or_else(|e| panic!("fake twitch: {e}"));
    let mut d = Daemon::start(&fake, &store_url, &channels, p.epoch_secs, &log).await;
    println!(
        "pipeline, burst: {backend}, {} channels, {} users, {} lines in the epoch of {} s starting {}",
        p.channels,
        p.users,
        p.lines,
        p.epoch_secs,
        epoch_of(ts_ms / 1000, p.epoch_secs)
    );
    println!("binary {}, settings passed on: {:?}", binary().display(), passed_settings());
    println!("load average at start: {}", std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim());
    let Some(first) = d.sample(0).await else { panic!("/metrics stopped answering; log: {}", log.display()) };
    let sent = Arc::new(AtomicU64::new(0));
    let undelivered = Arc::new(AtomicU64::new(0));
    let feeding = {
        let (fake, channels, sent, undelivered) = (fake.clone(), channels.clone(), sent.clone(), undelivered.clone());
        tokio::spawn(async move { pipeline_burst::feed_all(&fake, &channels, &lines, sent, undelivered).await })
    };
    let ticks = clock_ticks_per_second();
    let n = p.lines as f64;
    let (mut read_at, mut durable_at) = (None, None);
    let mut prev = first.clone();
    let deadline = Instant::now() + Duration::from_secs(1800);
    print_header();
    while durable_at.is_none() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        d.exited();
        let Some(s) = d.sample(sent.load(Ordering::Relaxed)).await else { continue };
        if read_at.is_none() && s.participants - first.participants >= n {
            read_at = Some(s.at);
        }
        let accounted = (s.durable - first.durable)
            + (s.dropped - first.dropped)
            + (s.duplicate - first.duplicate)
            + (s.late - first.late);
        if accounted >= n {
            durable_at = Some(s.at);
        }
        if s.at - prev.at >= Duration::from_secs(1) || durable_at.is_some() {
            print_row(&row(first.at, &prev, &prev, &s, ticks));
            prev = s;
        }
    }
    let _ = feeding.await;
    println!(
        "lines handed to the fake server: {}, not delivered (no joined connection): {}",
        sent.load(Ordering::Relaxed),
        undelivered.load(Ordering::Relaxed)
    );
    let e = epoch_of(ts_ms / 1000, p.epoch_secs);
    let summary = finish(
        &mut d,
        &p,
        Run {
            workload: format!("high-cardinality burst, {} lines, {} channels, {} users", p.lines, p.channels, p.users),
            backend,
            store_url: &store_url,
            sqlite_file: p.pg_url.is_none().then(|| dir.path().join("pipeline.db")),
            channels: &channels,
            first: &first,
            read_at,
            durable_at,
            epochs: (e, e),
        },
    )
    .await;
    println!("load average at the end: {}", std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim());
    d.print_log_problems();
    print_summary(&summary);
    fake.shutdown().await;
    if std::env::var("CHATSEAL_BENCH_KEEP_STORE").is_ok_and(|v| v == "1") {
        println!("store kept in {} (CHATSEAL_BENCH_KEEP_STORE=1)", dir.path().display());
        let _ = dir.keep();
        return;
    }
    if summary.exit != Some(0) {
        println!("SIGTERM: exit {:?} (expected 0); log: {}", summary.exit, log.display());
        let _ = dir.keep();
        std::process::exit(1);
    }
}

async fn sustained(p: Params) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let (store_url, backend) = match &p.pg_url {
        Some(u) => (u.clone(), "PostgreSQL"),
        None => (format!("sqlite://{}", dir.path().join("pipeline.db").display()), "SQLite (WAL, synchronous FULL)"),
    };
    let log = dir.path().join("chatseal.log");
    let fake = FakeTwitch::start(FakeTwitchConfig::default()).await.unwrap_or_else(|e| panic!("fake twitch: {e}"));
    let channels: Vec<String> = (0..p.channels).map(|c| format!("benchchan{c:04}")).collect();
    let mut d = Daemon::start(&fake, &store_url, &channels, p.epoch_secs, &log).await;
    let ctl = Arc::new(Control::default());
    let ticks = clock_ticks_per_second();
    let Some(mut prev) = d.sample(0).await else { panic!("/metrics stopped answering; log: {}", log.display()) };
    ctl.allowed.store(prev.accepted as u64 + (HEADROOM * p.rate) as u64, Ordering::Relaxed);

    println!(
        "pipeline, sustained: {backend}, {} channels, {} distinct users, target {:.0} lines/s for {} s, epochs of {} s",
        p.channels, p.users, p.rate, p.seconds, p.epoch_secs
    );
    println!("binary {}, settings passed on: {:?}", binary().display(), passed_settings());
    println!("load average at start: {}", std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim());
    let run: u32 = rand::random();
    let first_ts_s = now_s();
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
        d.exited();
        let Some(s) = d.sample(ctl.sent.load(Ordering::Relaxed)).await else { continue };
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
        d.exited();
        if let Some(s) = d.sample(ctl.sent.load(Ordering::Relaxed)).await {
            let done = s.pending == 0.0 && s.accepted == drained.accepted;
            drained = s;
            if done {
                break;
            }
        }
    }
    let drain_s = drain_started.elapsed().as_secs_f64();
    let first_epoch = epoch_of(first_ts_s, p.epoch_secs);
    let last_epoch = epoch_of(now_s(), p.epoch_secs);
    let summary = finish(
        &mut d,
        &p,
        Run {
            workload: format!("sustained, target {:.0} lines/s for {} s", p.rate, p.seconds),
            backend,
            store_url: &store_url,
            sqlite_file: p.pg_url.is_none().then(|| dir.path().join("pipeline.db")),
            channels: &channels,
            first: &first,
            read_at: Some(at_end.at),
            durable_at: Some(drained.at),
            epochs: (first_epoch, last_epoch),
        },
    )
    .await;
    let code = summary.exit;

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
    d.print_log_problems();
    print_summary(&summary);
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
    let p = params();
    match p.workload {
        Workload::Sustained => rt.block_on(sustained(p)),
        Workload::Burst => rt.block_on(burst(p)),
    }
}
