//! Executions: starting one (a job of the workflow's compiled blueprint, see
//! [`crate::compile`]) and seeing one (the job read back as the face's view).
//!
//! The data: an execution is an engine job owned by the client [`CLIENT`]. Its
//! `initial_data` is the execution's variables (the workflow's `variables`, the inputs'
//! defaults, then what the caller gave); its `metadata.workflow` names the workflow
//! (`id`, `name`, `version`, declared `outputs`). Each state's `data` holds the answers of
//! its steps (the worker's `{"step_id", "status", "outputs", "tokens", ...}`), so per-step
//! status, durations and tokens, and the outputs, are read from the job alone: any
//! orchestrator can answer for any execution.

mod view;

pub use view::{status_name, Execution, StateSteps, StepView};

use crate::compile::{self, state_parts};
use crate::error::{WfError, WfResult};
use crate::model::Workflow;
use crate::validate;
use crate::FaceRef;
use baton_engine::NewJob;
use baton_protocol::clock::rfc3339;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use utoipa::ToSchema;

/// The step answers in a job's states (see [`baton_protocol::workflow`]).
pub use baton_protocol::workflow::answers;

/// The engine client that owns every execution.
pub const CLIENT: &str = "workflows";

/// A workflow by id: its active version, else its JSON record, else its YAML file.
pub async fn find_workflow(face: &FaceRef, id: &str) -> WfResult<Workflow> {
    let (versions, record) = face.records.workflow_sources(id).await?;
    // The active version first: activating one changes what the next execution runs.
    if let Some(raw) = versions {
        let set: crate::versions::VersionSet =
            serde_json::from_str(&raw).map_err(WfError::internal)?;
        if let Some(wf) = set.active_workflow() {
            return Ok(wf);
        }
    }
    if let Some(s) = record {
        return Ok(s.workflow);
    }
    face.yaml
        .get(id)
        .map(|y| y.workflow.clone())
        .ok_or_else(|| WfError::not_found(format!("no workflow `{id}`")))
}

/// Starts an execution of `wf` with `given` inputs; its id.
/// `wf` with every `prompt_id` of its `ai-prompt` steps replaced by the template's text
/// (and its system prompt and model where the step sets none); 422 naming a step whose
/// template does not exist.
async fn with_prompts(face: &FaceRef, wf: &Workflow) -> WfResult<Workflow> {
    let mut wf = wf.clone();
    for (i, step) in wf.steps.iter_mut().enumerate() {
        let Some(id) = step
            .params
            .get("prompt_id")
            .and_then(Value::as_str)
            .map(str::to_string)
        else {
            continue;
        };
        if step.params.contains_key("prompt") {
            continue;
        }
        let Some(p) = crate::api::prompts::find(face, &id).await? else {
            return Err(WfError::validation(format!(
                "step `{}`: no prompt template `{id}`",
                step.id
            ))
            .with("step_id", step.id.clone())
            .with("field", format!("steps[{i}].params.prompt_id")));
        };
        step.params.insert("prompt".into(), p.template.into());
        if let (Some(system), false) = (p.system_prompt, step.params.contains_key("system")) {
            step.params.insert("system".into(), system.into());
        }
        if let (Some(model), false) = (p.model, step.params.contains_key("model")) {
            step.params.insert("model".into(), model.into());
        }
    }
    Ok(wf)
}

pub async fn start(face: &FaceRef, wf: &Workflow, given: &Map<String, Value>) -> WfResult<String> {
    match start_with(face, wf, given, StartOptions::default()).await? {
        Started::New(id) | Started::Existed(id) => Ok(id),
    }
}

/// The blueprint `wf` compiles to, saved in the store for every orchestrator (once per
/// process: the name is the content's hash).
async fn compiled_blueprint(
    face: &FaceRef,
    wf: &Workflow,
) -> WfResult<Arc<baton_blueprint::Blueprint>> {
    let name = compile::blueprint_name(wf);
    for _ in 0..2 {
        if !face.saved_blueprints.read().contains(&name) {
            let compiled = compile::compile(wf);
            let text = serde_json::to_string(&compiled.definition).map_err(WfError::internal)?;
            face.records.put_blueprint(&compiled.name, &text).await?;
            face.saved_blueprints.write().insert(name.clone());
        }
        if let Some(bp) = face.engine.blueprint(&name).await? {
            return Ok(bp);
        }
        // Gone from the store (flushed, or a Redis that lost its data): save it again.
        face.saved_blueprints.write().remove(&name);
    }
    Err(WfError::internal(format!(
        "compiled blueprint {name} not found after saving it"
    )))
}

/// How an execution is started by a schedule or a webhook.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// The execution's id, derived by the caller (a tick, a delivery): starting it again
    /// finds the first one ([`Started::Existed`]).
    pub id: Option<String>,
    /// What started it (`metadata.trigger`, see [`crate::runs`]).
    pub trigger: Option<Value>,
}

/// What [`start_with`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    New(String),
    /// An execution with the given id exists: nothing new was started.
    Existed(String),
}

/// Starts an execution of `wf` with `given` inputs.
pub async fn start_with(
    face: &FaceRef,
    wf: &Workflow,
    given: &Map<String, Value>,
    opts: StartOptions,
) -> WfResult<Started> {
    let vars = validate::inputs(wf, given).map_err(crate::api::invalid)?;
    let wf = &with_prompts(face, wf).await?;
    let bp = compiled_blueprint(face, wf).await?;
    let name = bp.name.clone();
    let mut metadata = json!({"workflow": {
        "id": wf.id, "name": wf.name, "version": wf.version, "outputs": wf.outputs,
        "token_budget": wf.token_budget,
    }});
    if let Some(trigger) = opts.trigger {
        metadata["trigger"] = trigger;
    }
    // The workflow's `timeout_seconds` bounds a synchronous wait, not the execution: past
    // it the caller gets the id to poll and the execution goes on.
    let job = NewJob {
        initial_data: Value::Object(vars),
        metadata,
        hook: Some(crate::hook::HOOK.to_string()),
        id: opts.id,
        ..NewJob::default()
    };
    let id = match face.engine.create_job(CLIENT, &bp, job).await {
        Ok(id) => id,
        Err(baton_engine::EngineError::Exists(id)) => return Ok(Started::Existed(id)),
        Err(e) => return Err(e.into()),
    };
    face.metrics.started.inc();
    // Only listings need the index; the execution runs without it.
    if let Err(e) = face
        .records
        .add_execution(&id, baton_protocol::clock::now_ms())
        .await
    {
        tracing::warn!(execution = %id, error = %e, "execution not indexed: it will not be listed");
    }
    tracing::info!(execution = %id, workflow = %wf.id, blueprint = %name, "execution started");
    Ok(Started::New(id))
}

/// [`StateSteps`] by blueprint name, read once per process: the names are
/// content-addressed, so an entry never goes stale.
#[derive(Default)]
pub struct StepsCache(parking_lot::RwLock<std::collections::HashMap<String, Arc<StateSteps>>>);

/// The states and steps of the compiled blueprint `name` (empty when it is gone).
async fn steps_of(face: &FaceRef, name: &str) -> WfResult<Arc<StateSteps>> {
    if let Some(steps) = face.compiled.0.read().get(name) {
        return Ok(steps.clone());
    }
    let Some(text) = face.records.get_blueprint(name).await? else {
        return Ok(Arc::default());
    };
    let definition: Value = serde_json::from_str(&text).map_err(WfError::internal)?;
    let steps = Arc::new(state_parts(&definition));
    face.compiled
        .0
        .write()
        .insert(name.to_string(), steps.clone());
    Ok(steps)
}

/// The execution `id`; 404 when there is none (or the job is not an execution).
pub async fn load(face: &FaceRef, id: &str) -> WfResult<Execution> {
    Ok(load_versioned(face, id).await?.1)
}

/// The version of execution `id`'s job (it moves with every change), if it exists.
pub async fn version(face: &FaceRef, id: &str) -> WfResult<Option<u64>> {
    Ok(face.engine.store.get_job(id).await?.map(|j| j.version))
}

/// The execution `id` and the version of its job it was read at.
pub async fn load_versioned(face: &FaceRef, id: &str) -> WfResult<(u64, Execution)> {
    let not_found = || WfError::not_found(format!("no execution `{id}`"));
    let (job, doc) = face.engine.job(id).await?.ok_or_else(not_found)?;
    if doc.client != CLIENT || doc.metadata.get("workflow").is_none() {
        return Err(not_found());
    }
    if face.records.is_deleted(id).await? {
        return Err(not_found());
    }
    let steps = steps_of(face, &doc.blueprint).await?;
    Ok((job.version, view::view(&job, &doc, steps)))
}

/// One entry of an execution's log: an event of its job's history.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LogEntry {
    /// 1, 2, ... in order.
    pub id: u64,
    pub execution_id: String,
    pub timestamp: String,
    /// `info`, `warning` or `error`.
    pub level: String,
    pub message: String,
    /// The step it is about, when its state runs one step.
    pub step_id: Option<String>,
    /// The event as the engine recorded it.
    #[schema(value_type = Object)]
    pub metadata: Value,
}

fn level_of(entry: &Value) -> &'static str {
    let kind = entry["event_type"].as_str().unwrap_or_default();
    match kind {
        "job_failed" | "job_quarantined" => "error",
        "task_finished"
            if entry["result_status"]
                .as_str()
                .is_some_and(|s| s != "success") =>
        {
            "error"
        }
        "retry_scheduled" | "lease_expired" | "lease_revoked" | "task_timed_out"
        | "job_cancelled" => "warning",
        _ => "info",
    }
}

/// The execution's log, oldest first: its job's history with levels and step ids.
pub async fn logs(face: &FaceRef, execution: &Execution) -> WfResult<Vec<LogEntry>> {
    let id = execution.id.as_str();
    let steps: std::collections::HashMap<&str, Vec<String>> = execution
        .state_steps
        .iter()
        .map(|(state, parts)| {
            let ids = parts.iter().map(|p| p.step.clone()).collect();
            (state.as_str(), ids)
        })
        .collect();
    let history = face.engine.history(id).await?;
    Ok(history
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            let entry: Value = serde_json::from_str(raw).unwrap_or(Value::Null);
            let kind = entry["event_type"].as_str().unwrap_or("event");
            let state = entry["state"]
                .as_str()
                .or_else(|| entry["next_state"].as_str());
            let ids = state.and_then(|s| steps.get(s));
            let mut message = kind.replace('_', " ");
            if let Some(ids) = ids.filter(|ids| !ids.is_empty()) {
                message.push_str(&format!(" (step {})", ids.join(", ")));
            }
            if let Some(w) = entry["worker_id"].as_str() {
                message.push_str(&format!(" on {w}"));
            }
            if let Some(e) = entry["error"]["message"].as_str() {
                message.push_str(&format!(": {e}"));
            }
            LogEntry {
                id: i as u64 + 1,
                execution_id: id.to_string(),
                timestamp: rfc3339(entry["timestamp_ms"].as_i64().unwrap_or(0)),
                level: level_of(&entry).to_string(),
                message,
                step_id: ids.filter(|ids| ids.len() == 1).map(|ids| ids[0].clone()),
                metadata: entry,
            }
        })
        .collect())
}

/// Most executions a listing looks at (the newest ones).
pub const LIST_SCAN: usize = 1000;

/// The newest executions (at most [`LIST_SCAN`] looked at) that pass `keep`.
pub async fn recent(face: &FaceRef, keep: impl Fn(&Execution) -> bool) -> WfResult<Vec<Execution>> {
    let ids = face.records.recent_executions(LIST_SCAN).await?;
    let mut out = Vec::new();
    for id in ids {
        match load(face, &id).await {
            Ok(e) if keep(&e) => out.push(e),
            Ok(_) => {}
            Err(e) if e.status == warp::http::StatusCode::NOT_FOUND => {
                // Its job expired (retention): forget it.
                let _ = face.records.remove_execution(&id).await;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Deletes an ended execution; 409 while it runs.
pub async fn delete(face: &FaceRef, id: &str) -> WfResult<()> {
    let e = load(face, id).await?;
    if !e.is_terminal() {
        return Err(WfError::conflict(format!(
            "execution {id} is {}: cancel it first, or wait for its end",
            e.status
        )));
    }
    let keep = face.engine.cfg.job_retention.as_millis();
    face.records
        .delete_execution(id, u64::try_from(keep).unwrap_or(u64::MAX))
        .await?;
    Ok(())
}

/// Deletes the ended executions that ended more than `max_age` ago; how many.
pub async fn cleanup(face: &FaceRef, max_age: std::time::Duration) -> WfResult<u64> {
    let cutoff = baton_protocol::clock::now_ms()
        .saturating_sub(i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX));
    let old = recent(face, |e| {
        e.is_terminal() && e.completed_ms.unwrap_or(e.started_ms) < cutoff
    })
    .await?;
    for e in &old {
        delete(face, &e.id).await?;
    }
    Ok(old.len() as u64)
}
