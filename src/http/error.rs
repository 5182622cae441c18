//! API errors: `{"error": "<code>", "message": "..."}` with a 4xx/5xx status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::proofs::ProofError;

/// An error answer; every route's failure goes out as one.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status of the answer.
    pub status: StatusCode,
    /// Stable machine-readable code, the body's `error` (e.g. `not_sealed`, `store_unavailable`).
    pub code: &'static str,
    /// Human-readable explanation, the body's `message`; never holds a secret.
    pub message: String,
}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }
    /// 400 `bad_request`: a malformed path, query or body value.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    /// 503 `store_unavailable`: the store failed to answer; `e` becomes the message.
    pub fn store(e: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(serde_json::json!({ "error": self.code, "message": self.message }))).into_response()
    }
}

impl From<ProofError> for ApiError {
    fn from(e: ProofError) -> Self {
        let status = match &e {
            ProofError::NotSealed { .. } | ProofError::NotParticipant { .. } | ProofError::NotInClaimTree { .. } => {
                StatusCode::NOT_FOUND
            }
            ProofError::NoClaimTree { .. } => StatusCode::NOT_FOUND,
            ProofError::LegacySeal { .. } => StatusCode::CONFLICT,
            ProofError::OptedOut { .. } => StatusCode::FORBIDDEN,
            ProofError::Damaged { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            ProofError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        Self::new(status, e.code(), e.to_string())
    }
}
