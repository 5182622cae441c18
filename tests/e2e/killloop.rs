//! The kill -9 loop: the real binary is killed at a seeded random moment while lines flow, a
//! few dozen times over one store; then every line the daemon had received (by its own
//! counter, sampled while it ran) more than the flush window before its kill is counted exactly
//! once, and nothing else appears. The seed is printed; set
//! CHATSEAL_KILL_SEED to replay a run and CHATSEAL_KILL_ITERATIONS to run more.

use std::collections::{BTreeMap, BTreeSet};

use std::time::{Duration, Instant};

use chatseal::twitchsim::lines::{privmsg, Chatter};

use crate::harness::*;
use crate::invariants::{check_counts, check_store};

/// Lines the daemon had received longer than this before the kill must be durable:
/// flush_interval (100 ms) plus the time a commit may take on a loaded 2-core machine.
const MUST_BE_DURABLE_AFTER: Duration = Duration::from_millis(100 + 900);

/// xorshift64*: a tiny seeded generator, enough to pick kill times reproducibly.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

/// Runs alone (`.ci/run` calls it with `--ignored` after the suite): the flush-window bound is
/// about the daemon, and on a 2-core machine shared with the rest of the suite the daemon can
/// lag reading its socket by more than the window, which is not a durability loss.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "timing-sensitive: run alone by .ci/run after the suite"]
async fn kill_9_loop_loses_nothing_outside_the_flush_window() {
    let seed: u64 =
        std::env::var("CHATSEAL_KILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| now_ms() as u64 | 1);
    let iterations: u64 = std::env::var("CHATSEAL_KILL_ITERATIONS").ok().and_then(|s| s.parse().ok()).unwrap_or(24);
    eprintln!("kill -9 loop: seed {seed} (CHATSEAL_KILL_SEED={seed} replays it), {iterations} iterations");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let fake = fake_twitch().await;
    let mut sent: BTreeMap<String, i64> = BTreeMap::new();
    let mut must: BTreeSet<String> = BTreeSet::new();
    let mut epochs = BTreeSet::new();
    let mut kills = 0;
    for it in 0..iterations {
        let before = fake.total_connections();
        let port = free_port();
        let metrics_url = format!("http://127.0.0.1:{port}/metrics");
        let mut child = daemon_command(&fake, &url)
            .env("CHATSEAL__HTTP__LISTEN", format!("127.0.0.1:{port}"))
            .spawn()
            .expect("spawn chatseal");
        assert!(
            fake.wait_for(Duration::from_secs(30), |t| t.total_connections() > before
                && t.joined_connections("alpha") == 1)
                .await,
            "iteration {it}: joined"
        );
        let run_for = Duration::from_millis(rng.range(50, 1500));
        let started = Instant::now();
        // Lines of this iteration in the order sent (one connection: received in this order),
        // and samples of how many of them the daemon had received, from its own counter.
        let mut lines: Vec<String> = Vec::new();
        let mut received: Vec<(Instant, usize)> = Vec::new();
        let mut n = 0;
        while started.elapsed() < run_for {
            for _ in 0..10 {
                let login = format!("k{it}x{n}");
                let ts = now_ms();
                epochs.insert(ts.div_euclid(1000).div_euclid(3600) * 3600);
                let line = privmsg(
                    "alpha",
                    &Chatter::new(&login, "9", &login),
                    &format!("kill-{seed}-{it}-{n}"),
                    ts,
                    "hi",
                    None,
                );
                if fake.send_raw("alpha", &line) > 0 {
                    lines.push(login.clone());
                    *sent.entry(login).or_default() += 1;
                }
                n += 1;
            }
            if let Some(r) = participant_lines(&metrics_url).await {
                received.push((Instant::now(), r));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        child.kill().expect("kill -9");
        let killed_at = Instant::now();
        let _ = child.wait();
        kills += 1;
        // What the daemon had received more than the window before the kill must be durable.
        let arrived = received
            .iter()
            .filter(|(at, _)| killed_at.duration_since(*at) > MUST_BE_DURABLE_AFTER)
            .map(|(_, r)| *r)
            .max()
            .unwrap_or(0);
        must.extend(lines.into_iter().take(arrived));
    }
    let store = check_store(&url, "alpha").await;
    let counted = check_counts(&store, "alpha", &epochs, &sent).await;
    let lost: Vec<&String> = must.iter().filter(|l| !counted.contains_key(*l)).collect();
    eprintln!(
        "kill -9 loop: {kills} kills, {} lines sent, {} received by the daemon more than {MUST_BE_DURABLE_AFTER:?} before their kill, {} counted, lost outside the window: {}",
        sent.len(),
        must.len(),
        counted.len(),
        lost.len()
    );
    assert!(
        lost.is_empty(),
        "seed {seed}: lines delivered well before a kill were lost: {:?}",
        &lost[..lost.len().min(10)]
    );
    assert!(counted.values().all(|n| *n == 1), "every line counted once");
}

/// How many participant lines the daemon has received, from its own /metrics.
async fn participant_lines(url: &str) -> Option<usize> {
    let text = reqwest::get(url).await.ok()?.text().await.ok()?;
    let line =
        text.lines().find(|l| l.starts_with("chatseal_irc_lines_total{") && l.contains("kind=\"participant\""))?;
    line.rsplit(' ').next()?.parse::<f64>().ok().map(|v| v as usize)
}
