//! The one error type of the HTTP faces: a status, a stable code for programs and a
//! message for people, answered as `{"error": "<message>", "code": "<code>"}` (the
//! [`ErrorBody`] schema). A 4xx is something the caller can fix; a 5xx is an outage or a
//! bug.
//!
//! Internal text never reaches a client: [`ApiError::internal`] and the conversions from
//! store and engine failures log the cause with an error id and answer only that id, so
//! an operator can find the log line and a caller learns nothing about the internals.

use baton_engine::EngineError;
use baton_store::StoreError;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reply::Response;

/// The error codes every face answers, in one place.
pub mod codes {
    pub const BAD_REQUEST: &str = "bad_request";
    pub const UNAUTHORIZED: &str = "unauthorized";
    pub const FORBIDDEN: &str = "forbidden";
    pub const NOT_FOUND: &str = "not_found";
    pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
    pub const CONFLICT: &str = "conflict";
    pub const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
    pub const STORE_UNAVAILABLE: &str = "store_unavailable";
    pub const INTERNAL: &str = "internal";
    /// A tool the orchestrator runs itself (git) is missing on its host.
    pub const UNAVAILABLE: &str = "unavailable";
    /// git failed against a project's origin.
    pub const GIT_FAILED: &str = "git_failed";
}

/// The one error shape: a 4xx for anything the caller can fix, a 5xx for a bug or an
/// outage.
#[derive(Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"error": "no job `x`", "code": "not_found"}))]
pub struct ErrorBody {
    /// What is wrong, for a person.
    pub error: String,
    /// For programs: `bad_request`, `unauthorized`, `forbidden`, `not_found`,
    /// `method_not_allowed`, `conflict`, `payload_too_large`, `store_unavailable` or
    /// `internal`, and a face's own codes where it documents them.
    pub code: String,
}

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
        Self::new(StatusCode::BAD_REQUEST, codes::BAD_REQUEST, message)
    }
    pub fn not_found(message: impl Into<String>) -> ApiError {
        Self::new(StatusCode::NOT_FOUND, codes::NOT_FOUND, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        Self::new(StatusCode::UNAUTHORIZED, codes::UNAUTHORIZED, message)
    }
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        Self::new(StatusCode::FORBIDDEN, codes::FORBIDDEN, message)
    }
    pub fn conflict(message: impl Into<String>) -> ApiError {
        Self::new(StatusCode::CONFLICT, codes::CONFLICT, message)
    }
    pub fn too_large(limit: usize) -> ApiError {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            codes::PAYLOAD_TOO_LARGE,
            format!("request body exceeds {limit} bytes"),
        )
    }

    /// A bug or an unexpected failure: the cause goes to the log under a fresh error id,
    /// the answer carries only the id.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        let id = uuid::Uuid::new_v4();
        tracing::error!(error_id = %id, error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::INTERNAL,
            format!("internal error (error id {id}; the server log has the details)"),
        )
    }

    /// The store failed or is unreachable: 503, the cause logged under an error id.
    pub fn store_unavailable(cause: impl std::fmt::Display) -> ApiError {
        let id = uuid::Uuid::new_v4();
        tracing::error!(error_id = %id, error = %cause, "store error");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            codes::STORE_UNAVAILABLE,
            format!("the store is unavailable; retry later (error id {id})"),
        )
    }

    pub fn into_response(self) -> Response {
        let body = json!({"error": self.message, "code": self.code});
        crate::reply::json_response(self.status, &body)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        ApiError::store_unavailable(e)
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        match e {
            EngineError::NotFound(m) => ApiError::not_found(m),
            EngineError::Forbidden(m) => ApiError::forbidden(m),
            EngineError::Conflict(m) => ApiError::conflict(m),
            e @ EngineError::Exists(_) => ApiError::conflict(e.to_string()),
            EngineError::Invalid(m) => ApiError::bad_request(m),
            EngineError::Store(e) => e.into(),
            EngineError::Internal(m) => ApiError::internal(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_text_stays_in_the_log() {
        let secret = "redis://admin:hunter2@10.0.0.7 refused";
        for e in [
            ApiError::internal(secret),
            ApiError::from(StoreError::Redis(secret.into())),
            ApiError::from(EngineError::Internal(secret.into())),
        ] {
            assert!(!e.message.contains("hunter2"), "{}", e.message);
            assert!(e.message.contains("error id"), "{}", e.message);
            assert!(e.status.is_server_error());
        }
    }

    #[test]
    fn caller_errors_keep_their_message() {
        let e = ApiError::from(EngineError::Invalid("`wait` must be a number".into()));
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(e.code, codes::BAD_REQUEST);
        assert_eq!(e.message, "`wait` must be a number");
    }
}
