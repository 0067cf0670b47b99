//! Error types.
//!
//! - [`TaskError`]: what a skill handler returns when its task fails. It carries the RXON
//!   error `code` the orchestrator acts on (retry, fail the job, quarantine), a message and
//!   optional details, and becomes the `error` object of a `failure` result.
//! - [`WorkerError`]: what the SDK itself can run into: bad configuration or skills at
//!   build time, and network or protocol trouble while talking to the orchestrator.
//!   The runtime logs and retries those; they reach callers only through
//!   [`crate::TaskContext::progress`] / [`crate::TaskContext::event`] and build/run results.

use baton_protocol::error_codes;
use serde_json::Value;

use crate::config::ConfigError;

/// Failure of one task, as reported to the orchestrator.
///
/// The code decides what the orchestrator does next (RXON semantics): `TRANSIENT_ERROR`
/// and unknown codes are retried on a new dispatch, `INVALID_INPUT_ERROR` fails the job,
/// `PERMANENT_ERROR` quarantines it. Codes are listed in [`baton_protocol::error_codes`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct TaskError {
    code: String,
    message: String,
    details: Option<Value>,
}

impl TaskError {
    /// An error with any code (see [`baton_protocol::error_codes`]).
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        TaskError {
            code: code.into(),
            message: message.into(),
            details: None,
        }
    }

    /// `TRANSIENT_ERROR`: worth another try, maybe on another worker.
    pub fn transient(message: impl Into<String>) -> Self {
        Self::new(error_codes::TRANSIENT, message)
    }

    /// `PERMANENT_ERROR`: retrying cannot help.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self::new(error_codes::PERMANENT, message)
    }

    /// `INVALID_INPUT_ERROR`: the task's params are wrong.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(error_codes::INVALID_INPUT, message)
    }

    /// Attaches structured details (sent as `error.details`).
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn code(&self) -> &str {
        &self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn details(&self) -> Option<&Value> {
        self.details.as_ref()
    }
}

impl From<TaskError> for baton_protocol::TaskError {
    fn from(e: TaskError) -> Self {
        baton_protocol::TaskError {
            code: e.code,
            message: e.message,
            details: e.details,
        }
    }
}

impl From<baton_protocol::TaskError> for TaskError {
    fn from(e: baton_protocol::TaskError) -> Self {
        TaskError {
            code: e.code,
            message: e.message,
            details: e.details,
        }
    }
}

/// Lets a handler write `ctx.progress(..).await?`: an SDK failure inside a task is
/// reported as transient, since the orchestrator being unreachable is not the task's fault.
impl From<WorkerError> for TaskError {
    fn from(e: WorkerError) -> Self {
        TaskError::transient(e.to_string())
    }
}

/// Trouble in the SDK itself. See the module docs.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("invalid worker configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("skill {0:?} is registered twice")]
    DuplicateSkill(String),
    #[error("a worker needs at least one skill")]
    NoSkills,
    #[error("could not build the HTTP client: {0}")]
    HttpClient(#[source] reqwest::Error),
    #[error("could not encode the {what} body: {source}")]
    Encode {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("{method} {path} failed: {source}")]
    Network {
        method: &'static str,
        path: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{method} {path} answered HTTP {status}: {body}")]
    Status {
        method: &'static str,
        path: String,
        status: u16,
        body: String,
    },
    #[error("{method} {path} answered an unexpected body: {message}")]
    InvalidResponse {
        method: &'static str,
        path: String,
        message: String,
    },
    #[error("the worker was killed")]
    Killed,
    #[error("result delivery failed: {0}")]
    Delivery(String),
    #[error("the worker task ended abnormally: {0}")]
    Join(String),
}

impl WorkerError {
    /// The HTTP status of an error answer, if that is what this is.
    /// Whether the server has no such route (an RXON server without Baton's batch routes).
    pub(crate) fn is_missing_route(&self) -> bool {
        matches!(self.status(), Some(404 | 405))
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            WorkerError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether trying the same request again may succeed: network trouble, 5xx, 429.
    pub fn is_retryable(&self) -> bool {
        match self {
            WorkerError::Network { .. } => true,
            WorkerError::Status { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }

    /// Whether the orchestrator said it does not know this worker (it forgot it, e.g. after
    /// a restart with an in-memory store): the worker must register again.
    pub fn is_worker_unknown(&self) -> bool {
        match self {
            WorkerError::Status { status, body, .. } => {
                *status == 404 || body.to_ascii_lowercase().contains("not found")
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn constructors_set_rxon_codes() {
        assert_eq!(TaskError::transient("a").code(), "TRANSIENT_ERROR");
        assert_eq!(TaskError::permanent("a").code(), "PERMANENT_ERROR");
        assert_eq!(TaskError::invalid_input("a").code(), "INVALID_INPUT_ERROR");
        let e = TaskError::new("TIMEOUT_ERROR", "slow").with_details(json!({"after_s": 3}));
        assert_eq!(e.to_string(), "TIMEOUT_ERROR: slow");
        let wire: baton_protocol::TaskError = e.clone().into();
        assert_eq!(
            serde_json::to_value(&wire).unwrap(),
            json!({"code": "TIMEOUT_ERROR", "message": "slow", "details": {"after_s": 3}})
        );
        assert_eq!(TaskError::from(wire), e);
    }

    #[test]
    fn worker_errors_classify() {
        let status = |status: u16, body: &str| WorkerError::Status {
            method: "PATCH",
            path: "/x".into(),
            status,
            body: body.into(),
        };
        assert!(status(503, "").is_retryable());
        assert!(status(429, "").is_retryable());
        assert!(!status(400, "").is_retryable());
        assert!(!status(403, "").is_retryable());
        assert!(status(404, "").is_worker_unknown());
        assert!(status(400, r#"{"error":"Worker Not Found"}"#).is_worker_unknown());
        assert!(!status(403, "forbidden").is_worker_unknown());
        assert_eq!(status(418, "").status(), Some(418));
        let as_task: TaskError = WorkerError::Killed.into();
        assert_eq!(as_task.code(), "TRANSIENT_ERROR");
    }
}
