//! Runs (one per attempt of a pipeline job), their logs and artifacts, and the index of
//! pipeline jobs behind `/queues`: the records and the [`RunStore`] trait.
//!
//! - [`Run`]: one attempt of a Baton job of a pipeline blueprint. `run_id` is the Baton
//!   task id of the attempt (each attempt gets a new one), so a worker's retried result
//!   upserts the same record. `run_kind` follows from the blueprint ([`run_kind_of`]).
//!   The record is written when the attempt's result arrives, before the result is
//!   committed to the job (`engine::pipeline_runs`); attempts still in flight are not
//!   stored but shown from the job's current tasks by the API.
//! - The run's **log**: plain text beside the record (not in it, so listings stay small).
//! - [`RunArtifact`]: a file the attempt produced (plan, step output, QA report), unique
//!   per run and `name` (recording again keeps the id), with its text content stored
//!   beside it. Sizes are capped before they reach the store ([`super::run_report`]).
//! - [`QueueJob`]: a pipeline job as enqueued (type, payload, ids), newest first; the
//!   job's status, result and timestamps come from the Baton job itself.

use super::model::Id;
use super::store::RecordResult;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Most runs one listing returns; also the default `limit` of the runs routes.
pub const MAX_RUNS: usize = 500;
pub const DEFAULT_RUN_LIMIT: usize = 100;
/// Most runs a filtered listing looks at (newest first) in the index it starts from.
pub const RUN_SCAN: usize = 5_000;
/// Most pipeline jobs `/queues` and `/queues/jobs` look at (newest first).
pub const MAX_QUEUE_JOBS: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl RunStatus {
    pub const ALL: [RunStatus; 5] = [
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<RunStatus> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Still in flight (never stored: shown from the job's tasks).
    pub fn live(self) -> bool {
        matches!(self, RunStatus::Queued | RunStatus::Running)
    }
}

/// The run kinds of the reference page, by the job's blueprint.
pub const RUN_KINDS: &[(&str, &str)] = &[
    ("plan_protocol", "plan"),
    ("execute_step", "exec"),
    ("run_quality", "qa"),
    ("project_setup", "setup"),
    ("open_pr", "open_pr"),
    ("codemachine_import", "codemachine_import"),
];

/// `run_kind` of a job type (blueprint name); the name itself for an unknown one.
pub fn run_kind_of(job_type: &str) -> String {
    RUN_KINDS
        .iter()
        .find(|(bp, _)| *bp == job_type)
        .map_or(job_type, |(_, kind)| kind)
        .to_string()
}

/// The job type clients see for a blueprint: `<blueprint>_job` for the shipped pipeline
/// blueprints (`plan_protocol_job`, `execute_step_job`, ...), the name itself for any
/// other. Records keep the blueprint name (what the engine runs, and what stored data
/// already holds); answers, metrics labels and filters speak this one.
pub fn job_type_name(blueprint: &str) -> String {
    if RUN_KINDS.iter().any(|(bp, _)| *bp == blueprint) {
        format!("{blueprint}_job")
    } else {
        blueprint.to_string()
    }
}

/// The blueprint of a job type as a client writes it: `execute_step_job` and
/// `execute_step` both name `execute_step` (filters accept either form).
pub fn blueprint_of(job_type: &str) -> &str {
    match job_type.strip_suffix("_job") {
        Some(bp) if RUN_KINDS.iter().any(|(b, _)| *b == bp) => bp,
        _ => job_type,
    }
}

/// Whether `kind` is a known run kind (400 otherwise).
pub fn is_run_kind(kind: &str) -> bool {
    RUN_KINDS.iter().any(|(_, k)| *k == kind)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub run_id: String,
    /// The Baton job this is an attempt of.
    pub job_id: String,
    pub job_type: String,
    pub status: RunStatus,
    pub run_kind: String,
    #[serde(default)]
    pub project_id: Option<Id>,
    #[serde(default)]
    pub protocol_run_id: Option<Id>,
    #[serde(default)]
    pub step_run_id: Option<Id>,
    /// 1 for the first dispatch of the job's task.
    pub attempt: u32,
    #[serde(default)]
    pub worker_id: Option<String>,
    #[serde(default)]
    pub started_at: Option<i64>,
    #[serde(default)]
    pub finished_at: Option<i64>,
    #[serde(default)]
    pub params: Value,
    /// The worker's data, without the log and artifact contents (stored apart).
    #[serde(default)]
    pub result: Value,
    #[serde(default)]
    pub error: Option<Value>,
    /// Where the log is served (`/codex/runs/<run_id>/logs`).
    pub log_path: String,
    /// Bytes of the stored log, and whether its head was cut to fit the cap.
    #[serde(default)]
    pub log_bytes: u64,
    #[serde(default)]
    pub log_truncated: bool,
    #[serde(default)]
    pub cost_tokens: Option<u64>,
    #[serde(default)]
    pub cost_cents: Option<u64>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunArtifact {
    /// Allocated by the store; kept when the same run records the same name again.
    #[serde(default)]
    pub id: Id,
    pub run_id: String,
    pub name: String,
    pub kind: String,
    /// Where the worker wrote it (relative to its worktree when it could tell).
    pub path: String,
    /// Hex sha256 of the stored content.
    pub sha256: String,
    pub bytes: u64,
    #[serde(default)]
    pub truncated: bool,
    pub created_at: i64,
}

/// An artifact to record: its metadata (id ignored) and its text content.
#[derive(Debug, Clone, PartialEq)]
pub struct NewArtifact {
    pub meta: RunArtifact,
    pub content: String,
}

/// What `GET /codex/runs` filters on; `None` matches anything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunFilter {
    pub job_type: Option<String>,
    pub status: Option<RunStatus>,
    pub project_id: Option<Id>,
    pub protocol_run_id: Option<Id>,
    pub step_run_id: Option<Id>,
    pub run_kind: Option<String>,
    pub limit: usize,
}

impl RunFilter {
    pub fn matches(&self, r: &Run) -> bool {
        self.job_type.as_ref().is_none_or(|v| *v == r.job_type)
            && self.status.is_none_or(|v| v == r.status)
            && self.project_id.is_none_or(|v| Some(v) == r.project_id)
            && self
                .protocol_run_id
                .is_none_or(|v| Some(v) == r.protocol_run_id)
            && self.step_run_id.is_none_or(|v| Some(v) == r.step_run_id)
            && self.run_kind.as_ref().is_none_or(|v| *v == r.run_kind)
    }

    pub fn limit(&self) -> usize {
        self.limit.clamp(1, MAX_RUNS)
    }
}

/// A pipeline job as enqueued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueJob {
    pub job_id: String,
    pub job_type: String,
    #[serde(default)]
    pub payload: Value,
    #[serde(default)]
    pub project_id: Option<Id>,
    #[serde(default)]
    pub protocol_run_id: Option<Id>,
    #[serde(default)]
    pub step_run_id: Option<Id>,
    pub created_at: i64,
    /// When its first recorded attempt started (set by [`RunStore::record_run`]).
    #[serde(default)]
    pub started_at: Option<i64>,
}

#[async_trait]
pub trait RunStore: Send + Sync {
    /// Creates or replaces the run `run.run_id` with its log, and creates or replaces its
    /// artifacts by name, atomically; a run recorded again keeps its place in listings and
    /// its artifacts their ids. Also stamps the job's [`QueueJob::started_at`] once.
    async fn record_run(
        &self,
        run: Run,
        log: String,
        artifacts: Vec<NewArtifact>,
    ) -> RecordResult<Run>;
    async fn get_run(&self, run_id: &str) -> RecordResult<Run>;
    /// Runs matching `filter`, newest recorded first, at most `filter.limit()`.
    async fn list_runs(&self, filter: &RunFilter) -> RecordResult<Vec<Run>>;
    /// The run's log (`NotFound` for an unknown run).
    async fn run_log(&self, run_id: &str) -> RecordResult<String>;
    /// The run's artifacts by id, of `kind` if given, at most `limit` (clamped 1..=500).
    async fn list_artifacts(
        &self,
        run_id: &str,
        kind: Option<&str>,
        limit: usize,
    ) -> RecordResult<Vec<RunArtifact>>;
    /// An artifact of the run and its content (`NotFound` if either is unknown).
    async fn artifact_content(
        &self,
        run_id: &str,
        artifact_id: Id,
    ) -> RecordResult<(RunArtifact, String)>;

    /// Adds a pipeline job to the queue index (again: replaced, place kept).
    async fn index_job(&self, job: QueueJob) -> RecordResult<()>;
    /// The newest pipeline jobs, at most `limit` (clamped 1..=[`MAX_QUEUE_JOBS`]).
    async fn list_jobs(&self, limit: usize) -> RecordResult<Vec<QueueJob>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_types_are_answered_with_job_and_read_in_both_forms() {
        assert_eq!(job_type_name("execute_step"), "execute_step_job");
        assert_eq!(job_type_name("project_setup"), "project_setup_job");
        assert_eq!(job_type_name("echo"), "echo", "not a pipeline blueprint");
        for (bp, _) in RUN_KINDS {
            assert_eq!(blueprint_of(&job_type_name(bp)), *bp);
            assert_eq!(blueprint_of(bp), *bp);
        }
        assert_eq!(blueprint_of("spec_audit_job"), "spec_audit_job");
    }
}
