//! The `echo` skill: answers with its own params, and can be told to misbehave.
//!
//! The params must be a JSON object; it is returned unchanged as the result's `data`
//! (control keys included). These keys change what happens, in this order:
//!
//! | key | effect |
//! |---|---|
//! | `progress: true` | sends a `progress` event of 0.5 before the sleep and 1.0 at the end |
//! | `event: "<type>"` | sends an event of that type (payload: the params) before the sleep; a blueprint's `on_event` can move the job on it |
//! | `sleep_ms: N` | sleeps N ms first; stops at once when the task is cancelled |
//! | `fail: "transient" \| "permanent" \| "invalid_input"` | fails with `TRANSIENT_ERROR`, `PERMANENT_ERROR` or `INVALID_INPUT_ERROR` |
//! | `fail_until_attempt: N` | fails with `TRANSIENT_ERROR` while the dispatch attempt is below N, then succeeds |
//! | `status: "<custom>"` | finishes with that custom result status (data still sent) |
//!
//! A control key with a value of the wrong kind fails the task with
//! `INVALID_INPUT_ERROR`, so a typo in a test shows up instead of being echoed.

use std::time::Duration;

use baton_worker::{TaskContext, TaskError, WorkerBuilder};
use serde_json::{Map, Value};

/// Name of the skill registered by [`echo_skill`].
pub const ECHO_SKILL: &str = "echo";

/// Adds the `echo` skill to a worker.
pub fn echo_skill(builder: WorkerBuilder) -> WorkerBuilder {
    builder.skill(ECHO_SKILL, echo)
}

/// The `echo` handler; see the module docs.
pub async fn echo(params: Map<String, Value>, ctx: TaskContext) -> Result<Value, TaskError> {
    let controls = Controls::read(&params)?;
    if controls.progress {
        // Advisory: a lost progress event must not fail the echo.
        let _ = ctx.progress(0.5, "echo: halfway").await;
    }
    if let Some(event_type) = &controls.event {
        if let Err(e) = ctx
            .event(event_type.clone(), Value::Object(params.clone()))
            .await
        {
            tracing::warn!(error = %e, event_type, "echo: event not delivered");
        }
    }
    if let Some(ms) = controls.sleep_ms {
        tokio::select! {
            _ = ctx.cancelled() => {
                tracing::info!(task_id = ctx.task_id(), "echo: cancelled while sleeping");
                return Err(TaskError::transient("echo: cancelled"));
            }
            _ = tokio::time::sleep(Duration::from_millis(ms)) => {}
        }
    }
    match controls.fail.as_deref() {
        None => {}
        Some("transient") => {
            return Err(TaskError::transient(
                "echo: failing as asked (fail=transient)",
            ))
        }
        Some("permanent") => {
            return Err(TaskError::permanent(
                "echo: failing as asked (fail=permanent)",
            ))
        }
        Some("invalid_input") => {
            return Err(TaskError::invalid_input(
                "echo: failing as asked (fail=invalid_input)",
            ))
        }
        Some(other) => {
            return Err(TaskError::invalid_input(format!(
                "echo: unknown fail mode {other:?} (transient, permanent or invalid_input)"
            )))
        }
    }
    if let Some(until) = controls.fail_until_attempt {
        if ctx.attempt() < until {
            return Err(TaskError::transient(format!(
                "echo: attempt {} fails until attempt {until}",
                ctx.attempt()
            )));
        }
    }
    if controls.progress {
        let _ = ctx.progress(1.0, "echo: done").await;
    }
    if let Some(status) = controls.status {
        ctx.set_status(status);
    }
    Ok(Value::Object(params))
}

/// The control keys of one call, checked.
#[derive(Debug, Default, PartialEq)]
struct Controls {
    sleep_ms: Option<u64>,
    fail: Option<String>,
    fail_until_attempt: Option<u32>,
    progress: bool,
    status: Option<String>,
    event: Option<String>,
}

impl Controls {
    fn read(params: &Map<String, Value>) -> Result<Self, TaskError> {
        let wrong = |key: &str, expected: &str| {
            let got = params.get(key).map(Value::to_string).unwrap_or_default();
            TaskError::invalid_input(format!("echo: `{key}` must be {expected}, got {got}"))
        };
        let mut controls = Controls::default();
        if let Some(v) = params.get("sleep_ms").filter(|v| !v.is_null()) {
            controls.sleep_ms = Some(
                v.as_u64()
                    .ok_or_else(|| wrong("sleep_ms", "a non-negative integer"))?,
            );
        }
        if let Some(v) = params.get("fail").filter(|v| !v.is_null()) {
            controls.fail = Some(
                v.as_str()
                    .ok_or_else(|| wrong("fail", "a string"))?
                    .to_string(),
            );
        }
        if let Some(v) = params.get("fail_until_attempt").filter(|v| !v.is_null()) {
            let n = v.as_u64().and_then(|n| u32::try_from(n).ok());
            controls.fail_until_attempt =
                Some(n.ok_or_else(|| wrong("fail_until_attempt", "a small integer"))?);
        }
        if let Some(v) = params.get("progress").filter(|v| !v.is_null()) {
            controls.progress = v.as_bool().ok_or_else(|| wrong("progress", "a boolean"))?;
        }
        if let Some(v) = params.get("event").filter(|v| !v.is_null()) {
            controls.event = Some(
                v.as_str()
                    .ok_or_else(|| wrong("event", "a string"))?
                    .to_string(),
            );
        }
        if let Some(v) = params.get("status").filter(|v| !v.is_null()) {
            controls.status = Some(
                v.as_str()
                    .ok_or_else(|| wrong("status", "a string"))?
                    .to_string(),
            );
        }
        Ok(controls)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_worker::TaskPayload;
    use serde_json::json;

    fn ctx(attempt: u32) -> TaskContext {
        TaskContext::detached(TaskPayload {
            job_id: "job".into(),
            task_id: "task".into(),
            task_type: ECHO_SKILL.into(),
            attempt: Some(attempt),
            ..Default::default()
        })
    }

    fn params(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    #[tokio::test]
    async fn echoes_params_as_data() {
        let p = json!({"msg": "hi", "n": [1, 2], "sleep_ms": 1});
        assert_eq!(echo(params(p.clone()), ctx(1)).await.unwrap(), p);
    }

    #[tokio::test]
    async fn fails_with_the_requested_code() {
        for (mode, code) in [
            ("transient", "TRANSIENT_ERROR"),
            ("permanent", "PERMANENT_ERROR"),
            ("invalid_input", "INVALID_INPUT_ERROR"),
            ("bogus", "INVALID_INPUT_ERROR"),
        ] {
            let e = echo(params(json!({"fail": mode})), ctx(1))
                .await
                .unwrap_err();
            assert_eq!(e.code(), code, "{mode}");
        }
    }

    #[tokio::test]
    async fn fails_transiently_until_the_attempt() {
        let p = || params(json!({"fail_until_attempt": 3}));
        for attempt in [1, 2] {
            assert_eq!(
                echo(p(), ctx(attempt)).await.unwrap_err().code(),
                "TRANSIENT_ERROR"
            );
        }
        assert!(echo(p(), ctx(3)).await.is_ok());
        assert!(echo(p(), ctx(4)).await.is_ok());
    }

    #[tokio::test]
    async fn reports_progress_and_custom_status() {
        let c = ctx(1);
        let p = json!({"progress": true, "status": "needs_review"});
        assert_eq!(echo(params(p.clone()), c.clone()).await.unwrap(), p);
        let progress: Vec<f64> = c
            .recorded_events()
            .iter()
            .filter(|e| e.event_type == "progress")
            .filter_map(|e| e.payload["progress"].as_f64())
            .collect();
        assert_eq!(progress, vec![0.5, 1.0]);
        assert_eq!(c.status().as_deref(), Some("needs_review"));
    }

    #[tokio::test]
    async fn sleep_stops_at_once_when_cancelled() {
        let c = ctx(1);
        let token = c.cancellation();
        let started = std::time::Instant::now();
        let run = tokio::spawn(echo(params(json!({"sleep_ms": 60_000})), c));
        tokio::time::sleep(Duration::from_millis(20)).await;
        token.cancel();
        let outcome = run.await.unwrap();
        assert!(outcome.is_err());
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn control_keys_of_the_wrong_kind_are_invalid_input() {
        for p in [
            json!({"sleep_ms": "5"}),
            json!({"progress": "yes"}),
            json!({"fail_until_attempt": -1}),
            json!({"status": 3}),
        ] {
            let e = echo(params(p.clone()), ctx(1)).await.unwrap_err();
            assert_eq!(e.code(), "INVALID_INPUT_ERROR", "{p}");
        }
    }

    #[test]
    fn registers_the_echo_skill() {
        let config = baton_worker::WorkerConfig::new("http://127.0.0.1:1").worker_id("echo-test");
        let worker = echo_skill(baton_worker::Worker::builder(config))
            .build()
            .unwrap();
        assert_eq!(worker.worker_id(), "echo-test");
        assert!(format!("{worker:?}").contains("echo"));
    }
}
