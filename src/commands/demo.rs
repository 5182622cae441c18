//! `chatseal demo [--for DURATION]`: chatseal at work in one command, with no Twitch account and
//! no network. It starts the simulated Twitch server ([`crate::twitchsim`]) on loopback, runs the
//! real daemon against it through [`crate::daemon::run`] (the path `chatseal run` takes) with
//! short epochs and a fresh SQLite store in a temporary directory (removed at exit), and feeds
//! it seeded chat on every channel. While it runs it shows a progress line (lines sent, events
//! durable, channel-epochs sealed), prints each seal as it appears in the HTTP API and serves
//! /metrics; at the end it fetches one participation proof from the API, checks it with the
//! on-chain fold, and stops the daemon gracefully through its shutdown future.

mod display;
mod drive;
mod plan;
mod sample;
mod watch;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::daemon::{self, DaemonError, RunOptions};
use crate::exit::Exit;
use crate::settings::{self, Settings, SettingsError};
use crate::telemetry::LogFormat;
use crate::twitchsim::traffic::{Traffic, TrafficConfig};
use crate::twitchsim::{FakeTwitch, FakeTwitchConfig};
use display::Display;
use drive::DriveStats;
use plan::{Source, BUILT_IN, DEMO_CONFIG};
use watch::{Api, ApiError};

/// Where the demo serves /metrics and the API, unless the port is taken.
const DEMO_HTTP: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 9187);
/// One beat of simulated chat every tick: about 20 lines a second over all channels.
const TICK: Duration = Duration::from_millis(50);
/// Seed of the simulated chat: every demo shows the same crowd.
const SEED: u64 = 2024;
/// How long the daemon may take to join every channel of the simulated server.
const JOIN_TIMEOUT: Duration = Duration::from_secs(20);
/// How often the display reads the API.
pub(super) const POLL: Duration = Duration::from_millis(500);

/// Why the demo could not show what it should; each maps to an exit code.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// `--for 0s` (exit 64).
    #[error("--for must be longer than zero, e.g. --for 60s")]
    ZeroDuration,
    /// The temporary directory for the store cannot be made (exit 69).
    #[error(
        "cannot prepare the demo's directory {path}: {source}; check that the temporary directory (TMPDIR) is writable"
    )]
    WorkDir {
        /// The directory that could not be prepared.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The demo's settings (built in, or the given config file) do not load (exit 78).
    #[error("{0}")]
    Settings(#[from] SettingsError),
    /// The settings name no channel to simulate (exit 78); holds where the settings came from.
    #[error("the demo settings ({0}) list no channel: set twitch.channels")]
    NoChannels(String),
    /// The simulated Twitch server cannot bind a loopback port (exit 69).
    #[error("cannot start the simulated Twitch server on 127.0.0.1: {0}")]
    FakeTwitch(std::io::Error),
    /// No loopback port for the daemon's HTTP server (exit 69).
    #[error("cannot listen for HTTP on 127.0.0.1 (neither port 9187 nor a free port): {0}")]
    Listen(std::io::Error),
    /// The daemon had not joined a channel of the simulated server in time.
    #[error("the daemon did not join #{channel} of the simulated server within {timeout:?}; see the log above")]
    NotJoined {
        /// The channel not joined.
        channel: String,
        /// How long the demo waited.
        timeout: Duration,
    },
    /// The daemon ended with an error (its own exit code).
    #[error("the daemon stopped: {0}")]
    Daemon(#[from] DaemonError),
    /// The daemon ended cleanly before the demo asked it to.
    #[error("the daemon stopped before the demo ended, without an error; see the log above")]
    DaemonGone,
    /// The daemon's task panicked or was cancelled (the join error's text).
    #[error("the daemon's task failed: {0}")]
    DaemonPanicked(String),
    /// The daemon's HTTP API could not be read.
    #[error("reading the daemon's HTTP API: {0}")]
    Api(#[from] ApiError),
    /// The sample proof fetched from the API does not fold to the sealed root.
    #[error("the sample proof of {login} in #{channel} epoch {epoch} does not hold: {reason}")]
    ProofFailed {
        /// The chatter whose proof was checked.
        login: String,
        /// The channel of the seal.
        channel: String,
        /// Epoch start, Unix seconds.
        epoch: i64,
        /// What did not hold.
        reason: String,
    },
}

impl DemoError {
    /// The process exit code: 64 usage, 78 configuration, 69 unavailable, the daemon's own, else 70.
    pub fn exit_code(&self) -> Exit {
        match self {
            DemoError::ZeroDuration => Exit::Usage,
            DemoError::Settings(_) | DemoError::NoChannels(_) => Exit::Config,
            DemoError::WorkDir { .. } | DemoError::FakeTwitch(_) | DemoError::Listen(_) => Exit::Unavailable,
            DemoError::Daemon(e) => e.exit_code(),
            _ => Exit::Internal,
        }
    }
}

/// Logging for the demo: warnings only (the display tells the story), `RUST_LOG` to override.
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,sqlx=warn,sea_orm=warn,ractor=error"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Runs the demo for `run_for`; `config` replaces the demo settings file when given.
pub async fn main(config: Option<&Path>, run_for: Duration) -> Exit {
    match demo(config, run_for).await {
        Ok(()) => Exit::Ok,
        Err(e) => {
            eprintln!("chatseal demo: {e}");
            e.exit_code()
        }
    }
}

/// The demo's own temporary directory (store, backups, built-in settings), removed on drop.
struct WorkDir(PathBuf);

impl WorkDir {
    fn create() -> Result<WorkDir, DemoError> {
        let stamp = drive::now_ms();
        let path = std::env::temp_dir().join(format!("chatseal-demo-{stamp}-{}", std::process::id()));
        std::fs::create_dir_all(&path).map_err(|source| DemoError::WorkDir { path: path.clone(), source })?;
        Ok(WorkDir(path))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            eprintln!("chatseal demo: could not remove {}: {e}", self.0.display());
        }
    }
}

/// The daemon task and the sender that stops it.
struct Running {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), DaemonError>>,
    ended: Option<Result<(), DemoError>>,
}

impl Running {
    /// Resolves only if the daemon ends by itself, keeping what it returned for [`Running::stop`]
    /// (cancel-safe: dropping it changes nothing).
    async fn ended(&mut self) -> DemoError {
        self.ended = Some(flatten((&mut self.task).await));
        DemoError::DaemonGone
    }

    /// The graceful stop (`SIGTERM`'s path): what `run` returned.
    async fn stop(mut self) -> Result<(), DemoError> {
        if let Some(r) = self.ended.take() {
            return r;
        }
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        flatten(self.task.await)
    }
}

fn flatten(r: Result<Result<(), DaemonError>, tokio::task::JoinError>) -> Result<(), DemoError> {
    match r {
        Ok(r) => r.map_err(DemoError::Daemon),
        Err(e) => Err(DemoError::DaemonPanicked(e.to_string())),
    }
}

async fn demo(config: Option<&Path>, run_for: Duration) -> Result<(), DemoError> {
    if run_for.is_zero() {
        return Err(DemoError::ZeroDuration);
    }
    let dir = WorkDir::create()?;
    let source = plan::choose_source(config, Path::new(DEMO_CONFIG).is_file(), &dir.0);
    if let Source::BuiltIn(path) = &source {
        std::fs::write(path, BUILT_IN).map_err(|source| DemoError::WorkDir { path: path.clone(), source })?;
    }
    let mut s = settings::load(Some(source.path()))?;
    if s.twitch.channels.is_empty() {
        return Err(DemoError::NoChannels(source.describe()));
    }
    let fake = FakeTwitch::start(FakeTwitchConfig::default()).await.map_err(DemoError::FakeTwitch)?;
    let listener = match TcpListener::bind(DEMO_HTTP).await {
        Ok(l) => l,
        Err(_) => TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.map_err(DemoError::Listen)?,
    };
    let http = listener.local_addr().map_err(DemoError::Listen)?;
    plan::apply_overrides(&mut s, fake.addr(), &dir.0, http);
    header(&s, &source, fake.addr(), http, run_for);

    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(daemon::run(
        s.clone(),
        listener,
        async move {
            let _ = rx.await;
        },
        RunOptions::default(),
    ));
    let mut running = Running { stop: Some(tx), task, ended: None };
    let shown = show(&fake, &s, run_for, &mut running).await;
    let stopped = running.stop().await;
    fake.shutdown().await;
    let done = match (shown, stopped) {
        (Ok(done), Ok(())) => done,
        // The daemon's own error says more than "it ended".
        (Err(DemoError::DaemonGone), Err(e)) => return Err(e),
        (Err(e), _) | (Ok(_), Err(e)) => return Err(e),
    };
    println!(
        "demo done: {} chat lines sent, {} events durable, {} channel-epochs sealed; the daemon stopped cleanly",
        done.sent, done.durable, done.sealed
    );
    Ok(())
}

fn header(s: &Settings, source: &Source, twitch: SocketAddr, http: SocketAddr, run_for: Duration) {
    let channels: Vec<String> = s.twitch.channels.iter().map(|c| format!("#{c}")).collect();
    let d = humantime::format_duration;
    println!("chatseal demo: the daemon against a simulated Twitch chat on {twitch} (no network needed)");
    println!("  channels  {}", channels.join(", "));
    println!(
        "  settings  {} (epochs of {}, sealed {} after they end)",
        source.describe(),
        d(s.epoch.length),
        d(s.epoch.grace)
    );
    println!("  store     {} (fresh, removed at exit)", s.store.url);
    println!("  metrics   http://{http}/metrics   API http://{http}/v1/epochs");
    println!("  running   for {}; Ctrl-C stops early", d(run_for));
    if let Some(note) = plan::duration_note(run_for, s.epoch.length, s.epoch.grace) {
        println!("{note}");
    }
}

/// What the demo did, for its last line.
struct Shown {
    sent: u64,
    durable: u64,
    sealed: usize,
}

/// Everything between the daemon's start and its stop: joins, traffic, display, sample proof.
async fn show(fake: &FakeTwitch, s: &Settings, run_for: Duration, running: &mut Running) -> Result<Shown, DemoError> {
    let deadline = tokio::time::Instant::now() + run_for;
    let api = Api::new(format!("http://{}", s.http.listen))?;
    for channel in &s.twitch.channels {
        tokio::select! {
            joined = fake.wait_joined(channel, JOIN_TIMEOUT) => if !joined {
                return Err(DemoError::NotJoined { channel: channel.clone(), timeout: JOIN_TIMEOUT });
            },
            e = running.ended() => return Err(e),
        }
    }
    let epoch_len = i64::try_from(s.epoch.length.as_secs()).unwrap_or(i64::MAX).max(1);
    let mut cfg = TrafficConfig::new(SEED, &s.twitch.channels);
    // The one RECONNECT comes at about 40% of the run.
    cfg.reconnect_at = Some((run_for.as_millis() * 2 / 5 / TICK.as_millis()) as u64);
    let stats = Arc::new(DriveStats::default());
    let stop = CancellationToken::new();
    let driver =
        tokio::spawn(drive::drive(fake.clone(), Traffic::new(cfg), TICK, epoch_len, stats.clone(), stop.clone()));

    let mut display = Display::new(run_for, epoch_len);
    let watched = tokio::select! {
        r = display.run_until(&api, &stats, deadline) => r,
        _ = tokio::signal::ctrl_c() => { display.line("interrupted: stopping early"); Ok(()) }
        e = running.ended() => Err(e),
    };
    stop.cancel();
    let _ = driver.await;
    watched?;
    display.poll(&api, &stats).await?;
    let durable = display.finish();
    display::sample_proof(&api, &stats, &display.sealed).await?;
    Ok(Shown { sent: stats.sent(), durable, sealed: display.sealed.len() })
}
