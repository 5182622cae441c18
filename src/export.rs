//! The publish bundle of a sealed channel-epoch, read from the store: the seal, its frozen
//! rows (which must hash to the seal's digest) and the opt-outs, handed to the pure [`Bundle`]
//! writer. Shared by `chatseal export`
//! and `GET /v1/epochs/{epoch}/{channel}/export`, which both stream the text it writes.

use std::collections::HashSet;

use chatseal_actors::format::{to_hex, user_hash};
use chatseal_actors::sealer::bundle::{Bundle, BundleError};
use chatseal_actors::sealer::limits::ProgramLimits;
use chatseal_schema::{seal_rows_match, Store, StoreError};

/// Why there is no bundle; each maps to an HTTP status and error code, and an exit code.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// No seal is stored for (epoch, channel).
    #[error("epoch {epoch} of #{channel} is not sealed (not yet, or never recorded): only a sealed channel-epoch has a bundle")]
    NotSealed {
        /// Epoch start, Unix seconds.
        epoch: i64,
        /// Lowercase channel login, without `#`.
        channel: String,
    },
    /// The seal's stored rows do not hash to its digest: damaged, never published.
    #[error("the sealed rows of epoch {epoch} #{channel} are damaged: its {rows} stored rows do not match the seal's digest; no bundle is written from them (see docs/alerts.md)")]
    DigestMismatch {
        /// Epoch start, Unix seconds.
        epoch: i64,
        /// Lowercase channel login, without `#`.
        channel: String,
        /// Rows read.
        rows: usize,
    },
    /// The seal has no bundle (empty, imported from the old system) or its rows are damaged.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ExportError {
    /// The stable machine-readable error code sent in HTTP error bodies (`"not_sealed"`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            ExportError::NotSealed { .. } => "not_sealed",
            ExportError::Bundle(BundleError::Empty { .. }) => "empty_seal",
            ExportError::Bundle(BundleError::Legacy { .. }) => "legacy_seal",
            ExportError::Bundle(BundleError::Damaged { .. }) | ExportError::DigestMismatch { .. } => "damaged",
            ExportError::Store(_) => "store_unavailable",
        }
    }
}

/// Reads the seal of (epoch, channel) and prepares its bundle. `channel` is a lowercase login.
pub async fn load_bundle(
    store: &Store,
    epoch: i64,
    channel: &str,
    limits: &ProgramLimits,
) -> Result<Bundle, ExportError> {
    let seal = store
        .sealed_epoch(epoch, channel)
        .await?
        .ok_or_else(|| ExportError::NotSealed { epoch, channel: channel.to_owned() })?;
    if seal.participants == 0 || seal.format_version == 0 {
        // Refused by `prepare` without reading any row.
        return Ok(Bundle::prepare(&seal, Vec::new(), &HashSet::new(), limits)?);
    }
    let rows = store.sealed_participants(epoch, channel).await?;
    if !seal_rows_match(&seal, &rows) {
        return Err(ExportError::DigestMismatch { epoch, channel: channel.to_owned(), rows: rows.len() });
    }
    let opted_out: HashSet<String> = store.opted_out_logins().await?.iter().map(|l| to_hex(&user_hash(l))).collect();
    Ok(Bundle::prepare(&seal, rows, &opted_out, limits)?)
}
