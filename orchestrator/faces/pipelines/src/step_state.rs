//! [`StepState`]: changes to a step beyond its status, a supertrait of
//! [`RecordStore`](super::RecordStore).
//!
//! - [`StepUpdate`]: the fields of a step the orchestrator keeps up to date — `summary`
//!   (a short line from the last exec/QA outcome), `runtime_state` (what CodeMachine loop
//!   and trigger policies remember: `loop_counts`, `inline_trigger_depth`,
//!   `last_decision`), `model`, `engine_id`, and a number added to `retries`.
//! - [`StepChange`]: one step's part of an atomic multi-step change: the statuses it must
//!   have, the status it gets, optionally the `runtime_state` it must still hold (a
//!   compare-and-set, so two orchestrators applying policies to one step never both
//!   count), and the fields to set.
//!
//! [`StepState::change_steps`] applies a list of changes as one atomic operation: the
//! first change is the *guard* (if its step does not match, nothing is written and the
//! answer is [`Transition::Conflict`]); each further change is applied only if its own
//! step matches (a loop policy resetting steps skips a cancelled one rather than failing).
//!
//! [`StepState::set_run_template`] records an imported CodeMachine template on its run
//! (the steps' source, kept with them).

use super::model::{Id, ProtocolRun, StepRun};
use super::status::StepStatus;
use super::store::{RecordResult, Transition};
use async_trait::async_trait;
use serde_json::Value;

/// Fields to set on a step; `None` keeps the stored value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepUpdate {
    pub summary: Option<String>,
    pub runtime_state: Option<Value>,
    pub model: Option<String>,
    pub engine_id: Option<String>,
    /// Added to `retries`.
    pub add_retries: u32,
}

impl StepUpdate {
    /// The JSON-encoded fields to set (as stored in a Redis record hash).
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let text = |s: &String| Value::String(s.clone()).to_string();
        if let Some(v) = &self.summary {
            out.push(("summary", text(v)));
        }
        if let Some(v) = &self.runtime_state {
            out.push(("runtime_state", v.to_string()));
        }
        if let Some(v) = &self.model {
            out.push(("model", text(v)));
        }
        if let Some(v) = &self.engine_id {
            out.push(("engine_id", text(v)));
        }
        out
    }

    /// Applies the update to a step record (the in-memory store's way).
    pub fn apply_to(&self, step: &mut StepRun) {
        if let Some(v) = &self.summary {
            step.summary = Some(v.clone());
        }
        if let Some(v) = &self.runtime_state {
            step.runtime_state = Some(v.clone());
        }
        if let Some(v) = &self.model {
            step.model = Some(v.clone());
        }
        if let Some(v) = &self.engine_id {
            step.engine_id = Some(v.clone());
        }
        step.retries = step.retries.saturating_add(self.add_retries);
    }
}

/// One step's part of [`StepState::change_steps`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepChange {
    pub id: Id,
    /// The statuses the step must have; empty means any.
    pub allowed_from: Vec<StepStatus>,
    /// The new status; `None` keeps it.
    pub to: Option<StepStatus>,
    /// `Some(expected)`: the step's `runtime_state` must still be `expected` (`None` =
    /// never set). Checked for the guard only.
    pub expect_runtime_state: Option<Option<Value>>,
    pub update: StepUpdate,
}

impl StepChange {
    /// Whether a step with `status` and `runtime_state` matches (the state is compared
    /// only when `check_state`).
    pub fn matches(&self, status: StepStatus, state: &Option<Value>, check_state: bool) -> bool {
        let status_ok = self.allowed_from.is_empty() || self.allowed_from.contains(&status);
        let state_ok = !check_state
            || self
                .expect_runtime_state
                .as_ref()
                .is_none_or(|want| want == state);
        status_ok && state_ok
    }
}

#[async_trait]
pub trait StepState: Send + Sync {
    /// Sets the fields of `update` on the step (whatever its status); the step after.
    async fn update_step(&self, id: Id, update: StepUpdate) -> RecordResult<StepRun>;

    /// Applies `changes` atomically. The first is the guard: `NotFound` if its step does
    /// not exist, [`Transition::Conflict`] (nothing written) if it does not match; else
    /// it and every further change whose step matches are applied, and the answer is
    /// [`Transition::Applied`] with the guard's previous status.
    async fn change_steps(&self, changes: Vec<StepChange>) -> RecordResult<Transition<StepStatus>>;

    /// Sets the run's `template_config` and `template_source` (a CodeMachine import).
    async fn set_run_template(
        &self,
        run: Id,
        template_config: Value,
        template_source: Value,
    ) -> RecordResult<ProtocolRun>;
}
