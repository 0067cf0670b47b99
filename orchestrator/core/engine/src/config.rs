//! What the engine is configured with: retries, timeouts, retention and the reaper's pace.
//! The server fills it from its `BATON_*` variables; tests change fields of the default.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Silence after which a worker's leases are taken back (also the lease length).
    pub heartbeat_timeout: Duration,
    /// Retries of a retryable failure per state (a state's `max_retries` overrides).
    pub max_retries: u32,
    /// First retry delay; doubles per retry up to `retry_backoff_max`.
    pub retry_backoff: Duration,
    pub retry_backoff_max: Duration,
    /// Default wait for a worker to take a task.
    pub dispatch_timeout: Duration,
    /// Default wait for a result once a task is taken.
    pub result_timeout: Duration,
    /// How long finished jobs and their history are kept.
    pub job_retention: Duration,
    /// History entries kept per job.
    pub history_limit: usize,
    /// Timeout of one completion-webhook attempt, and attempts per webhook.
    pub webhook_timeout: Duration,
    pub webhook_max_attempts: u32,
    /// How often timers and leases are checked.
    pub reaper_interval: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            heartbeat_timeout: Duration::from_secs(45),
            max_retries: 3,
            retry_backoff: Duration::from_secs(1),
            retry_backoff_max: Duration::from_secs(60),
            dispatch_timeout: Duration::from_secs(3600),
            result_timeout: Duration::from_secs(3600),
            job_retention: Duration::from_secs(7 * 24 * 3600),
            history_limit: 200,
            webhook_timeout: Duration::from_secs(10),
            webhook_max_attempts: 3,
            reaper_interval: Duration::from_millis(100),
        }
    }
}
