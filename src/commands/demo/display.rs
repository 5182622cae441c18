//! What the demo shows on the terminal: a progress line (time, lines sent, events durable,
//! channel-epochs sealed) on stderr, and on stdout one line per seal as it appears in the HTTP
//! API, the RECONNECT when it happens, and at the end the sample proof with its check.

use std::collections::BTreeSet;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::drive::DriveStats;
use super::watch::{self, Api, Sealed};
use super::{sample, DemoError, POLL};

/// The progress line and the seal lines printed above it.
pub(super) struct Display {
    bar: ProgressBar,
    epoch_len: i64,
    printed: BTreeSet<(i64, String)>,
    /// Every seal seen, oldest first.
    pub(super) sealed: Vec<Sealed>,
    durable: u64,
    reconnect_told: bool,
}

impl Display {
    pub(super) fn new(run_for: Duration, epoch_len: i64) -> Display {
        let bar = ProgressBar::new(run_for.as_secs().max(1));
        if let Ok(style) = ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len}s  {msg}") {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.enable_steady_tick(Duration::from_millis(120));
        Display { bar, epoch_len, printed: BTreeSet::new(), sealed: Vec::new(), durable: 0, reconnect_told: false }
    }

    /// Prints above the progress line (also when stdout is not a terminal and the bar is hidden).
    pub(super) fn line(&self, text: &str) {
        self.bar.suspend(|| println!("{text}"));
    }

    pub(super) async fn run_until(
        &mut self,
        api: &Api,
        stats: &DriveStats,
        deadline: tokio::time::Instant,
    ) -> Result<(), DemoError> {
        let started = tokio::time::Instant::now();
        while tokio::time::Instant::now() < deadline {
            // A failed read is shown and retried at the next poll; the final poll reports it.
            if let Err(e) = self.poll(api, stats).await {
                self.bar.set_message(format!("(API: {e})"));
            }
            self.bar.set_position(started.elapsed().as_secs());
            tokio::time::sleep_until(deadline.min(tokio::time::Instant::now() + POLL)).await;
        }
        Ok(())
    }

    pub(super) async fn poll(&mut self, api: &Api, stats: &DriveStats) -> Result<(), DemoError> {
        if stats.reconnect_sent() && !self.reconnect_told {
            self.reconnect_told = true;
            self.line("twitch sent RECONNECT: the daemon joins on a new connection before it drops the old one; lines seen on both count once");
        }
        let mut seals = api.sealed().await?;
        seals.reverse();
        for seal in seals {
            if self.printed.insert((seal.epoch, seal.channel.clone())) {
                self.line(&watch::seal_line(&seal, self.epoch_len));
                self.sealed.push(seal);
            }
        }
        self.durable = api.durable_events().await?;
        self.bar.set_message(format!(
            "{} lines sent · {} events durable · {} epochs sealed",
            stats.sent(),
            self.durable,
            self.sealed.len()
        ));
        Ok(())
    }

    /// Clears the progress line; returns the events durable at the last poll.
    pub(super) fn finish(&self) -> u64 {
        self.bar.finish_and_clear();
        self.durable
    }
}

/// Fetches a proof of someone known to have chatted in the newest sealed channel-epoch that had
/// chatters, prints it, and checks it; prints why there is none when nothing with chatters sealed.
pub(super) async fn sample_proof(api: &Api, stats: &DriveStats, sealed: &[Sealed]) -> Result<(), DemoError> {
    for seal in sealed.iter().rev() {
        let Some(root) = seal.root.as_deref() else { continue };
        for login in stats.participants(seal.epoch, &seal.channel).into_iter().take(3) {
            let Some(body) = api.proof(seal.epoch, &seal.channel, &login).await? else { continue };
            let failed = |reason: String| DemoError::ProofFailed {
                login: login.clone(),
                channel: seal.channel.clone(),
                epoch: seal.epoch,
                reason,
            };
            let proof: sample::ProofJson =
                serde_json::from_str(&body).map_err(|e| failed(format!("the JSON cannot be read ({e}): {body}")))?;
            let pretty = serde_json::to_string_pretty(&proof).unwrap_or_else(|_| body.clone());
            println!("sample proof: GET {}{}", api.base(), watch::proof_path(seal.epoch, &seal.channel, &login));
            println!("{pretty}");
            return match sample::check(&proof, root) {
                Ok(()) => {
                    println!("verified: true (leaf recomputed from login, channel and epoch; {} sibling hashes fold to the sealed root, as the on-chain program checks)", proof.proof.len());
                    Ok(())
                }
                Err(e) => {
                    println!("verified: false ({e})");
                    Err(failed(e.to_string()))
                }
            };
        }
    }
    println!("no channel-epoch with chatters sealed within the run, so there is no proof to show: run longer, e.g. --for 60s");
    Ok(())
}
