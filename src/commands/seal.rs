//! `chatseal seal --epoch E [--channel C]`: seal from the store now. Idempotent: an already
//! sealed channel-epoch is reported, never changed. Meant for catch-up by hand while the daemon
//! is stopped (the running daemon seals by itself).

use std::path::Path;

use chatseal_actors::sealer::run::{channels_of_epoch, seal_channel_epoch, SealOutcome};

use chatseal_actors::sealer::limits::limit_warnings;

use super::setup::{load_settings, open_store};
use crate::daemon::wiring::{program_limits, seal_config, secs};
use crate::exit::Exit;

/// Runs `chatseal seal`: seals `epoch` for `channel`, or for every channel the epoch has.
pub async fn main(config: Option<&Path>, epoch: i64, channel: Option<String>) -> Exit {
    let s = match load_settings(config) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let len = secs(s.epoch.length);
    if epoch.rem_euclid(len) != 0 {
        eprintln!("--epoch {epoch} is not the start of an epoch of {len} s (try {})", epoch - epoch.rem_euclid(len));
        return Exit::Usage;
    }
    if chatseal_actors::clock::epoch::checked_closes_at_ms(epoch, len, 0).is_none() {
        eprintln!("--epoch {epoch}: its end does not fit in a Unix time in ms (overflow); give the start of a real epoch, Unix seconds");
        return Exit::Usage;
    }
    let store = match open_store(&s).await {
        Ok(st) => st,
        Err(code) => return code,
    };
    if let Err(e) = crate::epoch_length::check(&store, len, false).await {
        eprintln!("{e}");
        return match &e {
            crate::epoch_length::EpochLengthError::Store(se) => super::setup::store_exit_code(se),
            _ => Exit::Config,
        };
    }
    let channels = match &channel {
        Some(c) => vec![c.trim_start_matches('#').to_ascii_lowercase()],
        None => match channels_of_epoch(&store, epoch, len).await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{e}");
                return Exit::Unavailable;
            }
        },
    };
    if channels.is_empty() {
        println!("epoch {epoch}: nothing recorded, nothing to seal");
    }
    let cfg = seal_config(&s);
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let mut code = Exit::Ok;
    for c in channels {
        match seal_channel_epoch(&store, &cfg, epoch, len, &c, now).await {
            Ok(SealOutcome::Sealed(e)) => {
                for w in limit_warnings(e.participants, e.claim_cut, &program_limits(&s)) {
                    eprintln!("warning: epoch {epoch} #{c}: {w}");
                }
                println!(
                    "sealed    epoch {epoch} #{c}: participants {} root {}",
                    e.participants,
                    e.root.map(|r| format!("0x{r}")).unwrap_or_else(|| "none (empty)".into())
                )
            }
            Ok(SealOutcome::AlreadySealed(e)) => println!(
                "unchanged epoch {epoch} #{c}: already sealed at {} with root {}",
                e.sealed_at,
                e.root.map(|r| format!("0x{r}")).unwrap_or_else(|| "none (empty)".into())
            ),
            Err(e) => {
                eprintln!("epoch {epoch} #{c}: {e}");
                code = Exit::Internal;
            }
        }
    }
    let _ = store.checkpoint().await;
    code
}
