//! Error types.
//!
//! - [`TaskError`]: what a skill handler returns when its task fails. It carries the RXON
//!   error `code` the orchestrator acts on (retry, fail the job, quarantine), a message and
//!   optional details, and becomes the `error` object of a `failure` result.
//! - [`WorkerError`]: what the SDK itself can run into: bad configuration or skills at
//!   build time, and network or protocol trouble while talking to the orchestrator.
//!   The runtime logs and retries those; they reach callers only through
//!   [`crate::TaskContext::progress`] / [`crate::TaskContext::event`] and build/run results.
//!   One is never retried: [`WorkerError::Unauthorized`], the orchestrator refusing the
//!   worker's registration with 401/403, ends [`crate::Worker::run`] at once, since no
//!   number of retries makes a wrong token right.

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
    /// The orchestrator refused to register the worker (HTTP 401 or 403): a wrong or
    /// missing token, a token bound to another worker id, or a signature it could not
    /// check. [`crate::Worker::run`] ends with this instead of retrying.
    #[error(
        "the orchestrator at {url} refused this worker's registration (HTTP {status}: {message}); {}",
        token_advice(*.default_token)
    )]
    Unauthorized {
        /// The orchestrator's base URL (`ORCHESTRATOR_URL`).
        url: String,
        status: u16,
        /// What the orchestrator said (its `error` field, or the raw body).
        message: String,
        /// Whether the token sent was the SDK's default, i.e. none was configured.
        default_token: bool,
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

    /// Whether the orchestrator refused the worker's credentials (401 or 403).
    pub fn is_auth_failure(&self) -> bool {
        matches!(self.status(), Some(401 | 403))
    }

    /// The orchestrator's own words in an error answer: the `error` field of a JSON body
    /// (Baton's and RXON's error shape), else the body as it came.
    pub(crate) fn server_message(&self) -> Option<String> {
        let WorkerError::Status { body, .. } = self else {
            return None;
        };
        let from_json = serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string));
        Some(from_json.unwrap_or_else(|| body.trim().to_string()))
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

/// What to check after a refused registration. Says when no token was configured at all,
/// the mistake a first run makes (the SDK then sends the Python SDK's default token).
fn token_advice(default_token: bool) -> &'static str {
    if default_token {
        "WORKER_TOKEN is not set, so the SDK sent its default token: set WORKER_TOKEN to the \
         orchestrator's worker token (Baton: BATON_WORKER_TOKEN; `baton dev` uses \
         dev-worker-token)"
    } else {
        "check WORKER_TOKEN (or WORKER_INDIVIDUAL_TOKEN): it must be the orchestrator's worker \
         token (Baton: BATON_WORKER_TOKEN, or this WORKER_ID's entry in \
         BATON_WORKER_TOKENS_FILE), and this host's clock must be close to the orchestrator's \
         (signed bodies carry a timestamp)"
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
        assert!(status(401, "").is_auth_failure());
        assert!(status(403, "").is_auth_failure());
        assert!(!status(404, "").is_auth_failure());
        assert_eq!(
            status(
                403,
                r#"{"error":"invalid X-Worker-Token","code":"forbidden"}"#
            )
            .server_message()
            .as_deref(),
            Some("invalid X-Worker-Token")
        );
        assert_eq!(
            status(401, "no entry\n").server_message().as_deref(),
            Some("no entry")
        );
        assert_eq!(status(418, "").status(), Some(418));
        let as_task: TaskError = WorkerError::Killed.into();
        assert_eq!(as_task.code(), "TRANSIENT_ERROR");
    }

    #[test]
    fn a_refused_registration_names_the_url_and_the_token() {
        let refused = |default_token| WorkerError::Unauthorized {
            url: "http://orch:8080".into(),
            status: 403,
            message: "invalid X-Worker-Token".into(),
            default_token,
        };
        let configured = refused(false).to_string();
        assert!(configured.contains("http://orch:8080"), "{configured}");
        assert!(
            configured.contains("HTTP 403: invalid X-Worker-Token"),
            "{configured}"
        );
        assert!(configured.contains("check WORKER_TOKEN"), "{configured}");
        let unset = refused(true).to_string();
        assert!(unset.contains("WORKER_TOKEN is not set"), "{unset}");
        assert!(unset.contains("dev-worker-token"), "{unset}");
        assert!(!refused(true).is_retryable());
    }
}
