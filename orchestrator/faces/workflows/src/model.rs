//! Workflow definitions, as clients send them (`POST /v1/workflows`) and as YAML files
//! hold them (`BATON_WORKFLOWS_DIR`): the same fields in both.
//!
//! A [`Workflow`] has an id, a name, declared `inputs` (type, required, default),
//! `outputs` (names of context values returned), `variables` (defaults templates may use),
//! an optional `token_budget` and `timeout_seconds`, and `steps`. A [`Step`] has an id, a
//! [`StepType`], `params`, `depends_on` (ids of steps that must be done first; steps whose
//! dependencies are done run at the same time), an optional [`Condition`] (the step is
//! skipped when it does not hold), what to do when it fails ([`OnFailure`]), a timeout
//! and the names its result is published under (`outputs`, the first one receiving the
//! AI response or the shell's stdout). Later steps see outputs, inputs and variables
//! through `{{name}}` and `${name}` templates.
//!
//! [`crate::validate`] checks a definition before anything is saved or loaded.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// A workflow definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Workflow {
    /// Letters, digits, `-`, `_`, `.`; at most 128 characters. YAML workflows default to
    /// their file name.
    #[serde(default)]
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Free-form for JSON workflows (versions proper are `/v1/workflows/{name}/versions`).
    #[serde(default = "default_version")]
    pub version: String,
    /// Declared inputs: name → its type, whether required, a default.
    #[serde(default)]
    pub inputs: BTreeMap<String, InputSpec>,
    /// Context names returned as the execution's `outputs` (default: every step output).
    #[serde(default)]
    pub outputs: Vec<String>,
    /// Values templates may use, under the inputs given at execute time.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub variables: Map<String, Value>,
    /// Most AI tokens an execution may spend; past it the execution fails.
    #[serde(default)]
    pub token_budget: Option<u64>,
    /// Bound on an execution's duration (seconds).
    #[serde(default)]
    pub timeout_seconds: Option<f64>,
    pub steps: Vec<Step>,
}

fn default_version() -> String {
    "1.0".into()
}

/// A declared input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// `string`, `number`, `integer`, `boolean`, `object` or `array` (default `string`).
    #[serde(rename = "type", default = "string_type")]
    pub kind: InputType,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    #[schema(value_type = Option<Value>)]
    pub default: Option<Value>,
    #[serde(default)]
    pub description: Option<String>,
}

fn string_type() -> InputType {
    InputType::String
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum InputType {
    String,
    Number,
    Integer,
    Boolean,
    Object,
    Array,
}

impl InputType {
    pub fn accepts(self, v: &Value) -> bool {
        match self {
            InputType::String => v.is_string(),
            InputType::Number => v.is_number(),
            InputType::Integer => v.is_i64() || v.is_u64(),
            InputType::Boolean => v.is_boolean(),
            InputType::Object => v.is_object(),
            InputType::Array => v.is_array(),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            InputType::String => "string",
            InputType::Number => "number",
            InputType::Integer => "integer",
            InputType::Boolean => "boolean",
            InputType::Object => "object",
            InputType::Array => "array",
        }
    }
}

/// One step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: StepType,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: Map<String, Value>,
    #[serde(default)]
    pub depends_on: Vec<String>,
    #[serde(default)]
    pub condition: Option<Condition>,
    #[serde(default)]
    pub on_failure: OnFailure,
    /// Attempts after the first under `on_failure: retry` (default 3, at most 20).
    #[serde(default)]
    pub max_retries: Option<u32>,
    /// What `continue_with_default` publishes as the step's output.
    #[serde(default)]
    #[schema(value_type = Option<Value>)]
    pub default_output: Option<Value>,
    #[serde(default)]
    pub timeout_seconds: Option<f64>,
    /// Names the step's result is published under; the first receives the AI response
    /// (or the shell's stdout).
    #[serde(default)]
    pub outputs: Vec<String>,
}

/// What a step does. `openai` and `claude_code` are names of `ai-prompt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepType {
    #[serde(
        rename = "ai-prompt",
        alias = "ai_prompt",
        alias = "openai",
        alias = "claude_code"
    )]
    AiPrompt,
    Shell,
    Transform,
    Checkpoint,
    Approval,
    Parallel,
    FanOut,
    FanIn,
    MapReduce,
}

impl StepType {
    pub fn name(self) -> &'static str {
        match self {
            StepType::AiPrompt => "ai-prompt",
            StepType::Shell => "shell",
            StepType::Transform => "transform",
            StepType::Checkpoint => "checkpoint",
            StepType::Approval => "approval",
            StepType::Parallel => "parallel",
            StepType::FanOut => "fan_out",
            StepType::FanIn => "fan_in",
            StepType::MapReduce => "map_reduce",
        }
    }

    /// The names a definition may use, for error messages.
    pub const NAMES: &'static str = "ai-prompt (or openai, claude_code), shell, transform, \
        checkpoint, approval, parallel, fan_out, fan_in, map_reduce";
}

/// A step runs only when its condition holds on the execution's context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// A context name: an input, a variable or an earlier step's output (dots walk into
    /// objects: `review.score`).
    pub field: String,
    pub operator: Operator,
    #[serde(default)]
    #[schema(value_type = Option<Value>)]
    pub value: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    Equals,
    NotEquals,
    Contains,
    GreaterThan,
    LessThan,
    In,
    NotEmpty,
}

impl Operator {
    /// Whether the operator compares with a `value` (all but `not_empty`).
    pub fn needs_value(self) -> bool {
        self != Operator::NotEmpty
    }
}

/// What a failed step does to the execution.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// The execution fails (default).
    #[default]
    Abort,
    /// The step counts as skipped; the others go on.
    Skip,
    /// The step runs again, up to `max_retries` times, then the execution fails.
    Retry,
    /// The step's output is its `default_output`; the others go on.
    ContinueWithDefault,
}

impl Workflow {
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }
}

impl StepType {
    /// Whether one worker task runs a step of this type (the others are the engine's
    /// waits and the steps that run other steps).
    pub fn is_task(self) -> bool {
        matches!(
            self,
            StepType::AiPrompt
                | StepType::Shell
                | StepType::Transform
                | StepType::Checkpoint
                | StepType::FanIn
        )
    }
}

impl Step {
    /// The steps a `parallel` step runs at the same time (`params.steps`), parsed; the
    /// error names the sub-step and what is wrong with it.
    pub fn parallel_steps(&self) -> Result<Vec<Step>, (usize, String)> {
        let Some(list) = self.params.get("steps").and_then(Value::as_array) else {
            return Ok(Vec::new());
        };
        list.iter()
            .enumerate()
            .map(|(i, v)| serde_json::from_value(v.clone()).map_err(|e| (i, e.to_string())))
            .collect()
    }

    /// The step a `fan_out` (`step_template`) or `map_reduce` (`map_step`) runs once per
    /// item, parsed, under this step's id (its own `id`, if it has one, is ignored).
    pub fn item_step(&self) -> Option<Result<Step, String>> {
        let key = match self.kind {
            StepType::FanOut => "step_template",
            StepType::MapReduce => "map_step",
            _ => return None,
        };
        let mut raw = match self.params.get(key) {
            Some(Value::Object(m)) => m.clone(),
            Some(_) => return Some(Err(format!("`{key}` must be a step (an object)"))),
            None => return Some(Err(format!("a {} step needs `{key}`", self.kind.name()))),
        };
        raw.insert("id".into(), self.id.clone().into());
        // The item step inherits what the parent says of failures unless it says it.
        let inherited = [
            ("on_failure", serde_json::to_value(self.on_failure).ok()),
            ("max_retries", self.max_retries.map(Value::from)),
            ("default_output", self.default_output.clone()),
            ("timeout_seconds", self.timeout_seconds.map(Value::from)),
        ];
        for (k, v) in inherited {
            if let (Some(v), false) = (v, raw.contains_key(k)) {
                raw.insert(k.into(), v);
            }
        }
        Some(serde_json::from_value(Value::Object(raw)).map_err(|e| format!("`{key}`: {e}")))
    }
}

/// A prompt template: `ai-prompt` steps name one with `prompt_id`; its `{{name}}`
/// placeholders are filled from the execution's variables and the step's `variables`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Prompt {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub template: String,
    /// A system message sent before the prompt.
    #[serde(default)]
    pub system_prompt: Option<String>,
    /// The model steps use unless they name one.
    #[serde(default)]
    pub model: Option<String>,
}
