//! Blueprints: declarative state machines, one YAML file each.
//!
//! A [`Blueprint`] has a name, the client endpoint that starts it (`version` +
//! `endpoint`, e.g. `POST /api/v1/jobs/echo`) and named states. Exactly one state is the
//! start state. Every state has `transitions`: outcome key → next state. The kinds:
//!
//! - **dispatch**: hands one task (`task` = skill name, `params` templated from the job
//!   context) to a worker and follows `transitions[<result status>]` when the result
//!   comes back (`success`, `failure`, `cancelled` or a custom status). `on_event` maps a
//!   worker event type to a state (kept in `transitions` as `event:<type>`);
//! - **approval**: waits for a person (`waiting_for_human`); the transition keys are the
//!   decisions, plus `timeout` when the state has one;
//! - **branch**: picks the next state from [`condition::Condition`]s over the context,
//!   first match wins (kept in `transitions` as `when 1`, `when 2`, ... and `default`);
//! - **parallel**: dispatches a fixed list of tasks, or one task per item of a list, and
//!   follows `success` when all are done (`failure` when one fails under `fail_fast`);
//! - **sub_job**: runs another blueprint as a child job, then follows `success` or
//!   `failure`;
//! - **end**: finishes the job as `finished` or `failed`, with a `result` templated from
//!   the context (default: the `data` of the last result).
//!
//! [`load`] reads a directory of blueprints and validates them (one start state, no
//! transition to a missing state, no unreachable state); [`Registry`] looks them up by
//! name or by endpoint and checks that sub-jobs name loaded blueprints.

pub mod condition;
mod kinds;
pub(crate) mod load;
pub mod template;
mod yaml;

pub use condition::Condition;
pub use load::{load_dir, load_str, BlueprintError};
/// YAML text as JSON (what other YAML documents of the product, such as workflows, read through).
pub use yaml::to_json as yaml_to_json;

use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// A validated blueprint.
#[derive(Debug, Clone)]
pub struct Blueprint {
    pub name: String,
    pub version: String,
    /// Path after `/api/{version}`, always starting with `/`.
    pub endpoint: String,
    pub description: Option<String>,
    pub start: String,
    pub states: BTreeMap<String, State>,
    /// States a job may enter before it is failed as cycling (the loop guard).
    pub max_transitions: u32,
    /// The definition as loaded, for `GET /api/v1/blueprints/{name}`.
    pub definition: Value,
    /// File it came from.
    pub source: String,
}

#[derive(Debug, Clone)]
pub struct State {
    pub name: String,
    pub kind: StateKind,
    /// Result status (or other outcome key) → next state.
    pub transitions: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub enum StateKind {
    Dispatch(DispatchState),
    Approval(ApprovalState),
    Branch(BranchState),
    Parallel(ParallelState),
    SubJob(SubJobState),
    End(EndState),
}

impl StateKind {
    pub fn name(&self) -> &'static str {
        match self {
            StateKind::Dispatch(_) => "dispatch",
            StateKind::Approval(_) => "approval",
            StateKind::Branch(_) => "branch",
            StateKind::Parallel(_) => "parallel",
            StateKind::SubJob(_) => "sub_job",
            StateKind::End(_) => "end",
        }
    }
}

/// Transition key of a worker event of type `event_type`.
pub fn event_key(event_type: &str) -> String {
    format!("event:{event_type}")
}

/// Transition key taken when an approval times out.
pub const TIMEOUT: &str = "timeout";

#[derive(Debug, Clone)]
pub struct ApprovalState {
    /// Shown to the approver; templated from the context.
    pub message: Value,
    /// The decisions a person may take (the state's transition keys but `timeout`).
    pub decisions: Vec<String>,
    pub timeout: Option<Duration>,
}

#[derive(Debug, Clone)]
pub struct BranchState {
    /// `(condition, next state)`, tried in order.
    pub cases: Vec<(Condition, String)>,
    pub default: String,
}

/// What a parallel state does when a branch fails for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// Stop the other branches and follow `failure` (or fail the job).
    FailFast,
    /// Let the others finish; the failures are in the aggregate's `errors`.
    Collect,
}

#[derive(Debug, Clone)]
pub enum Branches {
    /// Named tasks, each with its own definition.
    Fixed(Vec<(String, DispatchState)>),
    /// One task per item of the list at `items` (a context path); `item` and `branch`
    /// (`index`, `key`) are in the template context of its params.
    Map { items: String, task: DispatchState },
}

#[derive(Debug, Clone)]
pub struct ParallelState {
    pub branches: Branches,
    /// Most branch tasks out at once (`None`: all).
    pub max_concurrency: Option<usize>,
    pub on_failure: OnFailure,
}

#[derive(Debug, Clone)]
pub struct SubJobState {
    /// Name of the child's blueprint.
    pub blueprint: String,
    /// The child's `initial_data`, templated from the parent's context.
    pub initial_data: Value,
}

#[derive(Debug, Clone)]
pub struct DispatchState {
    /// Skill name; the task's `type`.
    pub task: String,
    /// Params template rendered against the job context.
    pub params: Value,
    pub priority: f64,
    pub dispatch_timeout: Option<Duration>,
    pub result_timeout: Option<Duration>,
    pub max_retries: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndStatus {
    Finished,
    Failed,
}

impl EndStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EndStatus::Finished => "finished",
            EndStatus::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone)]
pub struct EndState {
    pub status: EndStatus,
    /// Result template; `None` means the data of the last result.
    pub result: Option<Value>,
}

impl Blueprint {
    pub fn state(&self, name: &str) -> Option<&State> {
        self.states.get(name)
    }

    /// The skill of the start state's task, when the start state dispatches one.
    pub fn start_skill(&self) -> Option<&str> {
        match &self.state(&self.start)?.kind {
            StateKind::Dispatch(d) => Some(d.task.as_str()),
            _ => None,
        }
    }

    /// The skills this blueprint dispatches, for dashboards.
    pub fn skills(&self) -> impl Iterator<Item = &str> {
        self.states.values().flat_map(|s| -> Vec<&str> {
            match &s.kind {
                StateKind::Dispatch(d) => vec![d.task.as_str()],
                StateKind::Parallel(p) => match &p.branches {
                    Branches::Fixed(list) => list.iter().map(|(_, d)| d.task.as_str()).collect(),
                    Branches::Map { task, .. } => vec![task.task.as_str()],
                },
                _ => Vec::new(),
            }
        })
    }
}

/// All loaded blueprints, by name and by `(version, endpoint)`.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    by_name: HashMap<String, Arc<Blueprint>>,
    by_endpoint: HashMap<(String, String), Arc<Blueprint>>,
}

impl Registry {
    /// Builds a registry, refusing two blueprints with one name or one endpoint.
    pub fn new(blueprints: Vec<Blueprint>) -> Result<Registry, BlueprintError> {
        let mut reg = Registry::default();
        for bp in blueprints {
            let bp = Arc::new(bp);
            if let Some(other) = reg.by_name.get(&bp.name) {
                return Err(BlueprintError::file(
                    &bp.source,
                    format!(
                        "blueprint name `{}` is also used by {}",
                        bp.name, other.source
                    ),
                ));
            }
            let key = (bp.version.clone(), bp.endpoint.clone());
            if let Some(other) = reg.by_endpoint.get(&key) {
                return Err(BlueprintError::file(
                    &bp.source,
                    format!(
                        "endpoint /api/{}{} is also used by {}",
                        bp.version, bp.endpoint, other.source
                    ),
                ));
            }
            reg.by_endpoint.insert(key, bp.clone());
            reg.by_name.insert(bp.name.clone(), bp);
        }
        for bp in reg.by_name.values() {
            for state in bp.states.values() {
                if let StateKind::SubJob(sub) = &state.kind {
                    if !reg.by_name.contains_key(&sub.blueprint) {
                        return Err(BlueprintError {
                            file: bp.source.clone(),
                            state: Some(state.name.clone()),
                            message: format!("sub-job blueprint `{}` is not loaded", sub.blueprint),
                        });
                    }
                }
            }
        }
        Ok(reg)
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Blueprint>> {
        self.by_name.get(name)
    }

    pub fn by_endpoint(&self, version: &str, endpoint: &str) -> Option<&Arc<Blueprint>> {
        self.by_endpoint
            .get(&(version.to_string(), endpoint.to_string()))
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<Blueprint>> {
        self.by_name.values()
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}
