//! `chatseal channels list | add NAME... | remove NAME...`: the store's channel set, which every
//! daemon on the store reads. A change is one transaction with an audit row per channel
//! (`by=cli`) and reaches running daemons within their poll interval (about a second), without
//! a restart. Names are checked like `twitch.channels` (and CR, LF and NUL refused): a bad name
//! refuses the whole command (exit 64) before anything is written. `POST /v1/admin/channels`
//! shares [`checked_change`] and [`apply`].

use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use chatseal_schema::queries::channels::{ChangedBy, ChannelChange};
use chatseal_schema::{Store, StoreError};

use super::setup::{load_settings, open_store, store_exit_code};
use crate::cli::ChannelsAction;
use crate::exit::Exit;
use crate::settings::channel_login;

/// Checks and normalises a change: every name a channel login, none both added and removed,
/// at least one name. Returns (add, remove) without repeats, or every problem found.
pub fn checked_change(add: &[String], remove: &[String]) -> Result<(Vec<String>, Vec<String>), Vec<String>> {
    let mut problems = Vec::new();
    let mut norm = |raw: &[String]| {
        let mut out: Vec<String> = Vec::new();
        for r in raw {
            match channel_login(r) {
                Ok(n) if !out.contains(&n) => out.push(n),
                Ok(_) => {}
                Err(e) => problems.push(e),
            }
        }
        out
    };
    let (add, remove) = (norm(add), norm(remove));
    for n in add.iter().filter(|n| remove.contains(n)) {
        problems.push(format!("channel {n:?} is both added and removed: ask for one of the two"));
    }
    if add.is_empty() && remove.is_empty() && problems.is_empty() {
        problems.push("no channel given: name at least one channel to add or remove".into());
    }
    if problems.is_empty() {
        Ok((add, remove))
    } else {
        Err(problems)
    }
}

/// Applies a checked change to the store's set, audited as made `by`.
pub async fn apply(
    store: &Store,
    add: &[String],
    remove: &[String],
    by: ChangedBy,
) -> Result<ChannelChange, StoreError> {
    let at = std::time::SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    store.change_channels(add, remove, by, at).await
}

fn show_time(unix_s: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_secs(unix_s.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Runs `chatseal channels list | add | remove`: prints the channel set after the change (if any).
pub async fn main(config: Option<&Path>, action: &ChannelsAction) -> Exit {
    let (add, remove) = match action {
        ChannelsAction::List => (Vec::new(), Vec::new()),
        ChannelsAction::Add { names } => (names.clone(), Vec::new()),
        ChannelsAction::Remove { names } => (Vec::new(), names.clone()),
    };
    let checked = match action {
        ChannelsAction::List => None,
        _ => match checked_change(&add, &remove) {
            Ok(c) => Some(c),
            Err(problems) => {
                for p in problems {
                    eprintln!("chatseal channels: {p}");
                }
                return Exit::Usage;
            }
        },
    };
    let s = match load_settings(config) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let store = match open_store(&s).await {
        Ok(st) => st,
        Err(code) => return code,
    };
    let result = match checked {
        None => list(&store).await,
        Some((add, remove)) => apply(&store, &add, &remove, ChangedBy::Cli).await.map(|c| {
            for n in &c.added {
                println!("added #{n}");
            }
            for n in &c.removed {
                println!("removed #{n}");
            }
            for n in &c.unchanged {
                println!("unchanged #{n} (already {})", if add.contains(n) { "in the set" } else { "absent" });
            }
            println!("channel set version {}: running daemons pick the change up within about a second", c.version);
        }),
    };
    match result {
        Ok(()) => Exit::Ok,
        Err(e) => {
            eprintln!("chatseal channels: {e}");
            store_exit_code(&e)
        }
    }
}

async fn list(store: &Store) -> Result<(), StoreError> {
    let rows = store.channel_rows().await?;
    let version = store.channel_set_version().await?;
    for r in &rows {
        println!("#{}\tadded {} by {}", r.name, show_time(r.added_at), r.added_by);
    }
    if rows.is_empty() && store.channels_config_applied().await?.is_empty() {
        println!("(empty: a daemon seeds the set from twitch.channels at its first start)");
    }
    println!("{} channel(s), version {version}", rows.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn names_are_normalised_and_repeats_dropped() {
        assert_eq!(
            checked_change(&v(&["#Lacy", " lacy ", "x_1"]), &v(&["Beta"])),
            Ok((v(&["lacy", "x_1"]), v(&["beta"])))
        );
    }

    #[test]
    fn bad_names_are_all_reported_and_nothing_passes() {
        let e = checked_change(&v(&["ok", "bad-name", "evil\r\nJOIN #x"]), &v(&["a".repeat(26).as_str()])).unwrap_err();
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(e[1].contains("CR, LF or NUL"), "{e:?}");
        assert!(checked_change(&v(&["nul\0"]), &[]).is_err());
        assert!(checked_change(&v(&["trailing\n"]), &[]).is_err(), "a trailing LF is refused, not trimmed away");
    }

    #[test]
    fn both_added_and_removed_or_nothing_is_refused() {
        assert!(checked_change(&v(&["a"]), &v(&["A"])).unwrap_err()[0].contains("both added and removed"));
        assert!(checked_change(&[], &[]).unwrap_err()[0].contains("no channel"));
    }
}
