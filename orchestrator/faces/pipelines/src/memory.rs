//! The in-memory [`RecordStore`]: every record in ordered maps behind one mutex, so each
//! method is atomic simply by holding the lock for its whole body (nothing awaits inside).
//!
//! - `projects`, `secrets`, `runs`, `steps`, `events`: id → record;
//! - `step_index`: (run id, step index) → step id, which makes the index unique per run
//!   and lists a run's steps in index order;
//! - `clarifications`: (scope, key) → record, listed in key order per scope;
//! - runs, their artifacts and the queue index: in [`runs`], under a mutex of their own.

use super::model::*;
use super::status::CANCELLABLE_STEP;
use super::status::{ProtocolStatus, StatusName, StepStatus, CANCELLABLE_PROTOCOL};
use super::store::*;
use async_trait::async_trait;
use baton_protocol::clock::now_ms;
use parking_lot::Mutex;
use serde_json::Value;
use std::collections::BTreeMap;

mod runs;
mod step_state;

#[derive(Default)]
struct Inner {
    /// Last id given, per kind (`project`, `run`, `step`, `event`), as the Redis store
    /// keeps them: each kind counts from 1, like the seed's tables.
    last_ids: BTreeMap<&'static str, u64>,
    projects: BTreeMap<Id, Project>,
    secrets: BTreeMap<Id, ProjectSecrets>,
    runs: BTreeMap<Id, ProtocolRun>,
    steps: BTreeMap<Id, StepRun>,
    step_index: BTreeMap<(Id, u32), Id>,
    events: BTreeMap<Id, Event>,
    clarifications: BTreeMap<(ClarificationScope, String), Clarification>,
}

impl Inner {
    fn next_id(&mut self, kind: &'static str) -> Id {
        let last = self.last_ids.entry(kind).or_insert(0);
        *last += 1;
        *last
    }

    fn scope_exists(&self, scope: ClarificationScope) -> RecordResult<()> {
        let found = match scope {
            ClarificationScope::Project(id) => self.projects.contains_key(&id),
            ClarificationScope::ProtocolRun(id) => self.runs.contains_key(&id),
        };
        if found {
            Ok(())
        } else {
            Err(scope_not_found(scope))
        }
    }
}

pub(crate) fn scope_not_found(scope: ClarificationScope) -> RecordError {
    match scope {
        ClarificationScope::Project(id) => RecordError::not_found("project", id),
        ClarificationScope::ProtocolRun(id) => RecordError::not_found("protocol run", id),
    }
}

/// Applies a status compare-and-set to `status`.
fn cas<S: StatusName + PartialEq>(status: &mut S, allowed_from: &[S], to: S) -> Transition<S> {
    let current = *status;
    if allowed_from.contains(&current) {
        *status = to;
        Transition::Applied { from: current }
    } else {
        Transition::Conflict { current }
    }
}

#[derive(Default)]
pub struct MemoryRecords {
    inner: Mutex<Inner>,
    /// Runs, artifacts and the queue index ([`runs`]).
    exec: Mutex<runs::Executions>,
}

impl MemoryRecords {
    pub fn new() -> MemoryRecords {
        MemoryRecords::default()
    }
}

#[async_trait]
impl RecordStore for MemoryRecords {
    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn create_project(&self, new: NewProject) -> RecordResult<Project> {
        let mut g = self.inner.lock();
        let id = g.next_id("project");
        let (project, secrets) = new.into_record(id, now_ms());
        g.projects.insert(id, project.clone());
        g.secrets.insert(id, secrets);
        Ok(project)
    }

    async fn get_project(&self, id: Id) -> RecordResult<Project> {
        let g = self.inner.lock();
        g.projects
            .get(&id)
            .cloned()
            .ok_or_else(|| RecordError::not_found("project", id))
    }

    async fn list_projects(&self) -> RecordResult<Vec<Project>> {
        Ok(self.inner.lock().projects.values().cloned().collect())
    }

    async fn project_secrets(&self, id: Id) -> RecordResult<ProjectSecrets> {
        let g = self.inner.lock();
        if !g.projects.contains_key(&id) {
            return Err(RecordError::not_found("project", id));
        }
        Ok(g.secrets.get(&id).cloned().unwrap_or_default())
    }

    async fn update_project(&self, id: Id, u: ProjectUpdate) -> RecordResult<Project> {
        let mut g = self.inner.lock();
        let p = g
            .projects
            .get_mut(&id)
            .ok_or_else(|| RecordError::not_found("project", id))?;
        if let Some(v) = u.name {
            p.name = v;
        }
        if let Some(v) = u.git_url {
            p.git_url = v;
        }
        if let Some(v) = u.base_branch {
            p.base_branch = v;
        }
        p.local_path = u.local_path.or(p.local_path.take());
        p.ci_provider = u.ci_provider.or(p.ci_provider);
        p.project_classification = u.project_classification.or(p.project_classification.take());
        p.default_models = u.default_models.or(p.default_models.take());
        p.updated_at = now_ms();
        let project = p.clone();
        if let Some(secrets) = u.secrets {
            g.secrets.insert(id, secrets);
        }
        Ok(project)
    }

    async fn create_protocol_run(&self, new: NewProtocolRun) -> RecordResult<ProtocolRun> {
        let mut g = self.inner.lock();
        if !g.projects.contains_key(&new.project_id) {
            return Err(RecordError::not_found("project", new.project_id));
        }
        let id = g.next_id("run");
        let run = new.into_record(id, now_ms());
        g.runs.insert(id, run.clone());
        Ok(run)
    }

    async fn get_protocol_run(&self, id: Id) -> RecordResult<ProtocolRun> {
        let g = self.inner.lock();
        g.runs
            .get(&id)
            .cloned()
            .ok_or_else(|| RecordError::not_found("protocol run", id))
    }

    async fn list_protocol_runs(&self, project_id: Id) -> RecordResult<Vec<ProtocolRun>> {
        let g = self.inner.lock();
        Ok(g.runs
            .values()
            .filter(|r| r.project_id == project_id)
            .cloned()
            .collect())
    }

    async fn create_step_run(&self, new: NewStepRun) -> RecordResult<StepRun> {
        let mut g = self.inner.lock();
        let run_id = new.protocol_run_id;
        if !g.runs.contains_key(&run_id) {
            return Err(RecordError::not_found("protocol run", run_id));
        }
        if let Some(&existing) = g.step_index.get(&(run_id, new.step_index)) {
            return Err(RecordError::DuplicateStepIndex {
                protocol_run_id: run_id,
                step_index: new.step_index,
                existing,
            });
        }
        let id = g.next_id("step");
        let step = new.into_record(id, now_ms());
        g.step_index.insert((run_id, step.step_index), id);
        g.steps.insert(id, step.clone());
        Ok(step)
    }

    async fn get_step_run(&self, id: Id) -> RecordResult<StepRun> {
        let g = self.inner.lock();
        g.steps
            .get(&id)
            .cloned()
            .ok_or_else(|| RecordError::not_found("step run", id))
    }

    async fn list_step_runs(&self, protocol_run_id: Id) -> RecordResult<Vec<StepRun>> {
        let g = self.inner.lock();
        Ok(g.step_index
            .range((protocol_run_id, 0)..=(protocol_run_id, u32::MAX))
            .filter_map(|(_, id)| g.steps.get(id).cloned())
            .collect())
    }

    async fn transition_protocol(
        &self,
        id: Id,
        allowed_from: &[ProtocolStatus],
        to: ProtocolStatus,
    ) -> RecordResult<Transition<ProtocolStatus>> {
        let mut g = self.inner.lock();
        let run = g
            .runs
            .get_mut(&id)
            .ok_or_else(|| RecordError::not_found("protocol run", id))?;
        let outcome = cas(&mut run.status, allowed_from, to);
        if outcome.applied() {
            run.updated_at = now_ms();
        }
        Ok(outcome)
    }

    async fn transition_step(
        &self,
        id: Id,
        allowed_from: &[StepStatus],
        to: StepStatus,
    ) -> RecordResult<Transition<StepStatus>> {
        let mut g = self.inner.lock();
        let step = g
            .steps
            .get_mut(&id)
            .ok_or_else(|| RecordError::not_found("step run", id))?;
        let outcome = cas(&mut step.status, allowed_from, to);
        if outcome.applied() {
            step.updated_at = now_ms();
        }
        Ok(outcome)
    }

    async fn cancel_protocol(&self, id: Id) -> RecordResult<CancelOutcome> {
        let mut g = self.inner.lock();
        let now = now_ms();
        let run = g
            .runs
            .get_mut(&id)
            .ok_or_else(|| RecordError::not_found("protocol run", id))?;
        let from = match cas(
            &mut run.status,
            CANCELLABLE_PROTOCOL,
            ProtocolStatus::Cancelled,
        ) {
            Transition::Applied { from } => from,
            Transition::Conflict { current } => return Ok(CancelOutcome::Conflict { current }),
        };
        run.updated_at = now;
        let ids: Vec<Id> = g
            .step_index
            .range((id, 0)..=(id, u32::MAX))
            .map(|(_, step)| *step)
            .collect();
        let mut steps = Vec::new();
        for step_id in ids {
            if let Some(step) = g.steps.get_mut(&step_id) {
                if CANCELLABLE_STEP.contains(&step.status) {
                    step.status = StepStatus::Cancelled;
                    step.updated_at = now;
                    steps.push(step_id);
                }
            }
        }
        Ok(CancelOutcome::Cancelled { from, steps })
    }

    async fn append_event(&self, new: NewEvent) -> RecordResult<Event> {
        let mut g = self.inner.lock();
        let project_id = g
            .runs
            .get(&new.protocol_run_id)
            .map(|r| r.project_id)
            .ok_or_else(|| RecordError::not_found("protocol run", new.protocol_run_id))?;
        let id = g.next_id("event");
        let event = new.into_record(id, project_id, now_ms());
        g.events.insert(id, event.clone());
        Ok(event)
    }

    async fn list_events(&self, protocol_run_id: Id, limit: usize) -> RecordResult<Vec<Event>> {
        let g = self.inner.lock();
        Ok(g.events
            .values()
            .rev()
            .filter(|e| e.protocol_run_id == protocol_run_id)
            .take(clamp_limit(limit))
            .cloned()
            .collect())
    }

    async fn recent_events(
        &self,
        project_id: Option<Id>,
        limit: usize,
    ) -> RecordResult<Vec<Event>> {
        let g = self.inner.lock();
        Ok(g.events
            .values()
            .rev()
            .filter(|e| project_id.is_none_or(|p| e.project_id == p))
            .take(clamp_limit(limit))
            .cloned()
            .collect())
    }

    async fn upsert_clarification(
        &self,
        scope: ClarificationScope,
        new: NewClarification,
    ) -> RecordResult<Clarification> {
        let mut g = self.inner.lock();
        g.scope_exists(scope)?;
        let now = now_ms();
        let record = g
            .clarifications
            .entry((scope, new.key.clone()))
            .or_insert_with(|| Clarification {
                scope,
                key: new.key.clone(),
                question: String::new(),
                recommended: None,
                options: None,
                applies_to: new.applies_to,
                blocking: false,
                answer: None,
                status: ClarificationStatus::Open,
                answered_at: None,
                answered_by: None,
                created_at: now,
                updated_at: now,
            });
        record.question = new.question;
        record.recommended = new.recommended;
        record.options = new.options;
        record.applies_to = new.applies_to;
        record.blocking = new.blocking;
        record.updated_at = now;
        Ok(record.clone())
    }

    async fn list_clarifications(
        &self,
        scope: ClarificationScope,
    ) -> RecordResult<Vec<Clarification>> {
        let g = self.inner.lock();
        Ok(g.clarifications
            .range((scope, String::new())..)
            .take_while(|((s, _), _)| *s == scope)
            .map(|(_, c)| c.clone())
            .collect())
    }

    async fn answer_clarification(
        &self,
        scope: ClarificationScope,
        key: &str,
        answer: Value,
        answered_by: Option<String>,
    ) -> RecordResult<Clarification> {
        let mut g = self.inner.lock();
        let record = g
            .clarifications
            .get_mut(&(scope, key.to_string()))
            .ok_or_else(|| RecordError::not_found("clarification", key))?;
        let now = now_ms();
        record.answer = Some(answer);
        record.status = ClarificationStatus::Answered;
        record.answered_at = Some(now);
        record.answered_by = answered_by;
        record.updated_at = now;
        Ok(record.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::super::conformance::CASES;
    use super::*;
    use std::sync::Arc;

    /// The whole conformance suite on memory, so `cargo test --lib` covers it too.
    #[tokio::test]
    async fn conformance_suite() {
        for (name, case) in CASES {
            tracing::debug!(case = name, "pipeline record conformance");
            case(Arc::new(MemoryRecords::new())).await;
        }
    }
}
