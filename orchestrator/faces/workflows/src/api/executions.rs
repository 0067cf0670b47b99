//! Executing workflows: asynchronously (`POST /v1/workflows/{id}/execute`, answered at
//! once with the execution id), synchronously (`POST /v1/workflows/execute` and
//! `POST /v1/yaml-workflows/execute`, answered when the execution ends, bounded by the
//! workflow's `timeout_seconds` or [`SYNC_BOUND`]; past it 504 `TIMEOUT` naming the
//! execution, which keeps running), and `GET /v1/executions/{id}`. The execute routes
//! share one rate limit per client IP.

use super::schemas::{
    Cancelled, ErrorEnvelope, ExecuteRequest, ExecutionMetrics, ExecutionPage, ExecutionStarted,
    ExecutionSummary, ExecutionView, SyncExecuteRequest, SyncExecution, YamlExecuteRequest,
    YamlExecution,
};
use super::{answer, body, ctx, json, path_id, serve, Ctx};
use crate::error::{codes, WfError, WfResult};
use crate::executions::LogEntry;
use crate::executions::{self, Execution};
use crate::rate::Limited;
use crate::FaceRef;
use bytes::Bytes;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

type Body = Result<Bytes, baton_http::ApiError>;
type Query = HashMap<String, String>;

/// A positive integer query value up to `max`, else 400 naming it.
pub(super) fn number(q: &Query, key: &str, default: u64, max: u64) -> WfResult<u64> {
    match q.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                WfError::bad_request(format!(
                    "`{key}` must be a whole number from 1 to {max}, not `{v}`"
                ))
                .with("field", key)
            }),
    }
}

/// How long a synchronous execute waits when the workflow sets no `timeout_seconds`.
pub const SYNC_BOUND: Duration = Duration::from_secs(300);

pub fn routes(face: FaceRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let start = warp::path!("v1" / "workflows" / String / "execute")
        .and(warp::post())
        .and(body(&face))
        .and(ctx(face.clone()))
        .then(|id: String, b: Body, c: Ctx| serve(c, move |c| execute_async(c, id, b)));
    let sync = warp::path!("v1" / "workflows" / "execute")
        .and(warp::post())
        .and(body(&face))
        .and(ctx(face.clone()))
        .then(|b: Body, c: Ctx| serve(c, move |c| execute_sync(c, b)));
    let yaml = warp::path!("v1" / "yaml-workflows" / "execute")
        .and(warp::post())
        .and(body(&face))
        .and(ctx(face.clone()))
        .then(|b: Body, c: Ctx| serve(c, move |c| execute_yaml(c, b)));
    let get = warp::path!("v1" / "executions" / String)
        .and(warp::get())
        .and(ctx(face.clone()))
        .then(|id: String, c: Ctx| serve(c, move |c| get_execution(c, id)));
    let list = warp::path!("v1" / "executions")
        .and(warp::get())
        .and(warp::query::<HashMap<String, String>>())
        .and(ctx(face.clone()))
        .then(|q: Query, c: Ctx| serve(c, move |c| list_executions(c, q)));
    let logs = warp::path!("v1" / "executions" / String / "logs")
        .and(warp::get())
        .and(warp::query::<HashMap<String, String>>())
        .and(ctx(face.clone()))
        .then(|id: String, q: Query, c: Ctx| serve(c, move |c| execution_logs(c, id, q)));
    let cancel = warp::path!("v1" / "executions" / String / "cancel")
        .and(warp::post())
        .and(ctx(face))
        .then(|id: String, c: Ctx| serve(c, move |c| cancel_execution(c, id)));
    // The sync routes first: `/v1/workflows/execute` is not a workflow called `execute`.
    sync.or(yaml)
        .unify()
        .or(start)
        .unify()
        .or(list)
        .unify()
        .or(get)
        .unify()
        .or(logs)
        .unify()
        .or(cancel)
        .unify()
}

/// An optional body: none (or only whitespace) is `{}`.
fn optional<T: serde::de::DeserializeOwned + Default>(b: Body) -> WfResult<T> {
    let bytes = b?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    json(Ok(bytes))
}

/// Starts an execution and answers at once.
#[utoipa::path(
    post,
    path = "/v1/workflows/{workflow_id}/execute",
    tag = "executions",
    params(("workflow_id" = String, Path, description = "A JSON or YAML workflow's id.")),
    request_body(content = ExecuteRequest, description = "Optional."),
    responses(
        (status = 200, description = "Started.", body = ExecutionStarted),
        (status = 400, description = "The body is not JSON.", body = ErrorEnvelope),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`: no such workflow.", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION`: a required input missing, an input of the wrong type, a step type that cannot run yet.", body = ErrorEnvelope),
        (status = 429, description = "`RATE_LIMITED` (execute routes, 10/minute by default).", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])),
)]
async fn execute_async(c: Ctx, id: String, b: Body) -> WfResult<Response> {
    let user = c.user()?;
    c.limit(Limited::Execute).await?;
    let req: ExecuteRequest = optional(b)?;
    let id = path_id(&id, "workflow")?;
    let wf = executions::find_workflow(&c.face, &id).await?;
    let execution_id = executions::start(&c.face, &wf, &req.variables).await?;
    tracing::info!(execution = %execution_id, user = %user.sub, "execute (async)");
    answer(
        StatusCode::OK,
        &ExecutionStarted {
            poll_url: format!("/v1/executions/{execution_id}"),
            execution_id,
            workflow_id: wf.id,
            workflow_name: wf.name,
            status: "running".into(),
        },
    )
}

/// Waits until the execution ends, at most `bound`: 504 `TIMEOUT` naming it past that.
pub(super) async fn wait_end(face: &FaceRef, id: &str, bound: Duration) -> WfResult<Execution> {
    let deadline = Instant::now() + bound;
    let watchers = &face.engine.live.watchers;
    let notify = watchers.watch(id);
    let outcome = loop {
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let execution = match executions::load(face, id).await {
            Ok(e) => e,
            Err(e) => break Err(e),
        };
        if execution.is_terminal() {
            break Ok(execution);
        }
        let now = Instant::now();
        if now >= deadline {
            break Err(WfError::new(
                StatusCode::GATEWAY_TIMEOUT,
                codes::TIMEOUT,
                format!(
                    "execution {id} did not end within {} s; it goes on: poll /v1/executions/{id}",
                    bound.as_secs_f64()
                ),
            )
            .with("execution_id", id));
        }
        // The end wakes us on this orchestrator; a short poll covers the others.
        let wait = (deadline - now).min(Duration::from_millis(250));
        tokio::select! {
            _ = notified => {}
            _ = tokio::time::sleep(wait) => {}
            _ = face.shutdown.cancelled() => break Err(WfError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                codes::SERVICE_UNAVAILABLE,
                format!("the server is shutting down; execution {id} goes on"),
            ).with("execution_id", id)),
        }
    };
    watchers.release(id, notify);
    outcome
}

fn bound(wf: &crate::model::Workflow) -> Duration {
    wf.timeout_seconds
        .and_then(baton_protocol::clock::seconds)
        .unwrap_or(SYNC_BOUND)
}

/// Runs a workflow and answers when it ends.
#[utoipa::path(
    post,
    path = "/v1/workflows/execute",
    tag = "executions",
    request_body = SyncExecuteRequest,
    responses(
        (status = 200, description = "The execution ended (`completed`, `failed` or `cancelled`).", body = SyncExecution),
        (status = 400, description = "The body is not JSON.", body = ErrorEnvelope),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`: no such workflow.", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION`.", body = ErrorEnvelope),
        (status = 429, description = "`RATE_LIMITED`.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
        (status = 504, description = "`TIMEOUT`: still running past the bound; `details.execution_id` to poll.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])),
)]
async fn execute_sync(c: Ctx, b: Body) -> WfResult<Response> {
    c.user()?;
    c.limit(Limited::Execute).await?;
    let req: SyncExecuteRequest = json(b)?;
    let id = path_id(&req.workflow_id, "workflow")?;
    let wf = executions::find_workflow(&c.face, &id).await?;
    let execution_id = executions::start(&c.face, &wf, &req.variables).await?;
    let e = wait_end(&c.face, &execution_id, bound(&wf)).await?;
    answer(
        StatusCode::OK,
        &SyncExecution {
            errors: e.error.clone().into_iter().collect(),
            status: e.status,
            workflow_id: e.workflow_id,
            execution_id,
            outputs: e.outputs,
        },
    )
}

/// Runs a YAML workflow and answers when it ends, step by step.
#[utoipa::path(
    post,
    path = "/v1/yaml-workflows/execute",
    tag = "executions",
    request_body = YamlExecuteRequest,
    responses(
        (status = 200, description = "The execution ended.", body = YamlExecution),
        (status = 400, description = "The body is not JSON.", body = ErrorEnvelope),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`: no such YAML workflow.", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION`: a required input missing, ...", body = ErrorEnvelope),
        (status = 429, description = "`RATE_LIMITED`.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
        (status = 504, description = "`TIMEOUT`: still running past the bound.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])),
)]
async fn execute_yaml(c: Ctx, b: Body) -> WfResult<Response> {
    c.user()?;
    c.limit(Limited::Execute).await?;
    let req: YamlExecuteRequest = json(b)?;
    let wf = c
        .face
        .yaml
        .get(&req.workflow_id)
        .map(|y| y.workflow.clone())
        .ok_or_else(|| WfError::not_found(format!("no YAML workflow `{}`", req.workflow_id)))?;
    let execution_id = executions::start(&c.face, &wf, &req.inputs).await?;
    let e = wait_end(&c.face, &execution_id, bound(&wf)).await?;
    answer(
        StatusCode::OK,
        &YamlExecution {
            total_tokens: e.total_tokens(),
            id: e.id,
            workflow_id: e.workflow_id,
            workflow_name: e.workflow_name,
            status: e.status,
            started_at: e.started_at,
            completed_at: e.completed_at,
            total_duration_ms: e.duration_ms,
            outputs: e.outputs,
            steps: e.steps,
            error: e.error,
        },
    )
}

/// An execution with its steps and metrics.
#[utoipa::path(
    get,
    path = "/v1/executions/{execution_id}",
    tag = "executions",
    params(("execution_id" = String, Path, description = "Execution id.")),
    responses(
        (status = 200, description = "The execution.", body = ExecutionView),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])),
)]
async fn get_execution(c: Ctx, id: String) -> WfResult<Response> {
    c.user()?;
    let e = executions::load(&c.face, &id).await?;
    let mut logs = executions::logs(&c.face, &e).await?;
    let from = logs.len().saturating_sub(100);
    logs.drain(..from);
    answer(
        StatusCode::OK,
        &ExecutionView {
            progress: e.progress(),
            metrics: ExecutionMetrics::from(&e),
            id: e.id,
            workflow_id: e.workflow_id,
            workflow_name: e.workflow_name,
            workflow_version: e.workflow_version,
            status: e.status,
            started_at: e.started_at,
            completed_at: e.completed_at,
            current_step: e.current_step,
            checkpoint_id: e.checkpoint_id,
            variables: e.variables,
            outputs: e.outputs,
            error: e.error,
            steps: e.steps,
            logs,
        },
    )
}

const STATUSES: [&str; 6] = [
    "pending",
    "running",
    "paused",
    "completed",
    "failed",
    "cancelled",
];

/// The `status` filter of a listing: one of [`STATUSES`], else 400.
pub(super) fn status_filter(q: &Query) -> WfResult<Option<String>> {
    let status = q.get("status").filter(|s| !s.is_empty()).cloned();
    if let Some(s) = &status {
        if !STATUSES.contains(&s.as_str()) {
            return Err(WfError::bad_request(format!(
                "`status` must be one of {}, not `{s}`",
                STATUSES.join(", ")
            ))
            .with("field", "status"));
        }
    }
    Ok(status)
}

/// The executions, newest first, a page at a time.
#[utoipa::path(
    get,
    path = "/v1/executions",
    tag = "executions",
    params(
        ("page" = Option<u64>, Query, description = "Page number, from 1 (default 1)."),
        ("page_size" = Option<u64>, Query, description = "1 to 100 (default 20)."),
        ("status" = Option<String>, Query, description = "`pending`, `running`, `paused`, `completed`, `failed` or `cancelled`."),
        ("workflow_id" = Option<String>, Query, description = "Only this workflow's."),
    ),
    responses(
        (status = 200, description = "A page (of the newest 1000 executions).", body = ExecutionPage),
        (status = 400, description = "`VALIDATION`: a bad page, page size or status.", body = ErrorEnvelope),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])),
)]
async fn list_executions(c: Ctx, q: Query) -> WfResult<Response> {
    c.user()?;
    let page = number(&q, "page", 1, 1_000_000)?;
    let page_size = number(&q, "page_size", 20, 100)?;
    let status = status_filter(&q)?;
    let workflow = q.get("workflow_id").filter(|s| !s.is_empty()).cloned();
    let all = executions::recent(&c.face, |e| {
        status.as_ref().is_none_or(|s| &e.status == s)
            && workflow.as_ref().is_none_or(|w| &e.workflow_id == w)
    })
    .await?;
    let total = all.len() as u64;
    let skip = usize::try_from((page - 1) * page_size).unwrap_or(usize::MAX);
    let data = all
        .into_iter()
        .skip(skip)
        .take(page_size as usize)
        .map(|e| ExecutionSummary {
            progress: e.progress(),
            id: e.id,
            workflow_id: e.workflow_id,
            workflow_name: e.workflow_name,
            status: e.status,
            started_at: e.started_at,
            completed_at: e.completed_at,
            current_step: e.current_step,
            error: e.error,
        })
        .collect();
    answer(
        StatusCode::OK,
        &ExecutionPage {
            data,
            total,
            page,
            page_size,
            total_pages: total.div_ceil(page_size),
        },
    )
}

/// An execution's log: its job's events.
#[utoipa::path(
    get,
    path = "/v1/executions/{execution_id}/logs",
    tag = "executions",
    params(
        ("execution_id" = String, Path, description = "Execution id."),
        ("limit" = Option<u64>, Query, description = "The newest this many (1 to 1000, default 100)."),
        ("level" = Option<String>, Query, description = "Only `info`, `warning` or `error` entries."),
    ),
    responses(
        (status = 200, description = "Oldest first.", body = [LogEntry]),
        (status = 400, description = "`VALIDATION`: a bad limit or level.", body = ErrorEnvelope),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])),
)]
async fn execution_logs(c: Ctx, id: String, q: Query) -> WfResult<Response> {
    c.user()?;
    let limit = number(&q, "limit", 100, 1000)? as usize;
    let level = q.get("level").filter(|s| !s.is_empty()).cloned();
    if let Some(l) = &level {
        if !["debug", "info", "warning", "error"].contains(&l.as_str()) {
            return Err(WfError::bad_request(format!(
                "`level` must be debug, info, warning or error, not `{l}`"
            ))
            .with("field", "level"));
        }
    }
    let e = executions::load(&c.face, &id).await?;
    let mut logs: Vec<LogEntry> = executions::logs(&c.face, &e)
        .await?
        .into_iter()
        .filter(|l| level.as_ref().is_none_or(|want| &l.level == want))
        .collect();
    let from = logs.len().saturating_sub(limit);
    logs.drain(..from);
    answer(StatusCode::OK, &logs)
}

/// Cancels an execution: its running steps' workers are told over their WebSocket (or on
/// their next heartbeat), and nothing revives it.
#[utoipa::path(
    post,
    path = "/v1/executions/{execution_id}/cancel",
    tag = "executions",
    params(("execution_id" = String, Path, description = "Execution id.")),
    responses(
        (status = 200, description = "Cancelled.", body = Cancelled),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`.", body = ErrorEnvelope),
        (status = 409, description = "`CONFLICT`: it already ended.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])),
)]
async fn cancel_execution(c: Ctx, id: String) -> WfResult<Response> {
    cancel(c, id, "Execution cancelled").await
}

/// Cancels the execution `id` (also as `/v1/jobs/{id}/cancel`), answering `message`.
pub(super) async fn cancel(c: Ctx, id: String, message: &str) -> WfResult<Response> {
    let user = c.user()?;
    executions::load(&c.face, &id).await?;
    c.face.engine.cancel_job(executions::CLIENT, &id).await?;
    tracing::info!(execution = %id, user = %user.sub, "execution cancelled");
    answer(
        StatusCode::OK,
        &Cancelled {
            status: "success".into(),
            message: message.into(),
        },
    )
}
