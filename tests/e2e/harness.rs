//! The harness: a fake Twitch server on loopback, settings generated for it, and the daemon
//! started in-process through the same `run` path `main` uses, on a port-0 listener.

use std::path::Path;
use std::time::{Duration, Instant};

use chatseal::daemon::{run, DaemonError, RunOptions};
use chatseal::settings::{load_from, Settings};
use chatseal::twitchsim::{FakeTwitch, FakeTwitchConfig};
use chatseal_schema::SignalKind;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Settings for a daemon against `fake`, with the store at `store_url`; `extra` env overrides.
pub fn settings_for(fake: &FakeTwitch, store_url: &str, channels: &[&str], extra: &[(&str, &str)]) -> Settings {
    let mut env: Vec<(String, String)> = vec![
        ("CHATSEAL__TWITCH__SERVER".into(), fake.addr().ip().to_string()),
        ("CHATSEAL__TWITCH__PORT".into(), fake.addr().port().to_string()),
        ("CHATSEAL__TWITCH__TLS".into(), "false".into()),
        ("CHATSEAL__TWITCH__CHANNELS".into(), channels.join(",")),
        ("CHATSEAL__TWITCH__JOIN_WINDOW".into(), "1s".into()),
        ("CHATSEAL__TWITCH__RECONNECT_MIN".into(), "100ms".into()),
        ("CHATSEAL__TWITCH__RECONNECT_MAX".into(), "1s".into()),
        ("CHATSEAL__STORE__URL".into(), store_url.into()),
        ("CHATSEAL__STORE__FLUSH_INTERVAL".into(), "50ms".into()),
        ("CHATSEAL__HTTP__LISTEN".into(), "127.0.0.1:0".into()),
    ];
    // Backups (and the recovery looking for them) stay beside the test's store, never in the
    // working directory's default data/backups.
    if !extra.iter().any(|(k, _)| *k == "CHATSEAL__BACKUP__DIR") {
        env.push(("CHATSEAL__BACKUP__DIR".into(), backup_dir_for(store_url).display().to_string()));
    }
    for (k, v) in extra {
        env.push((k.to_string(), v.to_string()));
    }
    match load_from(None, &env) {
        Ok(s) => s,
        Err(e) => panic!("test settings invalid: {e}"),
    }
}

/// A daemon running in this process.
pub struct Daemon {
    pub base: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), DaemonError>>,
}

impl Daemon {
    pub async fn start(settings: Settings) -> Daemon {
        Daemon::start_with(settings, RunOptions::default()).await
    }

    /// [`Daemon::start`] with injected parts (`RunOptions`).
    pub async fn start_with(settings: Settings, opts: RunOptions) -> Daemon {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let base = format!("http://{}", listener.local_addr().expect("local addr"));
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(run(
            settings,
            listener,
            async move {
                let _ = rx.await;
            },
            opts,
        ));
        Daemon { base, stop: Some(tx), task }
    }

    /// SIGTERM's path: graceful stop; returns what `run` returned.
    pub async fn stop(mut self) -> Result<(), DaemonError> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match tokio::time::timeout(Duration::from_secs(60), &mut self.task).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => panic!("daemon task panicked: {e}"),
            Err(_) => panic!("daemon did not stop within 60 s"),
        }
    }
}

pub async fn fake_twitch() -> FakeTwitch {
    FakeTwitch::start(FakeTwitchConfig::default()).await.expect("fake twitch starts")
}

/// GET `url`, returning status and JSON body (Null when the body is not JSON).
pub async fn get_json(url: &str) -> (u16, serde_json::Value) {
    let resp = reqwest::get(url).await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = resp.status().as_u16();
    let body = resp.json::<serde_json::Value>().await.unwrap_or(serde_json::Value::Null);
    (status, body)
}

/// Polls `f` until it returns Some, or panics with `what` after `timeout`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Where the harness puts a test store's backups: `backups/` beside a SQLite file, else a
/// folder of the system's temporary directory named after the URL's database.
pub fn backup_dir_for(store_url: &str) -> std::path::PathBuf {
    match chatseal_schema::sqlite_path(store_url) {
        Some(db) => db.parent().unwrap_or(Path::new(".")).join("backups"),
        None => {
            std::env::temp_dir().join(format!("chatseal-e2e-backups-{}", store_url.rsplit('/').next().unwrap_or("pg")))
        }
    }
}

/// `sqlite://` URL of a fresh file in `dir`.
pub fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("chatseal.db").display())
}

/// Unix ms now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Message counts per login in (epoch, channel), read from the store (after the daemon stopped).
pub async fn message_counts(store_url: &str, epoch: i64, channel: &str) -> std::collections::BTreeMap<String, i64> {
    let store = chatseal_schema::Store::open(store_url).await.expect("open store");
    let rows = store.participants_for_seal(epoch, channel).await.expect("read participants");
    rows.into_iter().map(|r| (r.login, r.signals[SignalKind::Message])).collect()
}

/// Writes `users` chatters (`u0`, `u1`, ...; user `u` first seen at `epoch + u` with `1 + u`
/// messages) of #`channel` in `epoch` through one flush transaction, as the aggregator does.
pub async fn write_chatters(store: &chatseal_schema::Store, epoch: i64, channel: &str, users: i64) {
    use chatseal_actors::format::user_hash;
    let deltas: Vec<chatseal_schema::ParticipationDelta> = (0..users)
        .map(|u| chatseal_schema::ParticipationDelta {
            epoch,
            channel: channel.into(),
            user_hash: user_hash(&format!("u{u}")),
            login: format!("u{u}").into(),
            user_id: None,
            display_name: None,
            first_seen: epoch + u,
            last_seen: epoch + u,
            signals: chatseal_schema::Signals::default().with(SignalKind::Message, 1 + u),
        })
        .collect();
    let tx = store.begin_flush().await.unwrap();
    tx.upsert_participation(&deltas).await.unwrap();
    tx.commit().await.unwrap();
}

/// `chatseal run` of the real binary, configured only through its environment: `fake` as the
/// Twitch server (plain TCP), #alpha, the store at `url`, a 100 ms flush interval, fast
/// reconnects, HTTP on a kernel-chosen port, output discarded. Callers override any of it with
/// more `.env(..)` (a later value for the same name wins) and then `.spawn()`.
pub fn daemon_command(fake: &FakeTwitch, url: &str) -> std::process::Command {
    use std::process::Stdio;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_chatseal"));
    cmd.arg("run")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CHATSEAL__TWITCH__SERVER", fake.addr().ip().to_string())
        .env("CHATSEAL__TWITCH__PORT", fake.addr().port().to_string())
        .env("CHATSEAL__TWITCH__TLS", "false")
        .env("CHATSEAL__TWITCH__CHANNELS", "alpha")
        .env("CHATSEAL__TWITCH__RECONNECT_MIN", "100ms")
        .env("CHATSEAL__TWITCH__RECONNECT_MAX", "1s")
        .env("CHATSEAL__STORE__URL", url)
        .env("CHATSEAL__STORE__FLUSH_INTERVAL", "100ms")
        .env("CHATSEAL__HTTP__LISTEN", "127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// A loopback port free right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

/// Where a sealed participant's row of seal `epoch` lies in a SQLite file: the offset of its
/// amount's first byte. The keyed layout stores a computed leaf as NULL, so the row is found by
/// its key (the epoch's low 4 bytes big-endian, the channel id: no byte for ids 0 and 1, else
/// one, the 32-byte user hash)
/// followed, a few bytes on (idx), by its login and amount.
pub fn sealed_amount_offset(file: &[u8], epoch: i64, p: &chatseal_schema::SealedParticipant) -> usize {
    let user = hex::decode(&p.user_hash).expect("a hex user hash");
    let tail = [p.login.as_bytes(), p.amount.as_bytes()].concat();
    let epoch = &epoch.to_be_bytes()[4..];
    (5..file.len().saturating_sub(32))
        .filter(|&at| file[at..at + 32] == user[..] && (&file[at - 4..at] == epoch || &file[at - 5..at - 1] == epoch))
        .find_map(|at| {
            let after = &file[at + 32..(at + 32 + 16 + tail.len()).min(file.len())];
            after.windows(tail.len()).position(|w| w == tail.as_slice()).map(|i| at + 32 + i + p.login.len())
        })
        .expect("the sealed row is in the file")
}
