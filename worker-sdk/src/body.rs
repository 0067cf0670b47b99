//! The request bodies this SDK sends, and their signatures.
//!
//! Each builder fills one `baton_protocol` struct (registration, heartbeat, result, event)
//! with the current `timestamp` (integer epoch seconds). [`Sealer::seal`] turns a body into
//! the exact JSON value that goes on the wire, adding
//! `security: {"signature", "signer_id"}` when the token is not the Python default. The
//! signature covers that same value minus `security` (and minus `bubbling_chain` for
//! events), so what is signed is byte-for-byte what the server re-canonicalises.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use baton_protocol::signing::{sign, EVENT_UNSIGNED_FIELDS};
use baton_protocol::{
    Heartbeat, SkillEntry, SkillInfo, TaskPayload, TaskResult, WorkerEvent, WorkerRegistration,
    TASK_STATUS_CANCELLED, TASK_STATUS_FAILURE, TASK_STATUS_SUCCESS,
};
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::config::WorkerConfig;
use crate::error::{TaskError, WorkerError};

/// Current time as integer epoch seconds (the protocol rejects floats here).
pub(crate) fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Adds `security` blocks; see the module docs.
#[derive(Clone)]
pub(crate) struct Sealer {
    worker_id: String,
    /// `None` when the token is the Python default: such bodies go unsigned.
    secret: Option<String>,
}

impl Sealer {
    pub(crate) fn new(config: &WorkerConfig) -> Self {
        Sealer {
            worker_id: config.worker_id.clone(),
            secret: config.signs_bodies().then(|| config.token.clone()),
        }
    }

    /// The wire form of `body`, signed if a secret is configured.
    pub(crate) fn seal<T: Serialize>(
        &self,
        what: &'static str,
        body: &T,
    ) -> Result<Value, WorkerError> {
        self.seal_without(what, body, &[])
    }

    /// Like [`Sealer::seal`] for events, whose `bubbling_chain` relays may extend.
    pub(crate) fn seal_event(&self, event: &WorkerEvent) -> Result<Value, WorkerError> {
        self.seal_without("event", event, EVENT_UNSIGNED_FIELDS)
    }

    fn seal_without<T: Serialize>(
        &self,
        what: &'static str,
        body: &T,
        ignored: &[&str],
    ) -> Result<Value, WorkerError> {
        let mut value =
            serde_json::to_value(body).map_err(|source| WorkerError::Encode { what, source })?;
        if let (Some(secret), Value::Object(map)) = (&self.secret, &mut value) {
            map.remove("security");
            let signature = sign(&Value::Object(map.clone()), secret, ignored);
            map.insert(
                "security".to_string(),
                json!({"signature": signature, "signer_id": self.worker_id}),
            );
        }
        Ok(value)
    }
}

/// `supported_skills` entries: objects `{"name", "type", ...}` as RXON expects.
pub(crate) fn skill_entries(skills: &[SkillInfo]) -> Vec<SkillEntry> {
    skills.iter().cloned().map(SkillEntry::Info).collect()
}

pub(crate) fn registration(
    config: &WorkerConfig,
    skills: &[SkillInfo],
    incarnation: &str,
) -> WorkerRegistration {
    let names: Vec<String> = skills.iter().map(|s| s.name.clone()).collect();
    let mut capabilities = Map::new();
    // The Python SDK announces the flag under `extra`; the protocol crate reads both.
    capabilities.insert(
        "extra".to_string(),
        json!({"websockets": config.enable_websockets}),
    );
    if !config.cost_per_skill.is_empty() {
        capabilities.insert("cost_per_skill".to_string(), json!(config.cost_per_skill));
    }
    let cpu_cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    WorkerRegistration {
        worker_id: config.worker_id.clone(),
        worker_type: Some(config.worker_type.clone()),
        supported_skills: Some(skill_entries(skills)),
        available_skills: Some(names),
        capabilities: Some(Value::Object(capabilities)),
        resources: Some(json!({"properties": {"cpu_cores": cpu_cores}})),
        installed_software: Some(json!({"baton-worker": env!("CARGO_PKG_VERSION")})),
        timestamp: Some(now_secs()),
        incarnation: Some(incarnation.to_string()),
        ..Default::default()
    }
}

/// What the worker reports in a heartbeat besides its identity.
pub(crate) struct HeartbeatState<'a> {
    pub status: &'a str,
    pub current_tasks: Vec<String>,
    /// `None` when the worker takes no new task (full, draining, offline).
    pub available_skills: Option<Vec<String>>,
    /// Sent only when the server asked for a full sync.
    pub supported_skills: Option<Vec<SkillEntry>>,
}

pub(crate) fn heartbeat(worker_id: &str, state: HeartbeatState<'_>) -> Heartbeat {
    Heartbeat {
        worker_id: worker_id.to_string(),
        status: state.status.to_string(),
        current_tasks: Some(state.current_tasks),
        available_skills: state.available_skills,
        supported_skills: state.supported_skills,
        timestamp: Some(now_secs()),
        ..Default::default()
    }
}

/// How a task ended, before it is put in wire form.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    /// The handler returned data; `status` is a custom status it chose, if any.
    Success {
        data: Value,
        status: Option<String>,
    },
    Failure(TaskError),
    Cancelled,
}

impl Outcome {
    pub(crate) fn label(&self) -> &str {
        match self {
            Outcome::Success {
                status: Some(s), ..
            } => s,
            Outcome::Success { status: None, .. } => TASK_STATUS_SUCCESS,
            Outcome::Failure(_) => TASK_STATUS_FAILURE,
            Outcome::Cancelled => TASK_STATUS_CANCELLED,
        }
    }
}

pub(crate) fn task_result(
    worker_id: &str,
    task: &TaskPayload,
    outcome: Outcome,
    elapsed: Duration,
) -> TaskResult {
    // Success omits `status`, as the Python models omit their default.
    let (status, data, error) = match outcome {
        Outcome::Success { data, status } => (
            status.filter(|s| s != TASK_STATUS_SUCCESS),
            Some(data),
            None,
        ),
        Outcome::Failure(e) => (Some(TASK_STATUS_FAILURE.to_string()), None, Some(e.into())),
        Outcome::Cancelled => (Some(TASK_STATUS_CANCELLED.to_string()), None, None),
    };
    let seconds = (elapsed.as_secs_f64() * 10_000.0).round() / 10_000.0;
    TaskResult {
        job_id: task.job_id.clone(),
        task_id: task.task_id.clone(),
        worker_id: Some(worker_id.to_string()),
        origin_worker_id: Some(worker_id.to_string()),
        status,
        data,
        error,
        costs: Some(json!({"execution_time_seconds": seconds})),
        timestamp: Some(now_secs()),
        ..Default::default()
    }
}

pub(crate) fn event(
    worker_id: &str,
    task: &TaskPayload,
    event_type: String,
    payload: Value,
) -> WorkerEvent {
    WorkerEvent {
        event_id: uuid::Uuid::new_v4().to_string(),
        worker_id: worker_id.to_string(),
        origin_worker_id: Some(worker_id.to_string()),
        event_type,
        payload,
        origin_task_id: Some(task.task_id.clone()),
        bubbling_chain: Some(Vec::new()),
        target_job_id: Some(task.job_id.clone()),
        target_task_id: Some(task.task_id.clone()),
        trace_context: (!task.tracing_context.is_empty())
            .then(|| Value::Object(task.tracing_context.clone())),
        timestamp: Some(now_secs()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_protocol::signing::verify;

    fn config(token: &str) -> WorkerConfig {
        WorkerConfig::new("http://127.0.0.1:1")
            .worker_id("w-1")
            .token(token)
    }

    fn task() -> TaskPayload {
        TaskPayload {
            job_id: "job-1".into(),
            task_id: "task-1".into(),
            task_type: "echo".into(),
            ..Default::default()
        }
    }

    fn signature_of(value: &Value) -> (&str, &str) {
        let security = &value["security"];
        (
            security["signature"].as_str().expect("signature"),
            security["signer_id"].as_str().expect("signer_id"),
        )
    }

    #[test]
    fn every_body_verifies_with_the_protocol_crate() {
        let cfg = config("s3cret").skill_cost("echo", 0.5);
        let sealer = Sealer::new(&cfg);
        let skills = vec![SkillInfo {
            name: "echo".into(),
            skill_type: Some("echo".into()),
            ..Default::default()
        }];
        let hb_state = HeartbeatState {
            status: "idle",
            current_tasks: vec!["task-1".into()],
            available_skills: Some(vec!["echo".into()]),
            supported_skills: None,
        };
        let outcome = Outcome::Success {
            data: json!({"x": 1.5, "é": [null, 2.0]}),
            status: None,
        };
        let bodies = [
            (
                "register",
                sealer
                    .seal("register", &registration(&cfg, &skills, "inc-1"))
                    .unwrap(),
            ),
            (
                "heartbeat",
                sealer
                    .seal("heartbeat", &heartbeat("w-1", hb_state))
                    .unwrap(),
            ),
            (
                "result",
                sealer
                    .seal(
                        "result",
                        &task_result("w-1", &task(), outcome, Duration::from_millis(12)),
                    )
                    .unwrap(),
            ),
            (
                "event",
                sealer
                    .seal_event(&event(
                        "w-1",
                        &task(),
                        "progress".into(),
                        json!({"progress": 0.5}),
                    ))
                    .unwrap(),
            ),
        ];
        for (what, body) in &bodies {
            let (signature, signer) = signature_of(body);
            assert_eq!(signer, "w-1");
            let ignored: &[&str] = if *what == "event" {
                EVENT_UNSIGNED_FIELDS
            } else {
                &[]
            };
            assert!(verify(body, signature, "s3cret", ignored), "{what}: {body}");
            assert!(!verify(body, signature, "other", ignored), "{what}");
            assert!(body["timestamp"].is_i64(), "{what}: integer timestamp");
        }
        // Events are signed without `bubbling_chain`, so relays may append to it.
        let mut relayed = bodies[3].1.clone();
        relayed["bubbling_chain"] = json!(["relay-1"]);
        let (signature, _) = signature_of(&bodies[3].1);
        assert!(verify(&relayed, signature, "s3cret", EVENT_UNSIGNED_FIELDS));
    }

    #[test]
    fn default_token_sends_no_security_block() {
        let sealer = Sealer::new(&config(baton_protocol::DEFAULT_PYTHON_WORKER_TOKEN));
        let body = sealer
            .seal("register", &registration(&config("x"), &[], "inc-1"))
            .unwrap();
        assert!(body.get("security").is_none(), "{body}");
    }

    #[test]
    fn registration_has_the_rxon_shape() {
        let skills = vec![SkillInfo {
            name: "echo".into(),
            skill_type: Some("echo".into()),
            ..Default::default()
        }];
        let v = serde_json::to_value(registration(
            &config("t").worker_type("kind"),
            &skills,
            "inc-1",
        ))
        .unwrap();
        assert_eq!(v["worker_id"], "w-1");
        assert_eq!(v["worker_type"], "kind");
        assert_eq!(
            v["supported_skills"],
            json!([{"name": "echo", "type": "echo"}])
        );
        assert_eq!(v["available_skills"], json!(["echo"]));
        assert_eq!(v["capabilities"]["extra"]["websockets"], true);
        assert_eq!(v["incarnation"], "inc-1");
        let reg: WorkerRegistration = serde_json::from_value(v).unwrap();
        assert!(reg.websockets());
    }

    #[test]
    fn results_have_the_rxon_shape() {
        let t = task();
        let ok = |status: Option<&str>| Outcome::Success {
            data: json!({"a": 1}),
            status: status.map(String::from),
        };
        let v = serde_json::to_value(task_result("w", &t, ok(None), Duration::ZERO)).unwrap();
        assert!(v.get("status").is_none() && v.get("error").is_none());
        assert_eq!(v["data"], json!({"a": 1}));
        assert_eq!(
            (&v["job_id"], &v["task_id"], &v["worker_id"]),
            (&json!("job-1"), &json!("task-1"), &json!("w"))
        );
        let v = serde_json::to_value(task_result("w", &t, ok(Some("success")), Duration::ZERO))
            .unwrap();
        assert!(v.get("status").is_none(), "explicit success is the default");
        let v = serde_json::to_value(task_result(
            "w",
            &t,
            ok(Some("needs_review")),
            Duration::ZERO,
        ))
        .unwrap();
        assert_eq!(
            (&v["status"], &v["data"]),
            (&json!("needs_review"), &json!({"a": 1}))
        );
        let failed = Outcome::Failure(TaskError::permanent("no"));
        let v = serde_json::to_value(task_result("w", &t, failed, Duration::ZERO)).unwrap();
        assert_eq!(v["status"], "failure");
        assert_eq!(
            v["error"],
            json!({"code": "PERMANENT_ERROR", "message": "no"})
        );
        let v =
            serde_json::to_value(task_result("w", &t, Outcome::Cancelled, Duration::ZERO)).unwrap();
        assert_eq!(v["status"], "cancelled");
        assert!(v.get("data").is_none());
    }
}
