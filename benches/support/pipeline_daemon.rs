//! The daemon side of the `pipeline` bench: the real `chatseal` binary as a child process,
//! configured through its environment (its own environment cleared, then the bench's settings,
//! then any `CHATSEAL__...` variable the bench was given), joined to every bench channel of the
//! fake server before the load starts; its samples (`/metrics` and /proc), and its log's
//! warnings for the report.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chatseal::twitchsim::FakeTwitch;

use super::child::free_port;
use super::pipeline_sample::Sample;

/// The binary measured: `CHATSEAL_BENCH_BIN`, or the one cargo built with the bench.
pub fn binary() -> PathBuf {
    std::env::var_os("CHATSEAL_BENCH_BIN")
        .filter(|b| !b.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_chatseal").into())
}

/// `CHATSEAL__...` variables of the bench's own environment, passed on to the daemon.
pub fn passed_settings() -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = std::env::vars().filter(|(k, _)| k.starts_with("CHATSEAL__")).collect();
    v.sort();
    v
}

pub struct Daemon {
    pub child: Child,
    pub pid: u32,
    pub log: PathBuf,
    pub base: String,
    pub client: reqwest::Client,
}

impl Daemon {
    /// Starts the daemon on `store_url` reading `channels` of `fake`, with epochs of
    /// `epoch_secs`, and waits until it joined every channel and answers /metrics.
    pub async fn start(fake: &FakeTwitch, store_url: &str, channels: &[String], epoch_secs: u64, log: &Path) -> Daemon {
        let port = free_port();
        let log_file = std::fs::File::create(log).unwrap_or_else(|e| panic!("log file {}: {e}", log.display()));
        let log_err = log_file.try_clone().unwrap_or_else(|e| panic!("log file {}: {e}", log.display()));
        let bin = binary();
        let child = Command::new(&bin)
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
            .env("CHATSEAL__EPOCH__LENGTH", format!("{epoch_secs}s"))
            .env("CHATSEAL__HTTP__LISTEN", format!("127.0.0.1:{port}"))
            .envs(passed_settings())
            .stdout(Stdio::from(log_file))
            .stderr(Stdio::from(log_err))
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_else(|e| panic!("http client: {e}"));
        let mut d =
            Daemon { pid: child.id(), child, log: log.to_path_buf(), base: format!("http://127.0.0.1:{port}"), client };
        let all = channels.len();
        if !fake.wait_for(Duration::from_secs(120), |t| t.joined_channels().len() >= all).await {
            d.exited();
            panic!(
                "the daemon joined {} of {all} channels within 120 s; log: {}",
                fake.joined_channels().len(),
                log.display()
            );
        }
        for _ in 0..600 {
            d.exited();
            if d.sample(0).await.is_some() {
                return d;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the daemon's /metrics did not answer within 60 s; log: {}", log.display());
    }

    /// One sample (None while /metrics does not answer); `sent` is the load side's count.
    pub async fn sample(&self, sent: u64) -> Option<Sample> {
        let text = self.client.get(format!("{}/metrics", self.base)).send().await.ok()?.text().await.ok()?;
        Some(Sample::read(&text, sent, self.pid))
    }

    /// Panics (with the log's path) when the daemon has exited.
    pub fn exited(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("the daemon exited early ({status}); its log: {}", self.log.display());
        }
    }

    /// The daemon's WARN and ERROR lines (the first 20), so a run that dropped or retried says why.
    pub fn print_log_problems(&self) {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let problems: Vec<&str> = text.lines().filter(|l| l.contains("WARN") || l.contains("ERROR")).collect();
        println!("daemon log: {} WARN/ERROR lines", problems.len());
        for l in problems.iter().take(20) {
            println!("  {l}");
        }
    }
}
