//! API errors: `{"error": "<code>", "message": "..."}` with a 4xx/5xx status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::proofs::ProofError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
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
