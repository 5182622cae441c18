//! What the `pipeline` bench reports at the end of every run, on either workload: the sealed
//! participants of the run's epochs (read back through `GET /v1/epochs`, waiting for the sealer
//! within a bound), the store's size on disk once the daemon stopped (SQLite: the file after a
//! WAL checkpoint; PostgreSQL: every table with its indexes and TOAST), and the one-line
//! summary: lines/s read, lines/s durable, dropped, peak RSS (VmHWM), CPU per line and bytes
//! on disk per sealed participant.

use std::path::Path;
use std::time::{Duration, Instant};

/// Sealed participants of `channels` in the epochs `first..=last` (Unix seconds), waiting until
/// every channel has `last` sealed or `deadline` passes; returns (participants, channels with
/// `last` sealed).
pub async fn sealed_participants(
    client: &reqwest::Client,
    base: &str,
    channels: &[String],
    first: i64,
    last: i64,
    deadline: Instant,
) -> (u64, usize) {
    loop {
        let mut total = 0u64;
        let mut done = 0usize;
        for ch in channels {
            let url = format!("{base}/v1/epochs?channel={ch}&limit=1000");
            let Some(body) = get_json(client, &url).await else { continue };
            let epochs = body.get("epochs").and_then(|e| e.as_array()).cloned().unwrap_or_default();
            let mut last_sealed = false;
            for e in &epochs {
                let epoch = e.get("epoch").and_then(|v| v.as_i64()).unwrap_or(i64::MIN);
                if (first..=last).contains(&epoch) {
                    total += e.get("participants").and_then(|v| v.as_u64()).unwrap_or(0);
                    last_sealed |= epoch == last;
                }
            }
            done += usize::from(last_sealed);
        }
        if done == channels.len() || Instant::now() >= deadline {
            return (total, done);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn get_json(client: &reqwest::Client, url: &str) -> Option<serde_json::Value> {
    let resp = client.get(url).send().await.ok()?;
    if !resp.status().is_success() {
        return None;
    }
    resp.json().await.ok()
}

/// Bytes the store takes on disk once the daemon has stopped: SQLite's database file after a
/// `wal_checkpoint(TRUNCATE)` (plus any WAL left), or PostgreSQL's tables, indexes and TOAST
/// outside the system schemas. None when it cannot be read (printed as not measured).
pub async fn store_bytes(store_url: &str, sqlite_file: Option<&Path>) -> Option<u64> {
    match sqlite_file {
        Some(file) => {
            let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(file);
            if let Ok(pool) = sqlx::SqlitePool::connect_with(opts).await {
                let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&pool).await;
                pool.close().await;
            }
            let size = |suffix: &str| {
                let mut p = file.as_os_str().to_owned();
                p.push(suffix);
                std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
            };
            Some(size("") + size("-wal"))
        }
        None => {
            let pool = sqlx::PgPool::connect(store_url).await.ok()?;
            let bytes = sqlx::query_scalar::<_, i64>(
                "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::BIGINT FROM pg_class c \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
                 AND n.nspname NOT LIKE 'pg_toast%'",
            )
            .fetch_one(&pool)
            .await
            .ok();
            pool.close().await;
            bytes.map(|b| b.max(0) as u64)
        }
    }
}

/// The figures of one run, as docs/performance.md quotes them.
pub struct Summary {
    pub workload: String,
    pub backend: String,
    pub lines: u64,
    pub read_s: Option<f64>,
    pub durable: u64,
    pub durable_s: Option<f64>,
    pub dropped: u64,
    pub duplicate: u64,
    pub late: u64,
    pub peak_rss: Option<u64>,
    pub cpu_s: f64,
    /// The part of `cpu_s` on SQLite's worker threads (the database engine in the process).
    pub sqlite_cpu_s: f64,
    /// Seconds the committed flushes of the run spent in each phase, with the phases' names.
    pub phases: Vec<(&'static str, f64)>,
    pub sealed: u64,
    pub store_bytes: Option<u64>,
    pub exit: Option<i32>,
}

pub fn print_summary(s: &Summary) {
    let mib = |b: u64| b as f64 / 1048576.0;
    let rate = |n: u64, t: Option<f64>| {
        t.filter(|t| *t > 0.0).map_or("not reached".into(), |t| format!("{:.0}", n as f64 / t))
    };
    println!();
    println!("== {} on {} ==", s.workload, s.backend);
    println!(
        "  lines/s read      {:>12}   ({} lines in {})",
        rate(s.lines, s.read_s),
        s.lines,
        s.read_s.map_or("-".into(), |t| format!("{t:.2} s"))
    );
    println!(
        "  lines/s durable   {:>12}   ({} durable in {})",
        rate(s.durable, s.durable_s),
        s.durable,
        s.durable_s.map_or("-".into(), |t| format!("{t:.2} s"))
    );
    println!("  dropped           {:>12}   (duplicate {}, late {})", s.dropped, s.duplicate, s.late);
    println!("  peak RSS (VmHWM)  {:>12}", s.peak_rss.map_or("not read".into(), |b| format!("{:.1} MiB", mib(b))));
    println!(
        "  CPU per line      {:>12}   ({:.2} s of daemon CPU, user + system)",
        if s.lines > 0 { format!("{:.2} µs", s.cpu_s * 1e6 / s.lines as f64) } else { "-".into() },
        s.cpu_s
    );
    if s.sqlite_cpu_s > 0.0 && s.lines > 0 {
        let per = |t: f64| t * 1e6 / s.lines as f64;
        println!(
            "    of which SQLite {:.2} µs ({:.2} s on its worker threads), the rest {:.2} µs",
            per(s.sqlite_cpu_s),
            s.sqlite_cpu_s,
            per(s.cpu_s - s.sqlite_cpu_s)
        );
    }
    let flushing: f64 = s.phases.iter().map(|(_, t)| t).sum();
    if flushing > 0.0 && s.lines > 0 {
        let parts: Vec<String> = s
            .phases
            .iter()
            .filter(|(_, t)| *t > 0.0)
            .map(|(p, t)| format!("{p} {:.2}", t * 1e6 / s.lines as f64))
            .collect();
        println!(
            "  flush time per line {:.2} µs ({flushing:.2} s in committed flushes): {} (µs per line, by phase)",
            flushing * 1e6 / s.lines as f64,
            parts.join(", ")
        );
    }
    let per = match (s.store_bytes, s.sealed) {
        (Some(b), n) if n > 0 => format!("{:.0} bytes", b as f64 / n as f64),
        (Some(_), _) => "no sealed participant".into(),
        (None, _) => "store size not read".into(),
    };
    println!(
        "  disk per sealed participant {per}   (store {}, {} sealed participants)",
        s.store_bytes.map_or("-".into(), |b| format!("{:.1} MiB", mib(b))),
        s.sealed
    );
    println!("  SIGTERM exit code {:?}", s.exit);
}
