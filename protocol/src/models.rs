//! Request and response bodies of the worker protocol.
//!
//! Optional fields are `Option` and skipped when `None`, the way the Python models omit
//! their defaults. `timestamp` and `deadline` are integers (epoch seconds): the Python SDK
//! drops a task whose timestamp is a float.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub type JsonObject = Map<String, Value>;

/// `security` block of a signed body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct SecurityContext {
    /// `hex(HMAC-SHA256(token, canonical JSON of the body without security))`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// The signing worker's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity_chain: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub metadata: Option<JsonObject>,
}

/// One skill a worker offers (`supported_skills` entries).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct SkillInfo {
    pub name: String,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub skill_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_schema: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
}

/// `supported_skills` entries are objects in RXON, but older clients send plain names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum SkillEntry {
    Name(String),
    Info(SkillInfo),
}

impl SkillEntry {
    pub fn name(&self) -> &str {
        match self {
            SkillEntry::Name(n) => n,
            SkillEntry::Info(i) => &i.name,
        }
    }
}

/// `POST /_worker/workers/register`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct WorkerRegistration {
    pub worker_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supported_skills: Option<Vec<SkillEntry>>,
    /// The seed's older form: a list of task type names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supported_tasks: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available_skills: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hot_skills: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub installed_software: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub installed_artifacts: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skills_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub metadata: Option<JsonObject>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security: Option<SecurityContext>,
    /// Baton extension: an id the worker process draws once at start (letters, digits,
    /// `_`, `-`; at most 128). A registration takes back the leases held under the worker
    /// id unless it repeats the incarnation of the live registration (the same process
    /// registering again). Not part of RXON: the Python SDK sends none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incarnation: Option<String>,
}

impl WorkerRegistration {
    /// Every skill name the worker announced, in any of the accepted forms, deduplicated.
    pub fn skill_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        let from_skills = self.supported_skills.iter().flatten().map(|s| s.name());
        let from_tasks = self.supported_tasks.iter().flatten().map(String::as_str);
        let from_available = self.available_skills.iter().flatten().map(String::as_str);
        for name in from_skills.chain(from_tasks).chain(from_available) {
            if !name.is_empty() && !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
        }
        names
    }

    /// Whether the worker said it listens on the WebSocket. The Python SDK puts the flag
    /// in `capabilities.extra.websockets`; older clients in `capabilities.websockets`.
    pub fn websockets(&self) -> bool {
        let Some(caps) = &self.capabilities else {
            return false;
        };
        let flag = |v: Option<&Value>| v.and_then(Value::as_bool).unwrap_or(false);
        flag(caps.get("websockets")) || flag(caps.get("extra").and_then(|e| e.get("websockets")))
    }
}

/// `PATCH /_worker/workers/{id}` with a body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct Heartbeat {
    pub worker_id: String,
    /// e.g. `idle` or `busy`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_tasks: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supported_skills: Option<Vec<SkillEntry>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available_skills: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hot_skills: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skills_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub metadata: Option<JsonObject>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security: Option<SecurityContext>,
}

/// Answer to a heartbeat with a body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct HeartbeatResponse {
    /// `ok`; `ttl_refreshed` (alone) for an empty heartbeat.
    pub status: String,
    /// Tasks of this worker whose jobs were cancelled: stop them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cancel_task_ids: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub require_full_sync: bool,
}

/// What `GET /_worker/workers/{id}/tasks/next` returns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct TaskPayload {
    pub job_id: String,
    pub task_id: String,
    /// The skill that runs it.
    #[serde(rename = "type")]
    pub task_type: String,
    pub params: Value,
    pub priority: f64,
    pub step: u32,
    /// Epoch seconds, always an integer.
    pub timestamp: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub tracing_context: JsonObject,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Epoch seconds by which the result is due.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline: Option<i64>,
    /// Baton addition: which dispatch of the job's state this is (1 = first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
}

/// `error` of a failed result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct TaskError {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

/// `POST /_worker/tasks/result`.
///
/// The seed's older form nests `status`, `data` and `error` in a `result` object; the
/// server accepts both (see [`TaskResult::normalize`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct TaskResult {
    pub job_id: String,
    pub task_id: String,
    /// The reporting worker; `X-Worker-ID` when missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin_worker_id: Option<String>,
    /// `success` (the default when missing), `failure`, `cancelled`, or a custom status
    /// a blueprint transition names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<TaskError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub costs: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security: Option<SecurityContext>,
    /// The worker-pull API's nested form: `{"result": {"status","data","error"}}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<NestedResult>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct NestedResult {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<TaskError>,
}

impl TaskResult {
    /// Folds the nested seed form into the flat RXON form.
    pub fn normalize(mut self) -> Self {
        if let Some(nested) = self.result.take() {
            self.status = self.status.or(nested.status);
            self.data = self.data.or(nested.data);
            self.error = self.error.or(nested.error);
        }
        self
    }

    /// The effective status: missing means success.
    pub fn status(&self) -> &str {
        self.status.as_deref().unwrap_or(crate::TASK_STATUS_SUCCESS)
    }
}

/// `POST /_worker/events`, or a TEXT frame on the WebSocket.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct WorkerEvent {
    pub event_id: String,
    pub worker_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin_worker_id: Option<String>,
    /// `progress` sets the job's progress; other types are accepted and ignored.
    pub event_type: String,
    /// For `progress`: `{"progress": 0.0..1.0, "message": "..."}`.
    pub payload: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin_task_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bubbling_chain: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_job_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_task_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_context: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security: Option<SecurityContext>,
}

/// Server → worker WebSocket message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct WorkerCommand {
    /// `cancel_task`.
    pub command: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
}

/// Answer to a result: `accepted`, or `ignored` with a reason.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct ResultAck {
    /// `accepted` or `ignored`.
    pub status: String,
    /// Why a result was ignored: `job_not_found`, `worker_mismatch`, `stale_task`,
    /// `deadline_exceeded`, `job_cancelled` or `job_already_terminated`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The state the job moved to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transition: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn registration_accepts_every_skill_form() {
        let reg: WorkerRegistration = serde_json::from_value(json!({
            "worker_id": "w1",
            "supported_skills": [{"name": "echo", "type": "echo"}, "resize"],
            "supported_tasks": ["video", "echo"],
            "capabilities": {"extra": {"websockets": true}}
        }))
        .unwrap();
        assert_eq!(reg.skill_names(), vec!["echo", "resize", "video"]);
        assert!(reg.websockets());
    }

    #[test]
    fn nested_result_form_is_folded() {
        let r: TaskResult = serde_json::from_value(json!({
            "job_id": "j", "task_id": "t",
            "result": {"status": "failure", "error": {"code": "TRANSIENT_ERROR", "message": "x"}}
        }))
        .unwrap();
        let r = r.normalize();
        assert_eq!(r.status(), "failure");
        assert_eq!(r.error.unwrap().code, "TRANSIENT_ERROR");
    }

    #[test]
    fn task_payload_timestamps_serialize_as_integers() {
        let t = TaskPayload {
            timestamp: 1_795_434_814,
            deadline: Some(1_795_434_900),
            ..Default::default()
        };
        let s = serde_json::to_string(&t).unwrap();
        assert!(s.contains("\"timestamp\":1795434814"), "{s}");
        assert!(s.contains("\"deadline\":1795434900"), "{s}");
    }
}
