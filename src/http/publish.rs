//! `POST /v1/admin/published {"epoch", "channel", "root", "tx"}` (bearer token): records that
//! the sealed root of a channel-epoch was posted on chain. Refused for a seal whose rows do not
//! match its digest (500 `damaged`; it is checked first) and unless `root` is the seal's own
//! root (409 `root_mismatch`, audited like every attempt); recording the same root and tx
//! again is a no-op (`new: false`); another tx for a recorded channel-epoch is 409
//! `already_published`. The epoch object then shows `published_at` and `tx`, and the
//! unpublished backlog gauges are refreshed at once.

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use chatseal_actors::format::{parse_hash, to_hex};
use chatseal_schema::queries::publish::{Publication, PublishWrite};
use serde::Deserialize;

use super::admin::{authorize, body, Refused};
use super::epochs::channel_of;
use super::error::ApiError;
use super::AppState;

/// Longest transaction id accepted (a Solana signature is 87-88 base58 characters).
const MAX_TX_LEN: usize = 128;

/// The JSON body of `POST /v1/admin/published`: the seal (`epoch`, `channel`), the `root` that
/// was published (must equal the sealed root) and the transaction id `tx`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishedBody {
    epoch: i64,
    channel: String,
    root: String,
    tx: String,
}

/// A transaction id: 1..=128 characters of ASCII letters, digits, `_`, `-`, `:` or `.`.
pub fn check_tx(tx: &str) -> Result<(), String> {
    let ok_char = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':' | b'.');
    if tx.is_empty() || tx.len() > MAX_TX_LEN || !tx.bytes().all(ok_char) {
        return Err(format!(
            "tx {:?} is not a transaction id: 1 to {MAX_TX_LEN} characters of letters, digits, '_', '-', ':' or '.' (a Solana signature in base58)",
            tx.chars().take(MAX_TX_LEN + 8).collect::<String>()
        ));
    }
    Ok(())
}

fn view(p: &Publication, new: bool) -> serde_json::Value {
    serde_json::json!({ "epoch": p.epoch, "channel": p.channel, "root": format!("0x{}", p.root), "tx": p.tx, "published_at": p.published_at, "new": new })
}

/// `POST /v1/admin/published`: records that a seal's root was published on chain (written once;
/// the same record again answers `new: false`, another one 409 `already_published`).
pub async fn published(
    State(st): State<AppState>,
    headers: HeaderMap,
    parsed: Result<Json<PublishedBody>, JsonRejection>,
) -> Result<Json<serde_json::Value>, Refused> {
    authorize(&st, &headers)?;
    let b = body(parsed)?;
    let channel = channel_of(&b.channel)?;
    let root = parse_hash(&b.root).map_err(|e| ApiError::bad_request(format!("root: {e}")))?;
    check_tx(&b.tx).map_err(ApiError::bad_request)?;
    let (epoch, root) = (b.epoch, to_hex(&root));
    let now_s = st.clock.now_ms().div_euclid(1000);
    let Some(seal) = st.store.sealed_epoch(epoch, &channel).await.map_err(ApiError::store)? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_sealed",
            format!("epoch {epoch} of #{channel} is not sealed: there is no root to have published"),
        )
        .into());
    };
    let Some(sealed_root) = seal.root else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "empty_seal",
            format!("epoch {epoch} of #{channel} was sealed with no participants: it has no root to publish"),
        )
        .into());
    };
    // Never a publication record of a damaged seal: it is checked against its digest first.
    let key = (epoch, channel.clone());
    if st.damaged.contains(epoch, &channel) {
        return Err(super::export::damaged_seal(epoch, &channel).into());
    }
    let bad = st.store.verify_seals(std::slice::from_ref(&key)).await.map_err(ApiError::store)?;
    if !bad.is_empty() {
        st.damaged.report(&st.store, &bad, "recording a publication").await;
        return Err(super::export::damaged_seal(epoch, &channel).into());
    }
    if sealed_root != root {
        let detail = format!("root={root} tx={} refused: the sealed root is {sealed_root}", b.tx);
        if let Err(e) = st.store.audit(now_s, "published", &format!("{epoch} #{channel}"), &detail).await {
            tracing::warn!(error = %e, epoch, channel = %channel, "publication refused but not audited");
        }
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "root_mismatch",
            format!("root 0x{root} is not the sealed root of epoch {epoch} #{channel} (0x{sealed_root}); nothing was recorded: publish and record the sealed root"),
        )
        .into());
    }
    let record = Publication { epoch, channel: channel.clone(), root, tx: b.tx, published_at: now_s };
    let outcome = st.store.record_publication(&record).await.map_err(ApiError::store)?;
    if let Err(e) = crate::daemon::publish_backlog::refresh(&st.store, &st.clock).await {
        tracing::warn!(error = %e, "cannot refresh the unpublished backlog gauges");
    }
    match outcome {
        PublishWrite::Recorded(p) => {
            tracing::info!(epoch, channel = %channel, tx = %p.tx, "publication recorded (admin API)");
            Ok(Json(view(&p, true)))
        }
        PublishWrite::AlreadyRecorded(p) => Ok(Json(view(&p, false))),
        PublishWrite::Conflict(p) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_published",
            format!(
                "epoch {epoch} #{channel} was recorded as published in tx {} at {}; a record is written once",
                p.tx, p.published_at
            ),
        )
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::check_tx;

    #[test]
    fn transaction_ids() {
        assert!(check_tx("5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW")
            .is_ok());
        assert!(check_tx("0xabc:1").is_ok());
        for bad in ["", "a b", "tx\r\nX", &"a".repeat(129), "ü"] {
            assert!(check_tx(bad).is_err(), "{bad:?}");
        }
    }
}
