//! Names fixed by the protocol. Changing any of these breaks real clients.

/// Protocol version announced in every response (`X-RXON-Version`).
pub const PROTOCOL_VERSION: &str = "1.0b15";
pub const HEADER_PROTOCOL_VERSION: &str = "X-RXON-Version";
pub const HEADER_CLIENT_TOKEN: &str = "X-Client-Token";
pub const HEADER_WORKER_TOKEN: &str = "X-Worker-Token";
pub const HEADER_WORKER_ID: &str = "X-Worker-ID";

/// The token the Python SDK uses when none is configured; it skips signing with it.
pub const DEFAULT_PYTHON_WORKER_TOKEN: &str = "your-secret-worker-token";

pub const WORKER_API_PREFIX: &str = "/_worker";

/// Whether `value` matches `^[A-Za-z0-9_-]+$`, the RXON identifier rule for worker ids,
/// skill names, blueprint names and endpoint segments: they end up in URL paths and store
/// keys, so the orchestrator and the SDK must agree on it.
pub fn is_identifier(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Task result statuses a worker may send; any other string is a custom status a
/// blueprint can route on.
pub const TASK_STATUS_SUCCESS: &str = "success";
pub const TASK_STATUS_FAILURE: &str = "failure";
pub const TASK_STATUS_CANCELLED: &str = "cancelled";

/// Worker command sent over the WebSocket.
pub const COMMAND_CANCEL_TASK: &str = "cancel_task";
pub const EVENT_TYPE_PROGRESS: &str = "progress";

/// Error codes of `TaskError.code`.
pub mod error_codes {
    pub const TRANSIENT: &str = "TRANSIENT_ERROR";
    pub const PERMANENT: &str = "PERMANENT_ERROR";
    pub const INVALID_INPUT: &str = "INVALID_INPUT_ERROR";
    pub const INTEGRITY_MISMATCH: &str = "INTEGRITY_MISMATCH_ERROR";
    pub const TIMEOUT: &str = "TIMEOUT_ERROR";
    pub const LATE_RESULT: &str = "LATE_RESULT";
    pub const RESOURCE_EXHAUSTED: &str = "RESOURCE_EXHAUSTED_ERROR";
    pub const LIMIT_EXCEEDED: &str = "LIMIT_EXCEEDED_ERROR";
    pub const CONTRACT_VIOLATION: &str = "CONTRACT_VIOLATION_ERROR";
    pub const DEPENDENCY_MISSING: &str = "DEPENDENCY_MISSING_ERROR";
    pub const DEPENDENCY: &str = "DEPENDENCY_ERROR";
    pub const SECURITY: &str = "SECURITY_ERROR";
    pub const INTERNAL: &str = "INTERNAL_ERROR";
    /// Baton: a budget the job carries (a workflow's `token_budget`) is spent; another
    /// attempt would only spend more, so the job fails.
    pub const BUDGET_EXCEEDED: &str = "BUDGET_EXCEEDED_ERROR";
}

/// Reasons in `{"status":"ignored","reason":...}` answers to results.
pub mod ignored_reasons {
    pub const JOB_NOT_FOUND: &str = "job_not_found";
    pub const WORKER_MISMATCH: &str = "worker_mismatch";
    pub const STALE_TASK: &str = "stale_task";
    pub const DEADLINE_EXCEEDED: &str = "deadline_exceeded";
    pub const JOB_CANCELLED: &str = "job_cancelled";
    pub const JOB_ALREADY_TERMINATED: &str = "job_already_terminated";
}

/// Job statuses, as clients see them.
pub mod job_status {
    pub const PENDING: &str = "pending";
    pub const WAITING_FOR_WORKER: &str = "waiting_for_worker";
    pub const RUNNING: &str = "running";
    /// An approval state waits for a person's decision.
    pub const WAITING_FOR_HUMAN: &str = "waiting_for_human";
    /// A parallel state waits for its branches.
    pub const WAITING_FOR_PARALLEL_TASKS: &str = "waiting_for_parallel_tasks";
    /// A sub-job state waits for its child job.
    pub const WAITING_FOR_SUB_JOB: &str = "waiting_for_sub_job";
    pub const AWAITING_RETRY: &str = "awaiting_retry";
    /// Paused by a client: running tasks finish, nothing new starts until it resumes.
    pub const PAUSED: &str = "paused";
    pub const FINISHED: &str = "finished";
    pub const FAILED: &str = "failed";
    pub const QUARANTINED: &str = "quarantined";
    pub const CANCELLED: &str = "cancelled";

    /// Every status a job may have, for listings' filters.
    pub const ALL: &[&str] = &[
        PENDING,
        WAITING_FOR_WORKER,
        RUNNING,
        WAITING_FOR_HUMAN,
        WAITING_FOR_PARALLEL_TASKS,
        WAITING_FOR_SUB_JOB,
        AWAITING_RETRY,
        PAUSED,
        FINISHED,
        FAILED,
        QUARANTINED,
        CANCELLED,
    ];

    /// Whether nothing can happen to a job in this status any more.
    pub fn is_terminal(status: &str) -> bool {
        matches!(
            status,
            FINISHED | FAILED | QUARANTINED | CANCELLED | "error"
        )
    }
}

/// Worker endpoints, relative to the orchestrator's base URL.
pub mod endpoints {
    pub const REGISTER: &str = "/_worker/workers/register";
    pub const TASK_RESULT: &str = "/_worker/tasks/result";
    pub const EVENTS: &str = "/_worker/events";
    /// Baton extension: several results in one request (`{"results": [...]}`).
    pub const TASK_RESULTS: &str = "/_worker/tasks/results";

    pub fn heartbeat(worker_id: &str) -> String {
        format!("/_worker/workers/{worker_id}")
    }
    pub fn next_task(worker_id: &str) -> String {
        format!("/_worker/workers/{worker_id}/tasks/next")
    }
    /// Baton extension: up to `max` tasks in one long-poll (`{"tasks": [...]}`).
    pub fn next_tasks_batch(worker_id: &str) -> String {
        format!("/_worker/workers/{worker_id}/tasks/batch")
    }
    pub fn websocket(worker_id: &str) -> String {
        format!("/_worker/ws/{worker_id}")
    }
}
