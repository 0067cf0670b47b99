//! Answers of the runs and queues routes, spelled out for the OpenAPI document (the
//! handlers render records as JSON values; these are schema-only).

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// A run: one attempt of a pipeline job. `queued`/`running` runs are in flight (shown
/// from the job's tasks, not yet recorded).
#[derive(Serialize, ToSchema)]
pub struct RunView {
    /// The attempt's Baton task id.
    pub run_id: String,
    pub job_id: String,
    /// The blueprint: `plan_protocol`, `execute_step`, `run_quality`, `open_pr`, ...
    pub job_type: String,
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    pub status: String,
    /// `plan`, `exec`, `qa`, `setup`, `open_pr` or `codemachine_import`.
    pub run_kind: String,
    pub project_id: Option<u64>,
    pub protocol_run_id: Option<u64>,
    pub step_run_id: Option<u64>,
    pub attempt: u32,
    pub worker_id: Option<String>,
    /// RFC 3339.
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    #[schema(value_type = Object)]
    pub params: Value,
    /// The worker's result; `run` holds the report's rest (engine, model, phase,
    /// prompt version, token estimate, artifact names, log size). `null` while the
    /// attempt has none: queued, running, or ended without one (timed out, lost with
    /// its worker, cancelled).
    #[schema(value_type = Option<Object>, required = true)]
    pub result: Value,
    #[schema(value_type = Option<Object>)]
    pub error: Option<Value>,
    /// Where the log is served.
    pub log_path: String,
    pub log_bytes: u64,
    /// The log's head was cut to fit 256 KiB.
    pub log_truncated: bool,
    pub cost_tokens: Option<u64>,
    pub cost_cents: Option<u64>,
    pub created_at: String,
}

/// An artifact's metadata (the content is served apart).
#[derive(Serialize, ToSchema)]
pub struct ArtifactView {
    pub id: u64,
    pub run_id: String,
    pub name: String,
    /// E.g. `plan`, `step`, `output`, `qa_report`.
    pub kind: String,
    pub path: String,
    /// Hex sha256 of the stored content.
    pub sha256: String,
    pub bytes: u64,
    /// Cut to 1 MiB by the orchestrator.
    pub truncated: bool,
    pub created_at: String,
}

/// Counts of one queue (a job type).
#[derive(Serialize, ToSchema)]
pub struct QueueStats {
    /// The job type.
    pub name: String,
    /// Jobs waiting (same as `queued`).
    pub count: u64,
    pub queued: u64,
    pub started: u64,
    pub finished: u64,
    pub failed: u64,
}

/// A pipeline job.
#[derive(Serialize, ToSchema)]
pub struct QueueJobView {
    pub job_id: String,
    pub job_type: String,
    #[schema(value_type = Object)]
    pub payload: Value,
    /// `queued`, `started`, `finished` or `failed`.
    pub status: String,
    pub created_at: String,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub error: Option<Value>,
    /// `pipeline` (kind and ids), `baton_status`, `attempt`, `project_id`.
    #[schema(value_type = Object)]
    pub meta: Value,
}
