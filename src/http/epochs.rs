//! The sealed-epoch API: one epoch, a list, and the participation and claim proofs.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::error::ApiError;
use super::extract::{ApiPath as Path, ApiQuery as Query};
use super::AppState;
use crate::proofs::{self, ClaimView, EpochView, ProofView};
use crate::quote::clipped;

pub(super) fn channel_of(raw: &str) -> Result<String, ApiError> {
    let c = raw.trim_start_matches('#').to_ascii_lowercase();
    if c.is_empty() || c.len() > 25 || !c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(ApiError::bad_request(format!("{} is not a Twitch channel login", clipped(raw))));
    }
    Ok(c)
}

pub(super) fn login_of(raw: &str) -> Result<String, ApiError> {
    let l = raw.to_ascii_lowercase();
    if l.is_empty() || l.len() > 64 || !l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(ApiError::bad_request(format!("{} is not a Twitch login", clipped(raw))));
    }
    Ok(l)
}

/// `GET /v1/epochs/{epoch}/{channel}`: the seal with its publication and limit warnings;
/// 404 `not_sealed` when there is none.
pub async fn one(
    State(st): State<AppState>,
    Path((epoch, channel)): Path<(i64, String)>,
) -> Result<Json<EpochView>, ApiError> {
    let channel = channel_of(&channel)?;
    match st.store.sealed_epoch(epoch, &channel).await.map_err(ApiError::store)? {
        Some(e) => {
            let published = st.store.publication(epoch, &channel).await.map_err(ApiError::store)?;
            Ok(Json(EpochView::of(e, published.as_ref(), &st.program_limits)))
        }
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_sealed",
            format!("epoch {epoch} of #{channel} is not sealed yet"),
        )),
    }
}

/// The query of `GET /v1/epochs`: `?channel=C&limit=N`, both optional.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    channel: Option<String>,
    limit: Option<u64>,
}

/// `GET /v1/epochs`: `{"epochs": [...]}`, the newest seals first (then by channel), of one
/// channel or all, `limit` 1 to 1000 (default 24).
pub async fn list(State(st): State<AppState>, Query(q): Query<ListQuery>) -> Result<Json<serde_json::Value>, ApiError> {
    let channel = q.channel.as_deref().map(channel_of).transpose()?;
    let limit = q.limit.unwrap_or(24);
    if limit == 0 || limit > 1000 {
        return Err(ApiError::bad_request(format!("limit {limit} is outside 1..=1000")));
    }
    let rows = st.store.sealed_epochs(channel.as_deref(), limit).await.map_err(ApiError::store)?;
    let (from, to) = rows.iter().fold((i64::MAX, i64::MIN), |(lo, hi), e| (lo.min(e.epoch), hi.max(e.epoch)));
    let published = if rows.is_empty() {
        Vec::new()
    } else {
        st.store.publications_between(from, to, channel.as_deref()).await.map_err(ApiError::store)?
    };
    let epochs: Vec<EpochView> = rows
        .into_iter()
        .map(|e| {
            let p = published.iter().find(|p| p.epoch == e.epoch && p.channel == e.channel);
            EpochView::of(e, p, &st.program_limits)
        })
        .collect();
    Ok(Json(serde_json::json!({ "epochs": epochs })))
}

/// `GET /v1/epochs/{epoch}/{channel}/proof/{login}`: the participation proof of `login`.
pub async fn proof(
    State(st): State<AppState>,
    Path((epoch, channel, login)): Path<(i64, String, String)>,
) -> Result<Json<ProofView>, ApiError> {
    let (channel, login) = (channel_of(&channel)?, login_of(&login)?);
    Ok(Json(proofs::participation_proof_from(&st.proof_sources(), epoch, &channel, &login).await?))
}

/// `GET /v1/epochs/{epoch}/{channel}/claim/{login}`: the claim proof (amount) of `login`.
pub async fn claim(
    State(st): State<AppState>,
    Path((epoch, channel, login)): Path<(i64, String, String)>,
) -> Result<Json<ClaimView>, ApiError> {
    let (channel, login) = (channel_of(&channel)?, login_of(&login)?);
    Ok(Json(proofs::claim_proof_from(&st.proof_sources(), epoch, &channel, &login).await?))
}
