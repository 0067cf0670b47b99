//! The job document.
//!
//! [`JobDoc`] is the engine's JSON document stored with each job (see the store's data
//! model): the blueprint and current state, the client that owns the job, its input, the
//! context of results per state, the [`Counters`] of the current dispatch state, and what
//! a waiting state waits for: an [`ApprovalWait`] (a person), a [`ParallelRun`] (one
//! [`BranchRun`] per task of a parallel state) or a [`SubJobWait`] (a child job). A child
//! job names its `parent`. The store never looks inside it.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct JobDoc {
    /// The engine hook of the face that created the job (see `engine::hooks`). First, so
    /// that a hooked job's document starts with `{"hook":` (cheap to tell without parsing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook: Option<String>,
    pub blueprint: String,
    pub client: String,
    pub state: String,
    pub initial_data: Value,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub metadata: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispatch_timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_timeout_ms: Option<u64>,
    pub created_ms: i64,
    pub updated_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_ms: Option<i64>,
    /// Context: per state, the last outcome (`status`, `data`, `error`, `worker_id`).
    #[serde(default)]
    pub states: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    /// States entered so far (the loop guard counts these).
    #[serde(default)]
    pub step: u32,
    /// When the current state was entered (epoch ms).
    #[serde(default)]
    pub entered_ms: i64,
    /// Counters of the current dispatch state's task.
    #[serde(default)]
    pub run: Counters,
    /// Name of the state whose result came last (default end result).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalWait>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel: Option<ParallelRun>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_job: Option<SubJobWait>,
    /// The job that started this one as a sub-job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Sub-job nesting: 0 for a job a client created.
    #[serde(default)]
    pub depth: u32,
    /// Since when the job is paused (epoch ms): no task of it is queued meanwhile; the
    /// tasks it would run wait as held slots (see `control`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_ms: Option<i64>,
    /// Times the job was run again after it failed (`retry`); 0 for its first run.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reruns: u32,
    /// The state whose failure ended the job (where a retry starts again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_state: Option<String>,
}

/// Attempts of one task (the dispatch state's, or one parallel branch's).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct Counters {
    /// Dispatches so far (1 = first).
    pub attempt: u32,
    /// Failures that were retried.
    pub failures: u32,
    /// Times a worker gave the task back (shutdown) or was lost with it.
    pub releases: u32,
}

/// A person's decision is awaited.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApprovalWait {
    /// Proof of approval for callers without the client's token; handed to the client in
    /// the job view and the `approval_requested` webhook.
    pub secret: String,
    pub message: Value,
    pub decisions: Vec<String>,
    pub requested_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<i64>,
}

/// The branches of the current parallel state, in definition (or item) order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ParallelRun {
    pub branches: Vec<BranchRun>,
}

/// One branch: pending (no task, no status), running (a task) or done (a status).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BranchRun {
    /// Task name of a fixed branch, item index of a map branch.
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    #[serde(default)]
    pub run: Counters,
    /// Final result status (`success`, `failure`, or a custom one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
}

impl BranchRun {
    pub fn new(key: String, item: Option<Value>) -> BranchRun {
        BranchRun {
            key,
            item,
            task_id: None,
            run: Counters::default(),
            status: None,
            data: None,
            error: None,
            worker_id: None,
        }
    }

    pub fn is_done(&self) -> bool {
        self.status.is_some()
    }

    pub fn failed(&self) -> bool {
        self.status.as_deref() == Some(baton_protocol::TASK_STATUS_FAILURE)
    }
}

/// A child job is awaited (created by the `s|` timer from these fields).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SubJobWait {
    pub job_id: String,
    pub blueprint: String,
    pub initial_data: Value,
}

impl JobDoc {
    /// The context templates are rendered against.
    pub fn context(&self, job_id: &str) -> Value {
        json!({
            "initial_data": self.initial_data,
            "states": self.states,
            "metadata": self.metadata,
            "job": {"id": job_id, "blueprint": self.blueprint, "attempt": self.run.attempt, "parent": self.parent},
        })
    }

    /// `data` of the last result, the default result of an end state.
    pub fn last_data(&self) -> Value {
        self.last_state
            .as_ref()
            .and_then(|s| self.states.get(s))
            .and_then(|s| s.get("data"))
            .cloned()
            .unwrap_or(Value::Null)
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}
