//! Bodies of the pipelines API. The request bodies are the types the handlers
//! deserialize; the answers are the types the handlers send (records are rendered into
//! them by [`super::views`]), and the OpenAPI document is generated from both.

use crate::{AppliesTo, CiProvider, ClarificationStatus, DefaultModels};
use crate::{ProtocolStatus, StepStatus, StepType};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

fn main_branch() -> String {
    "main".into()
}

/// `POST /projects`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateProject {
    pub name: String,
    pub git_url: String,
    #[serde(default = "main_branch")]
    #[schema(default = "main")]
    pub base_branch: String,
    /// `github` or `gitlab`.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "github")]
    pub ci_provider: Option<crate::CiProvider>,
    #[serde(default)]
    pub project_classification: Option<String>,
    /// Models per phase: `planning`, `decompose`, `exec`, `qa`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub default_models: Option<crate::DefaultModels>,
    /// Write-only: never answered. `api_token` here makes `X-Project-Token` required on
    /// the project's routes.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub secrets: Option<Map<String, Value>>,
    #[serde(default)]
    pub local_path: Option<String>,
}

/// `POST /projects/{id}/protocols`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateProtocol {
    /// Also the branch name, e.g. `0001-demo`.
    pub protocol_name: String,
    /// The status to start in (default `pending`).
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "pending")]
    pub status: Option<crate::ProtocolStatus>,
    /// Default: the project's base branch.
    #[serde(default)]
    pub base_branch: Option<String>,
    #[serde(default)]
    pub worktree_path: Option<String>,
    #[serde(default)]
    pub protocol_root: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub template_config: Option<Value>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub template_source: Option<Value>,
}

/// `POST /protocols/{id}/steps`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateStep {
    pub step_index: u32,
    /// E.g. `01-build.md`.
    pub step_name: String,
    /// `setup`, `work` (default) or `qa`.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "work")]
    pub step_type: Option<crate::StepType>,
    /// The status to start in (default `pending`).
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "pending")]
    pub status: Option<crate::StepStatus>,
    #[serde(default)]
    pub model: Option<String>,
    /// Accepted for compatibility; not stored yet.
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub engine_id: Option<String>,
    /// An object or a list of objects (loop/trigger policies).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub policy: Option<Value>,
}

/// `POST /projects/{id}/clarifications/{key}` and the protocol one.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AnswerClarification {
    /// Any JSON value.
    #[schema(value_type = Object)]
    pub answer: Value,
    #[serde(default)]
    pub answered_by: Option<String>,
}

/// A project (never with its secrets).
#[derive(Serialize, ToSchema)]
pub struct ProjectView {
    pub id: u64,
    pub name: String,
    pub git_url: String,
    pub local_path: Option<String>,
    pub base_branch: String,
    /// `github` or `gitlab`.
    #[schema(value_type = Option<String>)]
    pub ci_provider: Option<CiProvider>,
    pub project_classification: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub default_models: Option<DefaultModels>,
    /// RFC 3339.
    pub created_at: String,
    pub updated_at: String,
}

/// A protocol run.
#[derive(Serialize, ToSchema)]
pub struct ProtocolRunView {
    pub id: u64,
    pub project_id: u64,
    pub protocol_name: String,
    /// `pending`, `planning`, `planned`, `running`, `paused`, `blocked`, `failed`,
    /// `cancelled` or `completed`.
    #[schema(value_type = String)]
    pub status: ProtocolStatus,
    pub base_branch: String,
    pub worktree_path: Option<String>,
    pub protocol_root: Option<String>,
    pub description: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub template_config: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub template_source: Option<Value>,
    /// First 12 hex of the SHA-256 of `template_config.protocol_spec` (sorted keys).
    pub spec_hash: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A step run.
#[derive(Serialize, ToSchema)]
pub struct StepRunView {
    pub id: u64,
    pub protocol_run_id: u64,
    pub step_index: u32,
    pub step_name: String,
    #[schema(value_type = String)]
    pub step_type: StepType,
    /// `pending`, `running`, `needs_qa`, `completed`, `failed`, `cancelled` or `blocked`.
    #[schema(value_type = String)]
    pub status: StepStatus,
    pub retries: u32,
    pub model: Option<String>,
    pub engine_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub policy: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub runtime_state: Option<Value>,
    pub summary: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// An event. `protocol_name` and `project_name` are filled by `GET /events`.
#[derive(Serialize, ToSchema)]
pub struct EventView {
    pub id: u64,
    pub protocol_run_id: u64,
    pub project_id: u64,
    pub step_run_id: Option<u64>,
    /// E.g. `planning_enqueued`, `manual_approval`, `protocol_completed`.
    pub event_type: String,
    pub message: String,
    /// Holds `request_id` (the request that caused the event), and for actions `job_id`,
    /// `from` (the status before) and `baton_event` (Baton's older name of the event).
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_name: Option<String>,
}

/// A clarification, of a project (`project_id`) or a run (`protocol_run_id`).
#[derive(Serialize, ToSchema)]
pub struct ClarificationView {
    pub key: String,
    pub question: String,
    #[schema(value_type = Option<Object>)]
    pub recommended: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub options: Option<Value>,
    /// `onboarding`, `planning`, `execution` or `qa`.
    #[schema(value_type = String)]
    pub applies_to: AppliesTo,
    pub blocking: bool,
    #[schema(value_type = Option<Object>)]
    pub answer: Option<Value>,
    /// `open` or `answered`.
    #[schema(value_type = String)]
    pub status: ClarificationStatus,
    pub answered_at: Option<String>,
    pub answered_by: Option<String>,
    /// One of `project_id` and `protocol_run_id` is present: the clarification's scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_run_id: Option<u64>,
    pub created_at: String,
    pub updated_at: String,
}

/// What an action answers: a message and the Baton job it enqueued, or `null`.
#[derive(Serialize, ToSchema)]
pub struct ActionAnswer {
    pub message: String,
    pub job: Option<JobRef>,
}

/// The Baton job an action just enqueued, under its client-facing job type.
#[derive(Serialize, ToSchema)]
pub struct JobRef {
    pub job_id: String,
    /// `plan_protocol_job`, `execute_step_job`, `run_quality_job`, `open_pr_job`,
    /// `project_setup_job` or `codemachine_import_job`.
    pub job_type: String,
    /// Always `queued`: the answer comes as the job is enqueued.
    pub status: String,
    /// Always `default`: pipeline workers pull every pipeline job from one pool.
    pub queue: String,
}

/// A CI webhook's answer: what the signal changed in the run, if anything.
#[derive(Serialize, ToSchema)]
pub struct WebhookAnswer {
    /// Always `Webhook recorded`.
    pub message: String,
    /// Always null: a CI signal enqueues no job.
    #[schema(value_type = Option<Object>)]
    pub job: Option<JobRef>,
    /// What the signal did to the run, e.g. `ci_passed` or `none`.
    pub change: String,
}

/// A protocol action's answer when the action only changes the run (`pause`, `resume`,
/// `cancel`): `message`, `job: null` and the run's fields as it now is. The actions that
/// enqueue a job answer an [`ActionAnswer`].
#[derive(Serialize, ToSchema)]
pub struct RunActionAnswer {
    pub message: String,
    /// Always null here.
    #[schema(value_type = Option<Object>)]
    pub job: Option<JobRef>,
    #[serde(flatten)]
    pub run: ProtocolRunView,
}

/// A step action's answer when the action only changes the step (`approve`): `message`,
/// `job: null` and the step's fields as it now is. `run` and `run_qa` answer an
/// [`ActionAnswer`] naming the job they enqueued.
#[derive(Serialize, ToSchema)]
pub struct StepActionAnswer {
    pub message: String,
    /// Always null here.
    #[schema(value_type = Option<Object>)]
    pub job: Option<JobRef>,
    #[serde(flatten)]
    pub step: StepRunView,
}

/// `GET /health`.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` when the store does not answer.
    #[schema(example = "ok")]
    pub status: String,
    /// When this answer was made (RFC 3339).
    pub timestamp: String,
}
