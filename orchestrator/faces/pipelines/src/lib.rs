//! The coding pipelines face: projects, protocol runs, step runs, events and
//! clarifications, with their state machines, the jobs they run on the engine and their
//! HTTP API (`/projects`, `/protocols`, `/steps`, `/events`, `/health`, `/codex/runs`,
//! `/queues`, `/metrics`, `/webhooks`, served by [`api`]).
//!
//! The face owns its records (in the same Redis and key prefix as the job store, through
//! the pool and key builder [`baton_store_redis::Shared`] lends, or in memory) and hears
//! of its jobs through the engine's hook ([`jobs::PipelineHook`]); nothing in the core
//! knows it exists.
//!
//! - [`model`]: the records (ids allocated by the store, timestamps in epoch ms);
//! - [`status`]: the protocol and step state machines as tables;
//! - [`store`]: the [`RecordStore`] trait, every change a compare-and-set;
//! - [`memory`] and [`redis`]: its two implementations; `conformance` (feature
//!   `conformance`): the suite both must pass (run by `tests/tests/pipeline_store.rs`);
//! - [`jobs`]: the Baton jobs a pipeline runs (plan, execute, QA, setup), their hook;
//! - [`webhooks`]: GitHub/GitLab signature checks and what a CI event says about a branch;
//!   [`ci`]: what that changes (and auto-QA on CI success).
//! - [`outcomes`]: a worker's plan, execution and QA outcomes applied to the records;
//!   [`policies`]: with the steps' CodeMachine loop and trigger policies;
//! - [`codemachine`]: a CodeMachine import recorded on its run;
//! - [`step_state`]: the store's updates of step fields and atomic multi-step changes.
//! - [`runs`]: runs (one per job attempt) with logs and artifacts, and the queue index
//!   ([`runs::RunStore`], a supertrait of [`RecordStore`]); [`run_report`]: what a
//!   worker sends for a run, and its size caps.
//! - [`onboarding`]: the setup run of a project and a setup outcome applied to it;
//!   [`setup_inline`] runs a setup in the orchestrator; [`repo`]: git on this host.
//! - [`policy`]: the policy packs `project_classification` selects.
//! - [`metrics`]: the face's metrics, under the names its clients know.

pub mod api;
pub mod ci;
pub mod codemachine;
// Always compiled (not behind a feature) so that the workspace's test build and a
// `cargo run -p` of one binary build this crate the same way and share it.
pub mod conformance;
pub mod jobs;
pub mod memory;
pub mod metrics;
pub mod model;
pub mod onboarding;
pub mod outcomes;
pub mod policies;
pub mod policy;
pub mod redis;
pub mod repo;
pub mod run_report;
pub mod runs;
pub mod setup_inline;
pub mod status;
pub mod step_state;
pub mod store;
pub mod webhooks;

pub use api::{routes, ROUTES};
pub use model::*;
pub use runs::RunStore;
pub use status::{ProtocolAction, ProtocolStatus, StepAction, StepStatus};
pub use step_state::{StepChange, StepState, StepUpdate};
pub use store::{CancelOutcome, RecordError, RecordResult, RecordStore, Transition};

use baton_engine::Engine;
use std::path::PathBuf;
use std::sync::Arc;

/// The face's part of the configuration.
#[derive(Debug, Clone)]
pub struct PipelinesConfig {
    /// `BATON_API_TOKEN`: bearer token of the face's routes; unset, they take none.
    pub api_token: Option<String>,
    /// `BATON_WEBHOOK_TOKEN`: secret of the CI webhooks; unset, their calls are not checked.
    pub ci_webhook_token: Option<String>,
    /// `BATON_AUTO_QA_ON_CI`: a CI success sends the step to `needs_qa` and runs QA.
    pub auto_qa_on_ci: bool,
    /// `BATON_PROJECTS_ROOT`: where the orchestrator clones a repository it needs itself.
    pub projects_root: PathBuf,
    /// `BATON_MAX_BODY_BYTES`: larger request bodies get 413.
    pub max_body_bytes: usize,
}

/// Everything the face's handlers use: the engine (to run and read jobs), the records,
/// the configuration, the face's metrics and the registry `/metrics` renders.
pub struct PipelinesFace {
    pub engine: Arc<Engine>,
    pub records: Arc<dyn RecordStore>,
    pub cfg: PipelinesConfig,
    pub metrics: metrics::PipelineMetrics,
    pub registry: prometheus::Registry,
}

pub type AppRef = Arc<PipelinesFace>;

/// The engine hook through which the face hears of its jobs' results and ends, under
/// the name its jobs carry (the engine is built with it before the face exists).
pub fn hook(
    records: &Arc<dyn RecordStore>,
    metrics: &metrics::PipelineMetrics,
) -> (&'static str, Arc<dyn baton_engine::hooks::JobHook>) {
    (
        jobs::HOOK,
        Arc::new(jobs::PipelineHook {
            records: records.clone(),
            metrics: metrics.clone(),
        }),
    )
}
