//! `Path` and `Query` extractors whose rejections are the API's JSON error body (axum's own are
//! plain text), with the rejected input cut short (`crate::quote`): a bad epoch, limit or a
//! 10 KB segment answers a short `{"error": "bad_request", ...}`.

use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::quote::clip_message;

/// Longest parser message quoted in a rejection, characters.
const MAX_REJECTION_CHARS: usize = 200;

fn rejected(what: &str, status: StatusCode, text: &str) -> ApiError {
    let code = if status == StatusCode::BAD_REQUEST { "bad_request" } else { "invalid_request" };
    ApiError::new(status, code, format!("{what}: {}", clip_message(text, MAX_REJECTION_CHARS)))
}

/// [`Path`] with a JSON rejection.
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => Ok(ApiPath(v)),
            Err(e) => Err(rejected("path", e.status(), &e.body_text())),
        }
    }
}

/// [`Query`] with a JSON rejection.
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(ApiQuery(v)),
            Err(e) => Err(rejected("query", e.status(), &e.body_text())),
        }
    }
}
