//! Example Baton workers.
//!
//! - [`mod@echo`]: the `echo` skill, a test double for whole-system checks. The
//!   orchestrator's `baton dev` mode runs it in-process through [`echo_skill`]; the
//!   `echo-worker` binary runs it as a standalone worker.
//! - [`mod@sum`]: the `sum` skill, which adds up numbers; the aggregate step of the shipped
//!   parallel blueprint. Registered beside `echo` in both places.
//! - [`pipeline`]: engines and rules of the coding-pipeline worker (in progress).
//! - [`workflow`]: the steps of workflow executions (`workflow-worker`; in-process under
//!   `baton dev`).
//! - [`cli`]: the binaries' command line (`--help`).

pub mod cli;
pub mod echo;
pub mod pipeline;
pub mod signal;
pub mod sum;
pub mod workflow;

pub use echo::{echo, echo_skill, ECHO_SKILL};
pub use signal::shutdown_signal;
pub use sum::{sum, sum_skill, SUM_SKILL};

/// Adds every example skill (`echo`, `sum`) to a worker.
pub fn example_skills(builder: baton_worker::WorkerBuilder) -> baton_worker::WorkerBuilder {
    sum_skill(echo_skill(builder))
}
