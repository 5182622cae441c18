//! Layering the configuration (defaults < TOML file < env `CHATSEAL__SECTION__KEY` < env
//! `DATABASE_URL`) with the `config` crate, and reporting EVERY problem at once: the merged raw
//! key tree is walked against the key tree of the serialised defaults (unknown keys, with their
//! dotted path), each known leaf is deserialised on its own (type errors, one per key), the
//! accepted leaves are deserialised together, normalised and validated.

use std::path::Path;

use config::{Config, ConfigError, File, FileFormat, Map, Source, Value, ValueKind};

use super::keytree::{check_table, Layer};
use super::model::Settings;

/// Prefix of the environment variables that set keys: `CHATSEAL__TWITCH__TOKEN` sets `twitch.token`.
pub const ENV_PREFIX: &str = "CHATSEAL__";
/// Separator of the levels in such a variable's name.
pub const ENV_SEPARATOR: &str = "__";
/// Environment variable that overrides `store.url` (ignored when empty).
pub const DATABASE_URL: &str = "DATABASE_URL";

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// Every problem found, each naming its key, its value (never a secret) and what is allowed.
    #[error("invalid configuration:\n{}", bullets(.0))]
    Invalid(Vec<String>),
}

impl SettingsError {
    /// The problems, one per entry.
    pub fn problems(&self) -> &[String] {
        match self {
            Self::Invalid(problems) => problems,
        }
    }
}

fn bullets(problems: &[String]) -> String {
    let lines: Vec<String> = problems.iter().map(|p| format!("  - {}", p.trim_end().replace('\n', "\n    "))).collect();
    lines.join("\n")
}

/// Load and validate the settings from the defaults, the optional TOML file at `path` (an
/// error when given and missing) and the process environment.
pub fn load(path: Option<&Path>) -> Result<Settings, SettingsError> {
    let mut problems = Vec::new();
    let mut env = Vec::new();
    for (name, value) in std::env::vars_os() {
        let Ok(name) = name.into_string() else {
            continue;
        };
        if name != DATABASE_URL && strip_env_prefix(&name).is_none() {
            continue;
        }
        match value.into_string() {
            Ok(value) => env.push((name, value)),
            Err(_) => problems
                .push(format!("environment variable {name} is not valid UTF-8: set it to a UTF-8 value or unset it")),
        }
    }
    match load_from(path, &env) {
        Ok(settings) if problems.is_empty() => Ok(settings),
        Ok(_) => Err(SettingsError::Invalid(problems)),
        Err(SettingsError::Invalid(more)) => {
            problems.extend(more);
            Err(SettingsError::Invalid(problems))
        }
    }
}

/// [`load`] with the environment given as `(name, value)` pairs instead of read from the
/// process, so that tests never touch the process environment.
pub fn load_from(path: Option<&Path>, env: &[(String, String)]) -> Result<Settings, SettingsError> {
    let internal = |e: ConfigError| {
        SettingsError::Invalid(vec![format!("internal error: the built-in defaults are unusable: {e}")])
    };
    let defaults = Config::try_from(&Settings::default()).map_err(internal)?;
    let default_tree = defaults.collect().map_err(internal)?;
    let mut problems = Vec::new();

    let mut user = Config::builder();
    if let Some(path) = path {
        match read_file(path) {
            Ok(layer) => user = user.add_source(layer),
            Err(problem) => problems.push(problem),
        }
    }
    let user = user.add_source(env_layer(env, &default_tree, &mut problems)).add_source(database_url_layer(env));
    let user_tree = user.build().and_then(|c| c.collect()).map_err(internal)?;

    let mut accepted = Layer::default();
    check_table("", &user_tree, &default_tree, &defaults, &mut accepted, &mut problems);
    let merged = Config::builder()
        .add_source(defaults)
        .add_source(accepted)
        .build()
        .and_then(Config::try_deserialize::<Settings>);
    match merged {
        Ok(mut settings) => {
            problems.extend(super::wire_values::wire_problems(&settings));
            settings.normalize();
            problems.extend(settings.validate());
            if problems.is_empty() {
                Ok(settings)
            } else {
                Err(SettingsError::Invalid(problems))
            }
        }
        Err(e) => {
            problems.push(format!("the configuration cannot be read as a whole: {e}"));
            Err(SettingsError::Invalid(problems))
        }
    }
}

fn read_file(path: &Path) -> Result<Layer, String> {
    let shown = path.display();
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!(
                "configuration file {shown} does not exist: create it (see \
                 config/chatseal.example.toml) or point --config / CHATSEAL_CONFIG elsewhere"
            ))
        }
        Err(e) => return Err(format!("configuration file {shown} cannot be read: {e}")),
        Ok(meta) if !meta.is_file() => {
            return Err(format!("configuration file {shown} is not a regular file: point --config at a TOML file"))
        }
        Ok(_) => {}
    }
    File::from(path)
        .format(FileFormat::Toml)
        .collect()
        .map(Layer)
        .map_err(|e| format!("configuration file {shown} cannot be read as TOML: {e}"))
}

/// `CHATSEAL__TWITCH__TOKEN` -> `TWITCH__TOKEN`; the prefix is matched without regard to case.
fn strip_env_prefix(name: &str) -> Option<&str> {
    let head = name.get(..ENV_PREFIX.len())?;
    head.eq_ignore_ascii_case(ENV_PREFIX).then(|| &name[ENV_PREFIX.len()..])
}

fn env_layer(env: &[(String, String)], defaults: &Map<String, Value>, problems: &mut Vec<String>) -> Layer {
    let mut layer = Layer::default();
    for (name, value) in env {
        let Some(rest) = strip_env_prefix(name) else {
            continue;
        };
        let segments: Vec<String> = rest.split(ENV_SEPARATOR).map(str::to_ascii_lowercase).collect();
        if segments.iter().any(String::is_empty) {
            problems.push(format!(
                "environment variable {name} does not name a key: expected \
                 {ENV_PREFIX}SECTION{ENV_SEPARATOR}KEY, e.g. CHATSEAL__TWITCH__TOKEN"
            ));
            continue;
        }
        let origin = format!("environment variable {name}");
        let kind = if default_is_list(defaults, &segments) {
            let items = value.split(',').map(str::trim).filter(|s| !s.is_empty());
            ValueKind::Array(items.map(|s| Value::new(Some(&origin), s)).collect())
        } else {
            ValueKind::String(value.clone())
        };
        layer.0.insert(segments.join("."), Value::new(Some(&origin), kind));
    }
    layer
}

fn database_url_layer(env: &[(String, String)]) -> Layer {
    let mut layer = Layer::default();
    if let Some((name, url)) = env.iter().rev().find(|(n, v)| n == DATABASE_URL && !v.is_empty()) {
        let origin = format!("environment variable {name}");
        layer.0.insert("store.url".to_owned(), Value::new(Some(&origin), url.as_str()));
    }
    layer
}

fn default_is_list(defaults: &Map<String, Value>, segments: &[String]) -> bool {
    let mut table = defaults;
    for (i, segment) in segments.iter().enumerate() {
        match (table.get(segment).map(|v| &v.kind), i + 1 == segments.len()) {
            (Some(ValueKind::Array(_)), true) => return true,
            (Some(ValueKind::Table(sub)), false) => table = sub,
            _ => return false,
        }
    }
    false
}
