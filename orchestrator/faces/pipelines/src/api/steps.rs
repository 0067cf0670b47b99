//! Steps of a run: create, list, read, and the step actions.
//!
//! A step is unique by `step_index` within its run (a second one at that index is 409).
//! Actions go through the step table ([`StepAction`]) as compare-and-sets:
//!
//! | action | change | event (`baton_event` in its metadata) |
//! |---|---|---|
//! | `run` | pending/blocked/failed → running | `step_enqueued` (`step_started`) |
//! | `run_qa` | any but completed/cancelled → needs_qa | `qa_enqueued` (`step_qa_requested`) |
//! | `approve` | needs_qa/running/blocked/failed → completed | `manual_approval` (`step_approved`) |
//!
//! The event names are those the upstream clients filter on (see [`super::actions`]).
//! Steps of a finished run (completed, failed, cancelled) take no action (409). When an
//! approval leaves every step of the run completed or cancelled, the run is completed
//! (event `protocol_completed`). `run` enqueues an `execute_step_job` and `run_qa` a
//! `run_quality_job`; their outcomes move the step when they end. `approve` answers the
//! step as it now is, its fields beside `message` and `job: null`.

use super::gates::{self, Phase};
use super::protocols::load_run;
use super::schemas::{CreateStep, StepActionAnswer, StepRunView};
use super::{conflict, ctx, enqueue, job_answer, json_body, parse_id, reply, serve, views, Ctx};
use crate::jobs::PipelineJob;
use crate::AppRef;
use crate::{NewStepRun, ProtocolRun, StepAction, StepRun, StepStatus, Transition};
use baton_http::body;
use baton_http::ApiError;
use baton_http::ErrorBody;
use bytes::Bytes;
use serde_json::json;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

pub fn routes(app: AppRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let limit = app.cfg.max_body_bytes;
    let create = warp::path!("protocols" / String / "steps")
        .and(warp::post())
        .and(ctx(app.clone()))
        .and(body(limit))
        .then(
            |id: String, c: Ctx, b: Result<Bytes, ApiError>| async move {
                serve(&c, create_step(&c, &id, b)).await
            },
        );
    let list = warp::path!("protocols" / String / "steps")
        .and(warp::get())
        .and(ctx(app.clone()))
        .then(|id: String, c: Ctx| async move { serve(&c, list_steps(&c, &id)).await });
    let get = warp::path!("steps" / String)
        .and(warp::get())
        .and(ctx(app.clone()))
        .then(|id: String, c: Ctx| async move { serve(&c, get_step(&c, &id)).await });
    let act = warp::path!("steps" / String / "actions" / String)
        .and(warp::post())
        .and(ctx(app))
        .then(|id: String, action: String, c: Ctx| async move {
            serve(&c, step_action(&c, &id, &action)).await
        });
    create.or(list).unify().or(get).unify().or(act).unify()
}

/// The step of a path id and its run, after the project token check.
async fn load_step(c: &Ctx, id: &str) -> Result<(StepRun, ProtocolRun), ApiError> {
    let id = parse_id(id, "step run")?;
    let step = c.app.records.get_step_run(id).await?;
    let run = c.app.records.get_protocol_run(step.protocol_run_id).await?;
    c.check_project(run.project_id).await?;
    Ok((step, run))
}

/// Adds a step to a run (no job is enqueued).
#[utoipa::path(
    post,
    path = "/protocols/{id}/steps",
    tag = "pipelines",
    params(("id" = u64, Path, description = "Protocol run id.")),
    request_body = CreateStep,
    responses(
        (status = 201, description = "Created.", body = StepRunView),
        (status = 400, description = "Bad id or body.", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer or project token.", body = ErrorBody),
        (status = 404, description = "No such run.", body = ErrorBody),
        (status = 409, description = "The run already has a step at this index.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("api_token" = [])),
)]
async fn create_step(
    c: &Ctx,
    id: &str,
    body: Result<Bytes, ApiError>,
) -> Result<Response, ApiError> {
    let run = load_run(c, id).await?;
    let req: CreateStep = json_body(body, "step run")?;
    if req.step_name.trim().is_empty() {
        return Err(ApiError::bad_request("`step_name` must not be empty"));
    }
    if req.summary.is_some() {
        tracing::debug!(run = run.id, "step summary given: not stored yet");
    }
    let records = &c.app.records;
    let mut step = records
        .create_step_run(NewStepRun {
            protocol_run_id: run.id,
            step_index: req.step_index,
            step_name: req.step_name,
            step_type: req.step_type.unwrap_or_default(),
            model: req.model,
            engine_id: req.engine_id,
            policy: req.policy,
        })
        .await?;
    if let Some(status) = req.status.filter(|s| *s != StepStatus::Pending) {
        match records
            .transition_step(step.id, &[StepStatus::Pending], status)
            .await?
        {
            Transition::Applied { .. } => step = records.get_step_run(step.id).await?,
            Transition::Conflict { current } => {
                tracing::warn!(step = step.id, %current, "new step changed before its first status");
            }
        }
    }
    c.event(
        run.id,
        Some(step.id),
        "step_created",
        format!("step {} created ({})", step.step_name, step.status),
        None,
    )
    .await?;
    reply(StatusCode::CREATED, &views::step(&step))
}

/// The run's steps, by index.
#[utoipa::path(
    get,
    path = "/protocols/{id}/steps",
    tag = "pipelines",
    params(("id" = u64, Path, description = "Protocol run id.")),
    responses(
        (status = 200, description = "The steps.", body = [StepRunView]),
        (status = 400, description = "The id is not an integer.", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer or project token.", body = ErrorBody),
        (status = 404, description = "No such run.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("api_token" = [])),
)]
async fn list_steps(c: &Ctx, id: &str) -> Result<Response, ApiError> {
    let run = load_run(c, id).await?;
    let steps = c.app.records.list_step_runs(run.id).await?;
    reply(StatusCode::OK, &views::list(&steps, views::step))
}

/// One step.
#[utoipa::path(
    get,
    path = "/steps/{id}",
    tag = "pipelines",
    params(("id" = u64, Path, description = "Step run id.")),
    responses(
        (status = 200, description = "The step.", body = StepRunView),
        (status = 400, description = "The id is not an integer.", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer or project token.", body = ErrorBody),
        (status = 404, description = "No such step.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("api_token" = [])),
)]
async fn get_step(c: &Ctx, id: &str) -> Result<Response, ApiError> {
    let (step, _) = load_step(c, id).await?;
    reply(StatusCode::OK, &views::step(&step))
}

/// Applies an action to a step.
#[utoipa::path(
    post,
    path = "/steps/{id}/actions/{action}",
    tag = "pipelines",
    params(
        ("id" = u64, Path, description = "Step run id."),
        ("action" = String, Path, description = "`run`, `run_qa` or `approve`."),
    ),
    responses(
        (status = 200, description = "Applied; `run` and `run_qa` name the Baton job they enqueued, `approve` answers `job: null` and the step's fields (`status`, ...).", body = StepActionAnswer),
        (status = 400, description = "The id is not an integer.", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer or project token.", body = ErrorBody),
        (status = 404, description = "No such step or action.", body = ErrorBody),
        (status = 409, description = "The step (or its run) is in a status the action does not apply to.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("api_token" = [])),
)]
async fn step_action(c: &Ctx, id: &str, name: &str) -> Result<Response, ApiError> {
    let (action, event, baton_event, verb) = match name {
        "run" => (StepAction::Run, "step_enqueued", "step_started", "started"),
        "run_qa" => (
            StepAction::RunQa,
            "qa_enqueued",
            "step_qa_requested",
            "sent to QA",
        ),
        "approve" => (
            StepAction::Approve,
            "manual_approval",
            "step_approved",
            "approved",
        ),
        other => return Err(ApiError::not_found(format!("no step action `{other}`"))),
    };
    let (step, run) = load_step(c, id).await?;
    match action {
        StepAction::Run => gates::check(c, &run, Phase::Execution).await?,
        StepAction::RunQa => gates::check(c, &run, Phase::Qa).await?,
        _ => {}
    }
    if run.status.is_terminal() {
        return Err(conflict(format!(
            "protocol run {} is {}: its steps take no action",
            run.id, run.status
        )));
    }
    let from = match c.app.records.step_action(step.id, action).await? {
        Transition::Applied { from } => from,
        Transition::Conflict { current } => {
            return Err(conflict(format!(
                "step {} is {current}: cannot {name}",
                step.id
            )))
        }
    };
    let kind = match action {
        StepAction::Run => Some(PipelineJob::Execute),
        StepAction::RunQa => Some(PipelineJob::Qa),
        _ => None,
    };
    let job = match kind {
        Some(kind) => Some(enqueue(c, kind, &run, Some(&step)).await?),
        None => None,
    };
    c.event(
        run.id,
        Some(step.id),
        event,
        format!("step {} {verb} (was {from})", step.step_name),
        Some(json!({"baton_event": baton_event, "from": from, "job_id": job})),
    )
    .await?;
    let message = format!("step {} {verb}", step.id);
    if let (Some(kind), Some(job)) = (kind, job) {
        return job_answer(message, kind, &job);
    }
    complete_if_done(c, &run).await?;
    let step = c.app.records.get_step_run(step.id).await?;
    let answer = StepActionAnswer {
        message,
        job: None,
        step: views::step(&step),
    };
    reply(StatusCode::OK, &answer)
}

/// Completes the run when every step is completed or cancelled (after an approval).
async fn complete_if_done(c: &Ctx, run: &ProtocolRun) -> Result<(), ApiError> {
    crate::outcomes::complete_if_done(c.app.records.as_ref(), run.id).await?;
    Ok(())
}
