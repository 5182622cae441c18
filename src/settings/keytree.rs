//! The key tree check behind the loader: the user's raw tree (file + environment, before
//! defaults) is walked against the key tree of the serialised defaults. Unknown keys become
//! problems with their full dotted path; each known leaf is deserialised on its own over the
//! defaults, so every wrongly typed value is a separate problem; the rest is accepted. Messages
//! name the key, the value (never a secret), where it came from and what is allowed.

use config::{Config, ConfigError, Map, Source, Value, ValueKind};

use super::model::Settings;
use super::redact::{redact_url, REDACTED};

/// A set of `dotted.key -> value` entries as a `config` source.
#[derive(Clone, Debug, Default)]
pub(super) struct Layer(pub(super) Map<String, Value>);

impl Source for Layer {
    fn clone_into_box(&self) -> Box<dyn Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<Map<String, Value>, ConfigError> {
        Ok(self.0.clone())
    }
}

/// Every key of the key tree as a dotted path (`twitch.server`, `sealing.centiweights.bits`),
/// sorted: the leaves of the serialised defaults, which is the tree the loader checks against.
/// The docs check (tests/docs.rs) compares it with docs/configuration.md.
pub fn key_paths() -> Result<Vec<String>, ConfigError> {
    let defaults = Config::try_from(&Settings::default())?.collect()?;
    let mut paths = Vec::new();
    leaf_paths("", &defaults, &mut paths);
    paths.sort_unstable();
    Ok(paths)
}

/// Every leaf path of a key tree, dotted, appended to `out` (the example config's test uses it too).
pub(super) fn leaf_paths(prefix: &str, table: &Map<String, Value>, out: &mut Vec<String>) {
    for (key, value) in table {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match &value.kind {
            ValueKind::Table(sub) => leaf_paths(&path, sub, out),
            _ => out.push(path),
        }
    }
}

/// Walk the user's raw tree against the defaults' tree: unknown keys and wrongly typed values
/// become problems, every other leaf goes into `accepted`.
pub(super) fn check_table(
    prefix: &str,
    user: &Map<String, Value>,
    defaults: &Map<String, Value>,
    default_cfg: &Config,
    accepted: &mut Layer,
    problems: &mut Vec<String>,
) {
    let mut entries: Vec<(&String, &Value)> = user.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    for (key, value) in entries {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match (defaults.get(key), &value.kind) {
            (None, _) => problems.push(format!(
                "unknown key {path} (from {}): {}",
                origin_of(value),
                known_keys(prefix, defaults)
            )),
            (Some(Value { kind: ValueKind::Table(sub), .. }), ValueKind::Table(user_sub)) => {
                check_table(&path, user_sub, sub, default_cfg, accepted, problems)
            }
            (Some(Value { kind: ValueKind::Table(sub), .. }), _) => problems.push(format!(
                "{path} = {} (from {}): expected a table with the keys {}",
                show_value(&path, value),
                origin_of(value),
                sorted_keys(sub)
            )),
            (Some(default), _) => match check_leaf(&path, value, default_cfg) {
                Ok(()) => {
                    accepted.0.insert(path, value.clone());
                }
                Err(e) => problems.push(type_problem(&path, value, default, &e)),
            },
        }
    }
}

/// Deserialise the defaults with this one leaf replaced: the error, if any, is this leaf's.
fn check_leaf(path: &str, value: &Value, default_cfg: &Config) -> Result<(), ConfigError> {
    let mut one = Layer::default();
    one.0.insert(path.to_owned(), value.clone());
    let config = Config::builder().add_source(default_cfg.clone()).add_source(one).build()?;
    config.try_deserialize::<Settings>().map(drop)
}

fn type_problem(path: &str, value: &Value, default: &Value, error: &ConfigError) -> String {
    let allowed = allowed(path, default);
    if is_secret(path) {
        return format!("{path} (from {}) has the wrong type: expected {allowed}", origin_of(value));
    }
    format!(
        "{path} = {} (from {}) is not valid ({}): expected {allowed}",
        show_value(path, value),
        origin_of(value),
        describe(error)
    )
}

/// The cause of a deserialisation error without the key and origin we print ourselves.
fn describe(error: &ConfigError) -> String {
    match error {
        ConfigError::At { error, .. } => describe(error),
        ConfigError::Type { unexpected, expected, .. } => format!("found {unexpected}, expected {expected}"),
        other => other.to_string(),
    }
}

fn is_secret(path: &str) -> bool {
    matches!(path, "twitch.token" | "http.admin_token")
}

/// What a key accepts, from the key itself or the kind of its default value.
fn allowed(path: &str, default: &Value) -> &'static str {
    match (path, &default.kind) {
        ("http.listen", _) => "an IP address and port, e.g. \"127.0.0.1:9187\"",
        ("backup.on_corruption", _) => "\"restore\" or \"refuse\"",
        ("backup.pg_dump", _) => "\"auto\", \"off\" or an absolute path to pg_dump",
        (_, ValueKind::String(s)) if humantime::parse_duration(s).is_ok() => {
            "a duration, e.g. \"250ms\", \"2m\", \"1h\""
        }
        (_, ValueKind::String(_)) => "a string",
        (_, ValueKind::Boolean(_)) => "true or false",
        (_, ValueKind::I64(_) | ValueKind::U64(_) | ValueKind::I128(_) | ValueKind::U128(_)) => "a whole number",
        (_, ValueKind::Float(_)) => "a number",
        (_, ValueKind::Array(_)) => "a list of strings, e.g. [\"a\", \"b\"] (comma-separated in the environment)",
        (_, ValueKind::Table(_) | ValueKind::Nil) => "a value like the default's",
    }
}

/// A value as the operator wrote it, with secrets and URL passwords hidden.
fn show_value(path: &str, value: &Value) -> String {
    if is_secret(path) {
        return REDACTED.to_owned();
    }
    match &value.kind {
        ValueKind::String(s) if path == "store.url" => format!("{:?}", redact_url(s)),
        ValueKind::String(s) => format!("{s:?}"),
        ValueKind::Array(items) => {
            let shown: Vec<String> = items.iter().map(|v| show_value(path, v)).collect();
            format!("[{}]", shown.join(", "))
        }
        ValueKind::Table(t) => format!("a table with the keys {}", sorted_keys(t)),
        ValueKind::Nil => "nothing".to_owned(),
        other => other.to_string(),
    }
}

/// Where a value came from: the file or the environment variable; a table answers for its
/// first entry.
fn origin_of(value: &Value) -> String {
    if let Some(origin) = value.origin() {
        return origin.to_owned();
    }
    match &value.kind {
        ValueKind::Table(t) => {
            let mut entries: Vec<(&String, &Value)> = t.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            entries.first().map_or_else(|| "the configuration".to_owned(), |(_, v)| origin_of(v))
        }
        _ => "the configuration".to_owned(),
    }
}

fn sorted_keys(table: &Map<String, Value>) -> String {
    let mut keys: Vec<&str> = table.keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys.join(", ")
}

fn known_keys(prefix: &str, defaults: &Map<String, Value>) -> String {
    if prefix.is_empty() {
        format!("chatseal knows the sections {}", sorted_keys(defaults))
    } else {
        format!("the keys of [{prefix}] are {}", sorted_keys(defaults))
    }
}
