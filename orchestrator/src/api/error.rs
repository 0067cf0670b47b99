//! The one error shape of the worker-pull API: `{"error": "<message>", "code": "<code>"}`
//! with a 4xx status for anything the caller can fix. A 5xx is a bug or an outage.

use crate::auth::AuthError;
use crate::engine::EngineError;
use crate::store::StoreError;
use serde_json::json;
use warp::http::StatusCode;
use warp::reply::Response;

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    pub fn not_found(message: impl Into<String>) -> ApiError {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    pub fn too_large(limit: usize) -> ApiError {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request body exceeds {limit} bytes"),
        )
    }

    /// Worker-facing auth failures are 403 (what RXON clients expect).
    pub fn worker_auth(e: AuthError) -> ApiError {
        Self::new(StatusCode::FORBIDDEN, "forbidden", e.to_string())
    }

    /// Client-facing: a missing or unknown token is 401.
    pub fn client_auth(e: AuthError) -> ApiError {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", e.to_string())
    }

    pub fn into_response(self) -> Response {
        let body = json!({"error": self.message, "code": self.code});
        super::json_response(self.status, &body)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        tracing::error!(error = %e, "store error");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            e.to_string(),
        )
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        match e {
            EngineError::NotFound(m) => ApiError::not_found(m),
            EngineError::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", m),
            EngineError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            EngineError::Invalid(m) => ApiError::bad_request(m),
            EngineError::Store(e) => e.into(),
            EngineError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", m)
            }
        }
    }
}
