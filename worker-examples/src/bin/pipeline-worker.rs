//! `pipeline-worker`: runs the coding-pipeline skills (`plan_protocol`, `execute_step`,
//! `run_quality`, `open_pr`; see `baton_worker_examples::pipeline::skills`),
//! `codemachine_import` (`baton_worker_examples::pipeline::codemachine`) and
//! `project_setup` (onboarding; `baton_worker_examples::pipeline::setup`).
//!
//! Configured like every SDK worker (`ORCHESTRATOR_URL`, `WORKER_TOKEN`, `WORKER_ID`,
//! ...) plus:
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `PIPELINE_PROJECTS_ROOT` | where repositories are cloned | `./projects` |
//! | `PIPELINE_DEFAULT_ENGINE` | `codex`, `openai` or `offline` when a step names none | `codex` |
//! | `PIPELINE_DEFAULT_MODEL` | model when neither step nor project names one | `gpt-5-codex` |
//! | `PIPELINE_CODEX_BIN`, `PIPELINE_CODEX_SANDBOX` | the `codex` CLI | `codex`, `workspace-write` |
//! | `OPENAI_BASE_URL`, `OPENAI_API_KEY` | enable the `openai` engine | unset |
//! | `PIPELINE_ENGINE_TIMEOUT` | seconds an engine may run | `1800` |
//! | `PIPELINE_TOKEN_BUDGET_MODE`, `_STEP`, `_PROTOCOL` | `strict`, `warn` or `off`; limits | `warn`, none |
//! | `GITHUB_TOKEN`, `GITHUB_API_URL` | PRs through the REST API when `gh`/`glab` are missing | unset, `https://api.github.com` |
//!
//! The `offline` engine is always available, and says so in everything it writes.
//!
//! Each skill sends its run report with its result, also on failure (`error.details.run`):
//! its log (progress lines and the engine's output, the last 256 KiB) and the files it
//! wrote (plan files, step output, `quality-report.md`; 1 MiB each, 2 MiB in all), so the
//! orchestrator's `/codex/runs` API serves them (`baton_worker_examples::pipeline::report`).

use std::process::ExitCode;
use std::sync::Arc;

use baton_worker::{Worker, WorkerConfig};
use baton_worker_examples::cli::{handle_args, Usage};
use baton_worker_examples::pipeline::worker::{deps_from_env, with_skills};
use baton_worker_examples::shutdown_signal;

const USAGE: Usage = Usage {
    name: "pipeline-worker",
    about: "runs the jobs of the coding pipelines (/projects, /protocols, /steps): skills\n\
            `project_setup`, `plan_protocol`, `execute_step`, `run_quality`, `open_pr` and\n\
            `codemachine_import`. It clones the projects' repositories, runs a coding engine\n\
            (the `codex` CLI, an OpenAI-compatible endpoint, or `offline` placeholders),\n\
            commits, pushes and opens pull requests.",
    own_env: "  PIPELINE_PROJECTS_ROOT   where repositories are cloned (default ./projects)
  PIPELINE_DEFAULT_ENGINE  codex, openai or offline when a step names none (default codex)
  PIPELINE_DEFAULT_MODEL   model when neither step nor project names one (default gpt-5-codex)
  PIPELINE_CODEX_BIN, PIPELINE_CODEX_SANDBOX
                           the codex CLI (default codex, workspace-write)
  OPENAI_BASE_URL, OPENAI_API_KEY
                           enable the openai engine
  PIPELINE_ENGINE_TIMEOUT  seconds an engine may run (default 1800)
  PIPELINE_TOKEN_BUDGET_MODE, PIPELINE_TOKEN_BUDGET_STEP, PIPELINE_TOKEN_BUDGET_PROTOCOL
                           strict, warn or off (default warn); the limits (default none)
  GITHUB_TOKEN, GITHUB_API_URL
                           PRs through GitHub's REST API when gh/glab are missing",
    example: "ORCHESTRATOR_URL=http://localhost:8080 WORKER_TOKEN=dev-worker-token \\\n    \
              PIPELINE_DEFAULT_ENGINE=offline PIPELINE_PROJECTS_ROOT=/tmp/demo-projects pipeline-worker",
};

#[tokio::main]
async fn main() -> ExitCode {
    if let Some(code) = handle_args(&USAGE) {
        return code;
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let deps = match deps_from_env() {
        Ok(d) => Arc::new(d),
        Err(e) => {
            eprintln!("pipeline-worker: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = match WorkerConfig::from_env() {
        Ok(c) if std::env::var_os("WORKER_TYPE").is_none() => c.worker_type("pipeline-worker"),
        Ok(c) => c,
        Err(e) => {
            eprintln!("pipeline-worker: {e}");
            return ExitCode::FAILURE;
        }
    };
    let builder = with_skills(Worker::builder(config), deps);
    let worker = match builder.build() {
        Ok(w) => w,
        Err(e) => {
            eprintln!("pipeline-worker: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(worker_id = worker.worker_id(), "pipeline-worker starting");
    match worker.run(shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pipeline-worker: {e}");
            ExitCode::FAILURE
        }
    }
}
