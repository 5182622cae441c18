//! The measuring side of the `cluster` bench: one sample of every running member (its
//! Prometheus counters summed over the members, their CPU time and RSS from /proc) and the CPU
//! time of the PostgreSQL server processes that serve the run's own database (found by the
//! database name in their command line, so other users of the shared server do not count).
//! Rates, medians and the per-second table come from `pipeline_sample`.

use std::time::Instant;

use crate::members::Cluster;
use crate::pipeline_sample::{
    cpu_ticks, rss_bytes, sum_by_name, sum_labelled, Sample, DROPPED, DUPLICATE, DURABLE, LINES, PENDING,
};

/// `chatseal_late_lines_total`: lines whose epoch was sealed before they were flushed.
pub const LATE: &str = "chatseal_late_lines_total";

/// One sample of the whole cluster: the counters summed over the members (`Sample`, where
/// `daemon_ticks` and `rss` are the members' sums), plus the database's server processes.
#[derive(Clone, Debug)]
pub struct ClusterSample {
    pub all: Sample,
    pub late: f64,
    pub pg_ticks: u64,
    /// Every `postgres` process of the server (background writers too; shared with whatever
    /// else uses the server).
    pub pg_all_ticks: u64,
}

/// CPU ticks of the `postgres` processes serving database `db` (its backends), and of every
/// `postgres` process.
pub fn postgres_ticks(db: &str) -> (u64, u64) {
    let Ok(dir) = std::fs::read_dir("/proc") else { return (0, 0) };
    let (mut ours, mut all) = (0, 0);
    for e in dir.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().filter(|s| s.bytes().all(|b| b.is_ascii_digit())) else { continue };
        let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else { continue };
        let cmd = String::from_utf8_lossy(&cmd);
        // A backend's title: "postgres: [<cluster>: ]<user> <database> <client> <state>".
        if !cmd.starts_with("postgres") {
            continue;
        }
        let ticks = cpu_ticks(pid).unwrap_or(0);
        all += ticks;
        if cmd.split(|c: char| c.is_whitespace() || c == '\0').any(|w| w == db) {
            ours += ticks;
        }
    }
    (ours, all)
}

/// Samples every running member; None while one of them does not answer /metrics.
pub async fn sample(client: &reqwest::Client, cluster: &Cluster, db: &str, sent: u64) -> Option<ClusterSample> {
    let mut sum = std::collections::HashMap::<&str, f64>::new();
    let (mut ticks, mut rss, mut participants) = (0u64, 0u64, 0.0);
    for m in cluster.members.iter().filter(|m| m.running()) {
        let text = client.get(format!("{}/metrics", m.base())).send().await.ok()?.text().await.ok()?;
        participants += sum_labelled(&text, LINES, "kind=\"participant\"");
        let got = sum_by_name(&text);
        for k in [LINES, DURABLE, PENDING, DROPPED, DUPLICATE, LATE] {
            *sum.entry(k).or_insert(0.0) += got.get(k).copied().unwrap_or(0.0);
        }
        let pid = m.pid()?;
        ticks += cpu_ticks(&pid.to_string()).unwrap_or(0);
        rss += rss_bytes(pid).unwrap_or(0);
    }
    let get = |k: &str| sum.get(k).copied().unwrap_or(0.0);
    let (pg_ticks, pg_all_ticks) = postgres_ticks(db);
    Some(ClusterSample {
        all: Sample {
            at: Instant::now(),
            sent,
            // Lines read by all members: with replicas = 2 each line is read twice (one copy
            // becomes durable, the other a duplicate), so `behind` stays exact.
            accepted: get(LINES),
            durable: get(DURABLE),
            pending: get(PENDING),
            dropped: get(DROPPED),
            duplicate: get(DUPLICATE),
            late: get(LATE),
            participants,
            rss,
            daemon_ticks: ticks,
            // The cluster runs on PostgreSQL: no SQLite threads; flush phases not summed here.
            sqlite_ticks: 0,
            loadgen_ticks: cpu_ticks("self").unwrap_or(0),
            phases: Vec::new(),
        },
        late: get(LATE),
        pg_ticks,
        pg_all_ticks,
    })
}
