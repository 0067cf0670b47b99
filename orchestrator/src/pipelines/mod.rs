//! Records of the coding pipelines (seeds 000/001, `shared/reference/protocol-runs.md`):
//! projects, protocol runs, step runs, events and clarifications, with their state
//! machines. The HTTP API of seed 001 is in [`crate::api::pipelines`]; the workers come
//! on top of this.
//!
//! - [`model`]: the records (ids allocated by the store, timestamps in epoch ms);
//! - [`status`]: the protocol and step state machines as tables;
//! - [`store`]: the [`RecordStore`] trait, every change a compare-and-set;
//! - [`memory`] and [`redis`]: its two implementations; [`conformance`]: the suite both
//!   must pass (run by `tests/tests/pipeline_store.rs`);
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

pub mod ci;
pub mod codemachine;
pub mod conformance;
pub mod jobs;
pub mod memory;
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

pub use model::*;
pub use runs::RunStore;
pub use status::{ProtocolAction, ProtocolStatus, StepAction, StepStatus};
pub use step_state::{StepChange, StepState, StepUpdate};
pub use store::{CancelOutcome, RecordError, RecordResult, RecordStore, Transition};
