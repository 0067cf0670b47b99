//! Baton's batch forms of the worker protocol (not part of RXON; the single-task routes
//! stay for RXON clients such as the Python SDK):
//!
//! - `GET /_worker/workers/{id}/tasks/batch?max=N&timeout=&available_skills=` takes up to
//!   N tasks in one long-poll (one claim in the store): 200 `{"tasks": [...]}` or 204;
//! - `POST /_worker/tasks/results` `{"results": [<result>, ...]}` applies each result
//!   (each signed on its own, exactly as the single route checks it) and answers
//!   `{"results": [<answer>, ...]}` in the same order; a result that is refused gets
//!   `{"status": "error", "error": "...", "code": "..."}` in its place.
//!
//! Under load a worker with free slots takes several queued tasks per request and sends
//! the results that finished meanwhile together, so requests per job fall below two.

use super::error::ApiError;
use super::schemas::{
    BatchItemAnswer, BatchQuery, ErrorBody, ResultBatch, ResultBatchAnswer, TaskBatch,
    WorkerIdHeader,
};
use super::worker::{apply_result, authenticate, no_content, poll, worker_headers, WorkerHeaders};
use super::{body, ok_json, parse_json, raw_json_response, respond, with_app, AppRef};
use bytes::Bytes;
use futures_util::future::join_all;
use serde_json::Value;
use std::collections::HashMap;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

/// Most tasks one batch poll takes, and most results one batch carries.
pub const MAX_BATCH: usize = 256;

pub fn routes(app: AppRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let limit = app.cfg.max_body_bytes;
    let tasks = warp::path!("_worker" / "workers" / String / "tasks" / "batch")
        .and(warp::get())
        .and(worker_headers())
        .and(warp::query::<HashMap<String, String>>())
        .and(with_app(app.clone()))
        .then(
            |id: String, h: WorkerHeaders, q: HashMap<String, String>, app: AppRef| async move {
                respond(Box::pin(take_tasks(&app, &id, h, q)).await)
            },
        );
    let results = warp::path!("_worker" / "tasks" / "results")
        .and(warp::post())
        .and(worker_headers())
        .and(body(limit))
        .and(with_app(app))
        .then(
            |h: WorkerHeaders, b: Result<Bytes, ApiError>, app: AppRef| async move {
                respond(Box::pin(submit_results(&app, h, b)).await)
            },
        );
    tasks.or(results).unify()
}

/// Long-polls for up to `max` tasks, taken in one store call (Baton extension).
#[utoipa::path(
    get,
    path = "/_worker/workers/{id}/tasks/batch",
    tag = "worker",
    operation_id = "next_tasks_batch",
    params(("id" = String, Path, description = "Worker id."), BatchQuery, WorkerIdHeader),
    responses(
        (status = 200, description = "One or more tasks.", body = TaskBatch),
        (status = 204, description = "No task came within the hold."),
        (status = 400, description = "Bad query.", body = ErrorBody),
        (status = 403, description = "Worker authentication or signature check failed.", body = ErrorBody),
        (status = 404, description = "Unknown worker and no `available_skills`: register first.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("worker_token" = [])),
)]
async fn take_tasks(
    app: &AppRef,
    worker_id: &str,
    h: WorkerHeaders,
    q: HashMap<String, String>,
) -> Result<Response, ApiError> {
    let max = match q.get("max") {
        None => 1,
        Some(m) => match m.parse::<usize>() {
            Ok(n) if (1..=MAX_BATCH).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "max `{m}` must be 1 to {MAX_BATCH}"
                )))
            }
        },
    };
    let bodies = poll(app, worker_id, &h, &q, max).await?;
    if bodies.is_empty() {
        return Ok(no_content());
    }
    // The payloads are JSON already: splice them rather than parse and re-encode.
    let mut out = String::with_capacity(bodies.iter().map(|b| b.len() + 1).sum::<usize>() + 12);
    out.push_str("{\"tasks\":[");
    for (i, b) in bodies.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(b);
    }
    out.push_str("]}");
    Ok(raw_json_response(StatusCode::OK, out))
}

/// Applies several results at once (Baton extension).
///
/// Each is checked (signature included) and applied as by the single route; a refused
/// one gets `{"status": "error", "error", "code"}` in its place.
#[utoipa::path(
    post,
    path = "/_worker/tasks/results",
    tag = "worker",
    params(WorkerIdHeader),
    request_body = ResultBatch,
    responses(
        (status = 200, description = "One answer per result, in order.", body = ResultBatchAnswer),
        (status = 400, description = "Not `{\"results\": [...]}`, or more than 256 results.", body = ErrorBody),
        (status = 403, description = "Worker authentication or signature check failed.", body = ErrorBody),
        (status = 413, description = "Body too large.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("worker_token" = [])),
)]
async fn submit_results(
    app: &AppRef,
    h: WorkerHeaders,
    body: Result<Bytes, ApiError>,
) -> Result<Response, ApiError> {
    let cred = authenticate(app, &h, None)?;
    let value = parse_json(&body?)?;
    let Some(Value::Array(results)) = value.get("results") else {
        return Err(ApiError::bad_request(
            "the body must be {\"results\": [...]}",
        ));
    };
    if results.len() > MAX_BATCH {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_BATCH} results per batch"
        )));
    }
    // Different jobs: apply them concurrently (their store calls pipeline).
    let answers = join_all(results.iter().map(|r| apply_result(app, &h, &cred, r))).await;
    let results = answers
        .into_iter()
        .map(|a| match a {
            Ok(ack) => BatchItemAnswer {
                status: ack.status,
                reason: ack.reason,
                transition: ack.transition,
                error: None,
                code: None,
            },
            Err(e) => BatchItemAnswer {
                status: "error".into(),
                reason: None,
                transition: None,
                error: Some(e.message),
                code: Some(e.code.to_string()),
            },
        })
        .collect();
    ok_json(&ResultBatchAnswer { results })
}
