//! The viewer's routes: `GET /v1/users/{login}/epochs` (JSON) and the page at `/` and
//! `/claims?login=NAME[&channel=C][&before=E]` (HTML). Both answer from the same reads
//! (`viewer::hours`), so the page costs what the API costs plus one cached read of the latest
//! seals. The page answers 200 with an explanation for what a person may type wrong (an invalid,
//! unknown or opted-out login); a failing store answers the JSON error body like every route.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::epochs::{channel_of, login_of};
use super::error::ApiError;
use super::extract::{ApiPath as Path, ApiQuery as Query};
use super::AppState;
use crate::viewer::hours::{self, HoursError, UserEpochsView, DEFAULT_LIMIT, MAX_LIMIT};
use crate::viewer::page::{self, Answer, PageData};

impl From<HoursError> for ApiError {
    fn from(e: HoursError) -> Self {
        let (status, code) = match &e {
            HoursError::OptedOut { .. } => (StatusCode::FORBIDDEN, "opted_out"),
            HoursError::Damaged { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "damaged"),
            HoursError::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
        };
        ApiError::new(status, code, e.to_string())
    }
}

/// The query of `GET /v1/users/{login}/epochs`: `channel`, `before` (exclusive epoch start, for
/// paging) and `limit` (hours per page), each optional.
#[derive(Debug, Deserialize)]
pub struct UserEpochsQuery {
    channel: Option<String>,
    before: Option<i64>,
    limit: Option<u64>,
}

/// `GET /v1/users/{login}/epochs?channel=C&before=E&limit=N`.
pub async fn user_epochs(
    State(st): State<AppState>,
    Path(login): Path<String>,
    Query(q): Query<UserEpochsQuery>,
) -> Result<Json<UserEpochsView>, ApiError> {
    let login = login_of(&login)?;
    let channel = q.channel.as_deref().map(channel_of).transpose()?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::bad_request(format!("limit {limit} is outside 1..={MAX_LIMIT}")));
    }
    Ok(Json(hours::user_hours(&st.store, &login, channel.as_deref(), q.before, limit).await?))
}

/// The page's parameters, all as typed (checked here, so a wrong one gets the page's answer).
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    login: Option<String>,
    channel: Option<String>,
    before: Option<String>,
}

/// `GET /`: the form and the latest seals.
pub async fn index(st: State<AppState>) -> Result<Response, ApiError> {
    claims(st, Query(PageQuery::default())).await
}

/// `GET /claims?login=NAME`: the page with that login's sealed hours.
pub async fn claims(State(st): State<AppState>, Query(q): Query<PageQuery>) -> Result<Response, ApiError> {
    let typed = q.login.as_deref().unwrap_or("").trim();
    let channel = q.channel.as_deref().map(str::trim).filter(|c| !c.is_empty());
    let before = q.before.as_deref().map(str::trim).filter(|b| !b.is_empty());
    let valid_channel = channel.map(channel_of).transpose();
    let valid_before = before.map(|b| b.parse::<i64>()).transpose();
    let answer = if typed.is_empty() {
        Answer::Nothing
    } else if let (Err(_), Some(raw)) = (&valid_channel, channel) {
        Answer::Invalid { what: "channel", raw: raw.to_string() }
    } else if let (Err(_), Some(raw)) = (&valid_before, before) {
        Answer::Invalid { what: "page position (before)", raw: raw.to_string() }
    } else {
        match login_of(typed) {
            Err(_) => Answer::Invalid { what: "Twitch login", raw: typed.to_string() },
            Ok(login) => {
                let channel = valid_channel.ok().flatten();
                let before = valid_before.ok().flatten();
                hours_answer(&st, login, channel.as_deref(), before).await?
            }
        }
    };
    let latest = st.latest.get(&st.store).await.map_err(ApiError::store)?;
    let channel_shown = match &answer {
        Answer::Invalid { .. } => None,
        _ => channel,
    };
    let body = page::render(&PageData {
        typed,
        channel: channel_shown,
        before: before.and_then(|b| b.parse().ok()),
        answer,
        latest: &latest,
        epoch_len: st.epoch_len,
        decimals: st.decimals,
    });
    Ok(html_response(body))
}

async fn hours_answer(
    st: &AppState,
    login: String,
    channel: Option<&str>,
    before: Option<i64>,
) -> Result<Answer, ApiError> {
    let view = match hours::user_hours(&st.store, &login, channel, before, DEFAULT_LIMIT).await {
        Ok(v) => v,
        Err(HoursError::OptedOut { login }) => return Ok(Answer::OptedOut { login }),
        Err(e) => return Err(e.into()),
    };
    if !view.items.is_empty() || before.is_some() {
        return Ok(Answer::Hours(view));
    }
    let uh = view.user_hash.trim_start_matches("0x");
    Ok(if st.store.user_known(uh).await.map_err(ApiError::store)? {
        Answer::NoHours { login: view.login }
    } else {
        Answer::Unknown { login: view.login }
    })
}

fn html_response(body: String) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if let Ok(csp) = HeaderValue::from_str(page::content_security_policy()) {
        h.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    resp
}
