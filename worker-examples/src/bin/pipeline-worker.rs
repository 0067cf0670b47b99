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

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use baton_worker::{TaskContext, TaskError, Worker, WorkerConfig};
use baton_worker_examples::pipeline::budget::{Budget, BudgetMode};
use baton_worker_examples::pipeline::codemachine;
use baton_worker_examples::pipeline::codex::CodexEngine;
use baton_worker_examples::pipeline::engine::Engines;
use baton_worker_examples::pipeline::git::Identity;
use baton_worker_examples::pipeline::offline::OfflineEngine;
use baton_worker_examples::pipeline::openai::OpenAiEngine;
use baton_worker_examples::pipeline::pr::PrConfig;
use baton_worker_examples::pipeline::skills::{self, Deps, SkillError};
use baton_worker_examples::pipeline::{qa_policy, setup};
use serde_json::Value;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn deps() -> Result<Deps, String> {
    let mut engines = Engines::new().with(Arc::new(CodexEngine {
        binary: env("PIPELINE_CODEX_BIN").map_or_else(|| PathBuf::from("codex"), PathBuf::from),
        sandbox: env("PIPELINE_CODEX_SANDBOX").unwrap_or_else(|| "workspace-write".into()),
    }));
    if let Some(base) = env("OPENAI_BASE_URL") {
        engines = engines.with(Arc::new(OpenAiEngine::new(&base, env("OPENAI_API_KEY"))));
    }
    engines = engines
        .with(Arc::new(OfflineEngine))
        .with_default(&env("PIPELINE_DEFAULT_ENGINE").unwrap_or_else(|| "codex".into()));
    let number = |name: &str| -> Result<Option<u64>, String> {
        env(name)
            .map(|v| {
                v.parse()
                    .map_err(|_| format!("{name} must be a whole number, got `{v}`"))
            })
            .transpose()
    };
    let mode: BudgetMode = env("PIPELINE_TOKEN_BUDGET_MODE")
        .unwrap_or_else(|| "warn".into())
        .parse()?;
    Ok(Deps {
        engines,
        projects_root: env("PIPELINE_PROJECTS_ROOT")
            .map_or_else(|| PathBuf::from("projects"), PathBuf::from),
        default_model: env("PIPELINE_DEFAULT_MODEL").unwrap_or_else(|| "gpt-5-codex".into()),
        timeout: Duration::from_secs(number("PIPELINE_ENGINE_TIMEOUT")?.unwrap_or(1800)),
        budget: Budget {
            mode,
            per_step: number("PIPELINE_TOKEN_BUDGET_STEP")?,
            per_protocol: number("PIPELINE_TOKEN_BUDGET_PROTOCOL")?,
        },
        identity: Identity::default(),
        pr: PrConfig::from_env(),
    })
}

/// The error with the skill's run report as `details.run`.
fn task_error(e: SkillError) -> TaskError {
    TaskError::from(e)
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let deps = match deps() {
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
    let mut builder = Worker::builder(config);
    macro_rules! skill {
        ($name:literal, $f:path) => {{
            let deps = deps.clone();
            builder = builder.skill($name, move |params: Value, _ctx: TaskContext| {
                let deps = deps.clone();
                async move { $f(&deps, &params).await.map_err(task_error) }
            });
        }};
    }
    skill!("plan_protocol", skills::plan_protocol);
    skill!("execute_step", qa_policy::execute_step);
    skill!("run_quality", skills::run_quality);
    skill!("open_pr", skills::open_pull_request);
    skill!("codemachine_import", codemachine::codemachine_import);
    skill!("project_setup", setup::project_setup);
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

async fn shutdown_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
