//! The settings of the binary: a typed tree ([`Settings`], one struct per TOML section) loaded
//! in layers with the `config` crate (defaults < TOML file < env `CHATSEAL__SECTION__KEY` < env
//! `DATABASE_URL`), normalised, and validated so that EVERY problem (unknown key, wrong type,
//! out-of-range value) is reported at once. Secrets never reach `Debug`, messages or the
//! `check-config` output.

pub mod cluster;
mod effective;
mod keytree;
mod load;
mod model;
mod redact;
pub(crate) mod validate;
mod wire_values;

#[cfg(test)]
mod tests;

pub use keytree::key_paths;
pub use load::{load, load_from, SettingsError, DATABASE_URL, ENV_PREFIX, ENV_SEPARATOR};
pub use model::{
    normalize_login, normalize_token, BackupSettings, DaemonSettings, EpochSettings, HttpSettings, OnCorruption,
    SealingSettings, Settings, StoreSettings, TwitchSettings,
};
pub use redact::{redact_url, Secret, REDACTED};
pub use validate::{channel_login, is_valid_login};
