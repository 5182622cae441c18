//! `chatseal replay --from FILE`: feeds a chat log into the store of the configuration
//! (`store.url`) through the live parse + flush path ([`crate::replay`]), then prints what
//! happened to its lines. For a stopped daemon (SQLite) or a PostgreSQL store shared with a
//! running one. The epoch length and the excluded users come from the configuration, the
//! opt-outs from the store.

use std::path::Path;

use super::setup::{load_settings, open_store};
use crate::daemon::wiring::{excluded_users, secs};
use crate::exit::Exit;
use crate::replay::{replay_file, ReplayConfig, ReplayError, CHUNK_EVENTS};

/// Runs `chatseal replay --from FILE` into the configured store.
pub async fn main(config: Option<&Path>, from: &Path) -> Exit {
    let s = match load_settings(config) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if !from.is_file() {
        eprintln!("--from {}: no such file; give the path of a chat log (one raw IRC line per row)", from.display());
        return Exit::Usage;
    }
    let store = match open_store(&s).await {
        Ok(st) => st,
        Err(code) => return code,
    };
    if let Err(e) = crate::epoch_length::check(&store, secs(s.epoch.length), true).await {
        eprintln!("{e}");
        return match &e {
            crate::epoch_length::EpochLengthError::Store(se) => super::setup::store_exit_code(se),
            _ => Exit::Config,
        };
    }
    let opted_out = match store.opted_out_logins().await {
        Ok(v) => v.into_iter().collect(),
        Err(e) => {
            eprintln!("reading opt-outs: {e}");
            return super::setup::store_exit_code(&e);
        }
    };
    let cfg = ReplayConfig {
        epoch_len: secs(s.epoch.length),
        max_line_bytes: s.twitch.max_line_bytes,
        excluded: excluded_users(&s),
        opted_out,
        chunk_events: CHUNK_EVENTS,
        now_ms: chatseal_actors::clock::source::system().now_ms(),
        max_skew_ms: i64::try_from(s.epoch.max_skew.as_millis()).unwrap_or(i64::MAX),
    };
    println!("replay {} -> {}", from.display(), store.redacted_url());
    let code = match replay_file(&store, from, &cfg).await {
        Ok(sum) => {
            print!("{}", sum.render());
            Exit::Ok
        }
        Err(e) => {
            eprintln!("{e}");
            match &e {
                ReplayError::Store(se) if se.is_unavailable() => Exit::Unavailable,
                ReplayError::Store(_) => Exit::Internal,
                ReplayError::Open { .. } | ReplayError::Read(_) => Exit::Usage,
            }
        }
    };
    if let Err(e) = store.checkpoint().await {
        tracing::warn!("checkpointing the store: {e}");
    }
    code
}
