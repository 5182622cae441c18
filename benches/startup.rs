//! Start-up to ready with a 1 GB store. Bar (performance.md): <= 5 s, quick_check included.
//!
//! The store is the shared big store of `support/big_store.rs` (about 1 GiB, built once and
//! reused: many sealed channel-hours whose digests verify, plus an unsealed hour with its
//! message ids). The bench then starts the REAL release binary on it `CHATSEAL_BENCH_RUNS`
//! times (default 5) cold (the store's pages dropped from the page cache first) and as many
//! times warm, against the fake Twitch server with the store's 50 channels, and measures from
//! spawn to the sd_notify READY=1 (store open, quick_check, the start-up part of the digest
//! check (its 1 s budget; the rest runs in the background after ready), actor tree and HTTP
//! up; `NOTIFY_SOCKET` points at a socket of this bench) and to the first `/readyz` 200 (every
//! channel joined). The daemon's JSON log splits each start: spawn to the end of the start-up
//! digest check minus the check's own `elapsed` (process start, open, quick_check,
//! migrations), that check, then up to "chatseal running". After that, in this process, the same store
//! is opened phase by phase (open without quick_check, `Store::quick_check`,
//! `Store::verify_digests`) cold and warm, to split quick_check from the open.
//! Medians are printed; no timed assertions.
//! `cargo bench --bench startup`
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test or bench: a panic is its failure report

#[allow(dead_code)]
#[path = "support/big_store.rs"]
mod big_store;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use chatseal::twitchsim::{FakeTwitch, FakeTwitchConfig};
use chatseal_schema::{OpenOptions, Store};

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim().to_string()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free loopback port: {e}"))
}

/// A `Debug`-formatted `Duration` ("1.234s", "850.1ms", "12µs", "40ns") in seconds.
fn debug_duration_s(s: &str) -> Option<f64> {
    let s = s.trim();
    let at = s.find(|ch: char| !(ch.is_ascii_digit() || ch == '.'))?;
    let (num, unit) = s.split_at(at);
    let v: f64 = num.parse().ok()?;
    let scale = match unit {
        "s" => 1.0,
        "ms" => 1e-3,
        "µs" | "us" => 1e-6,
        "ns" => 1e-9,
        _ => return None,
    };
    Some(v * scale)
}

/// What the daemon's JSON log says about one start.
#[derive(Debug, Default, Clone)]
struct LogPhases {
    /// Seconds from spawn to the end of the digest check.
    verified_at: Option<f64>,
    /// The digest check's own `elapsed`.
    digest_s: Option<f64>,
    /// Seconds from spawn to "chatseal running".
    running_at: Option<f64>,
}

fn log_phases(log: &Path, spawned: SystemTime) -> LogPhases {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut out = LogPhases::default();
    let since = |ts: &str| -> Option<f64> {
        let t = humantime::parse_rfc3339_weak(ts.trim_end_matches('Z')).ok()?;
        Some(t.duration_since(spawned).map(|d| d.as_secs_f64()).unwrap_or_else(|e| -e.duration().as_secs_f64()))
    };
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        let msg = v["fields"]["message"].as_str().unwrap_or_default();
        let ts = v["timestamp"].as_str().unwrap_or_default();
        if msg.starts_with("sealed epochs verified") {
            out.verified_at = since(ts);
            out.digest_s = v["fields"]["elapsed"].as_str().and_then(debug_duration_s);
        } else if msg == "chatseal running" {
            out.running_at = since(ts);
        }
    }
    out
}

/// One start of the daemon.
#[derive(Debug, Clone)]
struct Start {
    cold: bool,
    ready_notify_s: f64,
    readyz_s: f64,
    log: LogPhases,
}

/// Receives sd_notify datagrams on `path`; the instant READY=1 arrived.
fn notify_listener(path: &Path) -> Arc<Mutex<Option<Instant>>> {
    let sock = UnixDatagram::bind(path).unwrap_or_else(|e| panic!("bind notify socket {}: {e}", path.display()));
    sock.set_read_timeout(Some(Duration::from_millis(200))).unwrap_or_else(|e| panic!("notify socket timeout: {e}"));
    let ready = Arc::new(Mutex::new(None));
    let r = ready.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let deadline = Instant::now() + Duration::from_secs(600);
        while Instant::now() < deadline {
            if let Ok(n) = sock.recv(&mut buf) {
                if String::from_utf8_lossy(&buf[..n]).lines().any(|l| l == "READY=1") {
                    if let Ok(mut g) = r.lock() {
                        g.get_or_insert_with(Instant::now);
                    }
                    return;
                }
            }
        }
    });
    ready
}

async fn start_once(fake: &FakeTwitch, db: &Path, dir: &Path, run: usize, cold: bool) -> Start {
    if cold && !big_store::drop_file_cache(db) {
        println!("  (dd iflag=nocache failed: this \"cold\" start may be warm)");
    }
    let port = free_port();
    let notify = dir.join(format!("notify-{run}.sock"));
    let ready_at = notify_listener(&notify);
    let log = dir.join(format!("daemon-{run}.log"));
    let log_file = std::fs::File::create(&log).unwrap_or_else(|e| panic!("log {}: {e}", log.display()));
    let log_err = log_file.try_clone().unwrap_or_else(|e| panic!("log {}: {e}", log.display()));
    let channels: Vec<String> = (0..big_store::CHANNELS).map(big_store::channel).collect();
    let spawned_wall = SystemTime::now();
    let spawned = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_chatseal"))
        .args(["--log-format", "json", "run"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NOTIFY_SOCKET", &notify)
        .env("CHATSEAL__TWITCH__SERVER", fake.addr().ip().to_string())
        .env("CHATSEAL__TWITCH__PORT", fake.addr().port().to_string())
        .env("CHATSEAL__TWITCH__TLS", "false")
        .env("CHATSEAL__TWITCH__CHANNELS", channels.join(","))
        .env("CHATSEAL__TWITCH__JOINS_PER_WINDOW", "20")
        .env("CHATSEAL__TWITCH__JOIN_WINDOW", "100ms")
        .env("CHATSEAL__STORE__URL", format!("sqlite://{}", db.display()))
        .env("CHATSEAL__BACKUP__DIR", dir.join("backups"))
        .env("CHATSEAL__HTTP__LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::from(log_file))
        .stderr(Stdio::from(log_err))
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", env!("CARGO_BIN_EXE_chatseal")));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap_or_else(|e| panic!("http client: {e}"));
    let url = format!("http://127.0.0.1:{port}/readyz");
    let readyz_s = loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the daemon exited before /readyz answered 200 ({status}); its log: {}", log.display());
        }
        if spawned.elapsed() > Duration::from_secs(300) {
            let _ = child.kill();
            panic!("/readyz did not answer 200 within 300 s; log: {}", log.display());
        }
        if let Ok(r) = client.get(&url).send().await {
            if r.status() == reqwest::StatusCode::OK {
                break spawned.elapsed().as_secs_f64();
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    // READY=1 goes out before /readyz can answer 200; give the listener thread a moment.
    let mut ready_notify_s = f64::NAN;
    for _ in 0..100 {
        if let Some(t) = ready_at.lock().ok().and_then(|g| *g) {
            ready_notify_s = (t - spawned).as_secs_f64();
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let deadline = Instant::now() + Duration::from_secs(60);
    let code = loop {
        if let Ok(Some(s)) = child.try_wait() {
            break s.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if code != Some(0) {
        println!("  run {run}: SIGTERM exit {code:?} (expected 0); log: {}", log.display());
    }
    let _ = std::fs::remove_file(&notify);
    Start { cold, ready_notify_s, readyz_s, log: log_phases(&log, spawned_wall) }
}

fn print_start(run: usize, s: &Start) {
    let open = match (s.log.verified_at, s.log.digest_s) {
        (Some(v), Some(d)) => format!("{:.2}", v - d),
        _ => "?".into(),
    };
    let digest = s.log.digest_s.map(|d| format!("{d:.2}")).unwrap_or_else(|| "?".into());
    let tree = match (s.log.running_at, s.log.verified_at) {
        (Some(r), Some(v)) => format!("{:.2}", r - v),
        _ => "?".into(),
    };
    println!(
        "  start {run:>2} {:<4}  READY=1 {:>6.2} s  /readyz 200 {:>6.2} s   (spawn..store open {open} s, digests {digest} s, actors+HTTP {tree} s)",
        if s.cold { "cold" } else { "warm" },
        s.ready_notify_s,
        s.readyz_s
    );
}

fn summarize(label: &str, starts: &[&Start]) {
    let m = |f: &dyn Fn(&Start) -> Option<f64>| median(starts.iter().filter_map(|s| f(s)).collect());
    println!(
        "{label} ({} starts), medians: READY=1 {:.2} s, /readyz 200 {:.2} s; spawn..store open (quick_check included) {:.2} s, digest check {:.2} s, actors+HTTP {:.2} s",
        starts.len(),
        m(&|s| Some(s.ready_notify_s).filter(|v| v.is_finite())),
        m(&|s| Some(s.readyz_s)),
        m(&|s| Some(s.log.verified_at? - s.log.digest_s?)),
        m(&|s| s.log.digest_s),
        m(&|s| Some(s.log.running_at? - s.log.verified_at?)),
    );
}

/// One in-process open, phase by phase: (open without quick_check, quick_check, digests).
async fn phases_in_process(db: &Path, cold: bool) -> (f64, f64, f64) {
    if cold && !big_store::drop_file_cache(db) {
        println!("  (dd iflag=nocache failed: this \"cold\" pass may be warm)");
    }
    let url = format!("sqlite://{}", db.display());
    let t = Instant::now();
    let store = Store::open_with(&url, &OpenOptions { quick_check: false, ..OpenOptions::default() })
        .await
        .unwrap_or_else(|e| panic!("open {url}: {e}"));
    let open = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let problems = store.quick_check().await.unwrap_or_else(|e| panic!("quick_check: {e}"));
    let qc = t.elapsed().as_secs_f64();
    assert!(problems.is_empty(), "quick_check found problems in the bench store: {problems:?}");
    let t = Instant::now();
    let bad = store.verify_digests().await.unwrap_or_else(|e| panic!("verify_digests: {e}"));
    let digests = t.elapsed().as_secs_f64();
    assert!(
        bad.is_empty(),
        "{} seals of the bench store do not match their digests, e.g. {:?}",
        bad.len(),
        bad.first()
    );
    let _ = store.close().await;
    (open, qc, digests)
}

/// Seals and frozen leaves in the store now (the daemon adds a few empty seals per run).
async fn seal_counts(db: &Path) -> (i64, i64) {
    let url = format!("sqlite://{}", db.display());
    let store = Store::open_with(&url, &OpenOptions { quick_check: false, ..OpenOptions::default() })
        .await
        .unwrap_or_else(|e| panic!("open {url}: {e}"));
    let seals = store.sealed_epochs(None, u64::MAX >> 1).await.unwrap_or_else(|e| panic!("listing seals: {e}"));
    let leaves: i64 = seals.iter().map(|s| s.participants).sum();
    let _ = store.close().await;
    (seals.len() as i64, leaves)
}

async fn bench() {
    let built = big_store::ensure().await;
    let db: PathBuf = built.path.clone();
    let runs: usize = std::env::var("CHATSEAL_BENCH_RUNS").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(5).max(1);
    let (seals, leaves) = seal_counts(&db).await;
    println!(
        "startup: store {} ({:.0} MiB): {seals} seals holding {leaves} frozen leaves over {} sealed hours, {} message ids and {} participants of an unsealed hour",
        db.display(),
        big_store::file_bytes(&db) as f64 / 1048576.0,
        built.sealed_epochs,
        built.seen_ids,
        built.unsealed_participants
    );
    println!("load average before the run: {}", load_average());

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let fake = FakeTwitch::start(FakeTwitchConfig::default()).await.unwrap_or_else(|e| panic!("fake twitch: {e}"));
    let mut starts = Vec::new();
    for i in 0..2 * runs {
        let s = start_once(&fake, &db, dir.path(), i, i % 2 == 0).await;
        print_start(i, &s);
        starts.push(s);
    }
    fake.shutdown().await;
    let cold: Vec<&Start> = starts.iter().filter(|s| s.cold).collect();
    let warm: Vec<&Start> = starts.iter().filter(|s| !s.cold).collect();
    summarize("daemon, cold page cache", &cold);
    summarize("daemon, warm page cache", &warm);

    println!("in process, phase by phase (open without quick_check / quick_check / verify_digests of {seals} seals, {leaves} leaves):");
    // (cold?, seconds of each run's phases: open, quick_check, verify_digests)
    #[allow(clippy::type_complexity)]
    let mut by_kind: Vec<(bool, Vec<(f64, f64, f64)>)> = vec![(true, Vec::new()), (false, Vec::new())];
    for i in 0..2 * runs.min(3) {
        let cold = i % 2 == 0;
        let p = phases_in_process(&db, cold).await;
        println!(
            "  {} open {:.2} s, quick_check {:.2} s, digests {:.2} s",
            if cold { "cold" } else { "warm" },
            p.0,
            p.1,
            p.2
        );
        by_kind[if cold { 0 } else { 1 }].1.push(p);
    }
    for (cold, v) in &by_kind {
        println!(
            "  {} medians: open {:.2} s, quick_check {:.2} s, digests {:.2} s ({:.1} µs per leaf)",
            if *cold { "cold" } else { "warm" },
            median(v.iter().map(|p| p.0).collect()),
            median(v.iter().map(|p| p.1).collect()),
            median(v.iter().map(|p| p.2).collect()),
            median(v.iter().map(|p| p.2).collect()) / leaves.max(1) as f64 * 1e6
        );
    }
    println!("load average at the end: {}", load_average());
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
