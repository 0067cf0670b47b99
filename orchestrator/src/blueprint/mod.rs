//! Blueprints: declarative state machines, one YAML file each.
//!
//! A [`Blueprint`] has a name, the client endpoint that starts it (`version` +
//! `endpoint`, e.g. `POST /api/v1/jobs/echo`) and named states. Exactly one state is the
//! start state. This version knows two kinds of state:
//!
//! - **dispatch**: hands one task (`task` = skill name, `params` templated from the job
//!   context) to a worker and follows `transitions[<result status>]` when the result
//!   comes back (`success`, `failure`, `cancelled` or a custom status);
//! - **end**: finishes the job as `finished` or `failed`, with a `result` templated from
//!   the context (default: the `data` of the last result).
//!
//! [`load`] reads a directory of blueprints and validates them (one start state, no
//! transition to a missing state, no unreachable state); [`Registry`] looks them up by
//! name or by endpoint.

pub(crate) mod load;
pub mod template;

pub use load::{load_dir, load_str, BlueprintError};

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
    End(EndState),
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

    /// The skills this blueprint dispatches, for dashboards.
    pub fn skills(&self) -> impl Iterator<Item = &str> {
        self.states.values().filter_map(|s| match &s.kind {
            StateKind::Dispatch(d) => Some(d.task.as_str()),
            StateKind::End(_) => None,
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
