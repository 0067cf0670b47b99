//! `POST /protocols/{id}/actions/{action}`: status changes of a run through the state
//! table ([`ProtocolAction`]), each a compare-and-set; a wrong status or a lost race is
//! 409 naming the status found. Each applied action writes an event, under the name the
//! upstream clients filter on; its metadata keeps Baton's older name (`baton_event`),
//! the status it came from (`from`) and the job it enqueued (`job_id`).
//!
//! | action | change | event (`baton_event`) |
//! |---|---|---|
//! | `start` | pending/planned/paused → planning | `planning_enqueued` (`protocol_started`) |
//! | `pause` | any but cancelled/completed/failed → paused | `paused` (`protocol_paused`) |
//! | `resume` | paused → running | `resumed` (`protocol_resumed`) |
//! | `cancel` | non-terminal → cancelled, with its pending/running/needs_qa steps | `cancelled` (`protocol_cancelled`) |
//! | `run_next_step` | first step by index in pending/blocked/failed → running (404 if none); run → running | `step_enqueued` (`step_started`) |
//! | `retry_latest` | latest (last updated) failed/blocked step → running, `retries + 1` (404 if none); run → running | `step_retry_enqueued` (`step_retried`) |
//! | `open_pr` | none | `open_pr_enqueued` |
//!
//! `start` enqueues a `plan_protocol_job`, `run_next_step` and `retry_latest` an
//! `execute_step_job`, `open_pr` an `open_pr_job`; the answer's `job` names it, and the
//! job's outcome is applied to the records when it ends (`engine::pipeline_jobs`).
//! `retry_latest` adds one to the step's `retries` in the same compare-and-set that
//! starts it.
//!
//! Answers are `{"message", "job"}`; `pause`, `resume` and `cancel` also carry the run as
//! it now is, its fields beside those two (upstream's clients read `status` from them).

use super::gates::{self, Phase};
use super::protocols::load_run;
use super::schemas::RunActionAnswer;
use super::{conflict, ctx, enqueue, job_answer, reply, serve, views, Ctx};
use crate::jobs::PipelineJob;
use crate::AppRef;
use crate::{
    CancelOutcome, ProtocolAction, ProtocolRun, StepAction, StepChange, StepRun, StepStatus,
    StepUpdate, Transition,
};
use baton_http::ApiError;
use baton_http::ErrorBody;
use serde_json::json;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

pub fn routes(app: AppRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("protocols" / String / "actions" / String)
        .and(warp::post())
        .and(ctx(app))
        .then(|id: String, action: String, c: Ctx| async move {
            serve(&c, protocol_action(&c, &id, &action)).await
        })
}

/// Applies an action to a run.
#[utoipa::path(
    post,
    path = "/protocols/{id}/actions/{action}",
    tag = "pipelines",
    params(
        ("id" = u64, Path, description = "Protocol run id."),
        ("action" = String, Path, description = "`start`, `pause`, `resume`, `cancel`, `run_next_step`, `retry_latest` or `open_pr`."),
    ),
    responses(
        (status = 200, description = "Applied; `job` names the Baton job enqueued (`start`, `run_next_step`, `retry_latest`, `open_pr`), else `null`. `pause`, `resume` and `cancel` also answer the run's fields (`status`, ...) beside `message` and `job`.", body = RunActionAnswer),
        (status = 400, description = "The id is not an integer.", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer or project token.", body = ErrorBody),
        (status = 404, description = "No such run or action, or no step to run or retry.", body = ErrorBody),
        (status = 409, description = "The run (or step) is in a status the action does not apply to.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("api_token" = [])),
)]
async fn protocol_action(c: &Ctx, id: &str, action: &str) -> Result<Response, ApiError> {
    let action = match action {
        "start" => ProtocolAction::Start,
        "pause" => ProtocolAction::Pause,
        "resume" => ProtocolAction::Resume,
        "cancel" => ProtocolAction::Cancel,
        "run_next_step" => ProtocolAction::RunNextStep,
        "retry_latest" => ProtocolAction::RetryLatest,
        "open_pr" => {
            let run = load_run(c, id).await?;
            gates::not_setup(&run)?;
            let job = enqueue(c, PipelineJob::OpenPr, &run, None).await?;
            c.event(
                run.id,
                None,
                "open_pr_enqueued",
                format!("open_pr job {job} enqueued"),
                Some(json!({"job_id": job})),
            )
            .await?;
            return job_answer(
                format!("open_pr enqueued for protocol run {}", run.id),
                PipelineJob::OpenPr,
                &job,
            );
        }
        other => return Err(ApiError::not_found(format!("no protocol action `{other}`"))),
    };
    let run = load_run(c, id).await?;
    gates::not_setup(&run)?;
    match action {
        ProtocolAction::Start => gates::check(c, &run, Phase::Planning).await?,
        ProtocolAction::RunNextStep | ProtocolAction::RetryLatest => {
            gates::check(c, &run, Phase::Execution).await?
        }
        _ => {}
    }
    match action {
        ProtocolAction::Cancel => cancel(c, &run).await,
        ProtocolAction::RunNextStep | ProtocolAction::RetryLatest => {
            run_step(c, &run, action).await
        }
        _ => {
            let (event, baton_event, verb) = match action {
                ProtocolAction::Start => ("planning_enqueued", "protocol_started", "started"),
                ProtocolAction::Pause => ("paused", "protocol_paused", "paused"),
                _ => ("resumed", "protocol_resumed", "resumed"),
            };
            let from = apply(c, &run, action).await?;
            let job = match action {
                ProtocolAction::Start => Some(enqueue(c, PipelineJob::Plan, &run, None).await?),
                _ => None,
            };
            c.event(
                run.id,
                None,
                event,
                format!("protocol run {} {verb} (was {from})", run.protocol_name),
                Some(json!({"baton_event": baton_event, "from": from, "job_id": job})),
            )
            .await?;
            let message = format!("protocol run {} {verb}", run.id);
            match job {
                Some(job) => job_answer(message, PipelineJob::Plan, &job),
                None => run_answer(c, run.id, message).await,
            }
        }
    }
}

/// The answer of an action that only changes the run: `{message, job: null}` and the
/// run's fields as it now is.
async fn run_answer(c: &Ctx, id: crate::Id, message: String) -> Result<Response, ApiError> {
    let run = c.app.records.get_protocol_run(id).await?;
    let answer = RunActionAnswer {
        message,
        job: None,
        run: views::run(&run),
    };
    reply(StatusCode::OK, &answer)
}

/// The run's action as a compare-and-set; the status it had, or 409.
async fn apply(
    c: &Ctx,
    run: &ProtocolRun,
    action: ProtocolAction,
) -> Result<crate::ProtocolStatus, ApiError> {
    match c.app.records.protocol_action(run.id, action).await? {
        Transition::Applied { from } => Ok(from),
        Transition::Conflict { current } => Err(conflict(format!(
            "protocol run {} is {current}: cannot {}",
            run.id,
            action_name(action)
        ))),
    }
}

fn action_name(action: ProtocolAction) -> String {
    serde_json::to_value(action)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{action:?}"))
}

async fn cancel(c: &Ctx, run: &ProtocolRun) -> Result<Response, ApiError> {
    match c.app.records.cancel_protocol(run.id).await? {
        CancelOutcome::Cancelled { from, steps } => {
            c.event(
                run.id,
                None,
                "cancelled",
                format!(
                    "protocol run {} cancelled (was {from}); {} step(s) cancelled",
                    run.protocol_name,
                    steps.len()
                ),
                Some(json!({"baton_event": "protocol_cancelled", "from": from, "cancelled_steps": steps})),
            )
            .await?;
            run_answer(c, run.id, format!("protocol run {} cancelled", run.id)).await
        }
        CancelOutcome::Conflict { current } => Err(conflict(format!(
            "protocol run {} is {current}: cannot cancel",
            run.id
        ))),
    }
}

/// The step `run_next_step` (first by index) or `retry_latest` (last updated) would run.
fn pick(steps: &[StepRun], action: ProtocolAction) -> Option<&StepRun> {
    let runnable = StepAction::Run.allowed_from();
    if action == ProtocolAction::RunNextStep {
        steps
            .iter()
            .filter(|s| runnable.contains(&s.status))
            .min_by_key(|s| s.step_index)
    } else {
        steps
            .iter()
            .filter(|s| matches!(s.status, StepStatus::Failed | StepStatus::Blocked))
            .max_by_key(|s| (s.updated_at, s.step_index))
    }
}

async fn run_step(
    c: &Ctx,
    run: &ProtocolRun,
    action: ProtocolAction,
) -> Result<Response, ApiError> {
    let records = &c.app.records;
    let steps = records.list_step_runs(run.id).await?;
    let Some(step) = pick(&steps, action) else {
        return Err(ApiError::not_found(
            if action == ProtocolAction::RunNextStep {
                format!(
                    "protocol run {} has no pending, blocked or failed step",
                    run.id
                )
            } else {
                format!("protocol run {} has no failed or blocked step", run.id)
            },
        ));
    };
    // The run first: a paused or finished run must not get a running step.
    apply(c, run, action).await?;
    // A retry counts: `retries + 1` in the same compare-and-set as the start.
    let add_retries = u32::from(action == ProtocolAction::RetryLatest);
    let start = StepChange {
        id: step.id,
        allowed_from: StepAction::Run.allowed_from().to_vec(),
        to: Some(StepAction::Run.to()),
        update: StepUpdate {
            add_retries,
            ..StepUpdate::default()
        },
        ..StepChange::default()
    };
    match records.change_steps(vec![start]).await? {
        Transition::Applied { from } => {
            let (event, baton_event, verb) = if action == ProtocolAction::RunNextStep {
                ("step_enqueued", "step_started", "started")
            } else {
                ("step_retry_enqueued", "step_retried", "retried")
            };
            let job = enqueue(c, PipelineJob::Execute, run, Some(step)).await?;
            let meta = json!({"baton_event": baton_event, "from": from, "job_id": job,
                              "retries": step.retries + add_retries});
            c.event(
                run.id,
                Some(step.id),
                event,
                format!("step {} {verb} (was {from})", step.step_name),
                Some(meta),
            )
            .await?;
            job_answer(
                format!("step {} ({}) {verb}", step.id, step.step_name),
                PipelineJob::Execute,
                &job,
            )
        }
        Transition::Conflict { current } => Err(conflict(format!(
            "step {} is {current} (changed meanwhile): not started",
            step.id
        ))),
    }
}
