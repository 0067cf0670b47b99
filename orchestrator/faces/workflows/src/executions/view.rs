//! An execution as the face shows it, read from its job alone: the status by the face's
//! names, one [`StepView`] per step of the workflow (in the order the states run them),
//! the outputs, the error.
//!
//! Each state of the compiled blueprint says which steps it runs ([`Part`]s). A step's
//! view is put together from its parts: its own answer (a dispatch state's `data`, or its
//! branch's in a parallel state), or for a `fan_out` / `map_reduce` step the answer of its
//! items task, its items' answers (tokens and cost summed, failed items named) and its
//! reduce's answer. A `parallel` step's view sums the steps it runs, which are listed
//! after it.

use crate::compile::parts::{Part, Role};
use baton_engine::job::JobDoc;
use baton_protocol::clock::rfc3339;
use baton_protocol::job_status;
use baton_store::StoredJob;
use serde::Serialize;
use serde_json::{Map, Value};
use std::sync::Arc;
use utoipa::ToSchema;

/// One step of an execution.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StepView {
    pub step_id: String,
    /// `pending`, `running`, `completed`, `completed_with_default`, `skipped`, `failed`
    /// or `cancelled`.
    pub status: String,
    pub duration_ms: Option<u64>,
    pub tokens_used: u64,
    /// What the step's AI calls cost (the worker's price table), in cents.
    pub cost_cents: f64,
    pub error: Option<String>,
    /// A checkpoint step that recorded its checkpoint (where a failed execution resumes).
    #[serde(skip)]
    pub checkpoint: bool,
}

/// Each state of a compiled blueprint and the parts of steps it runs, in order.
pub type StateSteps = Vec<(String, Vec<Part>)>;

/// What the face knows of an execution.
pub struct Execution {
    pub id: String,
    pub workflow_id: String,
    pub workflow_name: String,
    /// The version of the definition it runs (the active version's, or the workflow's
    /// own `version`).
    pub workflow_version: String,
    pub status: String,
    pub started_at: String,
    pub started_ms: i64,
    pub completed_at: Option<String>,
    pub completed_ms: Option<i64>,
    pub duration_ms: Option<u64>,
    pub steps: Vec<StepView>,
    pub outputs: Map<String, Value>,
    pub variables: Value,
    pub error: Option<String>,
    pub current_step: Option<String>,
    pub checkpoint_id: Option<String>,
    /// The states of its blueprint and their steps (for its log).
    pub state_steps: Arc<StateSteps>,
}

impl Execution {
    /// The steps that do work (a `parallel` step's total is counted through its steps).
    fn counted(&self) -> impl Iterator<Item = &StepView> {
        let parents: Vec<&str> = self
            .state_steps
            .iter()
            .flat_map(|(_, parts)| parts)
            .filter_map(|p| match &p.role {
                Role::Sub(parent) => Some(parent.as_str()),
                _ => None,
            })
            .collect();
        self.steps
            .iter()
            .filter(move |s| !parents.contains(&s.step_id.as_str()))
    }
    pub fn total_tokens(&self) -> u64 {
        self.counted().map(|s| s.tokens_used).sum()
    }
    /// In cents, to four decimals.
    pub fn total_cost_cents(&self) -> f64 {
        let sum: f64 = self.counted().map(|s| s.cost_cents).sum();
        (sum * 10_000.0).round() / 10_000.0
    }
    pub fn steps_completed(&self) -> u64 {
        self.steps
            .iter()
            .filter(|s| s.status.starts_with("completed"))
            .count() as u64
    }
    pub fn steps_failed(&self) -> u64 {
        self.steps.iter().filter(|s| s.status == "failed").count() as u64
    }
    /// Steps done over steps, in percent.
    pub fn progress(&self) -> u64 {
        let done = self
            .steps
            .iter()
            .filter(|s| !matches!(s.status.as_str(), "pending" | "running"))
            .count();
        (done * 100).checked_div(self.steps.len()).unwrap_or(0) as u64
    }
    pub fn is_terminal(&self) -> bool {
        matches!(self.status.as_str(), "completed" | "failed" | "cancelled")
    }
}

/// The face's name of a job status.
pub fn status_name(job_status: &str) -> &'static str {
    match job_status {
        job_status::FINISHED => "completed",
        job_status::FAILED | job_status::QUARANTINED => "failed",
        job_status::CANCELLED => "cancelled",
        job_status::PENDING => "pending",
        job_status::PAUSED => "paused",
        _ => "running",
    }
}

fn answer_of(data: &Value, step: &str) -> Option<Value> {
    if data.get("step_id").and_then(Value::as_str) == Some(step) {
        return Some(data.clone());
    }
    data.get(step)
        .filter(|d| d.get("step_id").is_some())
        .cloned()
}

fn step_from(step: &str, answer: Option<&Value>, fallback: &str) -> StepView {
    match answer {
        Some(a) => StepView {
            step_id: step.to_string(),
            status: a["status"].as_str().unwrap_or("completed").to_string(),
            duration_ms: a["duration_ms"].as_u64(),
            tokens_used: a["tokens"].as_u64().unwrap_or(0),
            cost_cents: a["cost_cents"].as_f64().unwrap_or(0.0),
            error: a["error"].as_str().map(str::to_string),
            checkpoint: a.get("checkpoint_id").is_some_and(Value::is_string),
        },
        None => StepView {
            step_id: step.to_string(),
            status: fallback.to_string(),
            duration_ms: None,
            tokens_used: 0,
            cost_cents: 0.0,
            error: None,
            checkpoint: false,
        },
    }
}

/// Where one state of the job stands, for the parts it runs.
struct StateAt<'a> {
    /// What the state ended with (`data`, `errors`), once it ended.
    ended: Option<&'a Value>,
    /// The job is in this state now.
    here: bool,
    /// What a step of this state with no answer is: `running`, `pending`, `failed` or
    /// `cancelled`.
    fallback: &'static str,
}

/// A fan-out's items, as far as they went: their answers, and the failed ones.
fn items_view(step: &str, at: &StateAt<'_>, doc: &JobDoc) -> StepView {
    let mut answers: Vec<Value> = Vec::new();
    let mut failed: Vec<String> = Vec::new();
    if let Some(ended) = at.ended {
        if let Some(list) = ended.get("data").and_then(Value::as_array) {
            answers.extend(list.iter().filter(|a| a.is_object()).cloned());
        }
        for e in ended["errors"].as_array().into_iter().flatten() {
            let msg = e["error"]["message"].as_str().unwrap_or("failed");
            failed.push(format!("item {}: {msg}", e["key"].as_str().unwrap_or("?")));
        }
    } else if at.here {
        for b in doc.parallel.iter().flat_map(|p| &p.branches) {
            answers.extend(b.data.iter().cloned());
        }
    }
    let status = match (at.ended, failed.is_empty()) {
        (Some(e), _) if e["status"] == "failure" => "failed",
        (Some(_), _) => "completed",
        (None, _) => at.fallback,
    };
    StepView {
        step_id: step.to_string(),
        status: status.to_string(),
        duration_ms: answers
            .iter()
            .filter_map(|a| a["duration_ms"].as_u64())
            .max(),
        tokens_used: answers.iter().filter_map(|a| a["tokens"].as_u64()).sum(),
        cost_cents: answers
            .iter()
            .filter_map(|a| a["cost_cents"].as_f64())
            .sum(),
        error: (!failed.is_empty()).then(|| failed.join("; ")),
        checkpoint: false,
    }
}

/// Adds a later phase of a step to its view.
fn add_phase(view: &mut StepView, phase: StepView) {
    if view.status == "skipped" {
        return; // its condition did not hold: nothing after the items ran
    }
    view.status = phase.status;
    view.tokens_used += phase.tokens_used;
    view.cost_cents += phase.cost_cents;
    view.duration_ms = match (view.duration_ms, phase.duration_ms) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    };
    view.error = phase.error.or(view.error.take());
}

/// A `parallel` step's view from the views of the steps it runs.
fn parent_view(id: &str, children: &[&StepView]) -> StepView {
    let has = |s: &str| children.iter().any(|c| c.status == s);
    let status = if has("failed") {
        "failed"
    } else if has("cancelled") {
        "cancelled"
    } else if has("running") {
        "running"
    } else if children.iter().all(|c| c.status == "pending") {
        "pending"
    } else if has("pending") {
        "running"
    } else {
        "completed"
    };
    StepView {
        step_id: id.to_string(),
        status: status.to_string(),
        duration_ms: children.iter().filter_map(|c| c.duration_ms).max(),
        tokens_used: children.iter().map(|c| c.tokens_used).sum(),
        cost_cents: children.iter().map(|c| c.cost_cents).sum(),
        error: children.iter().find_map(|c| c.error.clone()),
        checkpoint: false,
    }
}

/// The steps' views, in order, with the step in progress and the last checkpoint.
fn step_views(
    doc: &JobDoc,
    status: &str,
    terminal: bool,
    state_steps: &StateSteps,
) -> (Vec<StepView>, Option<String>, Option<String>) {
    let mut views: Vec<StepView> = Vec::new();
    let mut parents: Vec<(String, Vec<String>)> = Vec::new();
    let mut current = None;
    let mut checkpoint = None;
    // A paused job holds the tasks of states entered since the pause: they have not started.
    let held = doc.paused_ms.is_some_and(|p| doc.entered_ms >= p);
    for (state, parts) in state_steps {
        let here = doc.state == *state && !terminal;
        let ended = doc.states.get(state);
        let fallback = match (here, terminal) {
            (true, _) if held => "pending",
            (true, _) => "running",
            (false, true) if status == "cancelled" => "cancelled",
            (false, true) if ended.is_some() => "failed",
            _ => "pending",
        };
        let at = StateAt {
            ended,
            here,
            fallback,
        };
        let data = ended.and_then(|s| s.get("data"));
        for part in parts {
            let view = match &part.role {
                Role::Step | Role::Sub(_) | Role::Items | Role::Reduce => {
                    let mut answer = data.and_then(|d| answer_of(d, &part.step));
                    if here && answer.is_none() {
                        // A parallel state in progress: the branches done so far.
                        answer = doc
                            .parallel
                            .as_ref()
                            .and_then(|p| p.branches.iter().find(|b| b.key == part.step))
                            .and_then(|b| b.data.clone());
                        current.get_or_insert_with(|| part.step.clone());
                    }
                    if let Some(id) = answer.as_ref().and_then(|a| a["checkpoint_id"].as_str()) {
                        checkpoint = Some(id.to_string());
                    }
                    step_from(&part.step, answer.as_ref(), fallback)
                }
                Role::Map => {
                    if here {
                        current.get_or_insert_with(|| part.step.clone());
                    }
                    items_view(&part.step, &at, doc)
                }
            };
            if let Role::Sub(parent) = &part.role {
                match parents.iter_mut().find(|(p, _)| p == parent) {
                    Some((_, kids)) => kids.push(part.step.clone()),
                    None => {
                        parents.push((parent.clone(), vec![part.step.clone()]));
                        views.push(step_from(parent, None, "pending"));
                    }
                }
            }
            match views.iter_mut().find(|v| v.step_id == part.step) {
                Some(existing) if matches!(part.role, Role::Map | Role::Reduce) => {
                    add_phase(existing, view)
                }
                Some(existing) => *existing = view,
                None => views.push(view),
            }
        }
    }
    for (parent, kids) in &parents {
        let children: Vec<&StepView> = views.iter().filter(|v| kids.contains(&v.step_id)).collect();
        let total = parent_view(parent, &children);
        if let Some(v) = views.iter_mut().find(|v| &v.step_id == parent) {
            *v = total;
        }
    }
    (views, current, checkpoint)
}

/// The execution of a job.
pub fn view(job: &StoredJob, doc: &JobDoc, state_steps: Arc<StateSteps>) -> Execution {
    let status = status_name(&job.status);
    let terminal = job_status::is_terminal(&job.status);
    let (steps, current_step, checkpoint_id) = step_views(doc, status, terminal, &state_steps);
    let mut outputs = baton_protocol::workflow::published(&doc.states);
    let declared: Vec<String> = doc.metadata["workflow"]["outputs"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if !declared.is_empty() {
        outputs = declared
            .into_iter()
            .map(|k| {
                let v = outputs.get(&k).cloned().unwrap_or(Value::Null);
                (k, v)
            })
            .collect();
    }
    let error = doc.error.as_ref().map(error_message);
    let finished = doc.finished_ms.filter(|_| terminal);
    let meta = |k: &str| {
        doc.metadata["workflow"][k]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    Execution {
        id: job.id.clone(),
        workflow_id: meta("id"),
        workflow_name: meta("name"),
        workflow_version: meta("version"),
        status: status.to_string(),
        started_at: rfc3339(doc.created_ms),
        started_ms: doc.created_ms,
        completed_at: finished.map(rfc3339),
        completed_ms: finished,
        duration_ms: finished.map(|f| u64::try_from(f - doc.created_ms).unwrap_or(0)),
        steps,
        outputs,
        variables: doc.initial_data.clone(),
        error,
        current_step: if terminal { None } else { current_step },
        checkpoint_id,
        state_steps,
    }
}

/// An execution's error as a sentence; a step of a parallel level is named with its own
/// error rather than the level's.
fn error_message(e: &Value) -> String {
    let message = |v: &Value| v.get("message").and_then(Value::as_str).map(str::to_string);
    if e["code"] == "BRANCH_FAILED" {
        if let (Some(branch), Some(inner)) = (e["branch"].as_str(), message(&e["error"])) {
            // A fan-out's branches are its items, by index.
            if branch.parse::<usize>().is_ok() {
                return format!("item {branch}: {inner}");
            }
            return format!("step `{branch}`: {inner}");
        }
    }
    message(e).unwrap_or_else(|| e.to_string())
}
