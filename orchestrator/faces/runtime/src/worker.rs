//! `/_worker`: the RXON worker protocol, as the PyPI `avtomatika-worker` SDK speaks it.
//!
//! Every call authenticates with `X-Worker-Token` (403 on failure). Bodies with a
//! `security.signature` are verified over their canonical form with the presented token
//! and must carry a fresh integer `timestamp`. Each handler's `#[utoipa::path]` is its
//! entry in the OpenAPI document ([`super::openapi`]).

use super::error::ApiError;
use super::schemas::{ErrorBody, PollQuery, StatusOnly, WorkerIdHeader};
use super::{
    body, from_value, json_response, ok_json, parse_json, raw_json_response, respond, with_app,
    AppRef,
};
use crate::auth::WorkerCredential;
use baton_protocol::clock::now_ms;
use baton_protocol::is_identifier;
use baton_protocol::signing::EVENT_UNSIGNED_FIELDS;
use baton_protocol::{
    Heartbeat, HeartbeatResponse, ResultAck, TaskPayload, TaskResult, WorkerEvent,
    EVENT_TYPE_PROGRESS,
};
use baton_store::WorkerUpdate;
use bytes::Bytes;
use serde_json::Value;
use std::collections::HashMap;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

/// `(X-Worker-Token, X-Worker-ID)`.
pub type WorkerHeaders = (Option<String>, Option<String>);

pub fn worker_headers() -> impl Filter<Extract = (WorkerHeaders,), Error = Rejection> + Clone {
    warp::header::optional::<String>(baton_protocol::HEADER_WORKER_TOKEN)
        .and(warp::header::optional::<String>(
            baton_protocol::HEADER_WORKER_ID,
        ))
        .map(|token, id| (token, id))
}

pub(super) type Body = Result<Bytes, ApiError>;

pub fn routes(app: AppRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let limit = app.cfg.max_body_bytes;
    let register = warp::path!("_worker" / "workers" / "register")
        .and(warp::post())
        .and(worker_headers())
        .and(body(limit))
        .and(with_app(app.clone()))
        .then(|h: WorkerHeaders, b: Body, app: AppRef| async move {
            respond(Box::pin(super::registration::register(&app, h, b)).await)
        });
    let heartbeat = warp::path!("_worker" / "workers" / String)
        .and(warp::patch())
        .and(worker_headers())
        .and(body(limit))
        .and(with_app(app.clone()))
        .then(
            |id: String, h: WorkerHeaders, b: Body, app: AppRef| async move {
                respond(Box::pin(heartbeat(&app, &id, h, b)).await)
            },
        );
    let next = warp::path!("_worker" / "workers" / String / "tasks" / "next")
        .and(warp::get())
        .and(worker_headers())
        .and(warp::query::<HashMap<String, String>>())
        .and(with_app(app.clone()))
        .then(
            |id: String, h: WorkerHeaders, q: HashMap<String, String>, app: AppRef| async move {
                respond(Box::pin(next_task(&app, &id, h, q)).await)
            },
        );
    let result = warp::path!("_worker" / "tasks" / "result")
        .and(warp::post())
        .and(worker_headers())
        .and(body(limit))
        .and(with_app(app.clone()))
        .then(|h: WorkerHeaders, b: Body, app: AppRef| async move {
            respond(Box::pin(result(&app, h, b)).await)
        });
    let events = warp::path!("_worker" / "events")
        .and(warp::post())
        .and(worker_headers())
        .and(body(limit))
        .and(with_app(app.clone()))
        .then(|h: WorkerHeaders, b: Body, app: AppRef| async move {
            respond(Box::pin(event(&app, h, b)).await)
        });
    let batch = super::batch::routes(app.clone());
    let ws = super::ws::route(app);
    register
        .or(heartbeat)
        .unify()
        .or(next)
        .unify()
        .or(result)
        .unify()
        .or(events)
        .unify()
        .or(batch)
        .unify()
        .or(ws)
        .unify()
}

/// Authenticates a worker call acting as the worker `X-Worker-ID` names, else as
/// `worker_id` (when known).
pub fn authenticate(
    app: &AppRef,
    h: &WorkerHeaders,
    worker_id: Option<&str>,
) -> Result<WorkerCredential, ApiError> {
    let claimed = worker_id.or(h.1.as_deref());
    let cred = app
        .auth
        .worker(h.0.as_deref(), claimed)
        .map_err(super::error::worker_auth)?;
    if let Some(id) = claimed {
        cred.check_worker(id).map_err(super::error::worker_auth)?;
    }
    Ok(cred)
}

/// The worker a body names, for a request already authenticated as `cred`.
pub(super) fn act_as(
    app: &AppRef,
    cred: &WorkerCredential,
    worker_id: &str,
) -> Result<(), ApiError> {
    app.auth
        .act_as(cred, worker_id)
        .map_err(super::error::worker_auth)
}

pub(super) fn verify(
    app: &AppRef,
    cred: &WorkerCredential,
    body: &Value,
    worker_id: &str,
    unsigned: &[&str],
) -> Result<(), ApiError> {
    app.auth
        .verify_body(cred, body, worker_id, unsigned, now_ms() / 1000)
        .map_err(super::error::worker_auth)
}

pub(super) fn check_id(id: &str, what: &str) -> Result<(), ApiError> {
    if is_identifier(id) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "{what} `{id}` must be letters, digits, `_` or `-`"
        )))
    }
}

fn lease_deadline(app: &AppRef, now: i64) -> i64 {
    now + app.cfg.heartbeat_timeout.as_millis() as i64
}

/// Keeps a worker's registration alive.
///
/// An empty body only refreshes it (`{"status": "ttl_refreshed"}`); a heartbeat body also
/// updates the worker's status and skills and answers the tasks to cancel.
#[utoipa::path(
    patch,
    path = "/_worker/workers/{id}",
    tag = "worker",
    params(("id" = String, Path, description = "Worker id."), WorkerIdHeader),
    request_body(content = Option<Heartbeat>, description = "Empty for a ping."),
    responses(
        (status = 200, description = "`ttl_refreshed` for a ping, else `ok` with `cancel_task_ids`.", body = HeartbeatResponse),
        (status = 400, description = "Malformed or invalid body.", body = ErrorBody),
        (status = 403, description = "Worker authentication or signature check failed.", body = ErrorBody),
        (status = 404, description = "The registration expired: register again.", body = ErrorBody),
        (status = 413, description = "Body too large.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("worker_token" = [])),
)]
async fn heartbeat(
    app: &AppRef,
    worker_id: &str,
    h: WorkerHeaders,
    body: Body,
) -> Result<Response, ApiError> {
    let cred = authenticate(app, &h, Some(worker_id))?;
    let body = body?;
    let now = now_ms();
    let mut update = WorkerUpdate {
        worker_id: worker_id.to_string(),
        now_ms: now,
        ttl: app.cfg.heartbeat_timeout,
        status: String::new(),
        info: None,
        skills: None,
        current_tasks: None,
        incarnation: None,
        lease_deadline_ms: lease_deadline(app, now),
    };
    let ping = body.iter().all(u8::is_ascii_whitespace);
    if !ping {
        let value = parse_json(&body)?;
        let hb: Heartbeat = from_value(&value, "heartbeat")?;
        if !hb.worker_id.is_empty() && hb.worker_id != worker_id {
            return Err(ApiError::bad_request(
                "the body's worker_id does not match the URL",
            ));
        }
        verify(app, &cred, &value, worker_id, &[])?;
        update.status = hb.status.clone();
        update.skills = hb
            .supported_skills
            .as_ref()
            .map(|s| s.iter().map(|e| e.name().to_string()).collect());
        // Without a list the worker does not say what it runs: its leases are extended
        // as by a ping (see `WorkerUpdate::current_tasks`).
        update.current_tasks = hb.current_tasks.clone();
    }
    let Some(cancels) = app.engine.store.heartbeat(&update).await? else {
        return Err(ApiError::not_found(format!(
            "worker `{worker_id}` not found: register again"
        )));
    };
    if ping {
        return ok_json(&StatusOnly {
            status: "ttl_refreshed".into(),
        });
    }
    let resp = HeartbeatResponse {
        status: "ok".into(),
        cancel_task_ids: cancels,
        require_full_sync: false,
    };
    ok_json(&serde_json::to_value(resp).unwrap_or_default())
}

/// Long-polls for one task of the worker's skills.
#[utoipa::path(
    get,
    path = "/_worker/workers/{id}/tasks/next",
    tag = "worker",
    params(("id" = String, Path, description = "Worker id."), PollQuery, WorkerIdHeader),
    responses(
        (status = 200, description = "A task.", body = TaskPayload),
        (status = 204, description = "No task came within the hold."),
        (status = 400, description = "Bad query.", body = ErrorBody),
        (status = 403, description = "Worker authentication or signature check failed.", body = ErrorBody),
        (status = 404, description = "Unknown worker and no `available_skills`: register first.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("worker_token" = [])),
)]
async fn next_task(
    app: &AppRef,
    worker_id: &str,
    h: WorkerHeaders,
    q: HashMap<String, String>,
) -> Result<Response, ApiError> {
    let mut tasks = poll(app, worker_id, &h, &q, 1).await?;
    match tasks.pop() {
        Some(body) => Ok(raw_json_response(StatusCode::OK, body)),
        None => Ok(no_content()),
    }
}

pub(crate) fn no_content() -> Response {
    let mut resp = Response::new(Default::default());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    resp
}

/// A long-poll for up to `max` tasks; returns their payloads (JSON), empty after the hold.
pub(crate) async fn poll(
    app: &AppRef,
    worker_id: &str,
    h: &WorkerHeaders,
    q: &HashMap<String, String>,
    max: usize,
) -> Result<Vec<String>, ApiError> {
    authenticate(app, h, Some(worker_id))?;
    check_id(worker_id, "worker id")?;
    let mut hold = app.cfg.poll_hold;
    if let Some(t) = q.get("timeout") {
        let secs = t
            .parse()
            .ok()
            .and_then(baton_protocol::clock::seconds)
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "timeout `{t}` must be {}",
                    baton_protocol::clock::SECONDS_RANGE
                ))
            })?;
        hold = hold.min(secs);
    }
    let skills: Vec<String> = match q.get("available_skills") {
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        None => match app.engine.store.get_worker(worker_id).await? {
            Some(w) => w.skills,
            None => {
                return Err(ApiError::not_found(format!(
                    "worker `{worker_id}` not found: register first"
                )))
            }
        },
    };
    for s in &skills {
        check_id(s, "skill")?;
    }
    let handouts = app
        .dispatcher
        .next_tasks(worker_id, &skills, hold, max)
        .await?;
    for h in &handouts {
        tracing::debug!(worker_id, task_id = %h.task.task_id, job_id = %h.task.job_id, "task handed out");
    }
    Ok(handouts.into_iter().map(|h| h.body).collect())
}

/// Reports a task's result (the flat RXON form, or the older nested `result` object).
#[utoipa::path(
    post,
    path = "/_worker/tasks/result",
    tag = "worker",
    operation_id = "submit_result",
    params(WorkerIdHeader),
    request_body = TaskResult,
    responses(
        (status = 200, description = "`accepted` with the next state, or `ignored` with a reason.", body = ResultAck),
        (status = 400, description = "Malformed or invalid body.", body = ErrorBody),
        (status = 403, description = "Worker authentication or signature check failed.", body = ErrorBody),
        (status = 413, description = "Body too large.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("worker_token" = [])),
)]
async fn result(app: &AppRef, h: WorkerHeaders, body: Body) -> Result<Response, ApiError> {
    let cred = authenticate(app, &h, None)?;
    let value = parse_json(&body?)?;
    let ack = apply_result(app, &h, &cred, &value).await?;
    ok_json(&serde_json::to_value(ack).unwrap_or_default())
}

/// Checks and applies one result body (also used by the batch route).
/// `cred` is what the request authenticated as; the body's worker must be one it may
/// act as.
pub(crate) async fn apply_result(
    app: &AppRef,
    h: &WorkerHeaders,
    cred: &WorkerCredential,
    value: &Value,
) -> Result<ResultAck, ApiError> {
    let result: TaskResult = from_value(value, "task result")?;
    let result = result.normalize();
    let worker_id = result
        .worker_id
        .clone()
        .or_else(|| h.1.clone())
        .ok_or_else(|| {
            ApiError::bad_request("the result names no worker_id (body or X-Worker-ID)")
        })?;
    if result.job_id.is_empty() || result.task_id.is_empty() {
        return Err(ApiError::bad_request("a result needs job_id and task_id"));
    }
    act_as(app, cred, &worker_id)?;
    verify(app, cred, value, &worker_id, &[])?;
    let ack = app.engine.submit_result(&worker_id, result).await?;
    if ack.status != "accepted" {
        tracing::info!(worker_id, reason = ?ack.reason, "result ignored");
    }
    Ok(ack)
}

/// Reports an event; `progress` sets the job's `progress` and `progress_message`.
#[utoipa::path(
    post,
    path = "/_worker/events",
    tag = "worker",
    operation_id = "submit_event",
    params(WorkerIdHeader),
    request_body = WorkerEvent,
    responses(
        (status = 200, description = "Always `event_accepted`.", body = StatusOnly, example = json!({"status": "event_accepted"})),
        (status = 400, description = "Malformed or invalid body.", body = ErrorBody),
        (status = 403, description = "Worker authentication or signature check failed.", body = ErrorBody),
        (status = 413, description = "Body too large.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("worker_token" = [])),
)]
async fn event(app: &AppRef, h: WorkerHeaders, body: Body) -> Result<Response, ApiError> {
    let cred = authenticate(app, &h, None)?;
    let value = parse_json(&body?)?;
    handle_event(app, &cred, value).await?;
    Ok(json_response(
        StatusCode::OK,
        &StatusOnly {
            status: "event_accepted".into(),
        },
    ))
}

/// An event from HTTP or the WebSocket: `progress` updates the job; another type moves it
/// when the running task's state declares `on_event` for that type.
/// `cred` is what the request (or the WebSocket, at connect) authenticated as.
pub async fn handle_event(
    app: &AppRef,
    cred: &WorkerCredential,
    value: Value,
) -> Result<(), ApiError> {
    let event: WorkerEvent = from_value(&value, "event")?;
    act_as(app, cred, &event.worker_id)?;
    verify(app, cred, &value, &event.worker_id, EVENT_UNSIGNED_FIELDS)?;
    if event.event_type == EVENT_TYPE_PROGRESS {
        let job_id = event.target_job_id.as_deref().unwrap_or_default();
        let task_id = event
            .origin_task_id
            .as_deref()
            .or(event.target_task_id.as_deref())
            .unwrap_or_default();
        let progress = event.payload.get("progress").and_then(Value::as_f64);
        let message = event.payload.get("message").and_then(Value::as_str);
        let applied = app
            .engine
            .record_progress(job_id, task_id, progress, message)
            .await?;
        tracing::debug!(job_id, task_id, ?progress, applied, "progress event");
    } else if let (Some(job_id), Some(task_id)) = (
        event.target_job_id.as_deref(),
        event
            .origin_task_id
            .as_deref()
            .or(event.target_task_id.as_deref()),
    ) {
        // Other events move the job only where its blueprint maps them to a transition.
        let moved = app
            .engine
            .worker_event(
                &event.worker_id,
                job_id,
                task_id,
                &event.event_type,
                &event.payload,
            )
            .await?;
        tracing::debug!(job_id, task_id, event_type = %event.event_type, moved, "worker event");
    }
    Ok(())
}
