//! The `project_setup` skill: onboarding of a project on a worker.
//!
//! Params (the orchestrator's pipeline-job params): `project_id`, `git_url`,
//! `local_path?`, `base_branch`, `ci_provider?`, and `engine_id?` / `model?` /
//! `default_models?` for discovery. The answer is the setup outcome the orchestrator
//! applies (`baton_orchestrator::pipelines::onboarding::SetupOutcome`):
//!
//! ```json
//! {"workspace_path": "/…/repo", "cloned": true,
//!  "stages": [{"name": "resolve", "status": "completed", "message": "…"}, …],
//!  "clarifications": [{"key", "question", "recommended", "options", "applies_to", "blocking"}],
//!  "discovery": [{"pass", "engine_id", "model", "prompt_version", "path", "tokens_used"}]}
//! ```
//!
//! Stages, in order: `resolve` (the `local_path` checkout, or a clone of `git_url` under
//! `<projects_root>/<project_id>/<repo_name>`), `discovery` (the four
//! `discovery-*.prompt.md` passes through the engine, notes written beside the checkout
//! in `<repo>.discovery/<pass>.md`, never in it; `skipped` when the engine cannot be
//! started or is unknown, `warning` when a pass fails or the engine is the offline one),
//! `assets` (README, build files, CI config), `git` (`origin` set, commit identity set in
//! clones, origin fetched, base branch present: else the blocking `base_branch`
//! question), `clarifications` (left `pending`: the orchestrator decides). A failed
//! stage is reported in the outcome, not as a task error, so its message reaches the
//! onboarding summary; only bad params are task errors.

use super::engine::{resolve_model, EngineError, EngineRequest, Phase};
use super::git::{self, repo_name};
use super::prompts::DISCOVERY;
use super::skills::{Deps, SkillError};
use baton_protocol::pipeline::ASSETS;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
struct Params {
    project_id: u64,
    git_url: String,
    #[serde(default)]
    local_path: Option<PathBuf>,
    #[serde(default = "main")]
    base_branch: String,
    #[serde(default)]
    ci_provider: Option<String>,
    #[serde(default)]
    engine_id: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    default_models: Option<Value>,
}

fn main() -> String {
    "main".into()
}

fn stage(name: &str, status: &str, message: impl Into<String>) -> Value {
    json!({"name": name, "status": status, "message": message.into()})
}

/// Onboards the project; the setup outcome.
pub async fn project_setup(deps: &Deps, params: &Value) -> Result<Value, SkillError> {
    let p: Params = serde_json::from_value(params.clone())
        .map_err(|e| SkillError::new("INVALID_INPUT_ERROR", format!("bad params: {e}")))?;
    let clone_target = deps
        .projects_root
        .join(p.project_id.to_string())
        .join(repo_name(&p.git_url));
    let existed = p
        .local_path
        .as_ref()
        .is_some_and(|l| l.join(".git").exists())
        || clone_target.join(".git").exists();
    let mut stages = Vec::new();
    let repo = match git::ensure_repo(
        &p.git_url,
        p.local_path.as_deref(),
        &deps.projects_root,
        p.project_id,
    )
    .await
    {
        Ok(repo) => repo,
        Err(e) => {
            stages.push(stage(
                "resolve",
                "failed",
                format!("repository not available: {e}"),
            ));
            return Ok(json!({"stages": stages, "cloned": false, "clarifications": []}));
        }
    };
    let path = repo.display().to_string();
    let how = if existed {
        "using the checkout at"
    } else {
        "cloned into"
    };
    stages.push(stage("resolve", "completed", format!("{how} {path}")));
    let (discovery_stage, discovery) = discover(deps, &p, &repo).await;
    stages.push(discovery_stage);
    let assets: Vec<&str> = ASSETS
        .iter()
        .filter(|(f, _)| repo.join(f).exists())
        .map(|(_, k)| *k)
        .collect();
    stages.push(if assets.is_empty() {
        stage(
            "assets",
            "warning",
            "no README, build file or CI config found",
        )
    } else {
        stage(
            "assets",
            "completed",
            format!("found: {}", assets.join(", ")),
        )
    });
    let mut asks = Vec::new();
    stages.push(git_stage(deps, &p, &repo, !existed, &mut asks).await);
    let has_ci = assets.contains(&"github-actions") || assets.contains(&"gitlab-ci");
    if p.ci_provider.is_none() && !has_ci {
        asks.push(json!({
            "key": "ci_provider",
            "question": "Which CI runs this repository's checks? None was found in the repository.",
            "recommended": "github", "options": ["github", "gitlab", "none"],
            "applies_to": "onboarding", "blocking": false,
        }));
    }
    stages.push(stage(
        "clarifications",
        "pending",
        format!("{} question(s) to ask", asks.len()),
    ));
    Ok(json!({
        "workspace_path": path, "cloned": !existed, "stages": stages,
        "clarifications": asks, "discovery": discovery,
    }))
}

/// The discovery passes; the stage and what each pass recorded.
async fn discover(deps: &Deps, p: &Params, repo: &Path) -> (Value, Value) {
    let engine = match deps.engines.get(p.engine_id.as_deref()) {
        Ok(e) => e,
        Err(e) => {
            return (
                stage("discovery", "skipped", format!("no engine: {e}")),
                json!([]),
            )
        }
    };
    let model = resolve_model(
        p.model.as_deref(),
        p.default_models.as_ref(),
        Phase::Discovery,
        &deps.default_model,
    );
    let mut notes_dir = repo.as_os_str().to_owned();
    notes_dir.push(".discovery");
    let notes_dir = PathBuf::from(notes_dir);
    let values = BTreeMap::from([
        ("repo", repo.display().to_string()),
        ("project", p.git_url.clone()),
    ]);
    let mut passes = Vec::new();
    let mut problems = Vec::new();
    for prompt in DISCOVERY {
        let pass = prompt.name.trim_start_matches("discovery-");
        let text = match prompt.render(&values) {
            Ok(t) => t,
            Err(e) => {
                problems.push(format!("{pass}: {e}"));
                continue;
            }
        };
        let req = EngineRequest {
            phase: Phase::Discovery,
            prompt: text,
            model: model.clone(),
            workdir: repo.to_path_buf(),
            timeout: deps.timeout,
        };
        let out = match engine.run(&req).await {
            Ok(out) => out,
            // The engine is not installed here: discovery is optional, skip it cleanly.
            Err(EngineError::Spawn(e)) if passes.is_empty() => {
                let msg = format!("engine `{}` cannot run here: {e}", engine.id());
                return (stage("discovery", "skipped", msg), json!([]));
            }
            Err(e) => {
                problems.push(format!("{pass}: {e}"));
                continue;
            }
        };
        if !out.success {
            problems.push(format!("{pass}: engine failed: {}", out.stderr.trim()));
            continue;
        }
        let file = notes_dir.join(format!("{pass}.md"));
        let written =
            std::fs::create_dir_all(&notes_dir).and_then(|()| std::fs::write(&file, &out.stdout));
        if let Err(e) = written {
            problems.push(format!("{pass}: cannot write {}: {e}", file.display()));
            continue;
        }
        passes.push(json!({
            "pass": pass, "engine_id": engine.id(), "model": model,
            "prompt_version": prompt.version(), "path": file.display().to_string(),
            "tokens_used": out.tokens_used,
        }));
    }
    let offline = engine.id() == "offline";
    let status = if !problems.is_empty() || offline {
        "warning"
    } else {
        "completed"
    };
    let mut msg = format!(
        "{} of {} passes written to {} by engine `{}`",
        passes.len(),
        DISCOVERY.len(),
        notes_dir.display(),
        engine.id()
    );
    if offline {
        msg.push_str(" (offline engine: placeholders, no model was run)");
    }
    if !problems.is_empty() {
        msg.push_str(&format!("; problems: {}", problems.join("; ")));
    }
    (stage("discovery", status, msg), Value::Array(passes))
}

async fn git_stage(
    deps: &Deps,
    p: &Params,
    repo: &Path,
    cloned: bool,
    asks: &mut Vec<Value>,
) -> Value {
    let fail = |e: git::GitError| stage("git", "failed", e.to_string());
    let has_origin = match git::git(repo, &["remote"]).await {
        Ok(out) => out.lines().any(|r| r == "origin"),
        Err(e) => return fail(e),
    };
    if !has_origin {
        if let Err(e) = git::git(repo, &["remote", "add", "origin", &p.git_url]).await {
            return fail(e);
        }
    }
    if cloned {
        // Our own clone: commits made in it carry the worker's identity.
        for (key, value) in [
            ("user.name", &deps.identity.name),
            ("user.email", &deps.identity.email),
        ] {
            if let Err(e) = git::git(repo, &["config", key, value]).await {
                return fail(e);
            }
        }
    }
    if let Err(e) = git::git(repo, &["fetch", "--quiet", "origin"]).await {
        return stage("git", "warning", format!("origin not reachable: {e}"));
    }
    let base = &p.base_branch;
    let base_ref = format!("refs/remotes/origin/{base}");
    if git::git(repo, &["rev-parse", "--verify", "--quiet", &base_ref])
        .await
        .is_err()
    {
        asks.push(json!({
            "key": "base_branch",
            "question": format!("The base branch `{base}` is not on origin. Which branch should protocols start from?"),
            "applies_to": "planning", "blocking": true,
        }));
        return stage(
            "git",
            "warning",
            format!("origin fetched, but it has no branch `{base}`"),
        );
    }
    stage(
        "git",
        "completed",
        format!("origin fetched; base branch `{base}` present"),
    )
}

#[cfg(test)]
#[path = "setup_tests.rs"]
mod tests;
