//! The settings tree of the binary: one struct per TOML section, every key documented with its
//! unit and default, and the defaults themselves (`Default` impls). Durations are humantime
//! strings ("250ms", "2m", "1h"); secrets are [`Secret`]s so that `Debug` never prints them.
//! Normalisation of user input (channel logins, the `oauth:` prefix) lives here too; loading
//! is in `load.rs`, checking in `validate.rs`.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use chatseal_actors::sealer::merkle::CentiWeights;
use serde::{Deserialize, Serialize};

use super::redact::{redact_url, Secret};

/// Every setting of chatseal, section by section (`[twitch]`, `[epoch]`, ...).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// `[twitch]`: the IRC connection and the channels to watch.
    pub twitch: TwitchSettings,
    /// `[epoch]`: how time is cut into sealed epochs.
    pub epoch: EpochSettings,
    /// `[store]`: where events and seals are kept.
    pub store: StoreSettings,
    /// `[sealing]`: who counts and what a participation is worth.
    pub sealing: SealingSettings,
    /// `[backup]`: snapshots of the store.
    pub backup: BackupSettings,
    /// `[http]`: metrics, health and the API.
    pub http: HttpSettings,
    /// `[daemon]`: process lifecycle and supervision.
    pub daemon: DaemonSettings,
    /// `[cluster]`: ownership lease and cluster mode.
    pub cluster: super::cluster::ClusterSettings,
}

/// `[twitch]`
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TwitchSettings {
    /// IRC server host name. Default `"irc.chat.twitch.tv"`.
    pub server: String,
    /// IRC server TCP port (1..=65535). Default `6697` (TLS); plain IRC is 6667.
    pub port: u16,
    /// Speak TLS to the server. Default `true`.
    pub tls: bool,
    /// PEM file of extra CA certificates trusted for the TLS connection IN ADDITION to the
    /// built-in webpki roots (a TLS-intercepting proxy's CA, a test CA), path; empty = only the
    /// built-in roots. Default `""`.
    pub tls_ca_file: PathBuf,
    /// Twitch account login to authenticate as; empty = anonymous `justinfanNNNNN`. Default `""`.
    pub login: String,
    /// OAuth token of `login`, secret, with or without the `oauth:` prefix (stored without it).
    /// Prefer env `CHATSEAL__TWITCH__TOKEN`. Default `""` (anonymous).
    pub token: Secret,
    /// Channel logins to watch (a leading `#` and upper case are accepted and normalised).
    /// They seed the store's channel set at the first start; afterwards, at start and on
    /// SIGHUP, what changed in this list since it was applied last is applied to the set
    /// (docs/channels.md). Env: comma-separated. Default `["lacy", "jasontheween"]`.
    pub channels: Vec<String>,
    /// JOINs allowed per `join_window` (Twitch limit: 20). Default `18`.
    pub joins_per_window: u32,
    /// Length of the JOIN rate-limit window, duration. Default `"12.5s"`.
    #[serde(with = "humantime_serde")]
    pub join_window: Duration,
    /// Deadline for TCP + TLS connect, duration. Default `"10s"`.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Silence after which we send our own PING, duration. Default `"30s"`.
    #[serde(with = "humantime_serde")]
    pub ping_interval: Duration,
    /// Deadline for the PONG answering our PING before reconnecting, duration. Default `"10s"`.
    #[serde(with = "humantime_serde")]
    pub pong_timeout: Duration,
    /// First reconnect backoff delay, duration. Default `"1s"`.
    #[serde(with = "humantime_serde")]
    pub reconnect_min: Duration,
    /// Largest reconnect backoff delay, duration. Default `"2m"`.
    #[serde(with = "humantime_serde")]
    pub reconnect_max: Duration,
    /// Longest accepted IRC line, bytes (512..=1 MiB). Default `8704` (8192 tags + 512 message).
    pub max_line_bytes: usize,
    /// On a server RECONNECT, how long the old and new connections overlap, duration.
    /// Default `"3s"`.
    #[serde(with = "humantime_serde")]
    pub reconnect_overlap: Duration,
}

impl Default for TwitchSettings {
    fn default() -> Self {
        Self {
            server: "irc.chat.twitch.tv".to_owned(),
            port: 6697,
            tls: true,
            tls_ca_file: PathBuf::new(),
            login: String::new(),
            token: Secret::default(),
            channels: vec!["lacy".to_owned(), "jasontheween".to_owned()],
            joins_per_window: 18,
            join_window: Duration::from_millis(12_500),
            connect_timeout: Duration::from_secs(10),
            ping_interval: Duration::from_secs(30),
            pong_timeout: Duration::from_secs(10),
            reconnect_min: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(120),
            max_line_bytes: 8704,
            reconnect_overlap: Duration::from_secs(3),
        }
    }
}

/// `[epoch]`
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EpochSettings {
    /// Length of one epoch, duration in whole seconds (>= 1s). Default `"1h"`.
    #[serde(with = "humantime_serde")]
    pub length: Duration,
    /// How long after an epoch ends lines may still arrive before it is sealed, duration.
    /// Default `"2m"`.
    #[serde(with = "humantime_serde")]
    pub grace: Duration,
    /// Beyond this distance from the receive time, `tmi-sent-ts` is distrusted and the receive
    /// time is used, duration (>= 1s). Default `"5m"`.
    #[serde(with = "humantime_serde")]
    pub max_skew: Duration,
}

impl Default for EpochSettings {
    fn default() -> Self {
        Self { length: Duration::from_secs(3600), grace: Duration::from_secs(120), max_skew: Duration::from_secs(300) }
    }
}

/// Default of `store.max_pending_bytes`: 256 MiB.
pub const DEFAULT_MAX_PENDING_BYTES: u64 = 256 << 20;
/// Allowed range of `store.max_pending_bytes`: 8 MiB to 1 TiB.
pub const MAX_PENDING_BYTES_RANGE: std::ops::RangeInclusive<u64> = (8 << 20)..=(1 << 40);

/// `[store]`
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    /// Store URL: `sqlite://PATH` or `postgres://user:password@host/db` (`postgresql://` too).
    /// A password inside it is a secret. Env `DATABASE_URL` overrides it.
    /// Default `"sqlite://data/chatseal.db"`.
    pub url: String,
    /// Interval between the aggregator's flush transactions, duration (10ms..=60s); the upper
    /// bound on what a kill -9 can lose. Default `"250ms"`.
    #[serde(with = "humantime_serde")]
    pub flush_interval: Duration,
    /// Events held in memory awaiting a flush before the store is reported as falling behind,
    /// events (>= 1000). Default `1000000`. Events cast by the channel readers and not yet taken
    /// by the aggregator count too, so this bounds the memory of the ingest path.
    pub max_pending_events: usize,
    /// Bytes of memory held by events received and not yet durable (8 MiB..=1 TiB), beside
    /// `max_pending_events`: past either, new events are dropped and counted. Default
    /// `268435456` (256 MiB).
    pub max_pending_bytes: u64,
    /// Most events in one flush transaction, events (>= 100; above `max_pending_events` it is
    /// that cap in effect). When more is pending, the next transaction starts as soon as this
    /// one committed, so a store that falls behind gets regular bounded commits instead of rare
    /// huge ones. Default `50000`.
    pub max_flush_events: usize,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            url: "sqlite://data/chatseal.db".to_owned(),
            flush_interval: Duration::from_millis(250),
            max_pending_events: 1_000_000,
            max_pending_bytes: DEFAULT_MAX_PENDING_BYTES,
            max_flush_events: 50_000,
        }
    }
}

impl std::fmt::Debug for StoreSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreSettings")
            .field("url", &redact_url(&self.url))
            .field("flush_interval", &self.flush_interval)
            .field("max_pending_events", &self.max_pending_events)
            .field("max_pending_bytes", &self.max_pending_bytes)
            .field("max_flush_events", &self.max_flush_events)
            .finish()
    }
}

/// `[sealing]`
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SealingSettings {
    /// Logins never recorded as participants (bots), case-insensitive. Env: comma-separated.
    /// Default: nightbot, streamelements, streamlabs, moobot, fossabot, wizebot, soundalerts,
    /// sery_bot.
    pub exclude_users: Vec<String>,
    /// Reward units per whole weight (>= 1). Default `80`.
    pub reward_per_weight: u64,
    /// Decimal places of the reward token: amount = weight x reward_per_weight x 10^decimals
    /// base units (<= 18). Default `9`.
    pub decimals: u32,
    /// Leave the channel's own broadcaster out of its trees. Default `false`.
    pub exclude_broadcaster: bool,
    /// Largest number of leaves in one claim tree, leaves; `0` = no cap. Default `0`.
    pub max_claim_leaves: u64,
    /// Longest proof the target program accepts, nodes (tree height); `0` = no limit. A seal
    /// whose participation or claim tree needs longer proofs is still sealed, with a warning at
    /// sealing, in the epoch object and in its publish bundle. Default `0`.
    pub max_proof_len: u64,
    /// `[sealing.centiweights]`: weight of each signal in hundredths of a weight (100 = 1
    /// weight), centiweights: `presence` (taking part at all, once per epoch, default `100`)
    /// and one key per weighted signal kind, named as the kind (`sub` 1000, `resub` 1000,
    /// `gift` 500, `bits` 1, `raid` 10 by default). The keys and defaults are the sealer's
    /// (`chatseal_actors::sealer::merkle::CentiWeights`, kinds in `chatseal_schema::signals`).
    pub centiweights: CentiWeights,
}

impl Default for SealingSettings {
    fn default() -> Self {
        let bots =
            ["nightbot", "streamelements", "streamlabs", "moobot", "fossabot", "wizebot", "soundalerts", "sery_bot"];
        Self {
            exclude_users: bots.iter().map(|b| (*b).to_owned()).collect(),
            reward_per_weight: 80,
            decimals: 9,
            exclude_broadcaster: false,
            max_claim_leaves: 0,
            max_proof_len: 0,
            centiweights: CentiWeights::default(),
        }
    }
}

/// `[backup]`
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackupSettings {
    /// Directory holding backups and their manifests, path. Default `"data/backups"`.
    pub dir: PathBuf,
    /// Time between scheduled backups, duration (>= 1m). Default `"1h"`.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Newest backups kept, count (>= 1); older ones are deleted after each backup unless
    /// `keep_daily` keeps them. Default `48`.
    pub keep: u32,
    /// Besides those, the newest backup of each of the `keep_daily` most recent UTC days that
    /// have one, count (0 keeps none extra). Default `30`.
    pub keep_daily: u32,
    /// Which pg_dump a PostgreSQL backup uses: `"auto"` (pg_dump from PATH, else a JSON-lines
    /// export of the tables), `"off"` (always the JSON-lines export) or an absolute path to a
    /// pg_dump executable (e.g. of the server's major version). Default `"auto"`.
    pub pg_dump: String,
    /// What to do when the store fails its integrity check at start: `"restore"` the newest
    /// verified backup, or `"refuse"` to start. Default `"restore"`.
    pub on_corruption: OnCorruption,
}

impl Default for BackupSettings {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("data/backups"),
            interval: Duration::from_secs(3600),
            keep: 48,
            keep_daily: 30,
            pg_dump: "auto".into(),
            on_corruption: OnCorruption::Restore,
        }
    }
}

impl BackupSettings {
    /// `keep` and `keep_daily` for retention.
    pub fn retention(&self) -> chatseal_actors::backup::Retention {
        chatseal_actors::backup::Retention { keep: self.keep, keep_daily: self.keep_daily }
    }

    /// `pg_dump` as the backup takes it (validated: "auto", "off" or a path).
    pub fn pg_dump_choice(&self) -> chatseal_actors::backup::PgDump {
        use chatseal_actors::backup::PgDump;
        match self.pg_dump.as_str() {
            "auto" => PgDump::Auto,
            "off" => PgDump::Off,
            path => PgDump::At(PathBuf::from(path)),
        }
    }
}

/// `backup.on_corruption`: the answer to a store that fails its integrity check.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnCorruption {
    /// Restore the newest verified backup, then start.
    #[default]
    Restore,
    /// Refuse to start; an operator decides.
    Refuse,
}

/// `[http]`
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// Address for /metrics, /healthz, /readyz and the API, `ip:port`.
    /// Default `"127.0.0.1:9187"`.
    pub listen: SocketAddr,
    /// Bearer token for the POST endpoints, secret; empty disables them. Default `""`.
    pub admin_token: Secret,
    /// Longest wait for a request's complete headers, counted from when the server waits for
    /// one (a new connection, or the end of the previous answer on a kept-alive one); the
    /// connection is closed past it, duration (>= 100ms). Default `"10s"`.
    #[serde(with = "humantime_serde")]
    pub header_timeout: Duration,
    /// Longest time to receive a request's body once its headers are in; past it the answer is
    /// 408 `body_timeout` and the connection is closed, duration (>= 100ms). Default `"10s"`.
    #[serde(with = "humantime_serde")]
    pub body_timeout: Duration,
    /// A connection on which no byte arrives for this long while no request is being answered
    /// (kept alive between requests, or silent since it opened) is closed, duration (>= 100ms,
    /// at most `header_timeout`, which bounds that wait too). Default `"5s"`.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Most HTTP connections open at once, connections (1..=65536); further clients wait in the
    /// listen queue. Lowered at start to a quarter of the process's open-file limit
    /// (RLIMIT_NOFILE) so HTTP clients can never take the descriptors the store and the IRC
    /// connections need. Default `256`.
    pub max_connections: u32,
    /// Largest request body, bytes (1 KiB..=64 MiB); a larger one is answered 413
    /// `payload_too_large`. Default `1048576` (1 MiB).
    pub max_body_bytes: usize,
    /// Longest time a route that reads or writes the store may take before it answers 503
    /// `store_timeout` (the store hangs or is overloaded), duration (>= 100ms). The manual seal
    /// and backup have their own, longer bounds. Default `"5s"`.
    #[serde(with = "humantime_serde")]
    pub store_timeout: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 9187)),
            admin_token: Secret::default(),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(5),
            max_connections: 256,
            max_body_bytes: 1024 * 1024,
            store_timeout: Duration::from_secs(5),
        }
    }
}

/// `[daemon]`
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DaemonSettings {
    /// Deadline for a graceful stop after SIGTERM/SIGINT, duration (>= 1s). Default `"20s"`.
    #[serde(with = "humantime_serde")]
    pub shutdown_timeout: Duration,
    /// Restarts (of all the supervisor's children together) tolerated within `restart_window`
    /// before escalating (the process exits 70), count (>= 1).
    /// Default `5`.
    pub restart_limit: u32,
    /// Window over which restarts are counted, duration (>= 1s). Default `"60s"`.
    #[serde(with = "humantime_serde")]
    pub restart_window: Duration,
    /// Restarts of ONE channel actor tolerated within `channel_restart_window` (each channel
    /// has its own count, apart from the pipeline's `restart_limit`), count (>= 1). Default `5`.
    pub channel_restart_limit: u32,
    /// Window over which a channel actor's restarts are counted, duration (>= 1s). Default `"60s"`.
    #[serde(with = "humantime_serde")]
    pub channel_restart_window: Duration,
    /// Wait before the next start of a channel actor past its restart limit (the process goes
    /// on; the channel is retried after this), duration (>= 1s). Default `"5m"`.
    #[serde(with = "humantime_serde")]
    pub channel_restart_penalty: Duration,
}

impl Default for DaemonSettings {
    fn default() -> Self {
        Self {
            shutdown_timeout: Duration::from_secs(20),
            restart_limit: 5,
            restart_window: Duration::from_secs(60),
            channel_restart_limit: 5,
            channel_restart_window: Duration::from_secs(60),
            channel_restart_penalty: Duration::from_secs(300),
        }
    }
}

/// A channel or user login as Twitch spells it: trimmed, without a leading `#`, lower case.
pub fn normalize_login(raw: &str) -> String {
    let trimmed = raw.trim();
    trimmed.strip_prefix('#').unwrap_or(trimmed).trim().to_lowercase()
}

/// An OAuth token without surrounding blanks and without its optional `oauth:` prefix.
pub fn normalize_token(raw: &str) -> &str {
    let trimmed = raw.trim();
    match trimmed.get(..6) {
        Some(prefix) if prefix.eq_ignore_ascii_case("oauth:") => trimmed[6..].trim_start(),
        _ => trimmed,
    }
}

impl Settings {
    /// Bring user input into canonical form: channel and user logins normalised (see
    /// [`normalize_login`]), the token without `oauth:`, blanks trimmed from names and URLs.
    /// [`super::load`] calls it before validating.
    pub fn normalize(&mut self) {
        let t = &mut self.twitch;
        t.server = t.server.trim().to_owned();
        t.login = normalize_login(&t.login);
        t.token = Secret::new(normalize_token(t.token.expose()));
        t.channels = t.channels.iter().map(|c| normalize_login(c)).collect();
        let s = &mut self.sealing;
        s.exclude_users = s.exclude_users.iter().map(|u| normalize_login(u)).filter(|u| !u.is_empty()).collect();
        self.store.url = self.store.url.trim().to_owned();
        self.http.admin_token = Secret::new(self.http.admin_token.expose().trim());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_logins_are_normalised() {
        assert_eq!(normalize_login("  #LaCy "), "lacy");
        assert_eq!(normalize_login("JasonTheWeen"), "jasontheween");
        assert_eq!(normalize_login("# spaced"), "spaced");
        assert_eq!(normalize_login("##two"), "#two");
    }

    #[test]
    fn oauth_prefix_is_stripped_in_any_case() {
        assert_eq!(normalize_token("oauth:abc123"), "abc123");
        assert_eq!(normalize_token(" OAuth:abc123 "), "abc123");
        assert_eq!(normalize_token("abc123"), "abc123");
        assert_eq!(normalize_token("oauth:"), "");
    }

    #[test]
    fn normalize_rewrites_the_whole_tree() {
        let mut s = Settings::default();
        s.twitch.channels = vec!["#Lacy".into(), " JasonTheWeen ".into()];
        s.twitch.login = " MyBot ".into();
        s.twitch.token = Secret::new("oauth:sekrit-token-123");
        s.sealing.exclude_users = vec![" NightBot".into(), "".into()];
        s.normalize();
        assert_eq!(s.twitch.channels, ["lacy", "jasontheween"]);
        assert_eq!(s.twitch.login, "mybot");
        assert_eq!(s.twitch.token.expose(), "sekrit-token-123");
        assert_eq!(s.sealing.exclude_users, ["nightbot"]);
    }
}
