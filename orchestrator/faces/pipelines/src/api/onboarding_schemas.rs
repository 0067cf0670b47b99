//! Bodies of the onboarding and branch routes ([`super::onboarding`],
//! [`super::branches`]), for the OpenAPI document; kept apart from [`super::schemas`].

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// `POST /projects/{id}/onboarding/actions/start` (the body is optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct StartOnboarding {
    /// Run the setup in the orchestrator (no worker, no discovery) and answer when done;
    /// default false: enqueue a `project_setup` job.
    #[serde(default)]
    pub inline: bool,
}

/// One setup stage.
#[derive(Serialize, ToSchema)]
pub struct StageView {
    /// `resolve`, `discovery`, `assets`, `git` or `clarifications`.
    pub name: String,
    /// The same as `name` (upstream's clients key stages by it).
    pub key: String,
    /// `pending`, `running`, `skipped`, `warning`, `blocked`, `completed` or `failed`.
    pub status: String,
    pub message: Option<String>,
    /// The event that set the stage (`setup_cloned`, `setup_completed`, ...), and when
    /// (RFC 3339); null while no event has.
    pub event_type: Option<String>,
    pub created_at: Option<String>,
}

/// `GET /projects/{id}/onboarding`.
#[derive(Serialize, ToSchema)]
pub struct OnboardingSummary {
    pub project_id: u64,
    /// The setup run `setup-{project_id}`.
    pub protocol_run_id: Option<u64>,
    /// The setup run's status: `pending`, `running`, `completed`, `blocked` or `failed`.
    pub status: String,
    /// The repository checkout the setup resolved.
    pub workspace_path: Option<String>,
    /// What to do next when something is needed (a queued job no worker takes, open
    /// blocking questions, a failure, skipped discovery); else null.
    pub hint: Option<String>,
    /// The setup run's newest event (as in `events`), or null.
    #[schema(value_type = Option<Object>)]
    pub last_event: Option<Value>,
    pub stages: Vec<StageView>,
    /// The setup run's recent events, newest first.
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<Value>,
    /// The latest `project_setup` job: `{job_id, job_type, status}`.
    #[schema(value_type = Option<Object>)]
    pub job: Option<Value>,
    /// The policy pack of the project's classification: `{name, qa_policy}`
    /// (`qa_policy`: `full`, `light` or `skip`).
    #[schema(value_type = Object)]
    pub policy: Value,
}

/// `GET /projects/{id}/branches`.
#[derive(Serialize, ToSchema)]
pub struct BranchList {
    /// Branches of `origin`, sorted.
    pub branches: Vec<String>,
}

/// `POST /projects/{id}/branches/{branch}/delete`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DeleteBranch {
    /// Must be `true`.
    #[serde(default)]
    pub confirm: bool,
}
