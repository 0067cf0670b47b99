//! [`StepState`] on the in-memory store: like every method there, atomic by holding the
//! one lock for the whole change.

use super::super::model::{Id, ProtocolRun, StepRun};
use super::super::status::StepStatus;
use super::super::step_state::{StepChange, StepState, StepUpdate};
use super::super::store::{RecordError, RecordResult, Transition};
use super::MemoryRecords;
use async_trait::async_trait;
use baton_protocol::clock::now_ms;
use serde_json::Value;

#[async_trait]
impl StepState for MemoryRecords {
    async fn update_step(&self, id: Id, update: StepUpdate) -> RecordResult<StepRun> {
        let mut g = self.inner.lock();
        let step = g
            .steps
            .get_mut(&id)
            .ok_or_else(|| RecordError::not_found("step run", id))?;
        update.apply_to(step);
        step.updated_at = now_ms();
        Ok(step.clone())
    }

    async fn change_steps(&self, changes: Vec<StepChange>) -> RecordResult<Transition<StepStatus>> {
        let mut g = self.inner.lock();
        let Some(guard) = changes.first() else {
            return Err(RecordError::not_found("step run", "(no change given)"));
        };
        let step = g
            .steps
            .get(&guard.id)
            .ok_or_else(|| RecordError::not_found("step run", guard.id))?;
        let from = step.status;
        if !guard.matches(step.status, &step.runtime_state, true) {
            return Ok(Transition::Conflict { current: from });
        }
        let now = now_ms();
        for change in &changes {
            let Some(step) = g.steps.get_mut(&change.id) else {
                continue;
            };
            if !change.matches(step.status, &step.runtime_state, false) {
                continue;
            }
            if let Some(to) = change.to {
                step.status = to;
            }
            change.update.apply_to(step);
            step.updated_at = now;
        }
        Ok(Transition::Applied { from })
    }

    async fn set_run_template(
        &self,
        run: Id,
        template_config: Value,
        template_source: Value,
    ) -> RecordResult<ProtocolRun> {
        let mut g = self.inner.lock();
        let record = g
            .runs
            .get_mut(&run)
            .ok_or_else(|| RecordError::not_found("protocol run", run))?;
        record.template_config = Some(template_config);
        record.template_source = Some(template_source);
        record.updated_at = now_ms();
        Ok(record.clone())
    }
}
