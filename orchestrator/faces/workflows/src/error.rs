//! The workflow face's error envelope:
//! `{"error": {"error_code", "message", "details", "request_id"}}`, with `retry_after`
//! beside `error` on a 429 (and a numeric `Retry-After` header).
//!
//! Every error of this face takes this shape, routing rejections (404, 405), oversized
//! bodies (413) and malformed JSON included: handlers return [`WfError`], and the face's
//! filter recovers its own rejections into it ([`super::api::recover`]). The shared
//! helpers of `baton_http` (body limit, JSON parsing, store and engine failures) fail with
//! [`ApiError`], which converts here with its status kept; as there, internal text never
//! reaches a client (a 5xx carries an error id, the log the cause).

use baton_http::{codes as http_codes, ApiError};
use serde::Serialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;
use warp::http::{HeaderValue, StatusCode};
use warp::reply::Response;

/// The face's error codes.
pub mod codes {
    pub const AUTH_FAILED: &str = "AUTH_FAILED";
    pub const UNAUTHORIZED: &str = "UNAUTHORIZED";
    pub const NOT_FOUND: &str = "NOT_FOUND";
    pub const METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";
    pub const VALIDATION: &str = "VALIDATION";
    pub const CONFLICT: &str = "CONFLICT";
    pub const PAYLOAD_TOO_LARGE: &str = "PAYLOAD_TOO_LARGE";
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    pub const INTERNAL_ERROR: &str = "INTERNAL_ERROR";
    pub const SERVICE_UNAVAILABLE: &str = "SERVICE_UNAVAILABLE";
    pub const API_ERROR: &str = "API_ERROR";
    pub const TIMEOUT: &str = "TIMEOUT";
}

#[derive(Debug, Clone, PartialEq)]
pub struct WfError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// An object: what was wrong (`field`, `step_id`, `limit`, ...).
    pub details: Map<String, Value>,
    /// Seconds until a rate limit lets the caller in again (429 only).
    pub retry_after: Option<u64>,
}

pub type WfResult<T> = Result<T, WfError>;

impl WfError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> WfError {
        WfError {
            status,
            code,
            message: message.into(),
            details: Map::new(),
            retry_after: None,
        }
    }

    /// Adds `key: value` to the details.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> WfError {
        self.details.insert(key.to_string(), value.into());
        self
    }

    pub fn auth_failed(message: impl Into<String>) -> WfError {
        Self::new(StatusCode::UNAUTHORIZED, codes::AUTH_FAILED, message)
    }
    pub fn not_found(message: impl Into<String>) -> WfError {
        Self::new(StatusCode::NOT_FOUND, codes::NOT_FOUND, message)
    }
    /// A body or query that parsed but breaks a rule (422).
    pub fn validation(message: impl Into<String>) -> WfError {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, codes::VALIDATION, message)
    }
    /// A request that cannot be read at all (400).
    pub fn bad_request(message: impl Into<String>) -> WfError {
        Self::new(StatusCode::BAD_REQUEST, codes::VALIDATION, message)
    }
    pub fn conflict(message: impl Into<String>) -> WfError {
        Self::new(StatusCode::CONFLICT, codes::CONFLICT, message)
    }
    pub fn rate_limited(limit: &str, retry_after: u64) -> WfError {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            codes::RATE_LIMITED,
            "Rate limit exceeded",
        )
        .with("limit", limit);
        e.retry_after = Some(retry_after);
        e
    }
    pub fn internal(cause: impl std::fmt::Display) -> WfError {
        ApiError::internal(cause).into()
    }

    /// The envelope.
    pub fn body(&self, request_id: &str) -> Value {
        let mut body = json!({
            "error": {
                "error_code": self.code,
                "message": self.message,
                "details": Value::Object(self.details.clone()),
                "request_id": request_id,
            }
        });
        if let (Some(secs), Value::Object(map)) = (self.retry_after, &mut body) {
            map.insert("retry_after".into(), secs.into());
        }
        body
    }

    /// The answer, stamped with the request id.
    pub fn into_response(self, request_id: &str) -> Response {
        let mut resp = baton_http::json_response(self.status, &self.body(request_id));
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert("retry-after", HeaderValue::from(secs));
        }
        baton_http::stamp(request_id, resp)
    }
}

/// The shared helpers' errors, in this face's codes.
impl From<ApiError> for WfError {
    fn from(e: ApiError) -> WfError {
        let code = match e.code {
            http_codes::BAD_REQUEST => codes::VALIDATION,
            http_codes::UNAUTHORIZED => codes::AUTH_FAILED,
            http_codes::FORBIDDEN => codes::UNAUTHORIZED,
            http_codes::NOT_FOUND => codes::NOT_FOUND,
            http_codes::METHOD_NOT_ALLOWED => codes::METHOD_NOT_ALLOWED,
            http_codes::CONFLICT => codes::CONFLICT,
            http_codes::PAYLOAD_TOO_LARGE => codes::PAYLOAD_TOO_LARGE,
            http_codes::STORE_UNAVAILABLE => codes::SERVICE_UNAVAILABLE,
            _ if e.status.is_server_error() => codes::INTERNAL_ERROR,
            _ => codes::VALIDATION,
        };
        WfError::new(e.status, code, e.message)
    }
}

impl From<baton_store::StoreError> for WfError {
    fn from(e: baton_store::StoreError) -> WfError {
        ApiError::from(e).into()
    }
}

impl From<crate::store::RecordError> for WfError {
    fn from(e: crate::store::RecordError) -> WfError {
        let crate::store::RecordError::Store(e) = e;
        e.into()
    }
}

impl From<baton_engine::EngineError> for WfError {
    fn from(e: baton_engine::EngineError) -> WfError {
        ApiError::from(e).into()
    }
}

/// The envelope, for the OpenAPI document.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"error": {"error_code": "NOT_FOUND", "message": "no workflow `x`", "details": {}, "request_id": "5f0c..."}}))]
pub struct ErrorEnvelope {
    pub error: ErrorDetail,
    /// Seconds to wait, on a 429 only (also in the `Retry-After` header).
    pub retry_after: Option<u64>,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// `AUTH_FAILED` (401), `UNAUTHORIZED` (403), `NOT_FOUND` (404), `METHOD_NOT_ALLOWED`
    /// (405), `VALIDATION` (400 unreadable, 422 breaks a rule), `CONFLICT` (409),
    /// `PAYLOAD_TOO_LARGE` (413), `RATE_LIMITED` (429), `INTERNAL_ERROR` (500),
    /// `API_ERROR` (502), `SERVICE_UNAVAILABLE` (503), `TIMEOUT` (504).
    pub error_code: String,
    pub message: String,
    /// What was wrong: e.g. `field` and `step_id` of a validation error, `limit` of a
    /// rate limit.
    #[schema(value_type = Object)]
    pub details: Value,
    /// The request's `X-Request-ID`.
    pub request_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_answer_the_envelope_with_the_request_id() {
        let e = WfError::not_found("no workflow `x`");
        let v = e.body("rid-1");
        let resp = e.into_response("rid-1");
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        assert_eq!(resp.headers()["x-request-id"], "rid-1");
        assert_eq!(v["error"]["error_code"], "NOT_FOUND");
        assert_eq!(v["error"]["request_id"], "rid-1");
        assert_eq!(v["error"]["details"], json!({}));
    }

    #[test]
    fn a_rate_limit_says_when_to_come_back() {
        let e = WfError::rate_limited("5/minute", 42);
        let v = e.body("r");
        let resp = e.into_response("r");
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(resp.headers()["retry-after"], "42");
        assert_eq!(v["retry_after"], 42);
        assert_eq!(v["error"]["details"]["limit"], "5/minute");
    }

    #[test]
    fn shared_errors_keep_their_status_and_get_this_face_s_codes() {
        let e: WfError = ApiError::too_large(10).into();
        assert_eq!(
            (e.status, e.code),
            (StatusCode::PAYLOAD_TOO_LARGE, codes::PAYLOAD_TOO_LARGE)
        );
        let e: WfError = ApiError::bad_request("bad json").into();
        assert_eq!(
            (e.status, e.code),
            (StatusCode::BAD_REQUEST, codes::VALIDATION)
        );
        let e: WfError = baton_store::StoreError::Redis("secret host".into()).into();
        assert_eq!(e.code, codes::SERVICE_UNAVAILABLE);
        assert!(!e.message.contains("secret host"));
    }
}
