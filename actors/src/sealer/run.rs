//! Sealing against the store: which channels an epoch has, and sealing one channel-epoch in one
//! transaction. Used by the sealer actor and by `chatseal seal`. Idempotent and write-once: the
//! store refuses a second seal of the same (epoch, channel) and reports the existing one.

use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant};

use chatseal_schema::ownership::roles::Fence;
use chatseal_schema::{SealWrite, SealedEpoch, Store, StoreError};

use super::build::{build_seal, BuildError, SealConfig};
use super::coverage::covered_fraction;
use crate::aggregator::FlushError;
use crate::format::{to_hex, user_hash};
use crate::telemetry::names as m;

/// Why sealing a channel-epoch failed; nothing of it was written.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// Reading participants or writing the seal failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The seal could not be built from the rows read.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// The aggregator did not confirm that the epoch is durable.
    #[error("flush before sealing not confirmed: {0}")]
    Flush(#[from] FlushNotConfirmed),
}

/// Why the flush before a seal was not confirmed (the seal is retried later).
#[derive(Debug, thiserror::Error)]
pub enum FlushNotConfirmed {
    /// No aggregator is registered (it is restarting).
    #[error("the aggregator is not running (restarting?)")]
    NotRunning,
    /// The flush request could not be sent.
    #[error("the aggregator's mailbox is closed (stopping or restarting; epoch {epoch})")]
    Unreachable {
        /// The epoch to flush, Unix seconds.
        epoch: i64,
    },
    /// The aggregator's flush failed.
    #[error(transparent)]
    Failed(#[from] FlushError),
    /// No answer within the sealer's flush timeout.
    #[error("the aggregator did not answer within {timeout:?} (epoch {epoch})")]
    Timeout {
        /// The flush timeout that ran out.
        timeout: Duration,
        /// The epoch to flush, Unix seconds.
        epoch: i64,
    },
    /// The aggregator stopped with the request in its mailbox.
    #[error("the aggregator stopped before answering (epoch {epoch})")]
    Stopped {
        /// The epoch to flush, Unix seconds.
        epoch: i64,
    },
    /// Cluster mode: live members whose published watermark is still behind the epoch.
    #[error(
        "members {} have not made epoch {epoch} durable yet (their watermark is behind); retrying",
        .members.join(", ")
    )]
    MembersBehind {
        /// Their instance names.
        members: Vec<String>,
        /// The epoch to seal, Unix seconds.
        epoch: i64,
    },
}

/// What sealing one channel-epoch did.
#[derive(Debug, Clone)]
pub enum SealOutcome {
    /// Newly sealed (possibly empty: no participants, root None).
    Sealed(SealedEpoch),
    /// It was sealed before; nothing changed.
    AlreadySealed(SealedEpoch),
}

impl SealOutcome {
    /// Every `outcome` of `chatseal_epochs_sealed_total` ([`SealOutcome::label`]), for
    /// pre-registering the series.
    pub const LABELS: [&'static str; 3] = ["sealed", "empty", "already_sealed"];

    /// The seal, new or found.
    pub fn epoch(&self) -> &SealedEpoch {
        match self {
            SealOutcome::Sealed(e) | SealOutcome::AlreadySealed(e) => e,
        }
    }

    /// The `outcome` label: `sealed`, `empty` (sealed without participants: no root) or
    /// `already_sealed`.
    pub fn label(&self) -> &'static str {
        match self {
            SealOutcome::Sealed(e) if e.root.is_some() => Self::LABELS[0],
            SealOutcome::Sealed(_) => Self::LABELS[1],
            SealOutcome::AlreadySealed(_) => Self::LABELS[2],
        }
    }
}

/// Channels that have something to seal in `epoch`: participants, or coverage (an hour with no
/// chatters while joined is sealed as empty; an hour the daemon was not there is not sealed).
pub async fn channels_of_epoch(store: &Store, epoch: i64, len: i64) -> Result<Vec<String>, StoreError> {
    let mut set: BTreeSet<String> = store.channels_with_participation(epoch).await?.into_iter().collect();
    for span in store.coverage_spans(None, epoch * 1000, (epoch + len) * 1000).await? {
        set.insert(span.channel);
    }
    Ok(set.into_iter().collect())
}

/// Seals one (epoch, channel) from what the store holds.
pub async fn seal_channel_epoch(
    store: &Store,
    cfg: &SealConfig,
    epoch: i64,
    len: i64,
    channel: &str,
    now_s: i64,
) -> Result<SealOutcome, SealError> {
    seal_channel_epoch_fenced(store, cfg, epoch, len, channel, now_s, None).await
}

/// [`seal_channel_epoch`] by the holder of the cluster's sealer role: the store checks `fence`
/// in the seal's own transaction and refuses a stale one (`StoreError::Fenced`).
pub async fn seal_channel_epoch_fenced(
    store: &Store,
    cfg: &SealConfig,
    epoch: i64,
    len: i64,
    channel: &str,
    now_s: i64,
    fence: Option<&Fence>,
) -> Result<SealOutcome, SealError> {
    if let Some(existing) = store.sealed_epoch(epoch, channel).await? {
        let outcome = SealOutcome::AlreadySealed(existing);
        metrics::counter!(m::EPOCHS_SEALED_TOTAL, "outcome" => outcome.label()).increment(1);
        return Ok(outcome);
    }
    let started = Instant::now();
    let rows = store.participants_for_seal(epoch, channel).await?;
    let spans: Vec<(i64, i64)> = store
        .coverage_spans(Some(channel), epoch * 1000, (epoch + len) * 1000)
        .await?
        .into_iter()
        .map(|s| (s.started_ms, s.until_ms))
        .collect();
    let coverage = covered_fraction(&spans, epoch * 1000, (epoch + len) * 1000);
    let opted_out: HashSet<String> = store.opted_out_logins().await?.iter().map(|l| to_hex(&user_hash(l))).collect();
    let seal = build_seal(epoch, channel, rows, cfg, &opted_out, coverage, now_s)?;
    let outcome = match store.write_seal_fenced(&seal, fence).await? {
        SealWrite::Sealed(e) => {
            metrics::histogram!(m::SEAL_SECONDS).record(started.elapsed().as_secs_f64());
            metrics::histogram!(m::SEAL_PARTICIPANTS).record(e.participants as f64);
            metrics::gauge!(m::COVERAGE_RATIO, "channel" => channel.to_string()).set(e.coverage);
            SealOutcome::Sealed(e)
        }
        SealWrite::AlreadySealed(e) => SealOutcome::AlreadySealed(e),
    };
    metrics::counter!(m::EPOCHS_SEALED_TOTAL, "outcome" => outcome.label()).increment(1);
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed(root: Option<&str>) -> SealedEpoch {
        SealedEpoch {
            epoch: 3600,
            channel: "chan".into(),
            root: root.map(String::from),
            claim_root: None,
            participants: i64::from(root.is_some()),
            coverage: 1.0,
            digest: String::new(),
            sealed_at: 7200,
            format_version: 1,
            claim_cut: 0,
        }
    }

    #[test]
    fn every_outcome_label_is_listed_once() {
        let outcomes = [
            SealOutcome::Sealed(sealed(Some("ab"))),
            SealOutcome::Sealed(sealed(None)),
            SealOutcome::AlreadySealed(sealed(Some("ab"))),
        ];
        let labels: Vec<&str> = outcomes.iter().map(SealOutcome::label).collect();
        assert_eq!(labels, SealOutcome::LABELS);
    }
}
