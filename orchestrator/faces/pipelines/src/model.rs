//! Records of the coding pipelines, as stored.
//!
//! - [`Project`]: a git repository. Its secrets ([`ProjectSecrets`]) are a separate record
//!   that no project read returns; they are read only through
//!   [`RecordStore::project_secrets`](super::RecordStore::project_secrets).
//! - [`ProtocolRun`]: one piece of work on a branch of a project; carries a status of
//!   [`ProtocolStatus`] and an optional `template_config` holding the `protocol_spec`.
//! - [`StepRun`]: one planned step of a protocol run, unique by `step_index` within it.
//! - [`Event`]: an append-only log line of a protocol run (optionally of one step); also
//!   carries the run's `project_id` so events can be listed per project.
//! - [`Clarification`]: a question asked of the user, scoped to a project or a protocol
//!   run ([`ClarificationScope`]) and unique by `key` within that scope.
//!
//! Ids are `u64` allocated by the store, increasing per kind. Timestamps are epoch
//! milliseconds (`i64`), stamped by the store from the wall clock like everything else in
//! Baton; the HTTP API renders them as RFC 3339 with [`baton_protocol::clock::rfc3339`].

use super::status::{ProtocolStatus, StepStatus};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::fmt;

pub type Id = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CiProvider {
    Github,
    Gitlab,
}

/// Models per phase; a step's own model wins, then these, then the deployment default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultModels {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planning: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decompose: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qa: Option<String>,
}

/// The public part of a project: what every read returns. No secrets here, by type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Project {
    pub id: Id,
    pub name: String,
    pub git_url: String,
    #[serde(default)]
    pub local_path: Option<String>,
    pub base_branch: String,
    #[serde(default)]
    pub ci_provider: Option<CiProvider>,
    #[serde(default)]
    pub project_classification: Option<String>,
    #[serde(default)]
    pub default_models: Option<DefaultModels>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A project's secrets (`api_token` enables the per-project `X-Project-Token`). Write
/// only through the API: stored apart from [`Project`]. `Debug` shows the names only, so
/// a logged value never leaks a token.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProjectSecrets(pub Map<String, Value>);

impl ProjectSecrets {
    pub fn api_token(&self) -> Option<&str> {
        self.0.get("api_token").and_then(Value::as_str)
    }
}

impl fmt::Debug for ProjectSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewProject {
    pub name: String,
    pub git_url: String,
    #[serde(default)]
    pub local_path: Option<String>,
    pub base_branch: String,
    #[serde(default)]
    pub ci_provider: Option<CiProvider>,
    #[serde(default)]
    pub project_classification: Option<String>,
    #[serde(default)]
    pub default_models: Option<DefaultModels>,
    #[serde(default)]
    pub secrets: Option<ProjectSecrets>,
}

/// A partial update: `Some` fields are set, `None` ones kept. `secrets` replaces the
/// whole secrets record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProjectUpdate {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub git_url: Option<String>,
    #[serde(default)]
    pub local_path: Option<String>,
    #[serde(default)]
    pub base_branch: Option<String>,
    #[serde(default)]
    pub ci_provider: Option<CiProvider>,
    #[serde(default)]
    pub project_classification: Option<String>,
    #[serde(default)]
    pub default_models: Option<DefaultModels>,
    #[serde(default)]
    pub secrets: Option<ProjectSecrets>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProtocolRun {
    pub id: Id,
    pub project_id: Id,
    /// Also the branch name, e.g. `0001-demo`.
    pub protocol_name: String,
    pub status: ProtocolStatus,
    pub base_branch: String,
    #[serde(default)]
    pub worktree_path: Option<String>,
    #[serde(default)]
    pub protocol_root: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Holds `protocol_spec` (the steps) once planned.
    #[serde(default)]
    pub template_config: Option<Value>,
    #[serde(default)]
    pub template_source: Option<Value>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ProtocolRun {
    /// First 12 hex chars of the SHA-256 of `template_config.protocol_spec` as sorted-key
    /// compact JSON; `None` without a spec. Tells whether two runs planned the same steps.
    pub fn spec_hash(&self) -> Option<String> {
        let spec = self.template_config.as_ref()?.get("protocol_spec")?;
        let mut text = String::new();
        canonical_json(spec, &mut text);
        let digest = Sha256::digest(text.as_bytes());
        Some(hex12(&digest))
    }
}

/// The first 6 bytes as 12 lowercase hex digits.
fn hex12(bytes: &[u8]) -> String {
    bytes.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// Compact JSON with object keys sorted at every level. Written out rather than relying
/// on `serde_json::Map` being a `BTreeMap`: any crate of the build enabling serde_json's
/// `preserve_order` feature would silently make it insertion-ordered and change hashes.
pub fn canonical_json(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical_json(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewProtocolRun {
    pub project_id: Id,
    pub protocol_name: String,
    pub base_branch: String,
    #[serde(default)]
    pub worktree_path: Option<String>,
    #[serde(default)]
    pub protocol_root: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub template_config: Option<Value>,
    #[serde(default)]
    pub template_source: Option<Value>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepType {
    Setup,
    #[default]
    Work,
    Qa,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRun {
    pub id: Id,
    pub protocol_run_id: Id,
    pub step_index: u32,
    /// E.g. `01-build.md`.
    pub step_name: String,
    pub step_type: StepType,
    pub status: StepStatus,
    pub retries: u32,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub engine_id: Option<String>,
    /// An object or a list of objects (loop/trigger policies).
    #[serde(default)]
    pub policy: Option<Value>,
    #[serde(default)]
    pub runtime_state: Option<Value>,
    #[serde(default)]
    pub summary: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewStepRun {
    pub protocol_run_id: Id,
    pub step_index: u32,
    pub step_name: String,
    #[serde(default)]
    pub step_type: StepType,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub engine_id: Option<String>,
    #[serde(default)]
    pub policy: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: Id,
    pub protocol_run_id: Id,
    /// Copied from the run when the event is appended (runs never change project).
    pub project_id: Id,
    #[serde(default)]
    pub step_run_id: Option<Id>,
    pub event_type: String,
    pub message: String,
    #[serde(default)]
    pub metadata: Option<Value>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    pub protocol_run_id: Id,
    #[serde(default)]
    pub step_run_id: Option<Id>,
    pub event_type: String,
    pub message: String,
    #[serde(default)]
    pub metadata: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClarificationScope {
    Project(Id),
    ProtocolRun(Id),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppliesTo {
    Onboarding,
    #[default]
    Planning,
    Execution,
    Qa,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClarificationStatus {
    #[default]
    Open,
    Answered,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Clarification {
    pub scope: ClarificationScope,
    pub key: String,
    pub question: String,
    #[serde(default)]
    pub recommended: Option<Value>,
    #[serde(default)]
    pub options: Option<Value>,
    pub applies_to: AppliesTo,
    pub blocking: bool,
    #[serde(default)]
    pub answer: Option<Value>,
    pub status: ClarificationStatus,
    #[serde(default)]
    pub answered_at: Option<i64>,
    #[serde(default)]
    pub answered_by: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The question part of a clarification. Upserting it again replaces the question but
/// keeps an answer already given (re-running setup must not lose the user's answers).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewClarification {
    pub key: String,
    pub question: String,
    #[serde(default)]
    pub recommended: Option<Value>,
    #[serde(default)]
    pub options: Option<Value>,
    #[serde(default)]
    pub applies_to: AppliesTo,
    #[serde(default)]
    pub blocking: bool,
}

// One construction of each record from its creation request, shared by both stores.

impl NewProject {
    /// The record `id` (created `now`) and its secrets, kept apart.
    pub fn into_record(self, id: Id, now: i64) -> (Project, ProjectSecrets) {
        let project = Project {
            id,
            name: self.name,
            git_url: self.git_url,
            local_path: self.local_path,
            base_branch: self.base_branch,
            ci_provider: self.ci_provider,
            project_classification: self.project_classification,
            default_models: self.default_models,
            created_at: now,
            updated_at: now,
        };
        (project, self.secrets.unwrap_or_default())
    }
}

impl NewProtocolRun {
    /// The run `id`, `pending`, created `now`.
    pub fn into_record(self, id: Id, now: i64) -> ProtocolRun {
        ProtocolRun {
            id,
            project_id: self.project_id,
            protocol_name: self.protocol_name,
            status: ProtocolStatus::Pending,
            base_branch: self.base_branch,
            worktree_path: self.worktree_path,
            protocol_root: self.protocol_root,
            description: self.description,
            template_config: self.template_config,
            template_source: self.template_source,
            created_at: now,
            updated_at: now,
        }
    }
}

impl NewStepRun {
    /// The step `id`, `pending`, created `now`.
    pub fn into_record(self, id: Id, now: i64) -> StepRun {
        StepRun {
            id,
            protocol_run_id: self.protocol_run_id,
            step_index: self.step_index,
            step_name: self.step_name,
            step_type: self.step_type,
            status: StepStatus::Pending,
            retries: 0,
            model: self.model,
            engine_id: self.engine_id,
            policy: self.policy,
            runtime_state: None,
            summary: None,
            created_at: now,
            updated_at: now,
        }
    }
}

impl NewEvent {
    /// The event `id` of a run of `project_id`, created `now`.
    pub fn into_record(self, id: Id, project_id: Id, now: i64) -> Event {
        Event {
            id,
            protocol_run_id: self.protocol_run_id,
            project_id,
            step_run_id: self.step_run_id,
            event_type: self.event_type,
            message: self.message,
            metadata: self.metadata,
            created_at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run_with(config: Option<Value>) -> ProtocolRun {
        ProtocolRun {
            id: 1,
            project_id: 1,
            protocol_name: "0001-demo".into(),
            status: ProtocolStatus::Pending,
            base_branch: "main".into(),
            worktree_path: None,
            protocol_root: None,
            description: None,
            template_config: config,
            template_source: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let mut out = String::new();
        canonical_json(&json!({"b": [{"z": 1, "a": "x"}], "a": null}), &mut out);
        assert_eq!(out, r#"{"a":null,"b":[{"a":"x","z":1}]}"#);
    }

    #[test]
    fn spec_hash_ignores_key_order_and_needs_a_spec() {
        let a = run_with(Some(
            json!({"protocol_spec": {"steps": [1, 2], "name": "x"}}),
        ));
        let b = run_with(Some(
            json!({"protocol_spec": {"name": "x", "steps": [1, 2]}}),
        ));
        let hash = a.spec_hash().expect("a spec");
        assert_eq!(hash.len(), 12);
        assert!(hash.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(Some(hash), b.spec_hash());
        // Known value: `printf '{"name":"x","steps":[1,2]}' | sha256sum`.
        assert_eq!(a.spec_hash().as_deref(), Some("12b66964adc2"));
        assert_eq!(run_with(None).spec_hash(), None);
        assert_eq!(run_with(Some(json!({"other": 1}))).spec_hash(), None);
    }

    #[test]
    fn secrets_debug_shows_names_only() {
        let s = ProjectSecrets(
            json!({"api_token": "hunter2"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        assert_eq!(s.api_token(), Some("hunter2"));
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
