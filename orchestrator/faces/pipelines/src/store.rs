//! The [`RecordStore`] trait: what the pipelines keep and how it may change.
//!
//! Reads return [`RecordError::NotFound`] for a missing id. Status changes go through
//! [`RecordStore::transition_protocol`] / [`RecordStore::transition_step`], a
//! compare-and-set against the statuses an action allows (see [`super::status`]): the
//! answer is [`Transition::Applied`] or [`Transition::Conflict`] with the status found,
//! so two orchestrators racing on one record never both win. [`RecordStore::cancel_protocol`]
//! cancels a run and its unfinished steps in one atomic operation.

use super::model::*;
use super::status::{ProtocolAction, ProtocolStatus, StepAction, StepStatus};
use async_trait::async_trait;
use baton_store::StoreError;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("{kind} {id} not found")]
    NotFound { kind: &'static str, id: String },
    #[error("protocol run {protocol_run_id} already has step {step_index} (step run {existing})")]
    DuplicateStepIndex {
        protocol_run_id: Id,
        step_index: u32,
        existing: Id,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl RecordError {
    pub fn not_found(kind: &'static str, id: impl ToString) -> RecordError {
        RecordError::NotFound {
            kind,
            id: id.to_string(),
        }
    }
}

pub type RecordResult<T> = Result<T, RecordError>;

/// Outcome of a compare-and-set on a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition<S> {
    /// Changed; `from` is the status it had.
    Applied { from: S },
    /// Nothing written: the record has `current`, which the caller did not allow.
    Conflict { current: S },
}

impl<S> Transition<S> {
    pub fn applied(&self) -> bool {
        matches!(self, Transition::Applied { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    /// The run is cancelled, and so are these steps (its pending/running/needs_qa ones).
    Cancelled {
        from: ProtocolStatus,
        steps: Vec<Id>,
    },
    /// The run was already completed, failed or cancelled: nothing changed.
    Conflict { current: ProtocolStatus },
}

/// Most events one listing returns.
pub const MAX_EVENTS: usize = 500;

/// `limit` clamped to 1..=[`MAX_EVENTS`].
pub fn clamp_limit(limit: usize) -> usize {
    limit.clamp(1, MAX_EVENTS)
}

#[async_trait]
pub trait RecordStore:
    super::step_state::StepState + super::runs::RunStore + Send + Sync + 'static
{
    /// `"memory"` or `"redis"`.
    fn kind(&self) -> &'static str;

    async fn create_project(&self, new: NewProject) -> RecordResult<Project>;
    async fn get_project(&self, id: Id) -> RecordResult<Project>;
    /// Every project, by id.
    async fn list_projects(&self) -> RecordResult<Vec<Project>>;
    /// The project's secrets (empty if none were given); the only way to read them.
    async fn project_secrets(&self, id: Id) -> RecordResult<ProjectSecrets>;
    async fn update_project(&self, id: Id, update: ProjectUpdate) -> RecordResult<Project>;

    /// A new run in status `pending`; `NotFound` if the project does not exist.
    async fn create_protocol_run(&self, new: NewProtocolRun) -> RecordResult<ProtocolRun>;
    async fn get_protocol_run(&self, id: Id) -> RecordResult<ProtocolRun>;
    /// The project's runs, by id.
    async fn list_protocol_runs(&self, project_id: Id) -> RecordResult<Vec<ProtocolRun>>;

    /// A new step in status `pending`; `DuplicateStepIndex` if the run already has one at
    /// that index, `NotFound` if the run does not exist.
    async fn create_step_run(&self, new: NewStepRun) -> RecordResult<StepRun>;
    async fn get_step_run(&self, id: Id) -> RecordResult<StepRun>;
    /// The run's steps, by `step_index`.
    async fn list_step_runs(&self, protocol_run_id: Id) -> RecordResult<Vec<StepRun>>;

    /// Sets the run's status to `to` if it currently is one of `allowed_from`.
    async fn transition_protocol(
        &self,
        id: Id,
        allowed_from: &[ProtocolStatus],
        to: ProtocolStatus,
    ) -> RecordResult<Transition<ProtocolStatus>>;
    /// Sets the step's status to `to` if it currently is one of `allowed_from`.
    async fn transition_step(
        &self,
        id: Id,
        allowed_from: &[StepStatus],
        to: StepStatus,
    ) -> RecordResult<Transition<StepStatus>>;
    /// Cancels a non-terminal run and its pending/running/needs_qa steps, atomically.
    async fn cancel_protocol(&self, id: Id) -> RecordResult<CancelOutcome>;

    /// Appends an event (`NotFound` if the run does not exist).
    async fn append_event(&self, new: NewEvent) -> RecordResult<Event>;
    /// The run's events, newest first, at most `limit` (clamped to 1..=500).
    async fn list_events(&self, protocol_run_id: Id, limit: usize) -> RecordResult<Vec<Event>>;
    /// Events of every project (or of `project_id`), newest first, `limit` clamped.
    async fn recent_events(&self, project_id: Option<Id>, limit: usize)
        -> RecordResult<Vec<Event>>;

    /// Creates or re-asks a clarification; an answer already given is kept.
    /// `NotFound` if the scope's project or run does not exist.
    async fn upsert_clarification(
        &self,
        scope: ClarificationScope,
        new: NewClarification,
    ) -> RecordResult<Clarification>;
    /// The scope's clarifications, by key.
    async fn list_clarifications(
        &self,
        scope: ClarificationScope,
    ) -> RecordResult<Vec<Clarification>>;
    /// Records an answer (status `answered`); `NotFound` for an unknown key.
    async fn answer_clarification(
        &self,
        scope: ClarificationScope,
        key: &str,
        answer: Value,
        answered_by: Option<String>,
    ) -> RecordResult<Clarification>;

    /// [`transition_protocol`](Self::transition_protocol) per the action's table row.
    async fn protocol_action(
        &self,
        id: Id,
        action: ProtocolAction,
    ) -> RecordResult<Transition<ProtocolStatus>> {
        self.transition_protocol(id, action.allowed_from(), action.to())
            .await
    }

    /// [`transition_step`](Self::transition_step) per the action's table row.
    async fn step_action(
        &self,
        id: Id,
        action: StepAction,
    ) -> RecordResult<Transition<StepStatus>> {
        self.transition_step(id, action.allowed_from(), action.to())
            .await
    }
}
