//! Tests of the whole loader: layering, the shipped config files, reporting every problem at
//! once, and keeping secrets out of every output.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use config::{File, FileFormat, Source};

use super::*;

fn toml_file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().expect("temp file");
    f.write_all(text.as_bytes()).expect("write temp file");
    f
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn problems(result: Result<Settings, SettingsError>) -> Vec<String> {
    match result {
        Ok(s) => panic!("expected problems, the configuration loaded: {s:?}"),
        Err(e) => e.problems().to_vec(),
    }
}

fn shipped(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config").join(name)
}

#[test]
fn example_file_validates_and_holds_every_key_with_its_default() {
    let path = shipped("chatseal.example.toml");
    let loaded = load_from(Some(&path), &[]).unwrap_or_else(|e| panic!("{e}"));

    let default_keys = key_paths().expect("defaults serialise");
    let example = File::from(path.as_path()).format(FileFormat::Toml).collect().expect("example parses");
    let mut example_keys = Vec::new();
    super::keytree::leaf_paths("", &example, &mut example_keys);
    example_keys.sort();
    assert_eq!(example_keys, default_keys, "the example must hold exactly the keys of the defaults");
    // A sanity floor (the tree walk found the sections), not a count to bump with every key.
    assert!(default_keys.len() > 40, "only {} keys found", default_keys.len());
    // and it documents the real defaults
    assert_eq!(loaded.redacted_toml(), Settings::default().redacted_toml());
}

#[test]
fn demo_file_validates_with_short_epochs() {
    let s = load_from(Some(&shipped("demo.toml")), &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.epoch.length, Duration::from_secs(20));
    assert_eq!(s.epoch.grace, Duration::from_secs(2));
    assert_eq!(s.store.url, "sqlite://data/demo.db");
    assert!(!s.twitch.tls);
    assert_eq!(s.twitch.server, "127.0.0.1");
}

#[test]
fn no_file_no_env_gives_the_defaults() {
    let s = load_from(None, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.redacted_toml(), Settings::default().redacted_toml());
}

#[test]
fn env_overrides_file_overrides_defaults() {
    let f = toml_file("[twitch]\nport = 6667\njoin_window = \"15s\"\n[store]\nflush_interval = \"1s\"\n");
    let vars = env(&[
        ("CHATSEAL__TWITCH__PORT", "7000"),
        ("CHATSEAL__STORE__FLUSH_INTERVAL", "2s"),
        ("CHATSEAL__TWITCH__TLS", "false"),
        ("CHATSEAL__SEALING__CENTIWEIGHTS__BITS", "3"),
        ("CHATSEAL_CONFIG", "/not/a/key"),
        ("PATH", "/usr/bin"),
    ]);
    let s = load_from(Some(f.path()), &vars).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.twitch.port, 7000); // env over file
    assert_eq!(s.store.flush_interval, Duration::from_secs(2)); // env over file
    assert_eq!(s.twitch.join_window, Duration::from_secs(15)); // file over default
    assert!(!s.twitch.tls); // env over default
    assert_eq!(s.sealing.centiweights.per_signal[chatseal_schema::SignalKind::Bits], 3); // nested key from env
    assert_eq!(s.twitch.server, "irc.chat.twitch.tv"); // default
}

#[test]
fn database_url_wins_over_file_and_prefixed_env() {
    let f = toml_file("[store]\nurl = \"sqlite://from-file.db\"\n");
    let prefixed = ("CHATSEAL__STORE__URL", "sqlite://from-env.db");
    let s = load_from(Some(f.path()), &env(&[prefixed, ("DATABASE_URL", "postgres://u@h/db")]))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.store.url, "postgres://u@h/db");
    let s = load_from(Some(f.path()), &env(&[prefixed, ("DATABASE_URL", "")])).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.store.url, "sqlite://from-env.db", "an empty DATABASE_URL is ignored");
}

#[test]
fn three_different_problems_are_all_reported() {
    let f =
        toml_file("[twitch]\nchanels = [\"lacy\"]\nchannels = [\"bad channel!\"]\n[epoch]\nlength = \"5 minutes!\"\n");
    let p = problems(load_from(Some(f.path()), &[]));
    assert_eq!(p.len(), 3, "{p:#?}");
    assert!(p.iter().any(|m| m.starts_with("unknown key twitch.chanels")), "{p:#?}");
    assert!(p.iter().any(|m| m.starts_with("epoch.length = \"5 minutes!\"") && m.contains("duration")), "{p:#?}");
    assert!(p.iter().any(|m| m.contains("twitch.channels") && m.contains("bad channel!")), "{p:#?}");
}

#[test]
fn unknown_keys_are_reported_with_their_dotted_path_and_origin() {
    let f = toml_file("[sealing.centiweights]\nfoo = 1\n[nope]\nx = 1\n");
    let vars = env(&[("CHATSEAL__TWITCH__TOKN", "x"), ("CHATSEAL__TWITCH____PORT", "1")]);
    let p = problems(load_from(Some(f.path()), &vars));
    assert_eq!(p.len(), 4, "{p:#?}");
    let file_name = f.path().file_name().and_then(|n| n.to_str()).expect("file name");
    let has = |start: &str, also: &str| p.iter().any(|m| m.starts_with(start) && m.contains(also));
    assert!(has("unknown key sealing.centiweights.foo", file_name), "{p:#?}");
    assert!(has("unknown key nope", "sections"), "{p:#?}");
    assert!(has("unknown key twitch.tokn", "environment variable CHATSEAL__TWITCH__TOKN"), "{p:#?}");
    assert!(has("environment variable CHATSEAL__TWITCH____PORT does not name a key", ""), "{p:#?}");
}

#[test]
fn centiweights_keys_are_presence_and_the_weighted_kinds_only() {
    let f = toml_file("[sealing.centiweights]\nbits = \"many\"\nmessage = 1\nraid = 7\n");
    let p = problems(load_from(Some(f.path()), &[]));
    assert_eq!(p.len(), 2, "{p:#?}");
    let has = |start: &str, also: &str| p.iter().any(|m| m.starts_with(start) && m.contains(also));
    assert!(has("sealing.centiweights.bits = \"many\"", "a whole number"), "{p:#?}");
    assert!(has("unknown key sealing.centiweights.message", "bits, gift, presence, raid, resub, sub"), "{p:#?}");
    let f = toml_file("[sealing.centiweights]\nraid = 7\n");
    let s = load_from(Some(f.path()), &[]).unwrap_or_else(|e| panic!("{e}"));
    let w = s.sealing.centiweights;
    let d = chatseal_actors::sealer::merkle::CentiWeights::default();
    assert_eq!(
        w,
        chatseal_actors::sealer::merkle::CentiWeights {
            per_signal: d.per_signal.with(chatseal_schema::SignalKind::Raid, 7),
            ..d
        }
    );
}

#[test]
fn type_errors_are_reported_per_key_with_what_is_allowed() {
    let f = toml_file(
        "[twitch]\nport = \"abc\"\n[backup]\non_corruption = \"ignore\"\n[http]\nlisten = \"nowhere\"\n\
         [sealing]\ncentiweights = 5\n",
    );
    let vars = env(&[("CHATSEAL__DAEMON__RESTART_LIMIT", "many")]);
    let p = problems(load_from(Some(f.path()), &vars));
    assert_eq!(p.len(), 5, "{p:#?}");
    let has = |start: &str, also: &str| p.iter().any(|m| m.starts_with(start) && m.contains(also));
    assert!(has("twitch.port = \"abc\"", "a whole number"), "{p:#?}");
    assert!(has("backup.on_corruption = \"ignore\"", "\"restore\" or \"refuse\""), "{p:#?}");
    assert!(has("http.listen = \"nowhere\"", "127.0.0.1:9187"), "{p:#?}");
    assert!(has("sealing.centiweights = 5", "expected a table with the keys bits, gift"), "{p:#?}");
    assert!(has("daemon.restart_limit = \"many\"", "CHATSEAL__DAEMON__RESTART_LIMIT"), "{p:#?}");
}

#[test]
fn missing_or_broken_file_is_a_problem_alongside_the_others() {
    let missing = Path::new("/nonexistent/chatseal.toml");
    let p = problems(load_from(Some(missing), &env(&[("CHATSEAL__TWITCH__PORT", "0")])));
    assert_eq!(p.len(), 2, "{p:#?}");
    assert!(p[0].contains("/nonexistent/chatseal.toml") && p[0].contains("does not exist"), "{p:#?}");
    assert!(p[1].contains("twitch.port"), "{p:#?}");

    let broken = toml_file("[twitch\nport = 1\n");
    let p = problems(load_from(Some(broken.path()), &[]));
    assert_eq!(p.len(), 1, "{p:#?}");
    assert!(p[0].contains("cannot be read as TOML"), "{p:#?}");
}

#[test]
fn secrets_never_appear_in_messages_debug_or_redacted_toml() {
    let secrets = ["sekrit-token-123", "pg-sekrit-789", "admin-sekrit-456"];
    // problems: a token without login, a bad URL scheme with a password, a mistyped admin token
    let f = toml_file("[http]\nadmin_token = [\"admin-sekrit-456\"]\n");
    let vars =
        env(&[("CHATSEAL__TWITCH__TOKEN", "sekrit-token-123"), ("DATABASE_URL", "mysql://root:pg-sekrit-789@db/x")]);
    let err = load_from(Some(f.path()), &vars).expect_err("three problems");
    let shown = format!("{err}\n{err:?}");
    assert_eq!(err.problems().len(), 3, "{shown}");
    // a loaded configuration holding all three
    let f = toml_file("[twitch]\nlogin = \"mybot\"\n[http]\nadmin_token = \"admin-sekrit-456\"\n");
    let vars = env(&[
        ("CHATSEAL__TWITCH__TOKEN", "oauth:sekrit-token-123"),
        ("DATABASE_URL", "postgres://root:pg-sekrit-789@db/x"),
    ]);
    let s = load_from(Some(f.path()), &vars).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.twitch.token.expose(), "sekrit-token-123", "oauth: prefix stripped");
    assert_eq!(s.http.admin_token.expose(), "admin-sekrit-456");
    for out in [shown, format!("{s:?}"), s.redacted_toml()] {
        for secret in secrets {
            assert!(!out.contains(secret), "{secret} leaked in:\n{out}");
        }
    }
}

#[test]
fn channels_and_logins_are_normalised_from_file_and_env() {
    let f =
        toml_file("[twitch]\nchannels = [\"#Lacy\", \" JasonTheWeen \"]\nlogin = \"MyBot\"\ntoken = \"OAuth:abc\"\n");
    let s = load_from(Some(f.path()), &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.twitch.channels, ["lacy", "jasontheween"]);
    assert_eq!(s.twitch.login, "mybot");
    assert_eq!(s.twitch.token.expose(), "abc");
    let vars = env(&[("CHATSEAL__TWITCH__CHANNELS", "#Lacy, xQc,,"), ("CHATSEAL__SEALING__EXCLUDE_USERS", "")]);
    let s = load_from(None, &vars).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.twitch.channels, ["lacy", "xqc"]);
    assert!(s.sealing.exclude_users.is_empty());
}

#[test]
fn duplicate_channels_after_normalisation_are_a_problem() {
    let p = problems(load_from(None, &env(&[("CHATSEAL__TWITCH__CHANNELS", "lacy,#LACY")])));
    assert_eq!(p.len(), 1, "{p:#?}");
    assert!(p[0].contains("more than once"), "{p:#?}");
}

#[test]
fn redacted_toml_loads_back_as_the_same_configuration() {
    let mut s = Settings::default();
    s.epoch.length = Duration::from_millis(12_000);
    s.twitch.join_window = Duration::from_millis(25_000);
    s.backup.on_corruption = OnCorruption::Refuse;
    let f = toml_file(&s.redacted_toml());
    let back = load_from(Some(f.path()), &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back.redacted_toml(), s.redacted_toml());
}

#[test]
fn error_display_lists_one_problem_per_line() {
    let err = SettingsError::Invalid(vec!["a = 1: bad".into(), "b = 2: worse\nsecond line".into()]);
    assert_eq!(err.to_string(), "invalid configuration:\n  - a = 1: bad\n  - b = 2: worse\n    second line");
}
