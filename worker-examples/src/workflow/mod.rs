//! The workflow worker's skills: the steps of workflow executions (the workflow face
//! compiles a workflow into a blueprint whose tasks carry one step each).
//!
//! A task's params are `{"step", "vars", "states"}`: the step's definition, the
//! execution's variables and the job's states so far ([`context`]). The worker skips a
//! step whose condition does not hold, renders the step's params, runs it, applies its
//! `on_failure` (`retry` runs it again up to `max_retries` times; `skip` and
//! `continue_with_default` answer success so the execution goes on; `abort` fails the
//! task and so the execution), and answers
//! `{"step_id", "type", "status", "output", "outputs", "tokens", "cost_cents",
//! "duration_ms", "error", ...}`; `outputs` maps each declared output name (the first gets
//! the step's main value: the AI response, the shell's stdout, the transform's result)
//! and is what later steps' templates see. A step that declares no outputs publishes its
//! main value under its id.
//!
//! Skills: `wf-ai-prompt` (an OpenAI-compatible chat completion, or the offline engine:
//! a deterministic answer and token count), `wf-shell` (refused unless shell steps are
//! allowed: it runs commands on this host), `wf-transform`, `wf-checkpoint`,
//! `wf-fan-out` (a fan-out's items: its `items` rendered into a list, which the engine
//! then runs one task per item of, each seeing `item` and `index`) and `wf-fan-in` (a
//! list aggregated: joined, or summed up by an AI prompt with `${items}`).

pub mod circuit;
pub mod context;
mod steps;

pub use circuit::CircuitSettings;

use baton_worker::{TaskContext, TaskError, WorkerBuilder};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How AI steps are answered. `Debug` never shows the key.
#[derive(Clone)]
pub enum AiEngine {
    /// No network: `[offline <model>] <prompt>` and a token count from the text.
    Offline,
    /// `POST {base_url}/chat/completions`.
    OpenAi {
        base_url: String,
        api_key: Option<String>,
    },
}

impl std::fmt::Debug for AiEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AiEngine::Offline => f.write_str("offline"),
            AiEngine::OpenAi { base_url, .. } => write!(f, "openai at {base_url}"),
        }
    }
}

/// The workflow worker's settings.
#[derive(Debug, Clone)]
pub struct WorkflowSettings {
    /// Whether `shell` steps may run (`WORKFLOW_ALLOW_SHELL`).
    pub allow_shell: bool,
    pub ai: AiEngine,
    /// Bound on a step without its own `timeout_seconds`.
    pub default_timeout: Duration,
    /// Price of a thousand tokens, in cents, by model (`WORKFLOW_AI_PRICES`); a model not
    /// listed costs nothing, as do the offline engine's answers.
    pub prices: Vec<(String, f64)>,
    /// The AI endpoint's circuit breaker (`WORKFLOW_AI_CIRCUIT_*`).
    pub circuit: CircuitSettings,
}

impl Default for WorkflowSettings {
    /// No shell steps, the offline AI engine, 300 s per step, no prices.
    fn default() -> Self {
        WorkflowSettings {
            allow_shell: false,
            ai: AiEngine::Offline,
            default_timeout: Duration::from_secs(300),
            prices: Vec::new(),
            circuit: CircuitSettings::default(),
        }
    }
}

impl WorkflowSettings {
    /// What `tokens` of `model` cost, in cents.
    pub fn cost_cents(&self, model: &str, tokens: u64) -> f64 {
        self.prices
            .iter()
            .find(|(m, _)| m == model)
            .map_or(0.0, |(_, per_1k)| per_1k * tokens as f64 / 1000.0)
    }
}

/// `model=cents,...` (cents per thousand tokens).
fn parse_prices(text: &str) -> Result<Vec<(String, f64)>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            let (model, price) = item
                .split_once('=')
                .ok_or_else(|| format!("WORKFLOW_AI_PRICES: `{item}` is not model=cents"))?;
            let price: f64 = price
                .trim()
                .parse()
                .ok()
                .filter(|p: &f64| p.is_finite() && *p >= 0.0)
                .ok_or_else(|| {
                    format!("WORKFLOW_AI_PRICES: `{item}`: the price must be a number of cents, 0 or more")
                })?;
            Ok((model.trim().to_string(), price))
        })
        .collect()
}

impl WorkflowSettings {
    /// `WORKFLOW_ALLOW_SHELL` (default false), `OPENAI_BASE_URL` / `OPENAI_API_KEY` (unset:
    /// the offline engine), `WORKFLOW_STEP_TIMEOUT_SECONDS` (default 300),
    /// `WORKFLOW_AI_PRICES` (`model=cents per 1000 tokens,...`, default none).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<WorkflowSettings, String> {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let allow_shell = match get("WORKFLOW_ALLOW_SHELL").as_deref().map(str::trim) {
            None | Some("0" | "false" | "no") => false,
            Some("1" | "true" | "yes") => true,
            Some(other) => {
                return Err(format!(
                    "WORKFLOW_ALLOW_SHELL: expected true or false, got {other:?}"
                ))
            }
        };
        let ai = match get("OPENAI_BASE_URL") {
            Some(base_url) => AiEngine::OpenAi {
                base_url: base_url.trim_end_matches('/').to_string(),
                api_key: get("OPENAI_API_KEY"),
            },
            None => AiEngine::Offline,
        };
        let default_timeout = match get("WORKFLOW_STEP_TIMEOUT_SECONDS") {
            None => Duration::from_secs(300),
            Some(v) => v
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(baton_protocol::clock::seconds)
                .filter(|d| !d.is_zero())
                .ok_or_else(|| format!("WORKFLOW_STEP_TIMEOUT_SECONDS: expected a positive number of seconds, got {v:?}"))?,
        };
        let prices = match get("WORKFLOW_AI_PRICES") {
            Some(text) => parse_prices(&text)?,
            None => Vec::new(),
        };
        let mut circuit = CircuitSettings::default();
        if let Some(v) = get("WORKFLOW_AI_CIRCUIT_FAILURES") {
            circuit.failures = v
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| {
                    format!("WORKFLOW_AI_CIRCUIT_FAILURES: expected 1 to 1000, got {v:?}")
                })?;
        }
        if let Some(v) = get("WORKFLOW_AI_CIRCUIT_COOLDOWN_SECONDS") {
            circuit.cool_down = v
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(baton_protocol::clock::seconds)
                .ok_or_else(|| format!("WORKFLOW_AI_CIRCUIT_COOLDOWN_SECONDS: expected a number of seconds, got {v:?}"))?;
        }
        Ok(WorkflowSettings {
            allow_shell,
            ai,
            default_timeout,
            prices,
            circuit,
        })
    }
}

/// The params of a step task.
#[derive(Debug, Deserialize)]
pub struct StepTask {
    pub step: Value,
    #[serde(default)]
    pub vars: Map<String, Value>,
    #[serde(default)]
    pub states: Value,
    /// One item of a fan-out, and its index (the step runs once per item).
    #[serde(default)]
    pub item: Option<Value>,
    #[serde(default)]
    pub index: Option<Value>,
    /// A map-reduce's reduce: the answers of its items.
    #[serde(default)]
    pub items: Option<Value>,
}

/// What running a step's body gave.
#[derive(Debug, Default)]
pub struct Ran {
    pub output: Value,
    pub tokens: u64,
    pub cost_cents: f64,
    /// Extra fields of the answer (`exit_code`, `stdout`, `checkpoint_id`, ...).
    pub extra: Map<String, Value>,
    /// What the step publishes, when not its output under its first output name.
    pub outputs: Option<Map<String, Value>>,
}

/// The skills of the workflow worker, by step type.
pub const SKILLS: &[&str] = &[
    "ai-prompt",
    "shell",
    "transform",
    "checkpoint",
    "fan-out",
    "fan-in",
];

/// Adds the workflow skills (`wf-<type>` for each of [`SKILLS`]).
pub fn workflow_skills(builder: WorkerBuilder, settings: WorkflowSettings) -> WorkerBuilder {
    let breaker = match &settings.ai {
        AiEngine::OpenAi { base_url, .. } => {
            Some(circuit::Breaker::new(settings.circuit, "openai", base_url))
        }
        AiEngine::Offline => None,
    };
    let shared = Arc::new(Shared {
        settings,
        http: reqwest::Client::new(),
        breaker,
    });
    let mut builder = builder;
    for &kind in SKILLS {
        let shared = shared.clone();
        builder = builder.skill(
            format!("wf-{kind}"),
            move |task: StepTask, ctx: TaskContext| {
                let shared = shared.clone();
                async move { run_step(kind, task, &ctx, &shared).await }
            },
        );
    }
    builder
}

/// What every step of this worker shares.
struct Shared {
    settings: WorkflowSettings,
    http: reqwest::Client,
    /// The AI endpoint's breaker (none for the offline engine).
    breaker: Option<circuit::Breaker>,
}

fn field<'a>(step: &'a Value, key: &str) -> Option<&'a Value> {
    step.get(key).filter(|v| !v.is_null())
}

/// One step: condition, params, the body with retries, `on_failure`, the answer.
async fn run_step(
    kind: &str,
    task: StepTask,
    ctx: &TaskContext,
    shared: &Shared,
) -> Result<Value, TaskError> {
    let settings = &shared.settings;
    let started = Instant::now();
    let step = &task.step;
    let id = step
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut vars = task.vars.clone();
    for (k, v) in context::outputs(&task.states) {
        vars.insert(k, v);
    }
    if let Some(item) = &task.item {
        vars.insert("item".into(), item.clone());
        let index = task.index.as_ref().and_then(|i| {
            i.as_u64()
                .or_else(|| i.as_str().and_then(|s| s.parse().ok()))
        });
        vars.insert("index".into(), index.map_or(Value::Null, Value::from));
    }
    let item_index = vars.get("index").filter(|_| task.item.is_some()).cloned();
    let answer = |status: &str, ran: Ran, error: Option<String>| {
        let mut outputs = Map::new();
        let quiet = field(step, "publish") == Some(&Value::Bool(false));
        let names: Vec<String> = field(step, "outputs")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(own) = &ran.outputs {
            outputs = own.clone();
        } else if status != "skipped" && !quiet {
            match names.first() {
                Some(first) => {
                    outputs.insert(first.clone(), ran.output.clone());
                    for other in &names[1..] {
                        let v = ran.output.get(other).cloned().unwrap_or(Value::Null);
                        outputs.insert(other.clone(), v);
                    }
                }
                None => {
                    outputs.insert(id.clone(), ran.output.clone());
                }
            }
        }
        let mut out = json!({
            "step_id": id, "type": kind, "status": status, "output": ran.output,
            "outputs": outputs, "tokens": ran.tokens, "cost_cents": ran.cost_cents,
            "duration_ms": started.elapsed().as_millis() as u64, "error": error,
        });
        for key in ["parent"] {
            if let Some(v) = field(step, key) {
                out[key] = v.clone();
            }
        }
        if let Some(index) = &item_index {
            out["item_index"] = index.clone();
        }
        if let Value::Object(map) = &mut out {
            map.extend(ran.extra);
        }
        out
    };
    if let Some(condition) = field(step, "condition") {
        if !context::holds(condition, &vars) {
            tracing::info!(step = %id, "condition does not hold: step skipped");
            let mut ran = Ran::default();
            if kind == "fan-out" {
                // No items: the engine runs none, and nothing is published.
                ran.extra.insert("items".into(), Value::Array(Vec::new()));
                ran.outputs = Some(Map::new());
            }
            return Ok(answer("skipped", ran, None));
        }
    }
    // A prompt template's own variables (`params.variables`) fill its placeholders too.
    if let Some(own) = field(step, "params").and_then(|p| p.get("variables")) {
        if let Value::Object(own) = context::render(own, &vars) {
            vars.extend(own);
        }
    }
    if kind == "fan-in" {
        // The items to aggregate, also as text for `${items}` in the prompt.
        let list = steps::fan_in_items(task.items.as_ref(), field(step, "params"), &vars);
        let text = steps::items_text(&list);
        vars.insert("items".into(), text.clone().into());
        vars.insert("map_results".into(), text.into());
        vars.insert("__fan_in_items".into(), Value::Array(list));
    }
    let params = context::render(field(step, "params").unwrap_or(&Value::Null), &vars);
    let timeout = field(step, "timeout_seconds")
        .and_then(Value::as_f64)
        .and_then(baton_protocol::clock::seconds)
        .filter(|d| !d.is_zero())
        .unwrap_or(settings.default_timeout);
    let on_failure = field(step, "on_failure")
        .and_then(Value::as_str)
        .unwrap_or("abort");
    let attempts = match on_failure {
        "retry" => {
            1 + field(step, "max_retries")
                .and_then(Value::as_u64)
                .unwrap_or(3)
                .min(20)
        }
        _ => 1,
    };
    let mut last_error = String::new();
    for attempt in 1..=attempts {
        let env = steps::Env {
            ctx,
            settings,
            http: &shared.http,
            breaker: shared.breaker.as_ref(),
            timeout,
        };
        let body = steps::run(kind, step, &params, &vars, &env);
        match tokio::time::timeout(timeout, body).await {
            Ok(Ok(ran)) => return Ok(answer("completed", ran, None)),
            Ok(Err(e)) => last_error = e,
            Err(_) => last_error = format!("timed out after {} s", timeout.as_secs_f64()),
        }
        if ctx.is_cancelled() {
            return Err(TaskError::transient(format!("step `{id}` cancelled")));
        }
        tracing::warn!(step = %id, attempt, error = %last_error, "step failed");
    }
    match on_failure {
        "skip" => Ok(answer("skipped", Ran::default(), Some(last_error))),
        "continue_with_default" => {
            let ran = Ran {
                output: field(step, "default_output")
                    .cloned()
                    .unwrap_or(Value::Null),
                ..Ran::default()
            };
            Ok(answer("completed_with_default", ran, Some(last_error)))
        }
        _ => {
            let error = TaskError::permanent(format!("step `{id}` failed: {last_error}"));
            // An AI step's failure reports the endpoint's circuit (for `/health/full`).
            match shared.breaker.as_ref().filter(|_| uses_ai(kind, step)) {
                Some(b) => Err(error.with_details(json!({"circuit": b.report()}))),
                None => Err(error),
            }
        }
    }
}

/// Whether a step calls the AI engine.
fn uses_ai(kind: &str, step: &Value) -> bool {
    let aggregation = step
        .pointer("/params/aggregation")
        .and_then(Value::as_str)
        .unwrap_or("concat");
    kind == "ai-prompt" || (kind == "fan-in" && aggregation != "concat")
}
