//! The pipeline skills a worker runs: `plan_protocol`, `execute_step`, `run_quality` and
//! `open_pr`. Each takes the task's params, works in the project's repository (a worktree
//! per protocol branch) through an engine, and answers a structured outcome; the
//! orchestrator owns the records and applies the outcome (see
//! `baton_orchestrator::pipelines::outcomes`).
//!
//! Params every skill reads ([`Target`]): `project_id`, `git_url`, `local_path?`,
//! `protocol_name` (the branch), `base_branch`, and `engine_id?` / `model?` /
//! `default_models?` for model resolution. Plans live in the worktree under
//! `.protocols/<protocol_name>/` (`plan.md`, `context.md`, `log.md`, `NN-*.md`).

use super::budget::{Budget, BudgetCheck};
use super::engine::{resolve_model, EngineOutput, EngineRequest, Engines, Phase};
use super::git::{self, Identity};
use super::pr::{open_pr, PrConfig, PrRequest};
use super::prompts::{self, Prompt};
use super::qa::verdict;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What the skills share: engines, where repositories go, limits.
pub struct Deps {
    pub engines: Engines,
    pub projects_root: PathBuf,
    pub default_model: String,
    pub timeout: Duration,
    pub budget: Budget,
    pub identity: Identity,
    pub pr: PrConfig,
}

/// A skill's failure: its code (as RXON error codes) and message.
#[derive(Debug, Clone, PartialEq)]
pub struct SkillError {
    pub code: &'static str,
    pub message: String,
}

impl SkillError {
    fn invalid(message: impl Into<String>) -> Self {
        SkillError {
            code: "INVALID_INPUT_ERROR",
            message: message.into(),
        }
    }
    fn transient(message: impl Into<String>) -> Self {
        SkillError {
            code: "TRANSIENT_ERROR",
            message: message.into(),
        }
    }
}

/// The repository and branch a task is about.
#[derive(Debug, Clone, Deserialize)]
pub struct Target {
    pub project_id: u64,
    pub git_url: String,
    #[serde(default)]
    pub local_path: Option<PathBuf>,
    pub protocol_name: String,
    #[serde(default = "main")]
    pub base_branch: String,
    #[serde(default)]
    pub engine_id: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub default_models: Option<Value>,
    #[serde(default)]
    pub description: Option<String>,
    /// `NN-name.md` of the step, for execute and QA.
    #[serde(default)]
    pub step_name: Option<String>,
    /// Tokens the protocol run has spent so far (for its budget).
    #[serde(default)]
    pub tokens_spent: u64,
}

fn main() -> String {
    "main".into()
}

fn target(params: &Value) -> Result<Target, SkillError> {
    serde_json::from_value(params.clone())
        .map_err(|e| SkillError::invalid(format!("bad params: {e}")))
}

fn git_err(e: git::GitError) -> SkillError {
    SkillError::transient(e.to_string())
}

async fn worktree(deps: &Deps, t: &Target) -> Result<PathBuf, SkillError> {
    let repo = git::ensure_repo(
        &t.git_url,
        t.local_path.as_deref(),
        &deps.projects_root,
        t.project_id,
    )
    .await
    .map_err(git_err)?;
    git::worktree(&repo, &t.protocol_name, &t.base_branch)
        .await
        .map_err(git_err)
}

fn protocol_dir(wt: &Path, t: &Target) -> PathBuf {
    wt.join(".protocols").join(&t.protocol_name)
}

/// Renders, checks the budget, runs the engine; the output and the run's record fields.
async fn ask(
    deps: &Deps,
    t: &Target,
    phase: Phase,
    prompt: Prompt,
    values: &BTreeMap<&str, String>,
    workdir: &Path,
) -> Result<(EngineOutput, Value), SkillError> {
    let text = prompt.render(values).map_err(SkillError::invalid)?;
    let warning = match deps.budget.check(&text, t.tokens_spent) {
        BudgetCheck::Refuse { message, .. } => {
            return Err(SkillError {
                code: "PERMANENT_ERROR",
                message: format!("token budget: {message}"),
            })
        }
        BudgetCheck::Warn { message, .. } => Some(message),
        BudgetCheck::Ok { .. } => None,
    };
    let engine = deps
        .engines
        .get(t.engine_id.as_deref())
        .map_err(|e| SkillError::invalid(e.to_string()))?;
    let model = resolve_model(
        t.model.as_deref(),
        t.default_models.as_ref(),
        phase,
        &deps.default_model,
    );
    let req = EngineRequest {
        phase,
        prompt: text,
        model: model.clone(),
        workdir: workdir.to_path_buf(),
        timeout: deps.timeout,
    };
    let out = engine
        .run(&req)
        .await
        .map_err(|e| SkillError::transient(e.to_string()))?;
    let record = json!({
        "engine_id": engine.id(), "model": model, "phase": phase.as_str(),
        "prompt": prompt.name, "prompt_version": prompt.version(),
        "tokens_used": out.tokens_used, "budget_warning": warning,
    });
    Ok((out, record))
}

/// The JSON object in an answer, also inside a ```json fence.
fn json_in(answer: &str) -> Option<Value> {
    let trimmed = answer.trim();
    let body = trimmed
        .find("```")
        .and_then(|start| {
            let after = &trimmed[start + 3..];
            let after = after.strip_prefix("json").unwrap_or(after);
            after.find("```").map(|end| &after[..end])
        })
        .unwrap_or(trimmed);
    serde_json::from_str(body.trim())
        .ok()
        .filter(Value::is_object)
}

/// Plans the protocol: writes `.protocols/<name>/` in its worktree, commits and pushes.
pub async fn plan_protocol(deps: &Deps, params: &Value) -> Result<Value, SkillError> {
    let t = target(params)?;
    let wt = worktree(deps, &t).await?;
    let mut values = BTreeMap::new();
    values.insert("branch", t.protocol_name.clone());
    values.insert("protocol_name", t.protocol_name.clone());
    values.insert("description", t.description.clone().unwrap_or_default());
    let (out, run) = ask(deps, &t, Phase::Plan, prompts::PLAN, &values, &wt).await?;
    if !out.success {
        return Err(SkillError::transient(format!(
            "planning engine failed: {}",
            out.stderr.trim()
        )));
    }
    let plan = json_in(&out.stdout).ok_or_else(|| SkillError {
        code: "CONTRACT_VIOLATION_ERROR",
        message: "the planning engine did not answer the plan JSON".into(),
    })?;
    let dir = protocol_dir(&wt, &t);
    std::fs::create_dir_all(&dir).map_err(|e| SkillError::transient(e.to_string()))?;
    let write = |name: &str, text: &str| {
        std::fs::write(dir.join(name), text).map_err(|e| SkillError::transient(e.to_string()))
    };
    for (key, file) in [
        ("plan_md", "plan.md"),
        ("context_md", "context.md"),
        ("log_md", "log.md"),
    ] {
        write(file, plan[key].as_str().unwrap_or(""))?;
    }
    let mut step_files = Vec::new();
    for f in plan["step_files"].as_array().into_iter().flatten() {
        let name = f["filename"].as_str().unwrap_or("");
        // Plans name their files; nothing may escape the protocol folder.
        if name.is_empty() || name.contains('/') || name.contains("..") {
            return Err(SkillError {
                code: "CONTRACT_VIOLATION_ERROR",
                message: format!("bad step file name `{name}`"),
            });
        }
        write(name, f["content"].as_str().unwrap_or(""))?;
        step_files.push(json!({"filename": name, "content": f["content"]}));
    }
    let commit = git::commit_all(&wt, &format!("{}: plan", t.protocol_name), &deps.identity)
        .await
        .map_err(git_err)?;
    git::push(&wt, &t.protocol_name).await.map_err(git_err)?;
    Ok(json!({
        "plan_md": plan["plan_md"], "step_files": step_files, "commit": commit,
        "worktree_path": wt.display().to_string(),
        "protocol_root": dir.display().to_string(), "run": run,
    }))
}

fn step_text(dir: &Path, t: &Target) -> Result<(String, String, String), SkillError> {
    let step = t
        .step_name
        .clone()
        .ok_or_else(|| SkillError::invalid("`step_name` is required"))?;
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .map_err(|e| SkillError::invalid(format!("{name}: {e}")))
    };
    Ok((step.clone(), read("plan.md")?, read(&step)?))
}

/// Executes one step in the worktree, commits and pushes what it changed.
pub async fn execute_step(deps: &Deps, params: &Value) -> Result<Value, SkillError> {
    let t = target(params)?;
    let wt = worktree(deps, &t).await?;
    let (step_name, plan, step) = step_text(&protocol_dir(&wt, &t), &t)?;
    let values = BTreeMap::from([
        ("plan", plan),
        ("step_name", step_name.clone()),
        ("step", step),
    ]);
    let (out, run) = ask(deps, &t, Phase::Execute, prompts::EXECUTE, &values, &wt).await?;
    let commit = if out.success {
        let c = git::commit_all(
            &wt,
            &format!("{}: {step_name}", t.protocol_name),
            &deps.identity,
        )
        .await
        .map_err(git_err)?;
        git::push(&wt, &t.protocol_name).await.map_err(git_err)?;
        c
    } else {
        None
    };
    Ok(json!({
        "success": out.success, "commit": commit,
        "output": tail(&out.stdout, 20_000), "stderr": tail(&out.stderr, 5_000),
        "error": (!out.success).then(|| format!("engine failed: {}", tail(&out.stderr, 500))),
        "run": run,
    }))
}

/// Reviews a step; the verdict is read from the report's last `VERDICT` line.
pub async fn run_quality(deps: &Deps, params: &Value) -> Result<Value, SkillError> {
    let t = target(params)?;
    let wt = worktree(deps, &t).await?;
    let (step_name, plan, step) = step_text(&protocol_dir(&wt, &t), &t)?;
    let status = git::git(&wt, &["status", "--short"])
        .await
        .map_err(git_err)?;
    let last = git::git(&wt, &["log", "-1", "--stat"])
        .await
        .map_err(git_err)?;
    let values = BTreeMap::from([
        ("plan", plan),
        ("step_name", step_name),
        ("step", step),
        ("git_status", status),
        ("last_commit", last),
    ]);
    let (out, run) = ask(deps, &t, Phase::Qa, prompts::QA, &values, &wt).await?;
    let report = if out.success {
        out.stdout.clone()
    } else {
        String::new()
    };
    let _ = std::fs::write(protocol_dir(&wt, &t).join("quality-report.md"), &report);
    Ok(json!({"verdict": verdict(&report).as_str(), "report": tail(&report, 20_000), "run": run}))
}

/// Pushes the branch and opens its PR.
pub async fn open_pull_request(deps: &Deps, params: &Value) -> Result<Value, SkillError> {
    let t = target(params)?;
    let wt = worktree(deps, &t).await?;
    git::push(&wt, &t.protocol_name).await.map_err(git_err)?;
    let remote = git::git(&wt, &["remote", "get-url", "origin"])
        .await
        .map_err(git_err)?;
    let body = format!(
        "Protocol `{}`, planned and executed by Baton.\n\n{}",
        t.protocol_name,
        t.description.clone().unwrap_or_default()
    );
    let req = PrRequest {
        dir: &wt,
        remote_url: remote.trim(),
        branch: &t.protocol_name,
        base: &t.base_branch,
        title: &t.protocol_name,
        body: &body,
    };
    let url = open_pr(&deps.pr, &req)
        .await
        .map_err(|e| SkillError::transient(e.to_string()))?;
    Ok(json!({"pr_url": url}))
}

/// The last `max` characters of `s` (logs are long; their end says what happened).
fn tail(s: &str, max: usize) -> String {
    let n = s.chars().count();
    s.chars().skip(n.saturating_sub(max)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::budget::BudgetMode;
    use crate::pipeline::codex::CodexEngine;
    use crate::pipeline::offline::{OfflineEngine, BANNER};
    use std::os::unix::fs::PermissionsExt;
    use std::sync::Arc;

    struct World {
        root: PathBuf,
        origin: PathBuf,
        deps: Deps,
    }

    /// A bare origin with one commit, a fake `codex` (QA prompts pass, others write a
    /// file) and a fake `gh`.
    async fn world(name: &str) -> World {
        let root = std::env::temp_dir().join(format!("baton-skills-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let seed = root.join("seed");
        std::fs::create_dir_all(&seed).unwrap();
        let origin = root.join("origin.git");
        git::git(
            &root,
            &[
                "init",
                "--quiet",
                "--bare",
                "-b",
                "main",
                origin.to_str().unwrap(),
            ],
        )
        .await
        .unwrap();
        git::git(&seed, &["init", "--quiet", "-b", "main"])
            .await
            .unwrap();
        std::fs::write(seed.join("README.md"), "app\n").unwrap();
        git::commit_all(&seed, "first", &Identity::default())
            .await
            .unwrap();
        git::git(
            &seed,
            &["push", "--quiet", origin.to_str().unwrap(), "main"],
        )
        .await
        .unwrap();
        let script = |file: &str, body: &str| {
            let path = root.join(file);
            std::fs::write(&path, body).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
            path
        };
        let codex = script("codex", "#!/bin/sh\ninput=$(cat)\ncase \"$input\" in *'Review it'*) echo 'looks right'; echo 'VERDICT: PASS';; *) echo done > work.txt; echo 'did the step';; esac\n");
        let gh = script(
            "gh",
            "#!/bin/sh\necho https://github.test/acme/app/pull/3\n",
        );
        let deps = Deps {
            engines: Engines::new()
                .with(Arc::new(OfflineEngine))
                .with(Arc::new(CodexEngine {
                    binary: codex,
                    ..CodexEngine::default()
                })),
            projects_root: root.join("projects"),
            default_model: "m".into(),
            timeout: Duration::from_secs(20),
            budget: Budget {
                mode: BudgetMode::Warn,
                per_step: Some(1_000_000),
                per_protocol: None,
            },
            identity: Identity::default(),
            pr: PrConfig {
                gh: Some(gh),
                ..PrConfig::default()
            },
        };
        World { root, origin, deps }
    }

    fn params(w: &World, engine: &str, step: Option<&str>) -> Value {
        json!({
            "project_id": 1, "git_url": w.origin.to_str().unwrap(), "protocol_name": "0001-demo",
            "base_branch": "main", "engine_id": engine, "step_name": step, "description": "demo",
        })
    }

    #[tokio::test]
    async fn offline_plan_is_written_committed_pushed_and_its_qa_fails() {
        let w = world("offline").await;
        let out = plan_protocol(&w.deps, &params(&w, "offline", None))
            .await
            .unwrap();
        assert_eq!(out["step_files"][0]["filename"], "01-placeholder.md");
        assert_eq!(out["run"]["engine_id"], "offline");
        assert_eq!(
            out["run"]["prompt_version"].as_str().map(str::len),
            Some(12)
        );
        let dir = PathBuf::from(out["protocol_root"].as_str().unwrap());
        let step = std::fs::read_to_string(dir.join("01-placeholder.md")).unwrap();
        assert!(step.starts_with(BANNER), "labelled: {step}");
        let pushed = git::git(&w.origin, &["log", "--format=%s", "0001-demo"])
            .await
            .unwrap();
        assert!(pushed.starts_with("0001-demo: plan"), "{pushed}");
        let qa = run_quality(&w.deps, &params(&w, "offline", Some("01-placeholder.md")))
            .await
            .unwrap();
        assert_eq!(qa["verdict"], "FAIL", "an offline review approves nothing");
        let _ = std::fs::remove_dir_all(&w.root);
    }

    #[tokio::test]
    async fn codex_executes_a_step_and_its_qa_passes_then_a_pr_opens() {
        let w = world("codex").await;
        plan_protocol(&w.deps, &params(&w, "offline", None))
            .await
            .unwrap();
        let exec = execute_step(&w.deps, &params(&w, "codex", Some("01-placeholder.md")))
            .await
            .unwrap();
        assert_eq!(exec["success"], true, "{exec}");
        assert!(exec["output"].as_str().unwrap().contains("did the step"));
        let sha = exec["commit"].as_str().expect("a commit").to_string();
        let on_origin = git::git(&w.origin, &["rev-parse", "0001-demo"])
            .await
            .unwrap();
        assert_eq!(on_origin.trim(), sha);
        let qa = run_quality(&w.deps, &params(&w, "codex", Some("01-placeholder.md")))
            .await
            .unwrap();
        assert_eq!(qa["verdict"], "PASS", "{qa}");
        let pr = open_pull_request(&w.deps, &params(&w, "codex", None))
            .await
            .unwrap();
        assert_eq!(pr["pr_url"], "https://github.test/acme/app/pull/3");
        let missing = execute_step(&w.deps, &params(&w, "codex", Some("09-nope.md")))
            .await
            .unwrap_err();
        assert_eq!(missing.code, "INVALID_INPUT_ERROR");
        let _ = std::fs::remove_dir_all(&w.root);
    }

    #[tokio::test]
    async fn a_strict_budget_refuses_before_any_engine_runs() {
        let mut w = world("budget").await;
        w.deps.budget = Budget {
            mode: BudgetMode::Strict,
            per_step: Some(10),
            per_protocol: None,
        };
        let err = plan_protocol(&w.deps, &params(&w, "codex", None))
            .await
            .unwrap_err();
        assert_eq!(err.code, "PERMANENT_ERROR");
        assert!(err.message.contains("step budget 10"), "{}", err.message);
        let err = plan_protocol(&w.deps, &json!({"project_id": "x"}))
            .await
            .unwrap_err();
        assert_eq!(err.code, "INVALID_INPUT_ERROR");
        let _ = std::fs::remove_dir_all(&w.root);
    }

    #[test]
    fn plan_json_is_found_in_fences() {
        assert_eq!(json_in("```json\n{\"a\": 1}\n```"), Some(json!({"a": 1})));
        assert_eq!(json_in(" {\"a\": 2} "), Some(json!({"a": 2})));
        assert_eq!(json_in("no json here"), None);
        assert_eq!(tail("abcdef", 3), "def");
    }
}
