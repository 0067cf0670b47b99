//! `/api/v1/jobs/{id}/pause`, `/resume` and `/retry`: a client's control of its job
//! besides cancelling it (see the engine's `control` module for what each does to the
//! job's tasks).

use super::client::{client, token, Token};
use super::error::ApiError;
use super::schemas::{ControlAnswer, ErrorBody, RetryRequest};
use super::{body, ok_json, respond, with_app, AppRef};
use bytes::Bytes;
use warp::reply::Response;
use warp::{Filter, Rejection};

pub fn routes(app: AppRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let limit = app.cfg.max_body_bytes;
    let pause = warp::path!("api" / "v1" / "jobs" / String / "pause")
        .and(warp::post())
        .and(token())
        .and(with_app(app.clone()))
        .then(|id: String, t: Token, app: AppRef| async move {
            respond(Box::pin(pause_job(&app, &t, &id)).await)
        });
    let resume = warp::path!("api" / "v1" / "jobs" / String / "resume")
        .and(warp::post())
        .and(token())
        .and(with_app(app.clone()))
        .then(|id: String, t: Token, app: AppRef| async move {
            respond(Box::pin(resume_job(&app, &t, &id)).await)
        });
    let retry = warp::path!("api" / "v1" / "jobs" / String / "retry")
        .and(warp::post())
        .and(token())
        .and(body(limit))
        .and(with_app(app))
        .then(
            |id: String, t: Token, body: Result<Bytes, ApiError>, app: AppRef| async move {
                respond(Box::pin(retry_job(&app, &t, &id, body)).await)
            },
        );
    pause.or(resume).unify().or(retry).unify()
}

fn answer(id: &str, status: String) -> Result<Response, ApiError> {
    ok_json(&ControlAnswer {
        job_id: id.to_string(),
        status,
    })
}

/// Pauses a job: tasks already running finish and their results are kept; nothing new
/// starts (queued tasks leave their queue) until the job is resumed.
#[utoipa::path(
    post,
    path = "/api/v1/jobs/{id}/pause",
    tag = "jobs",
    params(("id" = String, Path, description = "Job id.")),
    responses(
        (status = 200, description = "Paused.", body = ControlAnswer),
        (status = 401, description = "Missing or unknown client token.", body = ErrorBody),
        (status = 403, description = "The job belongs to another client.", body = ErrorBody),
        (status = 404, description = "No such job.", body = ErrorBody),
        (status = 409, description = "The job already ended or is paused.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("client_token" = [])),
)]
async fn pause_job(app: &AppRef, t: &Token, id: &str) -> Result<Response, ApiError> {
    let client = client(app, t)?;
    answer(id, app.engine.pause_job(&client, id).await?)
}

/// Resumes a paused job where it stopped (on any orchestrator, also after a restart).
#[utoipa::path(
    post,
    path = "/api/v1/jobs/{id}/resume",
    tag = "jobs",
    params(("id" = String, Path, description = "Job id.")),
    responses(
        (status = 200, description = "Running again; `status` is the job's status now.", body = ControlAnswer),
        (status = 401, description = "Missing or unknown client token.", body = ErrorBody),
        (status = 403, description = "The job belongs to another client.", body = ErrorBody),
        (status = 404, description = "No such job.", body = ErrorBody),
        (status = 409, description = "The job is not paused.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("client_token" = [])),
)]
async fn resume_job(app: &AppRef, t: &Token, id: &str) -> Result<Response, ApiError> {
    let client = client(app, t)?;
    answer(id, app.engine.resume_job(&client, id).await?)
}

/// Runs a failed or quarantined job again, as a new attempt, from the state that failed
/// (or the `state` given); the results of earlier states are kept.
#[utoipa::path(
    post,
    path = "/api/v1/jobs/{id}/retry",
    tag = "jobs",
    params(("id" = String, Path, description = "Job id.")),
    request_body(content = Option<RetryRequest>, description = "Optional; `{}` or no body retries the state that failed."),
    responses(
        (status = 200, description = "Running again.", body = ControlAnswer),
        (status = 400, description = "Malformed body, or a state that does not exist or is an end.", body = ErrorBody),
        (status = 401, description = "Missing or unknown client token.", body = ErrorBody),
        (status = 403, description = "The job belongs to another client.", body = ErrorBody),
        (status = 404, description = "No such job.", body = ErrorBody),
        (status = 409, description = "The job is not failed or quarantined.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("client_token" = [])),
)]
async fn retry_job(
    app: &AppRef,
    t: &Token,
    id: &str,
    body: Result<Bytes, ApiError>,
) -> Result<Response, ApiError> {
    let client = client(app, t)?;
    let body = body?;
    let req: RetryRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RetryRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("body is not a retry request: {e}")))?
    };
    let status = app
        .engine
        .run_again(&client, id, req.state.as_deref())
        .await?;
    answer(id, status)
}
