//! Example Baton workers.
//!
//! - [`mod@echo`]: the `echo` skill, a test double for whole-system checks. The
//!   orchestrator's `baton dev` mode runs it in-process through [`echo_skill`]; the
//!   `echo-worker` binary runs it as a standalone worker.

pub mod echo;

pub use echo::{echo, echo_skill, ECHO_SKILL};
