//! What the demo runs with, decided before anything starts: where its settings come from
//! (`--config`, else `config/demo.toml` when present, else the built-in demo defaults below),
//! the parts it always replaces (the Twitch server becomes the in-process simulated one, the
//! store a fresh SQLite file in the demo's own temporary directory, no credentials are ever
//! sent), and whether the chosen duration lets an epoch seal. Pure: loading is the caller's.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::settings::{Secret, Settings};

/// The settings file the demo uses when present in the working directory.
pub const DEMO_CONFIG: &str = "config/demo.toml";

/// The built-in demo settings, used when there is no `config/demo.toml`: three channels, 20 s
/// epochs sealed 2 s after they end, fast flushes. The environment (`CHATSEAL__EPOCH__LENGTH`,
/// ...) still applies on top, as for every command.
pub const BUILT_IN: &str = r#"# chatseal demo: built-in settings
[twitch]
channels = ["lacy", "jasontheween", "stableronaldo"]
reconnect_min = "100ms"
reconnect_max = "2s"

[epoch]
length = "20s"
grace = "2s"
max_skew = "2s"

[store]
flush_interval = "100ms"

[daemon]
shutdown_timeout = "5s"
"#;

/// Where the settings came from, for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `--config FILE` (or `CHATSEAL_CONFIG`).
    Given(PathBuf),
    /// `config/demo.toml` in the working directory.
    DemoFile,
    /// [`BUILT_IN`], written to this file in the demo's directory so that it loads in layers.
    BuiltIn(PathBuf),
}

impl Source {
    /// The file to load.
    pub fn path(&self) -> &Path {
        match self {
            Source::Given(p) | Source::BuiltIn(p) => p,
            Source::DemoFile => Path::new(DEMO_CONFIG),
        }
    }

    /// "config/demo.toml", "the built-in demo settings", ...
    pub fn describe(&self) -> String {
        match self {
            Source::Given(p) => p.display().to_string(),
            Source::DemoFile => DEMO_CONFIG.to_owned(),
            Source::BuiltIn(_) => "the built-in demo settings".to_owned(),
        }
    }
}

/// Picks the settings file: the given one, else `config/demo.toml` when `demo_file_exists`,
/// else the built-in settings at `dir/demo.toml` (the caller writes [`BUILT_IN`] there).
pub fn choose_source(given: Option<&Path>, demo_file_exists: bool, dir: &Path) -> Source {
    match given {
        Some(p) => Source::Given(p.to_path_buf()),
        None if demo_file_exists => Source::DemoFile,
        None => Source::BuiltIn(dir.join("demo.toml")),
    }
}

/// Points the settings at the simulated server at `twitch` (plain IRC, anonymous: no login or
/// token ever leaves for the demo), a fresh SQLite store and backup directory inside `dir`, and
/// `http` for the API and /metrics.
pub fn apply_overrides(s: &mut Settings, twitch: SocketAddr, dir: &Path, http: SocketAddr) {
    s.twitch.server = twitch.ip().to_string();
    s.twitch.port = twitch.port();
    s.twitch.tls = false;
    s.twitch.tls_ca_file = PathBuf::new();
    s.twitch.login = String::new();
    s.twitch.token = Secret::default();
    s.store.url = format!("sqlite://{}", dir.join("demo.db").display());
    s.backup.dir = dir.join("backups");
    s.http.listen = http;
}

/// A note for the operator when `run_for` is too short for an epoch to end and pass its grace
/// (so that nothing may seal), else None.
pub fn duration_note(run_for: Duration, epoch: Duration, grace: Duration) -> Option<String> {
    let needed = epoch + grace;
    (run_for < needed).then(|| {
        format!(
            "note: --for {} is shorter than one epoch ({}) plus its grace ({}): no epoch may seal before the demo ends; try --for {}",
            humantime::format_duration(run_for),
            humantime::format_duration(epoch),
            humantime::format_duration(grace),
            humantime::format_duration(Duration::from_secs(needed.as_secs() * 3)),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::load_from;

    #[test]
    fn the_built_in_settings_load_and_seal_within_a_minute() {
        let dir = std::env::temp_dir().join(format!("chatseal-plan-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("demo.toml");
        std::fs::write(&file, BUILT_IN).unwrap();
        let s = load_from(Some(&file), &[]).unwrap_or_else(|e| panic!("{e}"));
        // The environment still applies on top (the e2e test runs 5 s epochs this way).
        let env = [("CHATSEAL__EPOCH__LENGTH".to_string(), "5s".to_string())];
        let short = load_from(Some(&file), &env).unwrap_or_else(|e| panic!("{e}"));
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(s.twitch.channels, ["lacy", "jasontheween", "stableronaldo"]);
        assert_eq!(s.epoch.length, Duration::from_secs(20));
        assert!(duration_note(Duration::from_secs(60), s.epoch.length, s.epoch.grace).is_none());
        assert_eq!(short.epoch.length, Duration::from_secs(5));
    }

    #[test]
    fn the_source_is_the_given_file_then_demo_toml_then_built_in() {
        let dir = Path::new("/tmp/x");
        assert_eq!(choose_source(Some(Path::new("a.toml")), true, dir), Source::Given("a.toml".into()));
        assert_eq!(choose_source(None, true, dir).path(), Path::new(DEMO_CONFIG));
        assert_eq!(choose_source(None, false, dir), Source::BuiltIn("/tmp/x/demo.toml".into()));
    }

    #[test]
    fn overrides_point_everything_at_the_demo_and_drop_credentials() {
        let mut s = Settings::default();
        s.twitch.login = "mybot".into();
        s.twitch.token = Secret::new("sekrit");
        s.store.url = "postgres://u:p@prod/db".into();
        let twitch: SocketAddr = "127.0.0.1:40001".parse().unwrap();
        let http: SocketAddr = "127.0.0.1:9187".parse().unwrap();
        apply_overrides(&mut s, twitch, Path::new("/tmp/demo-1"), http);
        assert_eq!((s.twitch.server.as_str(), s.twitch.port, s.twitch.tls), ("127.0.0.1", 40001, false));
        assert_eq!((s.twitch.login.as_str(), s.twitch.token.expose()), ("", ""));
        assert_eq!(s.store.url, "sqlite:///tmp/demo-1/demo.db");
        assert_eq!(s.backup.dir, Path::new("/tmp/demo-1/backups"));
        assert_eq!(s.http.listen, http);
    }

    #[test]
    fn a_duration_shorter_than_an_epoch_and_its_grace_gets_a_note() {
        let note = duration_note(Duration::from_secs(15), Duration::from_secs(20), Duration::from_secs(2));
        assert!(note.as_deref().is_some_and(|n| n.contains("--for 15s") && n.contains("20s")), "{note:?}");
        assert!(duration_note(Duration::from_secs(22), Duration::from_secs(20), Duration::from_secs(2)).is_none());
    }
}
