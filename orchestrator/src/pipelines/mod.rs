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
//! - [`webhooks`]: GitHub/GitLab signature checks and what a CI event says about a branch.
//! - [`outcomes`]: a worker's plan, execution and QA outcomes applied to the records.
//! - [`onboarding`]: the setup run of a project and a setup outcome applied to it;
//!   [`setup_inline`] runs a setup in the orchestrator; [`repo`]: git on this host.
//! - [`policy`]: the policy packs `project_classification` selects.

pub mod conformance;
pub mod memory;
pub mod model;
pub mod onboarding;
pub mod outcomes;
pub mod policy;
pub mod redis;
pub mod repo;
pub mod setup_inline;
pub mod status;
pub mod store;
pub mod webhooks;

pub use model::*;
pub use status::{ProtocolAction, ProtocolStatus, StepAction, StepStatus};
pub use store::{CancelOutcome, RecordError, RecordResult, RecordStore, Transition};
