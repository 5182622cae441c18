//! `chatseal doctor [--epochs N] [--json]`: one look at everything an operator answers for. The
//! store is opened read-only (never created, migrated or written; a cleanly stopped SQLite file
//! is opened immutable, so not even its side files appear), and doctor checks: the engine and
//! schema, `quick_check` (SQLite), every seal's digest, the durability settings as the daemon
//! sets and judges them; past channel-epochs with data left unsealed and the sealer's cursor;
//! coverage gaps in the last N closed epochs; the newest backup's age and a quick verify. It
//! works beside a running daemon. Exit codes are in `report`: 0 ok (warnings included), 1 a
//! check failed, 69 the store cannot be reached, 78 bad configuration.

mod judge;
mod probe;
mod report;

use std::path::Path;
use std::time::Duration;

use chatseal_actors::clock::epoch::last_closed_epoch;
use chatseal_schema::{redact_url, sqlite_path, Backend, Store, StoreError};

use crate::daemon::wiring::{millis, secs};
use crate::exit::Exit;

use super::setup;
use probe::Clock;
use report::Report;

/// How long doctor waits for the store to answer before calling it unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `chatseal doctor`: every check (coverage gaps over the last `epochs` closed epochs), the
/// report printed as text or, with `json`, as JSON.
pub async fn main(config: Option<&Path>, epochs: u32, json: bool) -> Exit {
    let s = match setup::load_settings(config) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let now_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    let (len, grace_ms) = (secs(s.epoch.length), millis(s.epoch.grace));
    let clock = Clock { now_ms, len, grace_ms, closed: last_closed_epoch(now_ms, len, grace_ms) };
    let mut r = Report {
        store: redact_url(&s.store.url),
        backend: None,
        now: now_ms / 1000,
        epoch_length: len,
        checks: Vec::new(),
        unreachable: false,
    };
    match Store::open_read_only(&s.store.url, CONNECT_TIMEOUT).await {
        Err(e @ (StoreError::InvalidUrl { .. } | StoreError::Refused { .. })) => {
            eprintln!("store.url: {e}");
            return Exit::Config;
        }
        Err(e) => {
            r.unreachable = setup::store_exit_code(&e) == Exit::Unavailable;
            r.checks.push(judge::open_failed(&e));
        }
        Ok(store) => {
            r.backend = Some(match store.backend() {
                Backend::Sqlite => "sqlite",
                Backend::Postgres => "postgres",
            });
            let file = sqlite_path(&s.store.url);
            r.checks.extend(probe::store_checks(&store, file.as_deref()).await);
            let (length_check, store_len) = probe::epoch_length_check(&store, len).await;
            r.checks.push(length_check);
            let clock = Clock { len: store_len, closed: last_closed_epoch(now_ms, store_len, grace_ms), ..clock };
            // The channels daemons read: the store's set (the config's list before a first start).
            let channels = match store.channel_set().await {
                Ok(set) if !set.is_empty() => set,
                _ => s.twitch.channels.clone(),
            };
            r.checks.extend(probe::sealing_checks(&store, clock, epochs, &channels).await);
            let _ = store.close().await;
        }
    }
    r.checks.push(probe::backup_check(&s.backup.dir, now_ms / 1000, secs(s.backup.interval), r.backend).await);
    if json {
        println!("{}", serde_json::to_string_pretty(&r.json()).unwrap_or_default());
    } else {
        print!("{}", r.text());
    }
    r.exit_code()
}
