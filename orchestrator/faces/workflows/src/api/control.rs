//! `POST /v1/executions/{id}/pause` and `/resume`, on the engine's pause and resume of
//! any job: a paused execution starts no new step (a running step finishes and its
//! result is kept) until it is resumed, on whichever orchestrator, also after all of
//! them restarted. Resuming a *failed* execution that passed a checkpoint runs it again
//! from the state after its last checkpoint, keeping what came before.

use super::schemas::{ErrorEnvelope, ExecutionControl};
use super::{answer, ctx, serve, Ctx};
use crate::error::{WfError, WfResult};
use crate::executions::{self, Execution};
use crate::FaceRef;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

pub fn routes(face: FaceRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let pause = warp::path!("v1" / "executions" / String / "pause")
        .and(warp::post())
        .and(ctx(face.clone()))
        .then(|id: String, c: Ctx| serve(c, move |c| pause_execution(c, id)));
    let resume = warp::path!("v1" / "executions" / String / "resume")
        .and(warp::post())
        .and(ctx(face))
        .then(|id: String, c: Ctx| serve(c, move |c| resume_execution(c, id)));
    pause.or(resume).unify()
}

fn controlled(id: String, job_status: &str) -> WfResult<Response> {
    answer(
        StatusCode::OK,
        &ExecutionControl {
            status: "success".into(),
            execution_id: id,
            execution_status: executions::status_name(job_status).into(),
        },
    )
}

/// Pauses an execution: no new step starts; a running step finishes and its result is
/// kept.
#[utoipa::path(
    post,
    path = "/v1/executions/{execution_id}/pause",
    tag = "executions",
    params(("execution_id" = String, Path, description = "Execution id.")),
    responses(
        (status = 200, description = "Paused.", body = ExecutionControl),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`.", body = ErrorEnvelope),
        (status = 409, description = "`CONFLICT`: it ended, or is paused already.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])),
)]
async fn pause_execution(c: Ctx, id: String) -> WfResult<Response> {
    let user = c.user()?;
    executions::load(&c.face, &id).await?;
    let status = c.face.engine.pause_job(executions::CLIENT, &id).await?;
    tracing::info!(execution = %id, user = %user.sub, "execution paused");
    controlled(id, &status)
}

/// Resumes a paused execution where it stopped, or a failed one from the state after its
/// last checkpoint.
#[utoipa::path(
    post,
    path = "/v1/executions/{execution_id}/resume",
    tag = "executions",
    params(("execution_id" = String, Path, description = "Execution id.")),
    responses(
        (status = 200, description = "Running again.", body = ExecutionControl),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`.", body = ErrorEnvelope),
        (status = 409, description = "`CONFLICT`: not paused, or failed before any checkpoint, or completed or cancelled.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])),
)]
async fn resume_execution(c: Ctx, id: String) -> WfResult<Response> {
    let user = c.user()?;
    let execution = executions::load(&c.face, &id).await?;
    let status = match execution.status.as_str() {
        "failed" => {
            let from = after_checkpoint(&execution).ok_or_else(|| {
                WfError::conflict(
                    "the execution failed before reaching a checkpoint; start a new execution",
                )
            })?;
            c.face
                .engine
                .run_again(executions::CLIENT, &id, Some(&from))
                .await?
        }
        _ => c.face.engine.resume_job(executions::CLIENT, &id).await?,
    };
    tracing::info!(execution = %id, user = %user.sub, status, "execution resumed");
    controlled(id, &status)
}

/// The state a failed execution resumes from: the one after the state of its last
/// completed checkpoint (that state itself when it is the last).
fn after_checkpoint(execution: &Execution) -> Option<String> {
    let passed = |step: &str| {
        execution
            .steps
            .iter()
            .any(|s| s.step_id == step && s.checkpoint && s.status.starts_with("completed"))
    };
    let states = &execution.state_steps;
    let at = states
        .iter()
        .rposition(|(_, parts)| parts.iter().any(|p| passed(&p.step)))?;
    let next = states.get(at + 1).unwrap_or(&states[at]);
    Some(next.0.clone())
}
