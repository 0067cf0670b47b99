//! The request and answer types of the workflow face: handlers send these, and the OpenAPI
//! document is generated from them.

use crate::model::{InputSpec, Step, Workflow};
use crate::validate::Problem;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use utoipa::ToSchema;

pub use crate::error::ErrorEnvelope;

/// `POST /v1/auth/login`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(example = "admin")]
    pub user_id: String,
    #[schema(example = "demo")]
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct LoginAnswer {
    /// A JWT (HS256) to send as `Authorization: Bearer <token>`.
    pub access_token: String,
    /// Always `bearer`.
    #[schema(example = "bearer")]
    pub token_type: String,
    /// Seconds the token is valid for.
    pub expires_in: i64,
}

/// A workflow in a listing.
#[derive(Serialize, ToSchema)]
pub struct WorkflowSummary {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub version: String,
}

/// A JSON workflow with its definition.
#[derive(Serialize, ToSchema)]
pub struct WorkflowDetail {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub version: String,
    pub inputs: BTreeMap<String, InputSpec>,
    pub outputs: Vec<String>,
    #[schema(value_type = Object)]
    pub variables: Map<String, Value>,
    pub token_budget: Option<u64>,
    pub timeout_seconds: Option<f64>,
    pub steps: Vec<Step>,
    /// RFC 3339.
    pub created_at: String,
    pub updated_at: String,
}

/// `POST /v1/workflows` and `PUT /v1/workflows/{id}`.
#[derive(Serialize, ToSchema)]
pub struct WorkflowSaved {
    /// Always `success`.
    #[schema(example = "success")]
    pub status: String,
    pub workflow_id: String,
}

/// `{"status": "success"}`.
#[derive(Serialize, ToSchema)]
pub struct Success {
    #[schema(example = "success")]
    pub status: String,
}

impl Default for Success {
    fn default() -> Success {
        Success {
            status: "success".into(),
        }
    }
}

/// `GET /v1/yaml-workflows`.
#[derive(Serialize, ToSchema)]
pub struct YamlWorkflowList {
    pub workflows: Vec<YamlWorkflowSummary>,
}

#[derive(Serialize, ToSchema)]
pub struct YamlWorkflowSummary {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub version: String,
    /// The file it was loaded from.
    pub path: String,
}

/// A YAML workflow with its definition.
#[derive(Serialize, ToSchema)]
pub struct YamlWorkflowDetail {
    #[serde(flatten)]
    pub workflow: Workflow,
    pub path: String,
}

/// The details of a 422 about a definition: every problem found.
#[derive(Serialize, ToSchema)]
pub struct ValidationDetails {
    /// The first problem's step, if it is about one.
    pub step_id: Option<String>,
    /// The first problem's field.
    pub field: String,
    pub errors: Vec<Problem>,
}

/// `GET /health/live`.
#[derive(Serialize, ToSchema)]
pub struct Live {
    #[schema(example = "alive")]
    pub status: String,
}

/// `GET /health/ready`: `ready`, or (503) `not_ready` with the reason.
#[derive(Serialize, ToSchema)]
pub struct Ready {
    #[schema(example = "ready")]
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `GET /health/db`.
#[derive(Serialize, ToSchema)]
pub struct DbHealth {
    /// `healthy`, or (503) `unhealthy`.
    pub status: String,
    /// `connected` or `disconnected`.
    pub database: String,
    /// `redis` or `memory`.
    pub backend: String,
    pub migrations: Migrations,
    pub timestamp: String,
}

/// Baton's store schema: the versions this orchestrator reads and writes. A store needs
/// no migration step: `pending` is always empty.
#[derive(Serialize, ToSchema)]
pub struct Migrations {
    pub applied: Vec<String>,
    pub pending: Vec<String>,
}

/// `GET /health/full`.
#[derive(Serialize, ToSchema)]
pub struct FullHealth {
    /// `healthy`, or `degraded` when the store does not answer.
    pub status: String,
    pub timestamp: String,
    pub uptime_seconds: u64,
    pub application: Application,
    pub database: Database,
    /// Circuit state per AI engine, as the workflow workers that call it last reported
    /// it with a step's answer (the workers make the AI calls).
    pub circuit_breakers: BTreeMap<String, CircuitState>,
    pub security: Security,
}

#[derive(Serialize, ToSchema)]
pub struct Application {
    pub ready: bool,
    pub shutting_down: bool,
    /// Requests of this face in flight on this orchestrator.
    pub active_requests: i64,
}

#[derive(Serialize, ToSchema)]
pub struct Database {
    pub status: String,
    pub backend: String,
}

#[derive(Serialize, ToSchema)]
pub struct Security {
    /// Requests refused by a rate limit since this orchestrator started, by group.
    pub rate_limited: BTreeMap<String, u64>,
    /// Clients refused by a rate limit now (any orchestrator), soonest let in first.
    pub blocked: Vec<Blocked>,
}

#[derive(Serialize, ToSchema)]
pub struct Blocked {
    /// The route group (`login`, `execute`, `jobs`, `hooks`).
    pub group: String,
    pub ip: String,
    /// When its window closes.
    pub until: String,
}

/// One AI engine's circuit breaker, as a worker reported it.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct CircuitState {
    /// `closed` (calls go through), `open` (calls fail at once until the cool-down
    /// ends) or `half_open` (one trial call).
    pub state: String,
    /// Failures in a row.
    pub failure_count: u64,
    /// The engine's endpoint.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The worker that reported it, and when.
    #[serde(default)]
    pub worker_id: Option<String>,
    #[serde(default)]
    pub reported_at: Option<String>,
}

/// `GET /`.
#[derive(Serialize, ToSchema)]
pub struct AppInfo {
    #[schema(example = "Baton")]
    pub app: String,
    pub version: String,
    #[schema(example = "running")]
    pub status: String,
}

/// `POST /v1/workflows/{workflow_id}/execute`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecuteRequest {
    /// The inputs (over the workflow's `variables`).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub variables: Map<String, Value>,
}

/// `POST /v1/workflows/execute`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncExecuteRequest {
    pub workflow_id: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub variables: Map<String, Value>,
}

/// `POST /v1/yaml-workflows/execute`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct YamlExecuteRequest {
    pub workflow_id: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub inputs: Map<String, Value>,
}

/// An execution started.
#[derive(Serialize, ToSchema)]
pub struct ExecutionStarted {
    pub execution_id: String,
    pub workflow_id: String,
    pub workflow_name: String,
    /// Always `running`.
    pub status: String,
    /// Where to follow it: `/v1/executions/{execution_id}`.
    pub poll_url: String,
}

/// `POST /v1/workflows/execute`: the ended execution.
#[derive(Serialize, ToSchema)]
pub struct SyncExecution {
    /// `completed`, `failed` or `cancelled`.
    pub status: String,
    pub workflow_id: String,
    pub execution_id: String,
    #[schema(value_type = Object)]
    pub outputs: Map<String, Value>,
    /// What went wrong, if anything.
    pub errors: Vec<String>,
}

/// `POST /v1/yaml-workflows/execute`: the ended execution, step by step.
#[derive(Serialize, ToSchema)]
pub struct YamlExecution {
    pub id: String,
    pub workflow_id: String,
    pub workflow_name: String,
    pub status: String,
    pub started_at: String,
    pub completed_at: Option<String>,
    pub total_duration_ms: Option<u64>,
    pub total_tokens: u64,
    #[schema(value_type = Object)]
    pub outputs: Map<String, Value>,
    pub steps: Vec<crate::executions::StepView>,
    pub error: Option<String>,
}

/// `GET /v1/executions/{execution_id}`.
#[derive(Serialize, ToSchema)]
pub struct ExecutionView {
    pub id: String,
    pub workflow_id: String,
    pub workflow_name: String,
    /// The version of the definition it runs.
    pub workflow_version: String,
    /// `pending`, `running`, `completed`, `failed` or `cancelled`.
    pub status: String,
    pub started_at: String,
    pub completed_at: Option<String>,
    /// The step in progress, if any.
    pub current_step: Option<String>,
    /// Steps done over steps, in percent.
    pub progress: u64,
    /// The last checkpoint step's id, if one ran.
    pub checkpoint_id: Option<String>,
    #[schema(value_type = Object)]
    pub variables: Value,
    #[schema(value_type = Object)]
    pub outputs: Map<String, Value>,
    pub error: Option<String>,
    pub steps: Vec<crate::executions::StepView>,
    /// The newest 100 log entries, oldest first (`GET .../logs` for more).
    pub logs: Vec<crate::executions::LogEntry>,
    pub metrics: ExecutionMetrics,
}

#[derive(Serialize, ToSchema)]
pub struct ExecutionMetrics {
    pub execution_id: String,
    pub total_tokens: u64,
    /// Summed from the steps' `cost_cents` (the worker's price per model).
    pub total_cost_cents: f64,
    pub duration_ms: Option<u64>,
    pub steps_completed: u64,
    pub steps_failed: u64,
}

impl From<&crate::executions::Execution> for ExecutionMetrics {
    fn from(e: &crate::executions::Execution) -> ExecutionMetrics {
        ExecutionMetrics {
            execution_id: e.id.clone(),
            total_tokens: e.total_tokens(),
            total_cost_cents: e.total_cost_cents(),
            duration_ms: e.duration_ms,
            steps_completed: e.steps_completed(),
            steps_failed: e.steps_failed(),
        }
    }
}

/// An execution in a listing.
#[derive(Serialize, ToSchema)]
pub struct ExecutionSummary {
    pub id: String,
    pub workflow_id: String,
    pub workflow_name: String,
    pub status: String,
    pub started_at: String,
    pub completed_at: Option<String>,
    pub current_step: Option<String>,
    pub progress: u64,
    pub error: Option<String>,
}

/// `GET /v1/executions`.
#[derive(Serialize, ToSchema)]
pub struct ExecutionPage {
    pub data: Vec<ExecutionSummary>,
    pub total: u64,
    pub page: u64,
    pub page_size: u64,
    pub total_pages: u64,
}

/// `POST /v1/executions/{execution_id}/cancel`.
#[derive(Serialize, ToSchema)]
pub struct Cancelled {
    #[schema(example = "success")]
    pub status: String,
    #[schema(example = "Execution cancelled")]
    pub message: String,
}

/// `POST /v1/executions/{execution_id}/pause` and `/resume`.
#[derive(Serialize, ToSchema)]
pub struct ExecutionControl {
    #[schema(example = "success")]
    pub status: String,
    pub execution_id: String,
    /// `paused` after a pause; after a resume, where it is now (`running`, `pending`...).
    #[schema(example = "paused")]
    pub execution_status: String,
}

/// A prompt template in a listing.
#[derive(Serialize, ToSchema)]
pub struct PromptSummary {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
}

/// `POST /v1/prompts`.
#[derive(Serialize, ToSchema)]
pub struct PromptSaved {
    #[schema(example = "success")]
    pub status: String,
    pub template_id: String,
}

/// `POST /v1/jobs`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitJob {
    pub workflow_id: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub variables: Map<String, Value>,
}

#[derive(Serialize, ToSchema)]
pub struct JobSubmitted {
    /// Always `submitted`.
    #[schema(example = "submitted")]
    pub status: String,
    pub job_id: String,
    pub workflow_id: String,
    /// `/v1/jobs/{job_id}`.
    pub poll_url: String,
}

/// An execution seen as a job.
#[derive(Serialize, ToSchema)]
pub struct WorkflowJob {
    pub id: String,
    pub workflow_id: String,
    /// `pending`, `running`, `completed`, `failed` or `cancelled`.
    pub status: String,
    pub created_at: String,
    pub started_at: String,
    pub completed_at: Option<String>,
    #[schema(value_type = Object)]
    pub variables: Value,
    /// `{status, outputs}` once ended, else null.
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    pub error: Option<String>,
    /// Steps done over steps, in percent.
    pub progress: Option<u64>,
}

/// `GET /v1/jobs/stats`.
#[derive(Serialize, ToSchema)]
pub struct JobStats {
    pub total: u64,
    pub pending: u64,
    pub running: u64,
    pub completed: u64,
    pub failed: u64,
    pub cancelled: u64,
}

/// A cleanup's answer.
#[derive(Serialize, ToSchema)]
pub struct CleanedUp {
    #[schema(example = "success")]
    pub status: String,
    pub deleted: u64,
}

/// `POST /v1/workflows/{workflow_name}/versions`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveVersion {
    /// The definition, YAML or JSON (its `id`, if given, must be the workflow's name).
    pub content: String,
    /// `major.minor.patch`.
    #[schema(example = "1.3.0")]
    pub version: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub author: Option<String>,
    /// Make it the version executions run (the first version of a name always is).
    #[serde(default)]
    pub activate: bool,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
}

#[derive(Serialize, ToSchema)]
pub struct VersionSaved {
    #[schema(example = "success")]
    pub status: String,
    pub workflow_name: String,
    /// The version saved, or the existing one with identical content.
    pub version: String,
    pub is_active: bool,
}

#[derive(Serialize, ToSchema)]
pub struct VersionView {
    pub id: u64,
    pub workflow_name: String,
    pub version: String,
    pub version_major: u64,
    pub version_minor: u64,
    pub version_patch: u64,
    pub content: String,
    /// SHA-256 of `content`, hex.
    pub content_hash: String,
    pub description: Option<String>,
    pub author: Option<String>,
    pub created_at: String,
    pub is_active: bool,
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
}

#[derive(Serialize, ToSchema)]
pub struct VersionComparison {
    pub workflow_name: String,
    pub from_version: String,
    pub to_version: String,
    pub has_changes: bool,
    pub added_lines: u64,
    pub removed_lines: u64,
    /// Top-level keys whose values differ.
    pub changed_sections: Vec<String>,
    pub unified_diff: String,
}

#[derive(Serialize, ToSchema)]
pub struct VersionActivated {
    #[schema(example = "success")]
    pub status: String,
    pub workflow_name: String,
    pub active_version: String,
}

#[derive(Serialize, ToSchema)]
pub struct RolledBack {
    #[schema(example = "success")]
    pub status: String,
    pub workflow_name: String,
    pub rolled_back_to: String,
}

#[derive(Serialize, ToSchema)]
pub struct VersionedWorkflow {
    pub workflow_name: String,
    pub latest_version: Option<String>,
    pub active_version: Option<String>,
    pub total_versions: u64,
}
