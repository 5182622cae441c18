//! Checking a deserialised [`Settings`] against what chatseal can run with. Every rule is
//! checked and every failure reported: each message names the key, the bad value (never a
//! secret: tokens are not printed, URLs are redacted) and what is allowed.

use std::collections::HashSet;
use std::time::Duration;

use chatseal_actors::channel::tls::read_ca_file;
use chatseal_actors::channel::wire::forbidden_byte;

use super::model::{normalize_login, normalize_token, Settings};
use super::redact::redact_url;

const MIB: usize = 1024 * 1024;
/// The real Twitch chat server, where the join pace is held to Twitch's limit.
const TWITCH_SERVER: &str = "irc.chat.twitch.tv";

/// `^[a-z0-9_]{1,25}$`: a Twitch login after normalisation.
pub fn is_valid_login(login: &str) -> bool {
    (1..=25).contains(&login.len()) && login.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// A channel name given at run time (CLI, admin API) as a channel login: CR, LF and NUL are
/// refused before anything else (they would reach the IRC wire), then the name is normalised
/// (trimmed, no leading '#', lower case) and must pass the login rule of `twitch.channels`.
pub fn channel_login(raw: &str) -> Result<String, String> {
    let shown = crate::quote::shortened(raw);
    if raw.contains(['\r', '\n', '\0']) {
        return Err(format!(
            "channel {shown:?} holds a CR, LF or NUL character: a channel is 1 to 25 of a-z, 0-9 and _"
        ));
    }
    let login = normalize_login(raw);
    if is_valid_login(&login) {
        Ok(login)
    } else {
        Err(format!(
            "channel {shown:?} is not a Twitch login: after trimming, dropping a leading '#' and lowercasing, a channel is 1 to 25 of a-z, 0-9 and _"
        ))
    }
}

fn show(d: Duration) -> String {
    format!("\"{}\"", humantime::format_duration(d))
}

/// Collects problems; one method per kind of rule keeps the rules one line each.
struct Problems(Vec<String>);

impl Problems {
    fn check(&mut self, ok: bool, problem: impl FnOnce() -> String) {
        if !ok {
            self.0.push(problem());
        }
    }

    fn at_least(&mut self, key: &str, value: Duration, min: Duration) {
        self.check(value >= min, || format!("{key} = {}: must be at least {}", show(value), show(min)));
    }

    fn positive(&mut self, key: &str, value: Duration) {
        self.check(!value.is_zero(), || format!("{key} = \"0s\": must be longer than zero, e.g. \"10s\""));
    }

    fn in_range<T: PartialOrd + std::fmt::Display>(&mut self, key: &str, v: T, lo: T, hi: T) {
        self.check(v >= lo && v <= hi, || format!("{key} = {v}: must be between {lo} and {hi}"));
    }
}

impl Settings {
    /// Every problem of this configuration, empty when it is usable. Channels and logins are
    /// judged in their normalised form, so raw user input may be validated too.
    pub fn validate(&self) -> Vec<String> {
        let mut p = Problems(Vec::new());
        validate_twitch(self, &mut p);
        validate_rest(self, &mut p);
        let postgres = self.store.url.starts_with("postgres://") || self.store.url.starts_with("postgresql://");
        p.0.extend(self.cluster.problems(postgres));
        validate_http(self, &mut p);
        p.0
    }

    /// What is allowed but risky, for a WARN at start and on check-config's stderr: today an
    /// admin token shorter than [`MIN_EXPOSED_TOKEN_CHARS`] on a non-loopback `http.listen`.
    pub fn warnings(&self) -> Vec<String> {
        let h = &self.http;
        let token = h.admin_token.expose().chars().count();
        let mut w = Vec::new();
        if !h.listen.ip().is_loopback() && token > 0 && token < MIN_EXPOSED_TOKEN_CHARS {
            w.push(format!(
                "http.listen = \"{}\" is reachable from other hosts and http.admin_token is only {token} characters: \
                 use a random token of at least {MIN_EXPOSED_TOKEN_CHARS} characters (e.g. `openssl rand -hex 32`), \
                 or listen on 127.0.0.1 behind a proxy",
                h.listen
            ));
        }
        w
    }
}

/// Shortest admin token not warned about when the API listens beyond loopback, characters.
pub const MIN_EXPOSED_TOKEN_CHARS: usize = 32;

fn validate_http(s: &Settings, p: &mut Problems) {
    let h = &s.http;
    let floor = Duration::from_millis(100);
    p.at_least("http.header_timeout", h.header_timeout, floor);
    p.at_least("http.body_timeout", h.body_timeout, floor);
    p.at_least("http.idle_timeout", h.idle_timeout, floor);
    p.at_least("http.store_timeout", h.store_timeout, floor);
    p.check(h.idle_timeout <= h.header_timeout, || {
        format!(
            "http.idle_timeout = {} is longer than http.header_timeout = {}: the wait for the next \
             request is already cut at header_timeout; make idle_timeout at most that",
            show(h.idle_timeout),
            show(h.header_timeout)
        )
    });
    p.in_range("http.max_connections", h.max_connections, 1, 65_536);
    p.in_range("http.max_body_bytes", h.max_body_bytes, 1024, 64 * MIB);
}

fn validate_twitch(s: &Settings, p: &mut Problems) {
    let t = &s.twitch;
    p.check(!t.server.trim().is_empty(), || {
        "twitch.server is empty: set the IRC host, e.g. \"irc.chat.twitch.tv\"".to_owned()
    });
    p.check(t.port != 0, || "twitch.port = 0: must be between 1 and 65535".to_owned());
    p.check(!t.channels.is_empty(), || {
        "twitch.channels is empty: list at least one channel login, e.g. [\"lacy\"]".to_owned()
    });
    let mut seen = HashSet::new();
    for raw in &t.channels {
        let login = normalize_login(raw);
        if forbidden_byte(raw).is_some() {
            // Reported by the wire-value check, which runs on the raw values.
        } else if !is_valid_login(&login) {
            p.0.push(format!(
                "twitch.channels: {} is not a Twitch login: after trimming, dropping a \
                 leading '#' and lowercasing, a channel is 1 to 25 of a-z, 0-9 and _",
                crate::quote::clipped(raw)
            ));
        } else if !seen.insert(login.clone()) {
            p.0.push(format!("twitch.channels: {login:?} is listed more than once: list it once"));
        }
    }
    let login = normalize_login(&t.login);
    let has_token = !normalize_token(t.token.expose()).is_empty();
    p.check(login.is_empty() || is_valid_login(&login) || forbidden_byte(&t.login).is_some(), || {
        format!(
            "twitch.login = {}: must be a Twitch login (1 to 25 of a-z, 0-9 and _) or empty for anonymous",
            crate::quote::clipped(&t.login)
        )
    });
    p.check(!has_token || !login.is_empty(), || {
        "twitch.token is set but twitch.login is empty: set twitch.login to the account the \
         token belongs to, or clear the token to read anonymously"
            .to_owned()
    });
    p.check(has_token || login.is_empty(), || {
        format!(
            "twitch.login = {login:?} but twitch.token is empty: set the token (env \
             CHATSEAL__TWITCH__TOKEN), or clear the login to read anonymously"
        )
    });
    p.in_range("twitch.joins_per_window", t.joins_per_window, 1, 20);
    p.at_least("twitch.join_window", t.join_window, Duration::from_millis(10));
    // Twitch allows 20 JOINs per 10 s per account: against the real server, never configure a
    // faster pace than that. Local servers (tests, proxies) may be paced faster.
    if t.server.eq_ignore_ascii_case(TWITCH_SERVER) && t.joins_per_window >= 1 {
        let per_join = t.join_window.as_secs_f64() / f64::from(t.joins_per_window);
        p.check(per_join >= 0.5, || {
            format!(
                "twitch.joins_per_window = {} per twitch.join_window = {} is faster than Twitch allows (20 per 10s) on {TWITCH_SERVER}: lower joins_per_window or lengthen join_window (default 18 per 12.5s leaves margin for lag)",
                t.joins_per_window,
                humantime::format_duration(t.join_window)
            )
        });
    }
    p.positive("twitch.connect_timeout", t.connect_timeout);
    p.positive("twitch.ping_interval", t.ping_interval);
    p.positive("twitch.pong_timeout", t.pong_timeout);
    p.positive("twitch.reconnect_min", t.reconnect_min);
    p.check(t.reconnect_min <= t.reconnect_max, || {
        format!(
            "twitch.reconnect_min = {} is longer than twitch.reconnect_max = {}: the first \
             backoff delay must not exceed the largest",
            show(t.reconnect_min),
            show(t.reconnect_max)
        )
    });
    p.in_range("twitch.max_line_bytes", t.max_line_bytes, 512, MIB);
    if !t.tls_ca_file.as_os_str().is_empty() {
        // Parsed in full here, so that check-config reports a bad file before the daemon runs.
        if let Err(e) = read_ca_file(&t.tls_ca_file) {
            p.0.push(format!("twitch.tls_ca_file: {e}; or set it to \"\" to trust only the built-in roots"));
        }
    }
}

fn validate_rest(s: &Settings, p: &mut Problems) {
    let e = &s.epoch;
    p.check(e.length >= Duration::from_secs(1) && e.length.subsec_nanos() == 0, || {
        format!("epoch.length = {}: must be a whole number of seconds, at least \"1s\"", show(e.length))
    });
    p.at_least("epoch.max_skew", e.max_skew, Duration::from_secs(1));

    let url = s.store.url.trim();
    let scheme_ok = ["sqlite://", "postgres://", "postgresql://"].iter().any(|scheme| {
        url.len() > scheme.len() && url.get(..scheme.len()).is_some_and(|head| head.eq_ignore_ascii_case(scheme))
    });
    p.check(scheme_ok, || {
        format!(
            "store.url = {:?}: must be sqlite://PATH or postgres://USER@HOST/DB (postgresql:// too)",
            redact_url(url)
        )
    });
    let fi = s.store.flush_interval;
    p.check(fi >= Duration::from_millis(10) && fi <= Duration::from_secs(60), || {
        format!("store.flush_interval = {}: must be between \"10ms\" and \"60s\"", show(fi))
    });
    p.check(s.store.max_pending_events >= 1000, || {
        format!("store.max_pending_events = {}: must be at least 1000", s.store.max_pending_events)
    });
    p.check(super::model::MAX_PENDING_BYTES_RANGE.contains(&s.store.max_pending_bytes), || {
        format!(
            "store.max_pending_bytes = {}: must be between 8388608 (8 MiB) and 1099511627776 (1 TiB)",
            s.store.max_pending_bytes
        )
    });
    p.check(s.store.max_flush_events >= 100, || {
        format!("store.max_flush_events = {}: must be at least 100", s.store.max_flush_events)
    });

    let sealing = &s.sealing;
    p.check(sealing.decimals <= 18, || format!("sealing.decimals = {}: must be between 0 and 18", sealing.decimals));
    p.check(sealing.reward_per_weight >= 1, || "sealing.reward_per_weight = 0: must be at least 1".to_owned());
    if sealing.decimals <= 18 && sealing.reward_per_weight >= 1 {
        let amount = 1_000_000u128 * u128::from(sealing.reward_per_weight) * 10u128.pow(sealing.decimals);
        p.check(amount <= u128::from(u64::MAX), || {
            format!(
                "sealing.reward_per_weight = {} with sealing.decimals = {}: a weight of 1000000 \
                 would be worth {amount} base units, more than a u64 holds ({}); lower one of them",
                sealing.reward_per_weight,
                sealing.decimals,
                u64::MAX
            )
        });
    }

    let b = &s.backup;
    p.check(!b.dir.as_os_str().is_empty(), || "backup.dir is empty: set a directory, e.g. \"data/backups\"".to_owned());
    p.check(b.keep >= 1, || "backup.keep = 0: must be at least 1".to_owned());
    p.at_least("backup.interval", b.interval, Duration::from_secs(60));
    if !matches!(b.pg_dump.as_str(), "auto" | "off") {
        let path = std::path::Path::new(&b.pg_dump);
        p.check(path.is_absolute(), || {
            format!("backup.pg_dump = {:?}: must be \"auto\", \"off\" or an absolute path to pg_dump", b.pg_dump)
        });
        p.check(!path.is_absolute() || is_executable(path), || {
            format!(
                "backup.pg_dump = {:?}: no executable file there; install the PostgreSQL client or use \"auto\"",
                b.pg_dump
            )
        });
    }

    let d = &s.daemon;
    p.at_least("daemon.shutdown_timeout", d.shutdown_timeout, Duration::from_secs(1));
    p.check(d.restart_limit >= 1, || "daemon.restart_limit = 0: must be at least 1".to_owned());
    p.at_least("daemon.restart_window", d.restart_window, Duration::from_secs(1));
    p.check(d.channel_restart_limit >= 1, || "daemon.channel_restart_limit = 0: must be at least 1".to_owned());
    p.at_least("daemon.channel_restart_window", d.channel_restart_window, Duration::from_secs(1));
    p.at_least("daemon.channel_restart_penalty", d.channel_restart_penalty, Duration::from_secs(1));
}

/// True for an existing file with an execute bit.
fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Secret;

    fn problems_of(change: impl FnOnce(&mut Settings)) -> Vec<String> {
        let mut s = Settings::default();
        change(&mut s);
        s.validate()
    }

    fn one_problem_naming(key: &str, change: impl FnOnce(&mut Settings)) {
        let problems = problems_of(change);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(problems[0].contains(key), "{key} not named in {:?}", problems[0]);
    }

    #[test]
    fn defaults_validate() {
        assert_eq!(Settings::default().validate(), Vec::<String>::new());
    }

    #[test]
    fn each_rule_reports_its_key() {
        one_problem_naming("twitch.server", |s| s.twitch.server = " ".into());
        one_problem_naming("twitch.port", |s| s.twitch.port = 0);
        one_problem_naming("twitch.channels", |s| s.twitch.channels.clear());
        one_problem_naming("twitch.channels", |s| s.twitch.channels.push("bad-name".into()));
        one_problem_naming("twitch.channels", |s| s.twitch.channels.push("a".repeat(26)));
        one_problem_naming("more than once", |s| s.twitch.channels.push("#LACY".into()));
        one_problem_naming("twitch.login", |s| s.twitch.login = "mybot".into());
        one_problem_naming("twitch.login is empty", |s| s.twitch.token = Secret::new("x"));
        one_problem_naming("twitch.joins_per_window", |s| s.twitch.joins_per_window = 21);
        one_problem_naming("twitch.joins_per_window", |s| s.twitch.joins_per_window = 0);
        one_problem_naming("twitch.join_window", |s| {
            s.twitch.server = "127.0.0.1".into();
            s.twitch.join_window = Duration::from_millis(9)
        });
        one_problem_naming("faster than Twitch allows", |s| {
            s.twitch.joins_per_window = 20;
            s.twitch.join_window = Duration::from_millis(9_999)
        });
        one_problem_naming("twitch.connect_timeout", |s| s.twitch.connect_timeout = Duration::ZERO);
        one_problem_naming("twitch.ping_interval", |s| s.twitch.ping_interval = Duration::ZERO);
        one_problem_naming("twitch.pong_timeout", |s| s.twitch.pong_timeout = Duration::ZERO);
        one_problem_naming("twitch.reconnect_max", |s| s.twitch.reconnect_min = Duration::from_secs(121));
        one_problem_naming("twitch.max_line_bytes", |s| s.twitch.max_line_bytes = 511);
        one_problem_naming("twitch.tls_ca_file", |s| s.twitch.tls_ca_file = "/nonexistent/chatseal-ca.pem".into());
        one_problem_naming("twitch.max_line_bytes", |s| s.twitch.max_line_bytes = MIB + 1);
        one_problem_naming("epoch.length", |s| s.epoch.length = Duration::from_millis(1500));
        one_problem_naming("epoch.length", |s| s.epoch.length = Duration::ZERO);
        one_problem_naming("epoch.max_skew", |s| s.epoch.max_skew = Duration::from_millis(500));
        one_problem_naming("store.url", |s| s.store.url = "mysql://x/y".into());
        one_problem_naming("store.flush_interval", |s| s.store.flush_interval = Duration::from_millis(9));
        one_problem_naming("store.flush_interval", |s| s.store.flush_interval = Duration::from_secs(61));
        one_problem_naming("store.max_pending_events", |s| s.store.max_pending_events = 999);
        one_problem_naming("store.max_flush_events", |s| s.store.max_flush_events = 99);
        one_problem_naming("store.max_pending_bytes", |s| s.store.max_pending_bytes = (8 << 20) - 1);
        one_problem_naming("store.max_pending_bytes", |s| s.store.max_pending_bytes = (1 << 40) + 1);
        one_problem_naming("sealing.decimals", |s| s.sealing.decimals = 19);
        one_problem_naming("sealing.reward_per_weight", |s| s.sealing.reward_per_weight = 0);
        one_problem_naming("u64", |s| s.sealing.decimals = 18);
        one_problem_naming("backup.keep", |s| s.backup.keep = 0);
        one_problem_naming("backup.interval", |s| s.backup.interval = Duration::from_secs(59));
        one_problem_naming("backup.dir", |s| s.backup.dir = "".into());
        one_problem_naming("backup.pg_dump", |s| s.backup.pg_dump = "pg_dump".into());
        one_problem_naming("backup.pg_dump", |s| s.backup.pg_dump = "/surely/not/here/pg_dump".into());
        one_problem_naming("daemon.restart_limit", |s| s.daemon.restart_limit = 0);
        one_problem_naming("daemon.shutdown_timeout", |s| s.daemon.shutdown_timeout = Duration::ZERO);
        one_problem_naming("daemon.restart_window", |s| s.daemon.restart_window = Duration::ZERO);
        let header = problems_of(|s| {
            s.http.header_timeout = Duration::from_millis(99);
            s.http.idle_timeout = Duration::from_millis(99);
        });
        assert!(header.iter().any(|p| p.starts_with("http.header_timeout = \"99ms\"")), "{header:#?}");
        one_problem_naming("http.body_timeout", |s| s.http.body_timeout = Duration::ZERO);
        one_problem_naming("http.idle_timeout", |s| s.http.idle_timeout = Duration::ZERO);
        one_problem_naming("http.idle_timeout", |s| s.http.idle_timeout = Duration::from_secs(11));
        one_problem_naming("http.store_timeout", |s| s.http.store_timeout = Duration::ZERO);
        one_problem_naming("http.max_connections", |s| s.http.max_connections = 0);
        one_problem_naming("http.max_body_bytes", |s| s.http.max_body_bytes = 1023);
        one_problem_naming("http.max_body_bytes", |s| s.http.max_body_bytes = 64 * MIB + 1);
    }

    #[test]
    fn short_admin_token_beyond_loopback_is_a_warning_not_a_problem() {
        let exposed = |token: &str, listen: &str| {
            let mut s = Settings::default();
            s.http.listen = listen.parse().expect("addr");
            s.http.admin_token = Secret::new(token);
            assert_eq!(s.validate(), Vec::<String>::new());
            s.warnings()
        };
        let w = exposed("short-token-1", "0.0.0.0:9187");
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("http.admin_token") && w[0].contains("13 characters") && w[0].contains("0.0.0.0:9187"),
            "{}",
            w[0]
        );
        assert!(!w[0].contains("short-token-1"), "the token itself is never printed: {}", w[0]);
        assert_eq!(exposed("short-token-1", "127.0.0.1:9187"), Vec::<String>::new());
        assert_eq!(exposed("short-token-1", "[::1]:9187"), Vec::<String>::new());
        assert_eq!(exposed(&"x".repeat(32), "10.0.0.5:9187"), Vec::<String>::new());
        assert_eq!(exposed("", "0.0.0.0:9187"), Vec::<String>::new(), "an empty token disables the admin API");
    }

    #[test]
    fn tls_ca_file_must_hold_a_usable_certificate() {
        let dir = tempfile::tempdir().expect("temp dir");
        let no_cert = dir.path().join("no-cert.pem");
        std::fs::write(&no_cert, "no certificate here\n").expect("write");
        one_problem_naming("no PEM certificate", |s| s.twitch.tls_ca_file = no_cert.clone());
        let good = dir.path().join("ca.pem");
        let ca = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
        std::fs::write(&good, ca.cert.pem()).expect("write");
        assert_eq!(problems_of(|s| s.twitch.tls_ca_file = good.clone()), Vec::<String>::new());
    }

    #[test]
    fn edges_that_are_allowed() {
        let problems = problems_of(|s| {
            s.twitch.port = 65535;
            s.twitch.joins_per_window = 20;
            s.twitch.max_line_bytes = MIB;
            s.twitch.channels = vec!["#Lacy".into(), "a".repeat(25), "x_1".into()];
            s.twitch.login = "mybot".into();
            s.twitch.token = Secret::new("oauth:abc");
            s.epoch.length = Duration::from_secs(1);
            s.epoch.grace = Duration::ZERO;
            s.store.url = "postgresql://u@h/db".into();
            s.store.flush_interval = Duration::from_secs(60);
            s.sealing.decimals = 12; // 1e6 * 80 * 1e12 = 8e19 > u64::MAX ...
            s.sealing.reward_per_weight = 18; // ... but 1e6 * 18 * 1e12 = 1.8e19 fits
        });
        assert_eq!(problems, Vec::<String>::new());
    }

    #[test]
    fn messages_never_hold_secrets() {
        let problems = problems_of(|s| {
            s.twitch.token = Secret::new("sekrit-token-123");
            s.store.url = "mysql://root:pg-sekrit-789@db/x".into();
        });
        assert_eq!(problems.len(), 2, "{problems:#?}");
        for p in &problems {
            assert!(!p.contains("sekrit-token-123") && !p.contains("pg-sekrit-789"), "{p}");
        }
    }
}
