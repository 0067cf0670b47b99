//! Building blocks of the coding-pipeline worker (issue #5, in progress): the pluggable
//! **engines** that plan, execute and review code, and the rules around them.
//!
//! - [`engine`]: the [`engine::Engine`] trait (`run(request) -> output`), an
//!   [`engine::EngineRequest`] (phase, prompt, model, working directory, timeout), the
//!   [`engine::Engines`] registry keyed by `engine_id`, and model resolution (step →
//!   project defaults → worker default).
//! - [`codex`]: the `codex` CLI as a subprocess, prompt on stdin, killed at its timeout.
//! - [`openai`]: any OpenAI-compatible `POST {base}/chat/completions` endpoint.
//! - [`offline`]: an explicit engine for demos that answers a clearly labelled placeholder.
//! - [`codemachine`]: the `codemachine_import` skill (the parsing is
//!   `baton_protocol::codemachine`, shared with the orchestrator).
//! - [`qa`]: the QA verdict of a report.
//! - [`budget`]: token estimates and budgets (`strict`, `warn`, `off`).
//! - [`git`]: the repository, a worktree per protocol branch, commit and push.
//! - [`pr`]: opening the PR: `gh` / `glab` when installed, else the GitHub REST API.
//! - [`prompts`]: the shipped prompts, versioned by hash, and their rendering.
//!
//! - [`skills`]: `plan_protocol`, `execute_step`, `run_quality`, `open_pr` on top of these;
//!   [`report`]: the run report (log, artifacts, engine facts) each sends with its outcome;
//!   [`setup`]: `project_setup` (onboarding: resolve, discovery, assets, git);
//!   [`qa_policy`]: `execute_step` under the project's QA policy (full, light, skip).
//! - [`worker`]: the `pipeline-worker` assembled (deps from the environment, every skill
//!   registered), shared by the binary and the tests.
//!
//! The orchestrator enqueues these jobs from the pipelines API and applies their outcomes
//! to its records (`baton_orchestrator::pipelines`); a skill only returns an outcome.

pub mod budget;
pub mod codemachine;
pub mod codex;
pub mod engine;
pub mod git;
pub mod offline;
pub mod openai;
pub mod pr;
pub mod prompts;
pub mod qa;
pub mod qa_policy;
pub mod report;
pub mod setup;
pub mod skills;
pub mod worker;
