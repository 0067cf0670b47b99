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
//!
//! Every skill also reports its run ([`RunLog`]): its progress lines and the engine's
//! output as the log, the files it wrote as artifacts, also when it fails.

use super::budget::{Budget, BudgetCheck};
use super::engine::{resolve_model, EngineOutput, EngineRequest, Engines, Phase};
use super::git::{self, Identity};
use super::pr::{open_pr, PrConfig, PrRequest};
use super::prompts::{self, Prompt};
use super::qa::verdict;
use super::report::RunLog;
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

/// A skill's failure: its code (as RXON error codes), message and run report (sent as
/// `error.details.run`, see [`RunLog::finish`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SkillError {
    pub code: &'static str,
    pub message: String,
    pub run: Option<Value>,
}

impl SkillError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        SkillError {
            code,
            message: message.into(),
            run: None,
        }
    }
    fn invalid(message: impl Into<String>) -> Self {
        Self::new("INVALID_INPUT_ERROR", message)
    }
    fn transient(message: impl Into<String>) -> Self {
        Self::new("TRANSIENT_ERROR", message)
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
    /// What the step asks when the branch has no plan files for it (an imported
    /// CodeMachine step: its agent's prompt).
    #[serde(default)]
    pub step_prompt: Option<String>,
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

async fn worktree(deps: &Deps, t: &Target, log: &mut RunLog) -> Result<PathBuf, SkillError> {
    let repo = git::ensure_repo(
        &t.git_url,
        t.local_path.as_deref(),
        &deps.projects_root,
        t.project_id,
    )
    .await
    .map_err(git_err)?;
    let wt = git::worktree(&repo, &t.protocol_name, &t.base_branch)
        .await
        .map_err(git_err)?;
    log.line(format!(
        "worktree of {} at {}",
        t.protocol_name,
        wt.display()
    ));
    Ok(wt)
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
    log: &mut RunLog,
) -> Result<(EngineOutput, Value), SkillError> {
    let text = prompt.render(values).map_err(SkillError::invalid)?;
    let warning = match deps.budget.check(&text, t.tokens_spent) {
        BudgetCheck::Refuse { message, .. } => {
            return Err(SkillError::new(
                "PERMANENT_ERROR",
                format!("token budget: {message}"),
            ))
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
    let estimated = super::budget::estimate_tokens(&text);
    log.line(format!(
        "engine {} model {model} prompt {}@{} (~{estimated} tokens){}",
        engine.id(),
        prompt.name,
        prompt.version(),
        warning
            .as_deref()
            .map(|w| format!("; budget warning: {w}"))
            .unwrap_or_default()
    ));
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
    log.engine(&out);
    let record = json!({
        "engine_id": engine.id(), "model": model, "phase": phase.as_str(),
        "prompt": prompt.name, "prompt_version": prompt.version(),
        "tokens_used": out.tokens_used, "budget_warning": warning,
        "tokens_estimated": estimated + super::budget::estimate_tokens(&out.stdout),
    });
    log.meta(&record);
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
    let mut log = RunLog::new();
    let outcome = plan(deps, params, &mut log).await;
    log.finish(outcome)
}

async fn plan(deps: &Deps, params: &Value, log: &mut RunLog) -> Result<Value, SkillError> {
    let t = target(params)?;
    let wt = worktree(deps, &t, log).await?;
    let mut values = BTreeMap::new();
    values.insert("branch", t.protocol_name.clone());
    values.insert("protocol_name", t.protocol_name.clone());
    values.insert("description", t.description.clone().unwrap_or_default());
    let (out, run) = ask(deps, &t, Phase::Plan, prompts::PLAN, &values, &wt, log).await?;
    if !out.success {
        return Err(SkillError::transient(format!(
            "planning engine failed: {}",
            out.stderr.trim()
        )));
    }
    let plan = json_in(&out.stdout).ok_or_else(|| {
        SkillError::new(
            "CONTRACT_VIOLATION_ERROR",
            "the planning engine did not answer the plan JSON",
        )
    })?;
    let dir = protocol_dir(&wt, &t);
    std::fs::create_dir_all(&dir).map_err(|e| SkillError::transient(e.to_string()))?;
    let mut write = |name: &str, kind: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| SkillError::transient(e.to_string()))?;
        log.artifact(name, kind, &path, &wt, text);
        Ok::<_, SkillError>(())
    };
    for (key, file) in [
        ("plan_md", "plan.md"),
        ("context_md", "context.md"),
        ("log_md", "log.md"),
    ] {
        write(file, "plan", plan[key].as_str().unwrap_or(""))?;
    }
    let mut step_files = Vec::new();
    for f in plan["step_files"].as_array().into_iter().flatten() {
        let name = f["filename"].as_str().unwrap_or("");
        // Plans name their files; nothing may escape the protocol folder.
        if name.is_empty() || name.contains('/') || name.contains("..") {
            return Err(SkillError::new(
                "CONTRACT_VIOLATION_ERROR",
                format!("bad step file name `{name}`"),
            ));
        }
        write(name, "step", f["content"].as_str().unwrap_or(""))?;
        // The step's engine, model and policies, when the plan names them, go to the
        // orchestrator with the file (it creates the step records).
        let mut entry = json!({"filename": name, "content": f["content"]});
        for key in ["engine_id", "model", "policy"] {
            if !f[key].is_null() {
                entry[key] = f[key].clone();
            }
        }
        step_files.push(entry);
    }
    let commit = git::commit_all(&wt, &format!("{}: plan", t.protocol_name), &deps.identity)
        .await
        .map_err(git_err)?;
    git::push(&wt, &t.protocol_name).await.map_err(git_err)?;
    log.line(format!("plan committed ({commit:?}) and pushed"));
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
    // An imported CodeMachine step has no plan files: its prompt stands for both.
    match (read(&step), &t.step_prompt) {
        (Ok(text), _) => Ok((step.clone(), read("plan.md")?, text)),
        (Err(_), Some(prompt)) => {
            let plan =
                read("plan.md").unwrap_or_else(|_| t.description.clone().unwrap_or_default());
            Ok((step, plan, prompt.clone()))
        }
        (Err(e), None) => Err(e),
    }
}

/// Executes one step in the worktree, commits and pushes what it changed.
pub async fn execute_step(deps: &Deps, params: &Value) -> Result<Value, SkillError> {
    let mut log = RunLog::new();
    let outcome = execute(deps, params, &mut log).await;
    log.finish(outcome)
}

async fn execute(deps: &Deps, params: &Value, log: &mut RunLog) -> Result<Value, SkillError> {
    let t = target(params)?;
    let wt = worktree(deps, &t, log).await?;
    let (step_name, plan, step) = step_text(&protocol_dir(&wt, &t), &t)?;
    let values = BTreeMap::from([
        ("plan", plan),
        ("step_name", step_name.clone()),
        ("step", step),
    ]);
    let (out, run) = ask(
        deps,
        &t,
        Phase::Execute,
        prompts::EXECUTE,
        &values,
        &wt,
        log,
    )
    .await?;
    // The step's output as a file beside it, like upstream's per-step outputs.
    let output_name = format!("{}.output.md", step_name.trim_end_matches(".md"));
    let output_path = protocol_dir(&wt, &t).join(&output_name);
    log.artifact(&output_name, "output", &output_path, &wt, &out.stdout);
    let commit = if out.success {
        let c = git::commit_all(
            &wt,
            &format!("{}: {step_name}", t.protocol_name),
            &deps.identity,
        )
        .await
        .map_err(git_err)?;
        git::push(&wt, &t.protocol_name).await.map_err(git_err)?;
        log.line(format!("step committed ({c:?}) and pushed"));
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
    let mut log = RunLog::new();
    let outcome = review(deps, params, &mut log).await;
    log.finish(outcome)
}

async fn review(deps: &Deps, params: &Value, log: &mut RunLog) -> Result<Value, SkillError> {
    let t = target(params)?;
    let wt = worktree(deps, &t, log).await?;
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
    let (out, run) = ask(deps, &t, Phase::Qa, prompts::QA, &values, &wt, log).await?;
    let report = if out.success {
        out.stdout.clone()
    } else {
        String::new()
    };
    let report_path = protocol_dir(&wt, &t).join("quality-report.md");
    let _ = std::fs::write(&report_path, &report);
    log.artifact("quality-report.md", "qa_report", &report_path, &wt, &report);
    let verdict = verdict(&report).as_str();
    log.line(format!("verdict: {verdict}"));
    Ok(json!({"verdict": verdict, "report": tail(&report, 20_000), "run": run}))
}

/// Pushes the branch and opens its PR.
pub async fn open_pull_request(deps: &Deps, params: &Value) -> Result<Value, SkillError> {
    let mut log = RunLog::new();
    let outcome = pull_request(deps, params, &mut log).await;
    log.finish(outcome)
}

async fn pull_request(deps: &Deps, params: &Value, log: &mut RunLog) -> Result<Value, SkillError> {
    let t = target(params)?;
    let wt = worktree(deps, &t, log).await?;
    git::push(&wt, &t.protocol_name).await.map_err(git_err)?;
    log.line(format!("pushed {}", t.protocol_name));
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
    log.line(format!("PR: {url}"));
    Ok(json!({"pr_url": url, "run": {"phase": "open_pr"}}))
}

/// The last `max` characters of `s` (logs are long; their end says what happened).
fn tail(s: &str, max: usize) -> String {
    let n = s.chars().count();
    s.chars().skip(n.saturating_sub(max)).collect()
}

#[cfg(test)]
mod tests;
