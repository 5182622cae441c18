//! Backup of a 1 GB SQLite store while writes keep flowing. Bar (performance.md): consistent,
//! verified, and writes keep flowing meanwhile.
//!
//! A copy of the shared big store (`support/big_store.rs`, about 1 GB, built once) is given to
//! the REAL release binary, which the `pipeline` bench's load side feeds at a steady
//! `CHATSEAL_BENCH_RATE` (default 20,000 lines/s; 20 of the store's channels, 10,000 users)
//! through the fake Twitch server. After `CHATSEAL_BENCH_BEFORE` seconds (default 30) of load,
//! `POST /v1/admin/backup` (bearer `http.admin_token`) asks for a backup and waits for its
//! manifest; the load runs on for `CHATSEAL_BENCH_AFTER` seconds (default 30) after it. Once a
//! second the bench samples `/metrics` and `/proc` as the pipeline bench does, and prints the
//! durable lines/s and the daemon's RSS before, during and after the backup, the backup's
//! duration, size and manifest (its checks), and, after the daemon stopped, the result of
//! `chatseal backup verify <id>` (sha256 of every file, quick_check, every seal's digest, row
//! counts) run as a separate process. No timed assertions: numbers are printed.
//! `cargo bench --bench backup`
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test or bench: a panic is its failure report

#[allow(dead_code)]
#[path = "support/big_store.rs"]
mod big_store;
#[path = "support/child.rs"]
mod child;
#[path = "support/pipeline_load.rs"]
mod pipeline_load;
#[allow(dead_code)]
#[path = "support/pipeline_sample.rs"]
mod pipeline_sample;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chatseal::twitchsim::{FakeTwitch, FakeTwitchConfig};
use child::{free_port, terminate};
use pipeline_load::{channel_templates, feeder, Control, HEADROOM};
use pipeline_sample::*;

const TOKEN: &str = "bench-admin-token-not-a-secret";
const CHANNELS: usize = 20;
const USERS: usize = 10_000;

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    match std::env::var(key) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| panic!("{key}={v:?} is not a valid number")),
        Err(_) => default,
    }
}

fn daemon_env(cmd: &mut Command, store_url: &str, backups: &Path) {
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CHATSEAL__STORE__URL", store_url)
        .env("CHATSEAL__BACKUP__DIR", backups);
}

fn spawn_daemon(
    fake: &FakeTwitch,
    store_url: &str,
    backups: &Path,
    channels: &[String],
    port: u16,
    log: &Path,
) -> Child {
    let log_file = std::fs::File::create(log).unwrap_or_else(|e| panic!("log file {}: {e}", log.display()));
    let log_err = log_file.try_clone().unwrap_or_else(|e| panic!("log file {}: {e}", log.display()));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chatseal"));
    cmd.arg("run");
    daemon_env(&mut cmd, store_url, backups);
    cmd.env("CHATSEAL__TWITCH__SERVER", fake.addr().ip().to_string())
        .env("CHATSEAL__TWITCH__PORT", fake.addr().port().to_string())
        .env("CHATSEAL__TWITCH__TLS", "false")
        .env("CHATSEAL__TWITCH__CHANNELS", channels.join(","))
        .env("CHATSEAL__TWITCH__JOINS_PER_WINDOW", "20")
        .env("CHATSEAL__TWITCH__JOIN_WINDOW", "100ms")
        .env("CHATSEAL__STORE__FLUSH_INTERVAL", "250ms")
        .env("CHATSEAL__HTTP__LISTEN", format!("127.0.0.1:{port}"))
        .env("CHATSEAL__HTTP__ADMIN_TOKEN", TOKEN)
        .stdout(Stdio::from(log_file))
        .stderr(Stdio::from(log_err))
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", env!("CARGO_BIN_EXE_chatseal")))
}

/// The backup request's answer ((status, body) or the transport error) and how long it took.
type BackupOutcome = (Result<(u16, String), String>, Duration);

async fn sample(client: &reqwest::Client, metrics_url: &str, pid: u32, ctl: &Control) -> Option<Sample> {
    let text = client.get(metrics_url).send().await.ok()?.text().await.ok()?;
    Some(Sample::read(&text, ctl.sent.load(Ordering::Relaxed), pid))
}

/// Phase of the run a sample belongs to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    Before,
    During,
    After,
}

fn phase_summary(label: &str, rows: &[(Phase, Row)], phase: Phase) {
    let v: Vec<&Row> = rows.iter().filter(|(p, _)| *p == phase).map(|(_, r)| r).collect();
    if v.is_empty() {
        println!("  {label:<7} no samples");
        return;
    }
    let med = |f: fn(&Row) -> f64| median(v.iter().map(|r| f(r)).collect());
    let min_durable = v.iter().map(|r| r.durable).fold(f64::INFINITY, f64::min);
    let zero_s = v.iter().filter(|r| r.durable == 0.0).count();
    let peak = v.iter().map(|r| r.rss_mib).fold(0.0, f64::max);
    println!(
        "  {label:<7} {:>4} s: durable lines/s median {:>7.0} (min {:>6.0}, {zero_s} s with none), accepted {:>7.0}, lag median {:>5.2} s, behind median {:>7.0}, RSS median {:>6.1} MiB, peak {:>6.1} MiB, daemon CPU {:>3.0}%",
        v.len(),
        med(|r| r.durable),
        min_durable,
        med(|r| r.accepted),
        med(|r| r.lag),
        med(|r| r.behind),
        med(|r| r.rss_mib),
        peak,
        med(|r| r.daemon_cpu)
    );
}

async fn bench() {
    let rate: f64 = env_or("CHATSEAL_BENCH_RATE", 20_000.0);
    let before_s: u64 = env_or("CHATSEAL_BENCH_BEFORE", 30);
    let after_s: u64 = env_or("CHATSEAL_BENCH_AFTER", 30);
    let built = big_store::ensure().await;
    let dir =
        tempfile::tempdir_in(built.path.parent().unwrap_or(Path::new("."))).unwrap_or_else(|e| panic!("temp dir: {e}"));
    let db = dir.path().join("chatseal.db");
    let t = Instant::now();
    std::fs::copy(&built.path, &db)
        .unwrap_or_else(|e| panic!("copy {} to {}: {e}", built.path.display(), db.display()));
    println!(
        "backup: copied the big store ({:.0} MiB, {} seals) in {:.1} s",
        big_store::file_bytes(&db) as f64 / 1048576.0,
        built.seals,
        t.elapsed().as_secs_f64()
    );
    let store_url = format!("sqlite://{}", db.display());
    let backups = dir.path().join("backups");
    let log = dir.path().join("chatseal.log");

    let fake = FakeTwitch::start(FakeTwitchConfig::default()).await.unwrap_or_else(|e| panic!("fake twitch: {e}"));
    let channels: Vec<String> = (0..CHANNELS).map(big_store::channel).collect();
    let port = free_port();
    let mut child = spawn_daemon(&fake, &store_url, &backups, &channels, port, &log);
    let pid = child.id();
    if !fake.wait_for(Duration::from_secs(120), |t| t.joined_channels().len() >= CHANNELS).await {
        panic!(
            "the daemon joined {} of {CHANNELS} channels within 120 s; log: {}",
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
        if let Ok(Some(s)) = child.try_wait() {
            panic!("the daemon exited early ({s}); log: {}", log.display());
        }
        if let Some(s) = sample(&client, &metrics_url, pid, &ctl).await {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    ctl.allowed.store(prev.accepted as u64 + (HEADROOM * rate) as u64, Ordering::Relaxed);
    println!("backup: SQLite (WAL, FULL) 1 GB store, {CHANNELS} channels, {USERS} users, load {rate:.0} lines/s; backup after {before_s} s, load for {after_s} s after it");
    println!("load average at start: {}", std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim());

    let run: u32 = rand::random();
    let started = Instant::now();
    let mut feeders = Vec::new();
    for (c, ch) in channels.iter().enumerate() {
        let templates = channel_templates(ch, c, CHANNELS, USERS);
        feeders.push(tokio::spawn(feeder(
            fake.clone(),
            ch.clone(),
            c,
            run,
            templates,
            rate / CHANNELS as f64,
            ctl.clone(),
        )));
    }

    print_header();
    let mut rows: Vec<(Phase, Row)> = Vec::new();
    let mut history: std::collections::VecDeque<Sample> = std::collections::VecDeque::from([prev.clone()]);
    let mut tick =
        tokio::time::interval_at(tokio::time::Instant::now() + Duration::from_secs(1), Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut backup: Option<tokio::task::JoinHandle<BackupOutcome>> = None;
    let mut result: Option<BackupOutcome> = None;
    let mut backup_ended: Option<Instant> = None;
    loop {
        tick.tick().await;
        if let Ok(Some(s)) = child.try_wait() {
            panic!("the daemon exited early ({s}); log: {}", log.display());
        }
        let phase = match (backup.is_some(), result.is_some()) {
            (_, true) => Phase::After,
            (true, false) => Phase::During,
            (false, false) => Phase::Before,
        };
        if let Some(s) = sample(&client, &metrics_url, pid, &ctl).await {
            ctl.allowed.store(s.accepted as u64 + (HEADROOM * rate) as u64, Ordering::Relaxed);
            let r = row(started, &history[0], &prev, &s, ticks);
            history.push_back(s.clone());
            if history.len() > 5 {
                history.pop_front();
            }
            print_row(&r);
            rows.push((phase, r));
            prev = s;
        }
        if backup.is_none() && started.elapsed() >= Duration::from_secs(before_s) {
            println!("--- POST /v1/admin/backup at t = {:.1} s", started.elapsed().as_secs_f64());
            let url = format!("http://127.0.0.1:{port}/v1/admin/backup");
            backup = Some(tokio::spawn(async move {
                let t = Instant::now();
                let c =
                    reqwest::Client::builder().timeout(Duration::from_secs(1800)).build().map_err(|e| e.to_string());
                let r = match c {
                    Ok(c) => match c.post(&url).bearer_auth(TOKEN).send().await {
                        Ok(resp) => {
                            let status = resp.status().as_u16();
                            resp.text().await.map(|b| (status, b)).map_err(|e| e.to_string())
                        }
                        Err(e) => Err(e.to_string()),
                    },
                    Err(e) => Err(e),
                };
                (r, t.elapsed())
            }));
        }
        if result.is_none() {
            if let Some(h) = backup.as_mut().filter(|h| h.is_finished()) {
                result = Some(h.await.unwrap_or_else(|e| (Err(format!("backup task: {e}")), Duration::ZERO)));
                backup_ended = Some(Instant::now());
                println!("--- backup answered at t = {:.1} s", started.elapsed().as_secs_f64());
            }
        }
        if backup_ended.is_some_and(|t| t.elapsed() >= Duration::from_secs(after_s)) {
            break;
        }
    }
    ctl.stop.store(true, Ordering::Relaxed);
    for f in feeders {
        let _ = f.await;
    }
    let drain_started = Instant::now();
    while drain_started.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if let Some(s) = sample(&client, &metrics_url, pid, &ctl).await {
            if s.pending == 0.0 && s.accepted == prev.accepted {
                prev = s;
                break;
            }
            prev = s;
        }
    }
    let code = terminate(&mut child, Duration::from_secs(120));
    fake.shutdown().await;

    println!();
    println!("durable lines/s and RSS by phase (one-second samples):");
    phase_summary("before", &rows, Phase::Before);
    phase_summary("during", &rows, Phase::During);
    phase_summary("after", &rows, Phase::After);
    println!("dropped {:.0}, duplicate {:.0} over the run; SIGTERM exit {code:?}", prev.dropped, prev.duplicate);
    let (answer, took) = result.unwrap_or((Err("no answer".into()), Duration::ZERO));
    let mut backup_id = None;
    match answer {
        Ok((200, body)) => {
            let m: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            backup_id = m["id"].as_str().map(str::to_string);
            println!(
                "backup {}: {:.1} s over HTTP (manifest duration_ms {}), {:.1} MiB, checks {}, {} sealed epochs, files {}",
                m["id"],
                took.as_secs_f64(),
                m["duration_ms"],
                m["size_bytes"].as_f64().unwrap_or(0.0) / 1048576.0,
                m["checks"],
                m["sealed_epochs"],
                m["files"]
            );
            let mut keys: Vec<&str> = m.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
            keys.sort_unstable();
            println!("manifest fields: {}", keys.join(", "));
            println!("manifest row counts: {}", m["row_counts"]);
        }
        Ok((status, body)) => println!("backup refused: HTTP {status} after {:.1} s: {body}", took.as_secs_f64()),
        Err(e) => println!("backup request failed after {:.1} s: {e}", took.as_secs_f64()),
    }
    if let Some(id) = backup_id {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_chatseal"));
        cmd.args(["backup", "verify", &id]);
        daemon_env(&mut cmd, &store_url, &backups);
        let t = Instant::now();
        match cmd.output() {
            Ok(o) => println!(
                "`chatseal backup verify {id}`: exit {:?} in {:.1} s: {} {}",
                o.status.code(),
                t.elapsed().as_secs_f64(),
                String::from_utf8_lossy(&o.stdout).trim(),
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .filter(|l| !l.contains(" INFO "))
                    .collect::<Vec<_>>()
                    .join(" | ")
            ),
            Err(e) => println!("`chatseal backup verify {id}` could not run: {e}"),
        }
    }
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let problems: Vec<&str> = text.lines().filter(|l| l.contains("WARN") || l.contains("ERROR")).collect();
    println!("daemon log: {} WARN/ERROR lines", problems.len());
    for l in problems.iter().take(10) {
        println!("  {l}");
    }
    println!("load average at the end: {}", std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim());
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
    rt.block_on(bench());
}
