//! The `pipeline-worker` assembled: its [`Deps`] from the environment and its skills on an
//! SDK [`WorkerBuilder`]. The binary and the end-to-end tests call the same two functions,
//! so a test's worker runs exactly the skills (and QA policy handling) the binary runs.
//!
//! | skill | function |
//! |---|---|
//! | `project_setup` | [`setup::project_setup`] |
//! | `plan_protocol` | [`skills::plan_protocol`] |
//! | `execute_step` | [`qa_policy::execute_step`] (the project's QA policy around [`skills::execute_step`]) |
//! | `run_quality` | [`skills::run_quality`] |
//! | `open_pr` | [`skills::open_pull_request`] |
//! | `codemachine_import` | [`codemachine::codemachine_import`] |
//!
//! A [`SkillError`] becomes the task's error with the run report in `error.details.run`.

use super::budget::{Budget, BudgetMode};
use super::codex::CodexEngine;
use super::engine::Engines;
use super::git::Identity;
use super::offline::OfflineEngine;
use super::openai::OpenAiEngine;
use super::pr::PrConfig;
use super::skills::{self, Deps, SkillError};
use super::{codemachine, qa_policy, setup};
use baton_worker::{TaskContext, TaskError, WorkerBuilder};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The skills [`with_skills`] registers.
pub const SKILLS: &[&str] = &[
    "project_setup",
    "plan_protocol",
    "execute_step",
    "run_quality",
    "open_pr",
    "codemachine_import",
];

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The worker's dependencies from `PIPELINE_*`, `OPENAI_*` and `GITHUB_*` variables (see
/// the binary's docs); a message naming the variable when one is malformed.
pub fn deps_from_env() -> Result<Deps, String> {
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

/// `builder` with every pipeline skill ([`SKILLS`]) registered.
pub fn with_skills(mut builder: WorkerBuilder, deps: Arc<Deps>) -> WorkerBuilder {
    macro_rules! skill {
        ($name:literal, $f:path) => {{
            let deps = deps.clone();
            builder = builder.skill($name, move |params: Value, _ctx: TaskContext| {
                let deps = deps.clone();
                async move {
                    $f(&deps, &params)
                        .await
                        .map_err(|e: SkillError| TaskError::from(e))
                }
            });
        }};
    }
    skill!("project_setup", setup::project_setup);
    skill!("plan_protocol", skills::plan_protocol);
    skill!("execute_step", qa_policy::execute_step);
    skill!("run_quality", skills::run_quality);
    skill!("open_pr", skills::open_pull_request);
    skill!("codemachine_import", codemachine::codemachine_import);
    builder
}
