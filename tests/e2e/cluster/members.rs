//! Cluster members as REAL `chatseal run` processes on one fresh PostgreSQL database: each with
//! its own HTTP port and instance name, its output appended to `<name>.log` in the cluster's
//! temporary directory (kept, and its path printed, when the test fails); kill -9, SIGTERM,
//! restart; bounded waits on `/healthz` and `/v1/cluster`. A member may run inside a network
//! namespace ([`super::netns`]), reaching the store and the chat server through forwarders.

use std::fs::OpenOptions;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chatseal::twitchsim::FakeTwitch;
use chatseal_schema::testing::PgTestDb;
use serde::Deserialize;

use crate::harness::{daemon_command, fake_twitch, free_port, wait_for};

/// `lease_ttl` of every cluster test.
pub const LEASE_TTL: Duration = Duration::from_secs(3);
/// Epoch length (seconds) and grace of every cluster test.
pub const EPOCH_LEN: i64 = 4;
pub const GRACE: &str = "2s";

/// What `GET /v1/cluster` answers (the lead's interface for issue 15).
#[derive(Debug, Clone, Deserialize)]
pub struct ClusterView {
    pub enabled: bool,
    pub instance: String,
    pub replicas: u32,
    pub lease_ttl_ms: u64,
    pub members: Vec<MemberView>,
    pub roles: Vec<RoleView>,
    #[serde(default)]
    pub unowned_slots: Vec<UnownedSlot>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MemberView {
    pub instance: String,
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub pid: u32,
    #[serde(default)]
    pub http: String,
    pub alive: bool,
    #[serde(default)]
    pub slots: Vec<String>,
    #[serde(default)]
    pub roles: Vec<MemberRole>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MemberRole {
    pub role: String,
    pub fence: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RoleView {
    pub role: String,
    pub holder: Option<String>,
    pub fence: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct UnownedSlot {
    pub channel: String,
}

impl ClusterView {
    /// Panics unless the view reports cluster mode as configured: enabled, `replicas`, the
    /// test's lease, a named answering instance, and every live member's host, pid and address.
    pub fn assert_configured(&self, replicas: u32) {
        assert!(self.enabled, "cluster mode enabled: {self:#?}");
        assert_eq!(self.replicas, replicas, "replicas: {self:#?}");
        assert_eq!(self.lease_ttl_ms, LEASE_TTL.as_millis() as u64, "lease_ttl_ms: {self:#?}");
        assert!(!self.instance.is_empty(), "the answering instance is named: {self:#?}");
        for m in self.alive() {
            assert!(
                m.pid > 0 && !m.http.is_empty() && !m.host.is_empty(),
                "live member {} shows host, pid and address: {m:#?}",
                m.instance
            );
        }
    }

    /// Fence of `role` as member `instance` reports holding it.
    pub fn member_fence(&self, instance: &str, role: &str) -> Option<i64> {
        self.members.iter().find(|m| m.instance == instance)?.roles.iter().find(|r| r.role == role).map(|r| r.fence)
    }

    /// Channels with a slot nobody holds.
    pub fn unowned(&self) -> Vec<&str> {
        self.unowned_slots.iter().map(|u| u.channel.as_str()).collect()
    }

    /// The sealer role's holder and fencing number (None, 0 when unknown).
    pub fn sealer(&self) -> (Option<String>, i64) {
        self.role("sealer").map(|r| (r.holder.clone(), r.fence)).unwrap_or((None, 0))
    }

    pub fn role(&self, role: &str) -> Option<&RoleView> {
        self.roles.iter().find(|r| r.role == role)
    }

    pub fn alive(&self) -> Vec<&MemberView> {
        self.members.iter().filter(|m| m.alive).collect()
    }

    /// Live members holding a slot of `channel`.
    pub fn readers(&self, channel: &str) -> Vec<String> {
        self.alive().into_iter().filter(|m| m.slots.iter().any(|s| s == channel)).map(|m| m.instance.clone()).collect()
    }
}

/// Where a member runs and how it reaches the store and the chat server.
#[derive(Debug, Clone)]
pub struct Place {
    /// Command prefix (`ip netns exec csNNN`), empty in the root namespace.
    pub prefix: Vec<String>,
    /// The address its HTTP listens on and the test reaches it at.
    pub http_ip: String,
    pub store_url: String,
    pub twitch: std::net::SocketAddr,
}

/// One member process (or its absence between a kill and a restart).
pub struct Member {
    pub name: String,
    pub port: u16,
    place: Place,
    env: Vec<(String, String)>,
    child: std::sync::Mutex<Option<Child>>,
    pub log: PathBuf,
    fake: FakeTwitch,
}

impl Member {
    pub fn base(&self) -> String {
        format!("http://{}:{}", self.place.http_ip, self.port)
    }

    pub fn pid(&self) -> Option<u32> {
        self.slot().as_ref().map(|c| c.id())
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Child>> {
        self.child.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn running(&self) -> bool {
        self.slot().is_some()
    }

    /// Starts the process (again). Panics when one is already running.
    pub fn start(&mut self) {
        assert!(!self.running(), "{} is already running", self.name);
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap_or_else(|e| panic!("open log {}: {e}", self.log.display()));
        let err = log.try_clone().expect("clone log handle");
        let mut cmd = daemon_command(&self.fake, &self.place.store_url);
        cmd.env("CHATSEAL__TWITCH__SERVER", self.place.twitch.ip().to_string())
            .env("CHATSEAL__TWITCH__PORT", self.place.twitch.port().to_string())
            .env("CHATSEAL__HTTP__LISTEN", format!("{}:{}", self.place.http_ip, self.port));
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.stdout(Stdio::from(log)).stderr(Stdio::from(err));
        let cmd = if self.place.prefix.is_empty() {
            cmd
        } else {
            // `ip netns exec <ns> <program> <args>` with the same environment.
            let mut wrapped = Command::new(&self.place.prefix[0]);
            wrapped.args(&self.place.prefix[1..]).arg(cmd.get_program()).args(cmd.get_args()).env_clear();
            for (k, v) in cmd.get_envs() {
                if let Some(v) = v {
                    wrapped.env(k, v);
                }
            }
            let log = OpenOptions::new().append(true).open(&self.log).expect("reopen log");
            let err = log.try_clone().expect("clone log handle");
            wrapped.stdout(Stdio::from(log)).stderr(Stdio::from(err));
            wrapped
        };
        let mut cmd = cmd;
        *self.slot() = Some(cmd.spawn().unwrap_or_else(|e| panic!("spawn member {}: {e}", self.name)));
    }

    /// kill -9 and reap.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.slot().take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM; the exit code (bounded wait).
    pub fn terminate(&mut self, within: Duration) -> i32 {
        let pid = self.pid().unwrap_or_else(|| panic!("{} is not running", self.name));
        Command::new("kill").args(["-TERM", &pid.to_string()]).status().expect("kill -TERM");
        self.wait_exit(within).unwrap_or_else(|| {
            panic!("{} did not exit within {within:?} of SIGTERM; log {}", self.name, self.log.display())
        })
    }

    /// The exit code once the process exits within `within`; None if it is still running.
    pub fn wait_exit(&self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        loop {
            {
                let mut slot = self.slot();
                let child = slot.as_mut()?;
                if let Some(status) = child.try_wait().expect("try_wait") {
                    *slot = None;
                    return Some(status.code().unwrap_or(-1));
                }
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Has the process exited on its own (its code), without waiting.
    pub fn exited_code(&self) -> Option<i32> {
        self.wait_exit(Duration::ZERO)
    }

    /// Does this member's log (so far) contain `text`?
    pub fn log_contains(&self, text: &str) -> bool {
        std::fs::read_to_string(&self.log).is_ok_and(|l| l.contains(text))
    }

    pub async fn healthy(&self) -> bool {
        matches!(client().get(format!("{}/healthz", self.base())).send().await, Ok(r) if r.status().is_success())
    }

    pub async fn wait_healthy(&self, within: Duration) {
        let what = format!("{} to answer /healthz at {} (log {})", self.name, self.base(), self.log.display());
        wait_for(&what, within, || async { self.healthy().await.then_some(()) }).await
    }

    /// `GET /v1/cluster` of this member; None when it does not answer (in time) or not as JSON.
    pub async fn cluster(&self) -> Option<ClusterView> {
        let resp = client().get(format!("{}/v1/cluster", self.base())).send().await.ok()?;
        if !resp.status().is_success() {
            return None;
        }
        resp.json::<ClusterView>().await.ok()
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(2)).build().expect("http client")
}

/// Members on one fresh PostgreSQL database, the fake Twitch server they read and the log
/// directory. Dropping it kills every member still running (kill -9); when the test failed,
/// the log directory is kept and named.
pub struct Cluster {
    pub fake: FakeTwitch,
    pub url: String,
    pub members: Vec<Member>,
    pub logs: Option<tempfile::TempDir>,
    _db: PgTestDb,
}

impl Cluster {
    /// A fake server and a fresh database. Panics (with instructions) without PostgreSQL:
    /// cluster mode is PostgreSQL only, and a cluster test must not pass silently.
    pub async fn new() -> Cluster {
        let fake = fake_twitch().await;
        let (url, db) = chatseal_schema::testing::fresh_pg_url()
            .await
            .expect("cluster tests need PostgreSQL; unset CHATSEAL_SKIP_PG");
        let logs = tempfile::Builder::new().prefix("chatseal-cluster-").tempdir().expect("log dir");
        Cluster { fake, url, members: Vec::new(), logs: Some(logs), _db: db }
    }

    pub fn log_dir(&self) -> PathBuf {
        self.logs.as_ref().map(|d| d.path().to_path_buf()).unwrap_or_default()
    }

    /// The place of a member in the root namespace: loopback, the database and server directly.
    pub fn local_place(&self) -> Place {
        Place { prefix: Vec::new(), http_ip: "127.0.0.1".into(), store_url: self.url.clone(), twitch: self.fake.addr() }
    }

    /// Adds (does not start) a cluster member: `replicas`, lease_ttl 3 s, short epochs,
    /// `channels` as the seed of the channel set, fast joins; `extra` env on top.
    pub fn add(
        &mut self,
        name: &str,
        place: Place,
        replicas: u32,
        channels: &[String],
        extra: &[(&str, &str)],
    ) -> usize {
        let mut env: Vec<(String, String)> = vec![
            ("CHATSEAL__CLUSTER__ENABLED".into(), "true".into()),
            ("CHATSEAL__CLUSTER__INSTANCE".into(), name.into()),
            ("CHATSEAL__CLUSTER__REPLICAS".into(), replicas.to_string()),
            ("CHATSEAL__CLUSTER__LEASE_TTL".into(), format!("{}s", LEASE_TTL.as_secs())),
        ];
        env.extend(plain_env(channels));
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self.add_with_env(name, place, env)
    }

    /// Adds a member with exactly `env` on top of the harness's daemon command.
    pub fn add_with_env(&mut self, name: &str, place: Place, mut env: Vec<(String, String)>) -> usize {
        // Backups stay in the test's directory, never in the working directory's data/backups.
        env.insert(0, ("CHATSEAL__BACKUP__DIR".into(), self.log_dir().join("backups").display().to_string()));
        let log = self.log_dir().join(format!("{name}.log"));
        self.members.push(Member {
            name: name.into(),
            port: free_port(),
            place,
            env,
            child: std::sync::Mutex::new(None),
            log,
            fake: self.fake.clone(),
        });
        self.members.len() - 1
    }

    pub fn member(&mut self, i: usize) -> &mut Member {
        &mut self.members[i]
    }

    /// The first answer of `/v1/cluster` from a running member (in order), if any.
    pub async fn view(&self) -> Option<ClusterView> {
        for m in self.members.iter().filter(|m| m.running()) {
            if let Some(v) = m.cluster().await {
                return Some(v);
            }
        }
        None
    }

    /// Polls `/v1/cluster` (any running member) until `cond` holds; panics after `within`
    /// with the last view and the log directory.
    pub async fn wait_view(&self, what: &str, within: Duration, cond: impl Fn(&ClusterView) -> bool) -> ClusterView {
        let deadline = Instant::now() + within;
        let mut last = None;
        loop {
            if let Some(v) = self.view().await {
                if cond(&v) {
                    return v;
                }
                last = Some(v);
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out after {within:?} waiting for {what}; last /v1/cluster: {last:#?}; logs in {}",
                    self.log_dir().display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until every channel has exactly `n` connections joined at the fake server.
    pub async fn wait_joined_by(&self, channels: &[String], n: usize, within: Duration) {
        let ok = self.fake.wait_for(within, |f| channels.iter().all(|c| f.joined_connections(c) == n)).await;
        if !ok {
            let counts: Vec<(String, usize)> =
                channels.iter().map(|c| (c.clone(), self.fake.joined_connections(c))).collect();
            panic!(
                "timed out after {within:?} waiting for {n} joined connection(s) per channel: {counts:?}; logs in {}",
                self.log_dir().display()
            );
        }
    }

    pub async fn store(&self) -> chatseal_schema::Store {
        chatseal_schema::Store::open(&self.url).await.expect("open the cluster's store")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for m in &mut self.members {
            m.kill9();
        }
        if std::thread::panicking() {
            if let Some(dir) = self.logs.take() {
                let kept = dir.keep();
                eprintln!("cluster test failed: member logs kept in {}", kept.display());
            }
        }
    }
}

/// The non-cluster part of a member's environment: the channels, short epochs, fast joins.
pub fn plain_env(channels: &[String]) -> Vec<(String, String)> {
    vec![
        ("CHATSEAL__TWITCH__CHANNELS".into(), channels.join(",")),
        ("CHATSEAL__TWITCH__JOIN_WINDOW".into(), "1s".into()),
        ("CHATSEAL__TWITCH__JOINS_PER_WINDOW".into(), "20".into()),
        ("CHATSEAL__EPOCH__LENGTH".into(), format!("{EPOCH_LEN}s")),
        ("CHATSEAL__EPOCH__GRACE".into(), GRACE.into()),
    ]
}

/// `n` channel names with `prefix`.
pub fn channels(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:02}")).collect()
}
