//! Where the workflow face keeps its records, behind one trait with two stores: in
//! memory ([`crate::memory`], the embedded mode) and Redis ([`crate::redis`], shared by
//! every orchestrator on it). One conformance suite runs against both
//! ([`crate::conformance`], behind the `conformance` feature).
//!
//! The records: JSON workflows (a [`StoredWorkflow`] per id, kept whole: a workflow is
//! read and written as one document), the blueprints workflows compile to (by their
//! content-addressed name, written once, never changed), the rate-limit counters (a
//! fixed window per bucket: `<route>:<client ip>`), the clients refused by a limit until
//! their window closes, and the circuit state of each AI engine as workers last
//! reported it.

use crate::model::Workflow;
use async_trait::async_trait;
use baton_store::StoreError;
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type RecordResult<T> = Result<T, RecordError>;

/// A JSON workflow as kept: the definition and when it was made and last replaced
/// (epoch ms).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredWorkflow {
    pub workflow: Workflow,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Done,
    /// `create` of an id that exists.
    Exists,
    /// `replace` of an id that does not.
    Missing,
}

/// One counted request against a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateCount {
    /// Requests in the current window, this one included.
    pub count: u64,
    /// Milliseconds until the window closes.
    pub resets_in_ms: u64,
}

/// The face's records; schedules and webhooks are [`crate::triggers::TriggerStore`]'s part.
#[async_trait]
pub trait WorkflowStore: crate::triggers::TriggerStore + Send + Sync + 'static {
    /// `memory` or `redis`.
    fn kind(&self) -> &'static str;

    /// Saves a new workflow; [`Written::Exists`] (and nothing changed) if the id is taken.
    async fn create_workflow(&self, wf: &StoredWorkflow) -> RecordResult<Written>;
    /// Replaces a workflow; [`Written::Missing`] (and nothing saved) if there is none.
    async fn replace_workflow(&self, wf: &StoredWorkflow) -> RecordResult<Written>;
    async fn get_workflow(&self, id: &str) -> RecordResult<Option<StoredWorkflow>>;
    /// What an execution of `id` may run: its versions' document and its JSON record,
    /// in one read where the store can (each execution reads both).
    async fn workflow_sources(
        &self,
        id: &str,
    ) -> RecordResult<(Option<String>, Option<StoredWorkflow>)> {
        Ok((self.get_versions(id).await?, self.get_workflow(id).await?))
    }
    /// Every workflow, by id.
    async fn list_workflows(&self) -> RecordResult<Vec<StoredWorkflow>>;
    /// Whether there was one to delete.
    async fn delete_workflow(&self, id: &str) -> RecordResult<bool>;

    /// Keeps a compiled blueprint under its name unless one is there already (names are
    /// content-addressed: the one there is the same).
    async fn put_blueprint(&self, name: &str, definition: &str) -> RecordResult<()>;
    async fn get_blueprint(&self, name: &str) -> RecordResult<Option<String>>;

    /// Saves a prompt template (JSON) unless its id is taken.
    async fn create_prompt(&self, id: &str, prompt: &str) -> RecordResult<Written>;
    async fn get_prompt(&self, id: &str) -> RecordResult<Option<String>>;
    /// Every prompt template, by id.
    async fn list_prompts(&self) -> RecordResult<Vec<String>>;
    async fn delete_prompt(&self, id: &str) -> RecordResult<bool>;

    /// A workflow's versions (one JSON document per workflow name).
    async fn get_versions(&self, name: &str) -> RecordResult<Option<String>>;
    /// Writes them if they are still `expected` (`None`: there were none); whether it
    /// wrote.
    async fn cas_versions(
        &self,
        name: &str,
        expected: Option<&str>,
        new: &str,
    ) -> RecordResult<bool>;
    /// Every versioned workflow's document, by name.
    async fn list_versions(&self) -> RecordResult<Vec<String>>;

    /// Indexes an execution by when it started (for listings).
    async fn add_execution(&self, id: &str, created_ms: i64) -> RecordResult<()>;
    /// The newest `limit` indexed executions, newest first.
    async fn recent_executions(&self, limit: usize) -> RecordResult<Vec<String>>;
    async fn remove_execution(&self, id: &str) -> RecordResult<()>;
    /// Deletes an execution for its readers: out of the listings, and marked so that a
    /// read finds none (for `keep_ms`, the retention of its job).
    async fn delete_execution(&self, id: &str, keep_ms: u64) -> RecordResult<()>;
    async fn is_deleted(&self, id: &str) -> RecordResult<bool>;

    /// Counts a request in `bucket`'s window of `window_ms` (a window opens at the first
    /// request after the last one closed).
    async fn count_request(
        &self,
        bucket: &str,
        window_ms: u64,
        now_ms: i64,
    ) -> RecordResult<RateCount>;

    /// Notes that `client` (`<route group>:<ip>`) is refused until `until_ms`.
    async fn block(&self, client: &str, until_ms: i64) -> RecordResult<()>;
    /// The clients refused now, with the epoch ms they are let in again, soonest first.
    async fn blocked(&self, now_ms: i64) -> RecordResult<Vec<(String, i64)>>;

    /// Keeps the last reported circuit state (JSON) of an AI engine.
    async fn set_circuit(&self, engine: &str, state: &str) -> RecordResult<()>;
    /// Every engine's last reported circuit state, by engine.
    async fn circuits(&self) -> RecordResult<Vec<(String, String)>>;
}
