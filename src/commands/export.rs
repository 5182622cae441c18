//! `chatseal export --epoch E --channel C [--out FILE]`: the publish bundle of a sealed
//! channel-epoch (merkle.md, "Publish bundle"), streamed to a file (written beside it first,
//! renamed into place when complete) or to stdout. `chatseal export --unpublished` lists the
//! sealed, non-empty channel-epochs that have no publication record yet, oldest first, one
//! JSON object per line. Exit 0 done, 1 not sealed / empty / legacy, 64 usage, 69 store
//! unreachable, 70 damaged rows or a write error, 78 config.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::setup::{load_settings, open_store};
use crate::daemon::wiring::program_limits;
use crate::exit::Exit;
use crate::export::{load_bundle, ExportError};

/// What `chatseal export` was asked for.
#[derive(Debug, Clone)]
pub struct ExportArgs {
    /// `--epoch`: the epoch's start, Unix seconds.
    pub epoch: Option<i64>,
    /// `--channel`: the channel login (a leading `#` is dropped).
    pub channel: Option<String>,
    /// `--out`: the file to write; None = stdout.
    pub out: Option<PathBuf>,
    /// `--unpublished`: list the channel-epochs without a publication record instead.
    pub unpublished: bool,
    /// `--limit`: with `--unpublished`, list at most this many, the oldest.
    pub limit: u64,
}

/// Runs `chatseal export`: one bundle, or the list of unpublished channel-epochs.
pub async fn main(config: Option<&Path>, a: &ExportArgs) -> Exit {
    let bundle_of = match (a.unpublished, a.epoch, a.channel.as_deref()) {
        (true, None, None) if a.out.is_none() => None,
        (false, Some(e), Some(c)) => Some((e, c.trim_start_matches('#').to_ascii_lowercase())),
        _ => {
            eprintln!("usage: chatseal export --epoch E --channel C [--out FILE], or chatseal export --unpublished [--limit N]");
            return Exit::Usage;
        }
    };
    let s = match load_settings(config) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let store = match open_store(&s).await {
        Ok(st) => st,
        Err(code) => return code,
    };
    match bundle_of {
        None => unpublished(&store, a.limit).await,
        Some((epoch, channel)) => {
            let bundle = match load_bundle(&store, epoch, &channel, &program_limits(&s)).await {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("{e}");
                    return match e {
                        ExportError::NotSealed { .. } => Exit::Failed,
                        ExportError::Bundle(chatseal_actors::sealer::bundle::BundleError::Damaged { .. })
                        | ExportError::DigestMismatch { .. } => Exit::Internal,
                        ExportError::Bundle(_) => Exit::Failed,
                        ExportError::Store(e) => super::setup::store_exit_code(&e),
                    };
                }
            };
            let written = match &a.out {
                Some(path) => write_file(path, |w| bundle.write_all(w)),
                None => {
                    let mut w = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
                    bundle
                        .write_all(&mut w)
                        .and_then(|()| w.flush())
                        .map_err(|e| format!("writing the bundle to stdout: {e}"))
                }
            };
            if let Err(e) = written {
                eprintln!("{e}");
                return Exit::Internal;
            }
            for w in bundle.warnings() {
                eprintln!("warning: {w}");
            }
            eprintln!(
                "bundle of epoch {epoch} #{channel}: {} entries ({} of users who opted out, hashes only){}",
                bundle.len(),
                bundle.hidden(),
                a.out.as_ref().map(|p| format!(", written to {}", p.display())).unwrap_or_default()
            );
            Exit::Ok
        }
    }
}

/// Writes `path` through `path.tmp`, synced and renamed into place: a reader never sees half a bundle.
fn write_file(
    path: &Path,
    body: impl FnOnce(&mut BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> Result<(), String> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let fail = |what: &str, e: std::io::Error| {
        format!("{what} {}: {e}; check the directory exists and is writable", tmp.display())
    };
    let file = std::fs::File::create(&tmp).map_err(|e| fail("creating", e))?;
    let mut w = BufWriter::with_capacity(1 << 16, file);
    body(&mut w).and_then(|()| w.flush()).map_err(|e| fail("writing", e))?;
    let file = w.into_inner().map_err(|e| fail("writing", e.into_error()))?;
    file.sync_all().map_err(|e| fail("syncing", e))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("renaming {} to {}: {e}", tmp.display(), path.display()))
}

async fn unpublished(store: &chatseal_schema::Store, limit: u64) -> Exit {
    let (rows, backlog) = match (store.unpublished_seals(limit).await, store.unpublished_backlog().await) {
        (Ok(r), Ok(b)) => (r, b),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("{e}");
            return super::setup::store_exit_code(&e);
        }
    };
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let mut out = std::io::stdout().lock();
    for e in &rows {
        let line = serde_json::json!({
            "epoch": e.epoch,
            "channel": e.channel,
            "root": e.root.as_ref().map(|r| format!("0x{r}")),
            "claim_root": e.claim_root.as_ref().map(|r| format!("0x{r}")),
            "participants": e.participants,
            "claim_cut": e.claim_cut,
            "sealed_at": e.sealed_at,
            "age_seconds": (now - e.sealed_at).max(0),
        });
        if writeln!(out, "{line}").is_err() {
            return Exit::Internal;
        }
    }
    eprintln!(
        "{} sealed channel-epochs wait for a publication record{}",
        backlog.count,
        if (rows.len() as i64) < backlog.count {
            format!(" (the oldest {} listed; --limit N for more)", rows.len())
        } else {
            String::new()
        }
    );
    Exit::Ok
}
