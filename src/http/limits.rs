//! What one request may cost the server, from `[http]`: the body (size and time to arrive,
//! read here in full before any handler runs, so no handler can wait on a slow client) and the
//! time a route that needs the store may take (503 `store_timeout` instead of hanging with the
//! store). The limits on connections (header and idle timeouts, the connection cap) are applied
//! by the accept loop in `serve.rs`.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::error::ApiError;
use crate::settings::HttpSettings;

/// The `[http]` limits in the form the server applies them.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `http.header_timeout`: longest wait for a request's complete headers; the connection closes past it.
    pub header_timeout: Duration,
    /// `http.body_timeout`: longest time to receive a body; 408 `body_timeout` past it.
    pub body_timeout: Duration,
    /// `http.idle_timeout`: a connection silent this long with no request in flight is closed.
    pub idle_timeout: Duration,
    /// As configured; the accept loop may lower it (see `serve::connection_cap`).
    pub max_connections: usize,
    /// `http.max_body_bytes`: largest request body; 413 `payload_too_large` above it.
    pub max_body_bytes: usize,
    /// `http.store_timeout`: a route that needs the store answers 503 `store_timeout` past it.
    pub store_timeout: Duration,
}

impl Limits {
    /// The limits as configured in `[http]`.
    pub fn from_settings(h: &HttpSettings) -> Self {
        Self {
            header_timeout: h.header_timeout,
            body_timeout: h.body_timeout,
            idle_timeout: h.idle_timeout,
            max_connections: h.max_connections as usize,
            max_body_bytes: h.max_body_bytes,
            store_timeout: h.store_timeout,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::from_settings(&HttpSettings::default())
    }
}

fn show(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// 413 `payload_too_large`, and the connection closed (its unread body is not drained).
pub fn too_large(limit: usize) -> Response {
    closing(ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the request body is larger than http.max_body_bytes = {limit} bytes; send a smaller body"),
    ))
}

fn closing(e: ApiError) -> Response {
    let mut resp = e.into_response();
    resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// The body length a request declares, when it declares one.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

/// Reads the whole body within `body_timeout` and `max_body_bytes` before the handler runs: a
/// declared length over the limit is refused at once (413, nothing read), a body that grows past
/// it while arriving is 413, one that does not arrive in time 408 `body_timeout`.
pub async fn bound_body(State(l): State<Limits>, req: Request, next: Next) -> Response {
    if declared_length(req.headers()).is_some_and(|n| n > l.max_body_bytes as u64) {
        return too_large(l.max_body_bytes);
    }
    let (parts, body) = req.into_parts();
    let read = Limited::new(body, l.max_body_bytes).collect();
    let bytes = match tokio::time::timeout(l.body_timeout, read).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => return too_large(l.max_body_bytes),
        Ok(Err(e)) => return closing(ApiError::bad_request(format!("reading the request body failed: {e}"))),
        Err(_) => {
            return closing(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                format!("the request body did not arrive within http.body_timeout = {}", show(l.body_timeout)),
            ))
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

/// Bounds the routes that need the store (`StoreUse::Bounded` in `super::STORE_USE`): past `store_timeout` the
/// handler is dropped (its query with it) and the answer is 503 `store_timeout`.
pub async fn bound_store(State(l): State<Limits>, req: Request, next: Next) -> Response {
    let needs_store =
        req.extensions().get::<MatchedPath>().is_some_and(|p| super::store_bounded(req.method().as_str(), p.as_str()));
    if !needs_store {
        return next.run(req).await;
    }
    match tokio::time::timeout(l.store_timeout, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => {
            metrics::counter!(chatseal_actors::telemetry::names::HTTP_STORE_TIMEOUTS_TOTAL).increment(1);
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_timeout",
                format!(
                    "the store did not answer within http.store_timeout = {}: it is hung or overloaded (see /readyz and chatseal_store_up); try again later",
                    show(l.store_timeout)
                ),
            )
            .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{store_bounded, StoreUse, ROUTES, STORE_USE};

    #[test]
    fn every_route_says_how_it_uses_the_store() {
        assert_eq!(STORE_USE.len(), ROUTES.len());
        for (r, (m, p, _)) in ROUTES.iter().zip(STORE_USE) {
            assert_eq!((r.method, r.path), (*m, *p));
        }
        // The routes added after the limits (export, publication) are bounded too.
        assert!(store_bounded("GET", "/v1/epochs/{epoch}/{channel}/export"));
        assert!(store_bounded("POST", "/v1/admin/published"));
        assert!(!store_bounded("GET", "/metrics") && !store_bounded("POST", "/v1/admin/seal"));
        assert!(STORE_USE.iter().any(|(_, _, u)| *u == StoreUse::OwnDeadline));
    }
}
