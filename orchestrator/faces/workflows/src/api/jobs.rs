//! `/v1/jobs`: executions seen as jobs (submit, list, get, stats, cancel, delete,
//! cleanup), and deleting and cleaning up executions (`DELETE /v1/executions/{id}`,
//! `POST /v1/executions/cleanup`). One record behind both: a job id is an execution id.
//! Listings, stats and cleanups look at the newest 1000 executions.

use super::schemas::{
    Cancelled, CleanedUp, ErrorEnvelope, JobStats, JobSubmitted, SubmitJob, Success, WorkflowJob,
};
use super::{answer, body, ctx, json, path_id, serve, Ctx};
use crate::error::{WfError, WfResult};
use crate::executions::{self, Execution};
use crate::rate::Limited;
use crate::FaceRef;
use bytes::Bytes;
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

type Body = Result<Bytes, baton_http::ApiError>;
type Query = HashMap<String, String>;

pub fn routes(face: FaceRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let q = || warp::query::<Query>();
    let submit = warp::path!("v1" / "jobs")
        .and(warp::post())
        .and(body(&face))
        .and(ctx(face.clone()))
        .then(|b: Body, c: Ctx| serve(c, move |c| submit_job(c, b)));
    let list = warp::path!("v1" / "jobs")
        .and(warp::get())
        .and(q())
        .and(ctx(face.clone()))
        .then(|q: Query, c: Ctx| serve(c, move |c| list_jobs(c, q)));
    let stats = warp::path!("v1" / "jobs" / "stats")
        .and(warp::get())
        .and(ctx(face.clone()))
        .then(|c: Ctx| serve(c, job_stats));
    let cleanup = warp::path!("v1" / "jobs" / "cleanup")
        .and(warp::post())
        .and(q())
        .and(ctx(face.clone()))
        .then(|q: Query, c: Ctx| serve(c, move |c| cleanup_jobs(c, q)));
    let get = warp::path!("v1" / "jobs" / String)
        .and(warp::get())
        .and(ctx(face.clone()))
        .then(|id: String, c: Ctx| serve(c, move |c| get_job(c, id)));
    let delete = warp::path!("v1" / "jobs" / String)
        .and(warp::delete())
        .and(ctx(face.clone()))
        .then(|id: String, c: Ctx| serve(c, move |c| delete_job(c, id)));
    let cancel = warp::path!("v1" / "jobs" / String / "cancel")
        .and(warp::post())
        .and(ctx(face.clone()))
        .then(|id: String, c: Ctx| serve(c, move |c| cancel_job(c, id)));
    let delete_execution = warp::path!("v1" / "executions" / String)
        .and(warp::delete())
        .and(ctx(face.clone()))
        .then(|id: String, c: Ctx| serve(c, move |c| delete_execution(c, id)));
    let cleanup_executions = warp::path!("v1" / "executions" / "cleanup")
        .and(warp::post())
        .and(q())
        .and(ctx(face))
        .then(|q: Query, c: Ctx| serve(c, move |c| cleanup_executions(c, q)));
    // The fixed paths before `{id}`.
    stats
        .or(cleanup)
        .unify()
        .or(submit)
        .unify()
        .or(list)
        .unify()
        .or(get)
        .unify()
        .or(delete)
        .unify()
        .or(cancel)
        .unify()
        .or(cleanup_executions)
        .unify()
        .or(delete_execution)
        .unify()
}

fn job_view(e: Execution) -> WorkflowJob {
    let ended = e.is_terminal();
    WorkflowJob {
        result: ended.then(|| json!({"status": e.status, "outputs": e.outputs})),
        progress: Some(e.progress()),
        id: e.id,
        workflow_id: e.workflow_id,
        status: e.status,
        created_at: e.started_at.clone(),
        started_at: e.started_at,
        completed_at: e.completed_at,
        variables: e.variables,
        error: e.error,
    }
}

fn hours(q: &Query, default: u64) -> WfResult<Duration> {
    match q
        .get("max_age_hours")
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
    {
        None => Ok(Duration::from_secs(default * 3600)),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|h| *h <= 24 * 365 * 10)
            .map(|h| Duration::from_secs(h * 3600))
            .ok_or_else(|| {
                WfError::bad_request(format!(
                    "`max_age_hours` must be a whole number from 0 to 87600, not `{v}`"
                ))
                .with("field", "max_age_hours")
            }),
    }
}

/// Submits a workflow for asynchronous execution.
#[utoipa::path(post, path = "/v1/jobs", tag = "jobs", request_body = SubmitJob,
    responses(
        (status = 200, description = "Submitted.", body = JobSubmitted),
        (status = 400, description = "The body is not JSON.", body = ErrorEnvelope),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`: no such workflow.", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION`.", body = ErrorEnvelope),
        (status = 429, description = "`RATE_LIMITED` (20/minute by default).", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])))]
async fn submit_job(c: Ctx, b: Body) -> WfResult<Response> {
    c.user()?;
    c.limit(Limited::Jobs).await?;
    let req: SubmitJob = json(b)?;
    let id = path_id(&req.workflow_id, "workflow")?;
    let wf = executions::find_workflow(&c.face, &id).await?;
    let job_id = executions::start(&c.face, &wf, &req.variables).await?;
    answer(
        StatusCode::OK,
        &JobSubmitted {
            status: "submitted".into(),
            poll_url: format!("/v1/jobs/{job_id}"),
            job_id,
            workflow_id: wf.id,
        },
    )
}

/// Jobs, newest first.
#[utoipa::path(get, path = "/v1/jobs", tag = "jobs",
    params(
        ("status" = Option<String>, Query, description = "`pending`, `running`, `paused`, `completed`, `failed` or `cancelled`."),
        ("workflow_id" = Option<String>, Query, description = "Only this workflow's."),
        ("limit" = Option<u64>, Query, description = "1 to 1000 (default 50)."),
    ),
    responses(
        (status = 200, description = "The jobs.", body = [WorkflowJob]),
        (status = 400, description = "`VALIDATION`: a bad status or limit.", body = ErrorEnvelope),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])))]
async fn list_jobs(c: Ctx, q: Query) -> WfResult<Response> {
    c.user()?;
    let limit = super::executions::number(&q, "limit", 50, 1000)? as usize;
    let status = super::executions::status_filter(&q)?;
    let workflow = q.get("workflow_id").filter(|s| !s.is_empty()).cloned();
    let list = executions::recent(&c.face, |e| {
        status.as_ref().is_none_or(|s| &e.status == s)
            && workflow.as_ref().is_none_or(|w| &e.workflow_id == w)
    })
    .await?;
    let out: Vec<WorkflowJob> = list.into_iter().take(limit).map(job_view).collect();
    answer(StatusCode::OK, &out)
}

/// One job with its result.
#[utoipa::path(get, path = "/v1/jobs/{job_id}", tag = "jobs",
    params(("job_id" = String, Path, description = "Job (execution) id.")),
    responses(
        (status = 200, description = "The job.", body = WorkflowJob),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])))]
async fn get_job(c: Ctx, id: String) -> WfResult<Response> {
    c.user()?;
    answer(
        StatusCode::OK,
        &job_view(executions::load(&c.face, &id).await?),
    )
}

/// Counts by status.
#[utoipa::path(get, path = "/v1/jobs/stats", tag = "jobs",
    responses(
        (status = 200, description = "Counts of the newest 1000.", body = JobStats),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])))]
async fn job_stats(c: Ctx) -> WfResult<Response> {
    c.user()?;
    let all = executions::recent(&c.face, |_| true).await?;
    let n = |s: &str| all.iter().filter(|e| e.status == s).count() as u64;
    answer(
        StatusCode::OK,
        &JobStats {
            total: all.len() as u64,
            pending: n("pending"),
            running: n("running"),
            completed: n("completed"),
            failed: n("failed"),
            cancelled: n("cancelled"),
        },
    )
}

/// Cancels a pending or running job.
#[utoipa::path(post, path = "/v1/jobs/{job_id}/cancel", tag = "jobs",
    params(("job_id" = String, Path, description = "Job (execution) id.")),
    responses(
        (status = 200, description = "Cancelled.", body = Cancelled),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`.", body = ErrorEnvelope),
        (status = 409, description = "`CONFLICT`: it already ended.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])))]
async fn cancel_job(c: Ctx, id: String) -> WfResult<Response> {
    super::executions::cancel(c, id, "Job cancelled").await
}

async fn delete_one(c: Ctx, id: String) -> WfResult<Response> {
    let user = c.user()?;
    executions::delete(&c.face, &id).await?;
    tracing::info!(execution = %id, user = %user.sub, "execution deleted");
    answer(StatusCode::OK, &Success::default())
}

/// Deletes an ended job.
#[utoipa::path(delete, path = "/v1/jobs/{job_id}", tag = "jobs",
    params(("job_id" = String, Path, description = "Job (execution) id.")),
    responses(
        (status = 200, description = "Deleted.", body = Success),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`.", body = ErrorEnvelope),
        (status = 409, description = "`CONFLICT`: still pending or running.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])))]
async fn delete_job(c: Ctx, id: String) -> WfResult<Response> {
    delete_one(c, id).await
}

/// Deletes an ended execution (completed, failed or cancelled).
#[utoipa::path(delete, path = "/v1/executions/{execution_id}", tag = "executions",
    params(("execution_id" = String, Path, description = "Execution id.")),
    responses(
        (status = 200, description = "Deleted.", body = Success),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`.", body = ErrorEnvelope),
        (status = 409, description = "`CONFLICT`: still pending or running.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])))]
async fn delete_execution(c: Ctx, id: String) -> WfResult<Response> {
    delete_one(c, id).await
}

async fn cleanup(c: Ctx, q: Query, default_hours: u64) -> WfResult<Response> {
    let user = c.user()?;
    let max_age = hours(&q, default_hours)?;
    let deleted = executions::cleanup(&c.face, max_age).await?;
    tracing::info!(deleted, user = %user.sub, "executions cleaned up");
    answer(
        StatusCode::OK,
        &CleanedUp {
            status: "success".into(),
            deleted,
        },
    )
}

/// Deletes the ended jobs older than `max_age_hours`.
#[utoipa::path(post, path = "/v1/jobs/cleanup", tag = "jobs",
    params(("max_age_hours" = Option<u64>, Query, description = "0 to 87600 (default 24).")),
    responses(
        (status = 200, description = "How many were deleted.", body = CleanedUp),
        (status = 400, description = "`VALIDATION`: a bad `max_age_hours`.", body = ErrorEnvelope),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])))]
async fn cleanup_jobs(c: Ctx, q: Query) -> WfResult<Response> {
    cleanup(c, q, 24).await
}

/// Deletes the ended executions older than `max_age_hours`.
#[utoipa::path(post, path = "/v1/executions/cleanup", tag = "executions",
    params(("max_age_hours" = Option<u64>, Query, description = "0 to 87600 (default 168).")),
    responses(
        (status = 200, description = "How many were deleted.", body = CleanedUp),
        (status = 400, description = "`VALIDATION`: a bad `max_age_hours`.", body = ErrorEnvelope),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])))]
async fn cleanup_executions(c: Ctx, q: Query) -> WfResult<Response> {
    cleanup(c, q, 168).await
}
