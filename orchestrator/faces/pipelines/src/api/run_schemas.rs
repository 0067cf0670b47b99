//! Answers of the runs and queues routes: the handlers send these types and the OpenAPI
//! document is generated from them.

use crate::runs::RunStatus;
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
    /// `plan_protocol_job`, `execute_step_job`, `run_quality_job`, `open_pr_job`,
    /// `project_setup_job` or `codemachine_import_job` (the blueprint's name + `_job`).
    pub job_type: String,
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    #[schema(value_type = String)]
    pub status: RunStatus,
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

/// Jobs of one queue (or one job type) by status.
#[derive(Serialize, ToSchema)]
pub struct JobCounts {
    pub queued: u64,
    pub started: u64,
    pub finished: u64,
    pub failed: u64,
}

/// The queue of pipeline jobs: its counts, and those of each job type.
#[derive(Serialize, ToSchema)]
pub struct QueueCounts {
    pub queued: u64,
    pub started: u64,
    pub finished: u64,
    pub failed: u64,
    /// By job type (`plan_protocol_job`, `execute_step_job`, ...).
    pub job_types: std::collections::BTreeMap<String, JobCounts>,
}

/// `GET /queues`: every key but `backend` is a queue.
#[derive(Serialize, ToSchema)]
pub struct QueuesView {
    /// `baton-memory` or `baton-redis`.
    pub backend: String,
    /// The one queue: pipeline workers pull every pipeline job from one pool.
    pub default: QueueCounts,
}

/// A pipeline job.
#[derive(Serialize, ToSchema)]
pub struct QueueJobView {
    pub job_id: String,
    /// E.g. `execute_step_job`.
    pub job_type: String,
    #[schema(value_type = Object)]
    pub payload: Value,
    /// `queued`, `started`, `finished` or `failed`.
    pub status: String,
    /// Always `default`.
    pub queue: String,
    /// The current attempt (1 for the first).
    pub attempts: u32,
    /// RFC 3339.
    pub created_at: String,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    /// The same times as epoch seconds (floats), as upstream's job records have them.
    pub created_at_epoch: f64,
    pub started_at_epoch: Option<f64>,
    pub ended_at_epoch: Option<f64>,
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub error: Option<Value>,
    /// `pipeline` (kind and ids), `baton_status`, `attempt`, `project_id`.
    #[schema(value_type = Object)]
    pub meta: Value,
}
