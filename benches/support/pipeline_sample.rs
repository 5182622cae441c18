//! The measuring side of the `pipeline` bench: what one sample holds (the daemon's counters
//! from its Prometheus text, the child's RSS and CPU time from /proc), how a Prometheus text
//! is summed by metric name, and the rates and medians derived from consecutive samples.

use std::collections::HashMap;
use std::time::Instant;

use chatseal_schema::flush_phases::FlushPhase;

/// The daemon's counters that the bench reads from GET /metrics.
pub const LINES: &str = "chatseal_irc_lines_total";
pub const DURABLE: &str = "chatseal_events_durable_total";
pub const PENDING: &str = "chatseal_events_pending";
pub const DROPPED: &str = "chatseal_events_dropped_total";
pub const DUPLICATE: &str = "chatseal_events_duplicate_total";
pub const LATE: &str = "chatseal_late_lines_total";
/// The flush's phases (`chatseal_flush_phase_seconds{phase}`): their `_sum` series.
pub const PHASE_SUM: &str = "chatseal_flush_phase_seconds_sum";

/// Sums every series of each metric in a Prometheus text exposition, by metric name
/// (labels dropped); comments and unparsable lines are skipped.
pub fn sum_by_name(text: &str) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let Some((series, value)) = line.rsplit_once(' ') else { continue };
        let Ok(v) = value.trim().parse::<f64>() else { continue };
        let name = series.split('{').next().unwrap_or(series).trim();
        *out.entry(name.to_string()).or_insert(0.0) += v;
    }
    out
}

/// Sums the series of metric `name` whose label set holds `label` (such as `kind="participant"`).
pub fn sum_labelled(text: &str, name: &str, label: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (n, labels) = series.split_once('{')?;
            (n == name && labels.contains(label)).then(|| value.trim().parse::<f64>().ok()).flatten()
        })
        .sum()
}

/// VmRSS of process `pid` in bytes.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    proc_status_bytes(pid, "VmRSS:")
}

/// VmHWM of process `pid` in bytes: the peak RSS since it started (the kernel's high-water mark,
/// so a peak between two samples is not missed).
pub fn peak_rss_bytes(pid: u32) -> Option<u64> {
    proc_status_bytes(pid, "VmHWM:")
}

/// A `kB` field of /proc/<pid>/status, in bytes.
fn proc_status_bytes(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// User plus system CPU time of process `pid` (or "self"), in clock ticks.
pub fn cpu_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// The CPU time (clock ticks) of the threads of process `pid` whose name starts with
/// `prefix`: SQLite's statements run on sqlx's own worker threads (`sqlx-sqlite-worker-N`,
/// shown truncated to 15 bytes), so this is the database engine's part of the daemon's CPU.
/// A thread that has ended is not counted.
pub fn thread_ticks(pid: u32, prefix: &str) -> u64 {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return 0 };
    let mut total = 0;
    for task in dir.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else { continue };
        let Some((head, rest)) = stat.rsplit_once(')') else { continue };
        let name = head.split_once('(').map_or("", |(_, n)| n);
        if !name.starts_with(prefix) {
            continue;
        }
        let f: Vec<&str> = rest.split_whitespace().collect();
        let field = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        total += field(11) + field(12);
    }
    total
}

/// The name prefix of sqlx's SQLite worker threads (see [`thread_ticks`]).
pub const SQLITE_THREADS: &str = "sqlx-sqlite";

/// Clock ticks per second (`getconf CLK_TCK`), 100 when it cannot be asked.
pub fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .unwrap_or(100.0)
}

/// Cumulative values at one instant.
#[derive(Clone, Debug)]
pub struct Sample {
    pub at: Instant,
    pub sent: u64,
    pub accepted: f64,
    pub durable: f64,
    pub pending: f64,
    pub dropped: f64,
    pub duplicate: f64,
    pub late: f64,
    /// Participant lines read (`chatseal_irc_lines_total{kind="participant"}`).
    pub participants: f64,
    pub rss: u64,
    pub daemon_ticks: u64,
    /// The part of `daemon_ticks` spent on SQLite's worker threads (0 on PostgreSQL).
    pub sqlite_ticks: u64,
    pub loadgen_ticks: u64,
    /// Seconds the committed flushes spent in each phase, in `FlushPhase::ALL`'s order.
    pub phases: Vec<f64>,
}

impl Sample {
    /// A sample from the daemon's Prometheus text and /proc of `pid`, now.
    pub fn read(text: &str, sent: u64, pid: u32) -> Sample {
        let m = sum_by_name(text);
        let get = |k: &str| m.get(k).copied().unwrap_or(0.0);
        Sample {
            at: Instant::now(),
            sent,
            accepted: get(LINES),
            durable: get(DURABLE),
            pending: get(PENDING),
            dropped: get(DROPPED),
            duplicate: get(DUPLICATE),
            late: get(LATE),
            participants: sum_labelled(text, LINES, "kind=\"participant\""),
            rss: rss_bytes(pid).unwrap_or(0),
            daemon_ticks: cpu_ticks(&pid.to_string()).unwrap_or(0),
            sqlite_ticks: thread_ticks(pid, SQLITE_THREADS),
            loadgen_ticks: cpu_ticks("self").unwrap_or(0),
            phases: FlushPhase::NAMES
                .iter()
                .map(|p| sum_labelled(text, PHASE_SUM, &format!("phase=\"{p}\"")))
                .collect(),
        }
    }
}

/// What happened between two samples, per second.
#[derive(Clone, Debug)]
pub struct Row {
    pub t: f64,
    pub sent: f64,
    pub accepted: f64,
    pub durable: f64,
    /// The daemon's `chatseal_events_pending` gauge (the aggregator's buffer plus the flush in
    /// flight; not what still waits in its mailbox).
    pub pending: f64,
    /// Lines accepted and not yet durable, dropped or found duplicate (mailbox included).
    pub behind: f64,
    /// `behind` / the durable rate over the trailing window, seconds (infinite when nothing
    /// became durable in the window while something is behind).
    pub lag: f64,
    pub rss_mib: f64,
    pub daemon_cpu: f64,
    pub loadgen_cpu: f64,
}

/// The row from `a` to `b`; `t` is `b`'s offset from the start of the run; `window` is the
/// sample the lag's durable rate is measured from (a few seconds back: flushes are lumpy).
pub fn row(start: Instant, window: &Sample, a: &Sample, b: &Sample, ticks_per_s: f64) -> Row {
    let dt = (b.at - a.at).as_secs_f64().max(1e-9);
    let wdt = (b.at - window.at).as_secs_f64().max(1e-9);
    let window_rate = (b.durable - window.durable) / wdt;
    let behind = (b.accepted - b.durable - b.dropped - b.duplicate).max(0.0);
    Row {
        t: (b.at - start).as_secs_f64(),
        sent: (b.sent - a.sent) as f64 / dt,
        accepted: (b.accepted - a.accepted) / dt,
        durable: (b.durable - a.durable) / dt,
        pending: b.pending,
        behind,
        lag: if window_rate > 0.0 {
            behind / window_rate
        } else if behind > 0.0 {
            f64::INFINITY
        } else {
            0.0
        },
        rss_mib: b.rss as f64 / (1024.0 * 1024.0),
        daemon_cpu: (b.daemon_ticks.saturating_sub(a.daemon_ticks)) as f64 / ticks_per_s / dt * 100.0,
        loadgen_cpu: (b.loadgen_ticks.saturating_sub(a.loadgen_ticks)) as f64 / ticks_per_s / dt * 100.0,
    }
}

/// Median of `v` (mean of the two middle values for an even count); NaN when empty.
pub fn median(mut v: Vec<f64>) -> f64 {
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

pub fn print_header() {
    println!(
        "{:>6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7} {:>8} {:>6} {:>6}",
        "t s", "sent/s", "accept/s", "durable/s", "pending", "behind", "lag s", "RSS MiB", "dmn %", "gen %"
    );
}

pub fn print_row(r: &Row) {
    println!(
        "{:>6.1} {:>9.0} {:>9.0} {:>9.0} {:>9.0} {:>9.0} {:>7.2} {:>8.1} {:>6.0} {:>6.0}",
        r.t, r.sent, r.accepted, r.durable, r.pending, r.behind, r.lag, r.rss_mib, r.daemon_cpu, r.loadgen_cpu
    );
}

/// Least-squares slope of y over x (units of y per unit of x); 0 with fewer than two distinct x.
pub fn least_squares_slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if sxx == 0.0 {
        0.0
    } else {
        sxy / sxx
    }
}
