//! The admin POST endpoints, behind `Authorization: Bearer <http.admin_token>`:
//! `POST /v1/admin/opt-out` records an opt-out (store + audit entry) and drops the user at
//! ingest from now on; `POST /v1/admin/seal` asks the running sealer to seal a closed epoch now
//! (idempotent: an already sealed channel-epoch comes back unchanged, flagged);
//! `POST /v1/admin/backup` asks the backup actor for a backup now and answers its manifest
//! (a backup already running finishes first; the one answered starts after the request);
//! `POST /v1/admin/channels` adds and removes channels of the store's set (audited). An empty
//! `admin_token` disables them (403 `admin_disabled`); a missing or wrong token is 401
//! `unauthorized`. Bodies are JSON; every rejection has the API's `{"error","message"}` shape.

use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chatseal_actors::backup::BackupMsg;
use chatseal_actors::clock::epoch::checked_closes_at_ms;
use chatseal_actors::sealer::{SealOutcome, SealerMsg};
use ractor::rpc::CallResult;
use serde::{Deserialize, Serialize};

use super::epochs::channel_of;
use super::error::ApiError;
use super::AppState;
use crate::commands::opt_out::{record, OptOutError};
use crate::proofs::EpochView;

/// How long a manual seal may take (flush plus every channel of the epoch).
const SEAL_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a backup asked for by hand may take (copy, checks, manifest; maybe after another).
const BACKUP_TIMEOUT: Duration = Duration::from_secs(1800);

/// An admin request refused: the API error, with `WWW-Authenticate: Bearer` on a 401.
#[derive(Debug)]
pub struct Refused(pub ApiError);

impl From<ApiError> for Refused {
    fn from(e: ApiError) -> Self {
        Refused(e)
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let challenge = self.0.status == StatusCode::UNAUTHORIZED;
        let mut resp = self.0.into_response();
        if challenge {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

/// Checks the bearer token.
pub(super) fn authorize(st: &AppState, headers: &HeaderMap) -> Result<(), Refused> {
    if st.admin_token.is_empty() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "admin_disabled",
            "the admin endpoints are disabled: set http.admin_token (env CHATSEAL__HTTP__ADMIN_TOKEN) to enable them",
        )
        .into());
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match token {
        Some(t) if st.admin_token.matches(t) => Ok(()),
        _ => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong bearer token: send Authorization: Bearer <http.admin_token>",
        )
        .into()),
    }
}

/// The parsed JSON body, or a JSON error (axum's own rejections are plain text).
pub(super) fn body<T>(parsed: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    match parsed {
        Ok(Json(v)) => Ok(v),
        Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with Content-Type: application/json",
        )),
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is larger than http.max_body_bytes; send a smaller body",
        )),
        Err(e) => {
            Err(ApiError::bad_request(format!("request body: {}", crate::quote::clip_message(&e.body_text(), 200))))
        }
    }
}

/// The JSON body of `POST /v1/admin/opt-out`: `login` (required) and `reason` (optional).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptOutBody {
    login: String,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /v1/admin/opt-out {"login", "reason"?}` → `{login, user_hash, opted_out: true, new}`.
pub async fn opt_out(
    State(st): State<AppState>,
    headers: HeaderMap,
    parsed: Result<Json<OptOutBody>, JsonRejection>,
) -> Result<Json<serde_json::Value>, Refused> {
    authorize(&st, &headers)?;
    let b = body(parsed)?;
    let at = st.clock.now_ms().div_euclid(1000);
    let r = record(&st.store, &b.login, b.reason.as_deref().unwrap_or(""), at).await.map_err(|e| match e {
        OptOutError::BadLogin(_) | OptOutError::ReasonTooLong(_) => ApiError::bad_request(e.to_string()),
        OptOutError::Store(e) => ApiError::store(e),
    })?;
    // From now on the channel actors drop this user's lines at ingest, and proofs are refused
    // without asking the store (the opt-out sync would find it within a second anyway).
    st.opt_outs.insert(&r.login);
    tracing::info!(login = %r.login, new = r.new, "opt-out recorded (admin API)");
    Ok(Json(serde_json::json!({ "login": r.login, "user_hash": r.user_hash, "opted_out": true, "new": r.new })))
}

/// The JSON body of `POST /v1/admin/seal`: `epoch` (start, Unix seconds) and optionally
/// `channel` (all channels with something to seal when absent).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealBody {
    epoch: i64,
    #[serde(default)]
    channel: Option<String>,
}

/// One channel-epoch of a manual seal.
#[derive(Debug, Serialize)]
pub struct SealedView {
    /// The seal, as `GET /v1/epochs/{epoch}/{channel}` shows it (its fields inline).
    #[serde(flatten)]
    pub epoch: EpochView,
    /// True when it was sealed before this request (nothing changed).
    pub already_sealed: bool,
}

pub(super) fn unavailable(code: &'static str, message: String) -> Refused {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, message).into()
}

/// `POST /v1/admin/seal {"epoch", "channel"?}` → `{epoch, outcomes: [{...epoch view, already_sealed}]}`.
pub async fn seal(
    State(st): State<AppState>,
    headers: HeaderMap,
    parsed: Result<Json<SealBody>, JsonRejection>,
) -> Result<Json<serde_json::Value>, Refused> {
    authorize(&st, &headers)?;
    let b = body(parsed)?;
    let (epoch, len) = (b.epoch, st.epoch_len);
    if epoch.rem_euclid(len) != 0 {
        let start = epoch - epoch.rem_euclid(len);
        return Err(ApiError::bad_request(format!(
            "epoch {epoch} is not the start of an epoch of {len} s (try {start})"
        ))
        .into());
    }
    let Some(closes_ms) = checked_closes_at_ms(epoch, len, st.grace_ms) else {
        return Err(ApiError::bad_request(format!("epoch {epoch}: its end does not fit in a Unix time in ms (overflow); give the start of a real epoch, Unix seconds")).into());
    };
    let channel = b.channel.as_deref().map(channel_of).transpose()?;
    if st.clock.now_ms() < closes_ms {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "epoch_open",
            format!(
                "epoch {epoch} takes lines until {} (its end plus epoch.grace); sealing it earlier would lose them",
                closes_ms.div_euclid(1000)
            ),
        )
        .into());
    }
    let Some(sealer) = st.routes.sealer() else {
        return Err(unavailable(
            "sealer_unavailable",
            "the sealer is not running (restarting?); try again shortly".into(),
        ));
    };
    let asked =
        sealer.call(|reply| SealerMsg::SealNow { epoch, channel: channel.clone(), reply }, Some(SEAL_TIMEOUT)).await;
    let outcomes = match asked {
        Ok(CallResult::Success(Ok(outcomes))) => outcomes,
        Ok(CallResult::Success(Err(e))) => return Err(unavailable("seal_failed", format!("sealing epoch {epoch} failed: {e}; it is retried by the sealer"))),
        Ok(CallResult::Timeout) => {
            return Err(unavailable("sealer_busy", format!("the sealer did not answer within {SEAL_TIMEOUT:?}; the seal may still complete (GET /v1/epochs?limit=10)")))
        }
        Ok(CallResult::SenderError) | Err(_) => return Err(unavailable("sealer_unavailable", "the sealer stopped before answering; try again shortly".into())),
    };
    let now_s = st.clock.now_ms().div_euclid(1000);
    let mut views = Vec::with_capacity(outcomes.len());
    for o in outcomes {
        let already_sealed = matches!(o, SealOutcome::AlreadySealed(_));
        let e = match o {
            SealOutcome::Sealed(e) | SealOutcome::AlreadySealed(e) => e,
        };
        let detail = format!(
            "admin api: {} participants={} root={}",
            if already_sealed { "already sealed, unchanged" } else { "sealed" },
            e.participants,
            e.root.as_deref().unwrap_or("none")
        );
        // Bounded like the store routes: a hung store must not hold the answer of a done seal.
        let audited = tokio::time::timeout(
            st.limits.store_timeout,
            st.store.audit(now_s, "seal", &format!("{} #{}", e.epoch, e.channel), &detail),
        )
        .await;
        match audited {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                tracing::warn!(error = %err, epoch = e.epoch, channel = %e.channel, "manual seal done but not audited")
            }
            Err(_) => {
                tracing::warn!(epoch = e.epoch, channel = %e.channel, "manual seal done but not audited: the store did not answer within http.store_timeout")
            }
        }
        views.push(SealedView { epoch: EpochView::of(e, None, &st.program_limits), already_sealed });
    }
    Ok(Json(serde_json::json!({ "epoch": epoch, "channel": channel, "outcomes": views })))
}

/// `POST /v1/admin/backup` (no body) → the manifest of a backup taken now.
pub async fn backup(State(st): State<AppState>, headers: HeaderMap) -> Result<Json<serde_json::Value>, Refused> {
    authorize(&st, &headers)?;
    let Some(actor) = st.routes.backup() else {
        return Err(unavailable(
            "backup_unavailable",
            "the backup actor is not running (restarting?); try again shortly".into(),
        ));
    };
    match actor.call(BackupMsg::Now, Some(BACKUP_TIMEOUT)).await {
        Ok(CallResult::Success(Ok(manifest))) => {
            tracing::info!(backup = %manifest.id, "backup taken (admin API)");
            Ok(Json(serde_json::to_value(&manifest).unwrap_or_default()))
        }
        Ok(CallResult::Success(Err(e))) => Err(unavailable("backup_failed", format!("the backup failed: {e}"))),
        Ok(CallResult::Timeout) => Err(unavailable("backup_busy", format!("no backup finished within {BACKUP_TIMEOUT:?}; it may still complete (GET /v1/status shows last_backup)"))),
        Ok(CallResult::SenderError) | Err(_) => Err(unavailable("backup_unavailable", "the backup actor stopped before answering; try again shortly".into())),
    }
}

/// The JSON body of `POST /v1/admin/channels`: logins to `add` and to `remove` (each optional).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelsBody {
    #[serde(default)]
    add: Vec<String>,
    #[serde(default)]
    remove: Vec<String>,
}

/// `POST /v1/admin/channels {"add": [..], "remove": [..]}` → `{added, removed, unchanged,
/// version, channels}`: changes the store's channel set (audited `by=admin`); the running
/// daemon joins and parts within its poll interval. Names are checked like `twitch.channels`;
/// one bad name refuses the whole request (400, every problem listed).
pub async fn channels(
    State(st): State<AppState>,
    headers: HeaderMap,
    parsed: Result<Json<ChannelsBody>, JsonRejection>,
) -> Result<Json<serde_json::Value>, Refused> {
    use crate::commands::channels::{apply, checked_change};
    use chatseal_schema::queries::channels::ChangedBy;
    authorize(&st, &headers)?;
    let b = body(parsed)?;
    let (add, remove) =
        checked_change(&b.add, &b.remove).map_err(|problems| ApiError::bad_request(problems.join("; ")))?;
    let change = apply(&st.store, &add, &remove, ChangedBy::Admin).await.map_err(ApiError::store)?;
    tracing::info!(added = ?change.added, removed = ?change.removed, version = change.version, "channel set changed (admin API)");
    let set = st.store.channel_set().await.map_err(ApiError::store)?;
    Ok(Json(serde_json::json!({
        "added": change.added,
        "removed": change.removed,
        "unchanged": change.unchanged,
        "version": change.version,
        "channels": set,
    })))
}
