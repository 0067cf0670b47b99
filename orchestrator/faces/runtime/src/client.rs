//! `/api/v1`: what clients call with `X-Client-Token`.
//!
//! Jobs are created through their blueprint's endpoint (`POST /api/{version}{endpoint}`)
//! and are visible only to the client that created them (403 for others). The blueprint
//! routes are in [`super::blueprints`]. Each handler's `#[utoipa::path]` is its entry in
//! the OpenAPI document ([`super::openapi`]).

use super::error::ApiError;
use super::schemas::{CancelAnswer, CreateJobRequest, Dashboard, ErrorBody, HistoryEntry};
use super::schemas::{CancelStatus, DashboardWorkers, JobAccepted, JobView, QueueView, WorkerView};
use super::{body, json_response, ok_json, parse_json, respond, with_app, AppRef};
use crate::job_view::{history_view, job_view};
use baton_engine::{CancelDelivery, NewJob};
use baton_protocol::clock::{now_ms, rfc3339};
use baton_protocol::job_status;
use baton_store::{QueueStats, WorkerRecord};
use bytes::Bytes;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

pub(super) type Token = Option<String>;

/// The client token header (`X-Client-Token`), if sent.
pub(super) fn token() -> impl Filter<Extract = (Token,), Error = Rejection> + Clone {
    warp::header::optional::<String>(baton_protocol::HEADER_CLIENT_TOKEN)
}

/// The name of the client the token belongs to; 401 without a known token.
pub(super) fn client(app: &AppRef, token: &Token) -> Result<String, ApiError> {
    app.auth
        .client(token.as_deref())
        .map(str::to_string)
        .map_err(super::error::client_auth)
}

pub fn routes(app: AppRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let limit = app.cfg.max_body_bytes;
    let get_job = warp::path!("api" / "v1" / "jobs" / String)
        .and(warp::get())
        .and(token())
        .and(warp::query::<HashMap<String, String>>())
        .and(with_app(app.clone()))
        .then(
            |id: String, t: Token, q: HashMap<String, String>, app: AppRef| async move {
                respond(Box::pin(get_job(&app, &t, &id, q.get("wait").map(String::as_str))).await)
            },
        );
    let cancel = warp::path!("api" / "v1" / "jobs" / String / "cancel")
        .and(warp::post())
        .and(token())
        .and(with_app(app.clone()))
        .then(|id: String, t: Token, app: AppRef| async move {
            respond(Box::pin(cancel_job(&app, &t, &id)).await)
        });
    let history = warp::path!("api" / "v1" / "jobs" / String / "history")
        .and(warp::get())
        .and(token())
        .and(with_app(app.clone()))
        .then(|id: String, t: Token, app: AppRef| async move {
            respond(Box::pin(history(&app, &t, &id)).await)
        });
    let workers = warp::path!("api" / "v1" / "workers")
        .and(warp::get())
        .and(token())
        .and(with_app(app.clone()))
        .then(|t: Token, app: AppRef| async move { respond(Box::pin(workers(&app, &t)).await) });
    let dashboard = warp::path!("api" / "v1" / "dashboard")
        .and(warp::get())
        .and(token())
        .and(with_app(app.clone()))
        .then(|t: Token, app: AppRef| async move { respond(Box::pin(dashboard(&app, &t)).await) });
    let create = warp::path("api")
        .and(warp::path::param::<String>())
        .and(warp::path::tail())
        .and(warp::post())
        .and(token())
        .and(body(limit))
        .and(with_app(app.clone()))
        .then(
            |version: String,
             tail: warp::path::Tail,
             t: Token,
             body: Result<Bytes, ApiError>,
             app: AppRef| async move {
                respond(Box::pin(create_job(&app, &t, &version, tail.as_str(), body)).await)
            },
        );
    get_job
        .or(cancel)
        .unify()
        .or(history)
        .unify()
        .or(workers)
        .unify()
        .or(dashboard)
        .unify()
        .or(super::blueprints::routes(app))
        .unify()
        .or(create)
        .unify()
}

/// Creates a job of the blueprint that serves this path.
///
/// `POST /api/v1/jobs/echo` starts the `echo` blueprint. Each loaded blueprint also has
/// its own entry (use that one to try it from the docs page, which would encode the `/`
/// of a multi-segment endpoint).
#[utoipa::path(
    post,
    path = "/api/{version}/{endpoint}",
    tag = "jobs",
    params(
        ("version" = String, Path, description = "The blueprint's version, e.g. `v1`."),
        ("endpoint" = String, Path, description = "The blueprint's endpoint after the version; may span several segments, e.g. `jobs/echo`."),
    ),
    request_body(content = Option<CreateJobRequest>, description = "May be empty."),
    responses(
        (status = 202, description = "The job was created and queued.", body = JobAccepted),
        (status = 400, description = "Malformed or invalid body.", body = ErrorBody),
        (status = 401, description = "Missing or unknown client token.", body = ErrorBody),
        (status = 404, description = "No blueprint serves this path.", body = ErrorBody),
        (status = 413, description = "Body too large.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("client_token" = [])),
)]
async fn create_job(
    app: &AppRef,
    t: &Token,
    version: &str,
    tail: &str,
    body: Result<Bytes, ApiError>,
) -> Result<Response, ApiError> {
    let client = client(app, t)?;
    let endpoint = format!("/{}", tail.trim_end_matches('/'));
    let blueprints = &app.engine.blueprints;
    let Some(bp) = blueprints.by_endpoint(version, &endpoint).cloned() else {
        // `<endpoint>/batch`: many jobs at once, unless a blueprint serves that path.
        let batch_of = endpoint
            .strip_suffix("/batch")
            .and_then(|e| blueprints.by_endpoint(version, e).cloned());
        return match batch_of {
            Some(bp) => super::bulk::create_jobs(app, t, &bp, body).await,
            None => Err(ApiError::not_found(format!(
                "no blueprint serves POST /api/{version}{endpoint}"
            ))),
        };
    };
    let body = body?;
    let value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        parse_json(&body)?
    };
    let req = new_job(value)?;
    let job_id = app.engine.create_job(&client, &bp, req).await?;
    if let Some(skill) = bp.start_skill() {
        super::skills::warn_if_unserved(app, &job_id, &[skill.to_string()]).await;
    }
    Ok(json_response(
        StatusCode::ACCEPTED,
        &JobAccepted {
            status: "accepted".into(),
            job_id,
        },
    ))
}

/// Validates a creation body: every field optional, each checked for its type.
pub(super) fn new_job(value: Value) -> Result<NewJob, ApiError> {
    let Value::Object(mut map) = value else {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    };
    let object = |map: &mut Map<String, Value>, key: &str| -> Result<Value, ApiError> {
        match map.remove(key) {
            None | Some(Value::Null) => Ok(json!({})),
            Some(v @ Value::Object(_)) => Ok(v),
            Some(_) => Err(ApiError::bad_request(format!("`{key}` must be an object"))),
        }
    };
    let initial_data = object(&mut map, "initial_data")?;
    let metadata = object(&mut map, "metadata")?;
    let webhook_url = match map.remove("webhook_url") {
        None | Some(Value::Null) => None,
        Some(Value::String(url)) if url.starts_with("http://") || url.starts_with("https://") => {
            reqwest::Url::parse(&url)
                .map_err(|e| ApiError::bad_request(format!("`webhook_url` is not a URL: {e}")))?;
            Some(url)
        }
        Some(_) => {
            return Err(ApiError::bad_request(
                "`webhook_url` must be an http(s) URL",
            ))
        }
    };
    let seconds = |map: &mut Map<String, Value>, key: &str| -> Result<Option<u64>, ApiError> {
        match map.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match v
                .as_f64()
                .filter(|s| *s > 0.0)
                .and_then(baton_protocol::clock::seconds)
            {
                Some(d) => Ok(Some(d.as_millis() as u64)),
                None => Err(ApiError::bad_request(format!(
                    "`{key}` must be a positive number of seconds, at most 1000000000"
                ))),
            },
        }
    };
    let dispatch_timeout_ms = seconds(&mut map, "dispatch_timeout")?;
    let result_timeout_ms = seconds(&mut map, "result_timeout")?;
    if let Some(unknown) = map.keys().next() {
        return Err(ApiError::bad_request(format!(
            "unknown field `{unknown}` (expected initial_data, webhook_url, metadata, dispatch_timeout, result_timeout)"
        )));
    }
    Ok(NewJob {
        initial_data,
        metadata,
        webhook_url,
        dispatch_timeout_ms,
        result_timeout_ms,
        hook: None,
        id: None,
    })
}

/// Longest `?wait=` honoured.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// The job; with `?wait=<seconds>`, held until the job ends or the wait is over.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{id}",
    tag = "jobs",
    params(
        ("id" = String, Path, description = "Job id."),
        ("wait" = Option<f64>, Query, minimum = 0, maximum = 1000000000, description = "Seconds to hold the request until the job ends (held at most 60): no polling loop needed. 0 to 1000000000, else 400."),
    ),
    responses(
        (status = 200, description = "The job (once it ended, or when the wait is over).", body = JobView),
        (status = 400, description = "`wait` is not a number of seconds from 0 to 1000000000.", body = ErrorBody),
        (status = 401, description = "Missing or unknown client token.", body = ErrorBody),
        (status = 403, description = "The job belongs to another client.", body = ErrorBody),
        (status = 404, description = "No such job.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("client_token" = [])),
)]
async fn get_job(
    app: &AppRef,
    t: &Token,
    id: &str,
    wait: Option<&str>,
) -> Result<Response, ApiError> {
    let client = client(app, t)?;
    let wait = match wait {
        None => Duration::ZERO,
        Some(w) => w
            .parse()
            .ok()
            .and_then(baton_protocol::clock::seconds)
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "wait `{w}` must be {}",
                    baton_protocol::clock::SECONDS_RANGE
                ))
            })?
            .min(MAX_WAIT),
    };
    if wait.is_zero() {
        let (job, doc) = app.engine.job_for_client(&client, id).await?;
        return view(app, &job, &doc).await;
    }
    let watchers = &app.engine.live.watchers;
    let notify = watchers.watch(id);
    let result = async {
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        // A job created here that has not ended as far as we heard needs no read: its
        // end will wake us (the common create-then-wait pattern).
        if !app.engine.live.snapshots.surely_live(id) {
            let (job, doc) = app.engine.ended_job_for_client(&client, id).await?;
            if job_status::is_terminal(&job.status) {
                return ok_json(&job_view(&job, &doc));
            }
        }
        tokio::select! {
            _ = notified => {}
            _ = tokio::time::sleep(wait) => {}
            _ = app.shutdown.cancelled() => {}
        }
        let (job, doc) = app.engine.ended_job_for_client(&client, id).await?;
        view(app, &job, &doc).await
    }
    .await;
    watchers.release(id, notify);
    result
}

/// The job view, with a hint when a queued task's skill has no worker.
async fn view(
    app: &AppRef,
    job: &baton_store::StoredJob,
    doc: &baton_engine::job::JobDoc,
) -> Result<Response, ApiError> {
    let mut v = job_view(job, doc);
    super::skills::hint(app, &mut v).await;
    ok_json(&v)
}

/// Asks for a job's cancellation; a worker running its task is told to stop.
#[utoipa::path(
    post,
    path = "/api/v1/jobs/{id}/cancel",
    tag = "jobs",
    params(("id" = String, Path, description = "Job id.")),
    responses(
        (status = 200, description = "Cancellation requested.", body = CancelAnswer),
        (status = 401, description = "Missing or unknown client token.", body = ErrorBody),
        (status = 403, description = "The job belongs to another client.", body = ErrorBody),
        (status = 404, description = "No such job.", body = ErrorBody),
        (status = 409, description = "The job already ended.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("client_token" = [])),
)]
async fn cancel_job(app: &AppRef, t: &Token, id: &str) -> Result<Response, ApiError> {
    let client = client(app, t)?;
    let status = match app.engine.cancel_job(&client, id).await? {
        CancelDelivery::Sent => CancelStatus::CancellationRequestSent,
        CancelDelivery::Accepted => CancelStatus::CancellationRequestAccepted,
    };
    ok_json(&CancelAnswer {
        status,
        job_id: id.to_string(),
    })
}

/// What happened to a job, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{id}/history",
    tag = "jobs",
    operation_id = "job_history",
    params(("id" = String, Path, description = "Job id.")),
    responses(
        (status = 200, description = "The job's events.", body = [HistoryEntry]),
        (status = 401, description = "Missing or unknown client token.", body = ErrorBody),
        (status = 403, description = "The job belongs to another client.", body = ErrorBody),
        (status = 404, description = "No such job.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("client_token" = [])),
)]
async fn history(app: &AppRef, t: &Token, id: &str) -> Result<Response, ApiError> {
    let client = client(app, t)?;
    app.engine.job_for_client(&client, id).await?;
    let entries = app.engine.store.history(id).await?;
    let view: Vec<HistoryEntry> = entries
        .iter()
        .enumerate()
        .map(|(i, raw)| history_view(id, i, raw))
        .collect();
    ok_json(&view)
}

/// The live workers.
#[utoipa::path(
    get,
    path = "/api/v1/workers",
    tag = "cluster",
    operation_id = "list_workers",
    responses(
        (status = 200, description = "Every worker whose registration is live.", body = [WorkerView]),
        (status = 401, description = "Missing or unknown client token.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("client_token" = [])),
)]
async fn workers(app: &AppRef, t: &Token) -> Result<Response, ApiError> {
    client(app, t)?;
    let workers = app
        .engine
        .store
        .list_workers(now_ms(), app.cfg.heartbeat_timeout)
        .await?;
    let view: Vec<WorkerView> = workers.into_iter().map(worker_view).collect();
    ok_json(&view)
}

/// Job, worker and queue counts across the cluster.
#[utoipa::path(
    get,
    path = "/api/v1/dashboard",
    tag = "cluster",
    responses(
        (status = 200, description = "Counts.", body = Dashboard),
        (status = 401, description = "Missing or unknown client token.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("client_token" = [])),
)]
async fn dashboard(app: &AppRef, t: &Token) -> Result<Response, ApiError> {
    client(app, t)?;
    let store = &app.engine.store;
    let jobs = store.job_counts().await?;
    let queues = store.queue_stats().await?;
    let workers = store
        .list_workers(now_ms(), app.cfg.heartbeat_timeout)
        .await?;
    let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
    for w in &workers {
        *by_status.entry(w.status.clone()).or_default() += 1;
    }
    ok_json(&Dashboard {
        jobs: jobs
            .into_iter()
            .filter_map(|(k, n)| u64::try_from(n).ok().filter(|n| *n > 0).map(|n| (k, n)))
            .collect(),
        workers: DashboardWorkers {
            total: workers.len() as u64,
            by_status,
        },
        queues: queue_view(&queues, now_ms()),
    })
}

/// A worker's registration as `GET /api/v1/workers` shows it; `info` is the registration
/// body the store kept, read for its descriptive fields.
fn worker_view(w: WorkerRecord) -> WorkerView {
    let mut info: Map<String, Value> = match serde_json::from_str(&w.info) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    WorkerView {
        worker_type: info
            .get("worker_type")
            .and_then(Value::as_str)
            .map(str::to_string),
        capabilities: info.remove("capabilities"),
        resources: info.remove("resources"),
        worker_id: w.worker_id,
        status: w.status,
        skills: w.skills,
        current_tasks: w.tasks,
        websocket: w.websocket,
        last_seen: rfc3339(w.last_seen_ms),
        registered_at: rfc3339(w.registered_ms),
    }
}

/// Skill → its queue; the age is null for an empty queue.
fn queue_view(queues: &BTreeMap<String, QueueStats>, now_ms: i64) -> BTreeMap<String, QueueView> {
    queues
        .iter()
        .map(|(skill, q)| {
            let view = QueueView {
                depth: q.depth,
                oldest_task_age_seconds: q.oldest_age_seconds(now_ms),
            };
            (skill.clone(), view)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creation_bodies_are_validated_field_by_field() {
        let ok = new_job(
            json!({"initial_data": {"a": 1}, "dispatch_timeout": 2.5, "webhook_url": "http://x/y"}),
        )
        .unwrap();
        assert_eq!(ok.dispatch_timeout_ms, Some(2500));
        assert_eq!(ok.initial_data, json!({"a": 1}));
        for bad in [
            json!([1]),
            json!({"initial_data": 3}),
            json!({"webhook_url": "ftp://x"}),
            json!({"result_timeout": -1}),
            json!({"initail_data": {}}),
        ] {
            assert_eq!(
                new_job(bad.clone()).unwrap_err().status,
                StatusCode::BAD_REQUEST,
                "{bad}"
            );
        }
    }
}
