//! The preamble the store commands share: load the settings (exit 78 with every problem
//! printed) and open the store named by `store.url`, mapping a store error to its exit code
//! (69 when it cannot be reached, 78 when the URL is invalid, 70 otherwise). Each failure is
//! printed to stderr once, here, so the commands only pass the code on.

use std::path::Path;

use chatseal_schema::{OpenOptions, Store, StoreError};

use crate::exit::Exit;
use crate::settings::{self, Settings};

/// The settings, or [`Exit::Config`] after printing why they cannot be loaded.
pub fn load_settings(config: Option<&Path>) -> Result<Settings, Exit> {
    settings::load(config).map_err(|e| {
        eprintln!("{e}");
        Exit::Config
    })
}

/// The exit code of a store error: unreachable (including a missing file or a full disk) 69, an
/// invalid URL or a login the server refuses 78 (it comes from the configuration), else 70.
pub fn store_exit_code(e: &StoreError) -> Exit {
    match e {
        StoreError::Unavailable { .. } | StoreError::DiskFull { .. } | StoreError::Io { .. } => Exit::Unavailable,
        StoreError::InvalidUrl { .. } | StoreError::Refused { .. } => Exit::Config,
        _ => Exit::Internal,
    }
}

/// Opens (and migrates, like the daemon) the store of `s`, or its exit code after printing
/// the error.
pub async fn open_store(s: &Settings) -> Result<Store, Exit> {
    open_store_with(s, &OpenOptions::default()).await
}

/// [`open_store`] with these options.
pub async fn open_store_with(s: &Settings, opts: &OpenOptions) -> Result<Store, Exit> {
    Store::open_with(&s.store.url, opts).await.map_err(|e| {
        eprintln!("{e}");
        store_exit_code(&e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_map_to_exit_codes() {
        let url = "sqlite://x".to_string();
        let unavailable =
            StoreError::Unavailable { url: url.clone(), what: "connecting".into(), detail: "refused".into() };
        assert_eq!(store_exit_code(&unavailable), Exit::Unavailable);
        let missing = StoreError::Io { url: url.clone(), path: "x".into(), detail: "no such file".into() };
        assert_eq!(store_exit_code(&missing), Exit::Unavailable);
        assert_eq!(
            store_exit_code(&StoreError::InvalidUrl { url: url.clone(), reason: "scheme".into() }),
            Exit::Config
        );
        let corrupt = StoreError::Corrupt { url, what: "quick_check".into(), detail: "bad page".into() };
        assert_eq!(store_exit_code(&corrupt), Exit::Internal);
    }
}
