//! Bodies of the onboarding and branch routes ([`super::onboarding`],
//! [`super::branches`]), for the OpenAPI document; kept apart from [`super::schemas`].

use super::schemas::EventView;
use crate::onboarding::StageStatus;
use crate::policy::QaPolicy;
use crate::ProtocolStatus;
use serde::{Deserialize, Serialize};
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
    #[schema(value_type = String)]
    pub status: StageStatus,
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
    #[schema(value_type = String)]
    pub status: ProtocolStatus,
    /// The repository checkout the setup resolved.
    pub workspace_path: Option<String>,
    /// What to do next when something is needed (a queued job no worker takes, open
    /// blocking questions, a failure, skipped discovery); else null.
    pub hint: Option<String>,
    /// The setup run's newest event (as in `events`), or null.
    pub last_event: Option<EventView>,
    pub stages: Vec<StageView>,
    /// The setup run's recent events, newest first.
    pub events: Vec<EventView>,
    /// The latest `project_setup` job, or null before the first.
    pub job: Option<SetupJob>,
    /// The policy pack of the project's classification.
    pub policy: PolicyView,
}

/// The latest `project_setup` job of a project.
#[derive(Serialize, ToSchema)]
pub struct SetupJob {
    pub job_id: String,
    /// Always `project_setup_job`.
    pub job_type: String,
    /// Its Baton status (`pending`, `running`, `finished`, ...); null once the job is
    /// gone from the store.
    pub status: Option<String>,
}

/// A policy pack.
#[derive(Serialize, ToSchema)]
pub struct PolicyView {
    pub name: String,
    /// `full`, `light` or `skip`.
    #[schema(value_type = String)]
    pub qa_policy: QaPolicy,
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
