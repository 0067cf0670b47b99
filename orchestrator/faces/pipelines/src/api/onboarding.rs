//! Onboarding of a project: `GET /projects/{id}/onboarding` (the summary) and
//! `POST /projects/{id}/onboarding/actions/start` (`{"inline": bool}`, default false).
//!
//! The records are in [`crate::onboarding`]: a setup run `setup-<id>` per
//! project whose status is the onboarding status and whose events are the `setup_*`
//! events. `inline=false` enqueues a `project_setup` job (a pipeline worker runs it and
//! its outcome is applied when it ends); `inline=true` runs the setup in this process
//! ([`crate::setup_inline`]: resolve and git checks, no discovery) and answers
//! when it is done. Either way the answer is `{"message", "job"}` (`job` null inline).
//! A setup already running is 409. [`start_job`] is also what `POST /projects` calls.

use super::onboarding_schemas::{OnboardingSummary, PolicyView, SetupJob, StartOnboarding};
use super::onboarding_view as view;
use super::schemas::ActionAnswer;
use super::{conflict, ctx, enqueue, job_answer, parse_id, reply, serve, views, Ctx};
use crate::jobs::PipelineJob;
use crate::onboarding::{self as ob, pending_stages, Stage, StageStatus};
use crate::AppRef;
use crate::{Project, ProtocolRun, ProtocolStatus, Transition};
use baton_http::body;
use baton_http::ApiError;
use baton_http::ErrorBody;
use bytes::Bytes;
use serde_json::{json, Value};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

/// Events the summary shows.
const RECENT: usize = 20;

pub fn routes(app: AppRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let limit = app.cfg.max_body_bytes;
    let get = warp::path!("projects" / String / "onboarding")
        .and(warp::get())
        .and(ctx(app.clone()))
        .then(|id: String, c: Ctx| async move { serve(&c, summary(&c, &id)).await });
    let start = warp::path!("projects" / String / "onboarding" / "actions" / "start")
        .and(warp::post())
        .and(ctx(app))
        .and(body(limit))
        .then(
            |id: String, c: Ctx, b: Result<Bytes, ApiError>| async move {
                serve(&c, start(&c, &id, b)).await
            },
        );
    get.or(start).unify()
}

async fn load_project(c: &Ctx, id: &str) -> Result<Project, ApiError> {
    let id = parse_id(id, "project")?;
    c.check_project(id).await?;
    Ok(c.app.records.get_project(id).await?)
}

/// Moves the setup run back to `pending`, enqueues a `project_setup` job and writes
/// `setup_enqueued`; the job id. 409 while a setup is running.
pub async fn start_job(c: &Ctx, run: &ProtocolRun) -> Result<String, ApiError> {
    let records = &c.app.records;
    let to_pending = records
        .transition_protocol(run.id, &ob::not_running(), ProtocolStatus::Pending)
        .await?;
    if let Transition::Conflict { .. } = to_pending {
        return Err(conflict(format!(
            "onboarding of project {} is running",
            run.project_id
        )));
    }
    let job = enqueue(c, PipelineJob::Setup, run, None).await?;
    c.event(
        run.id,
        None,
        "setup_enqueued",
        format!("project_setup job {job} enqueued"),
        Some(json!({"job_id": job})),
    )
    .await?;
    Ok(job)
}

/// After `POST /projects`: the setup run and its job. A job that cannot be enqueued
/// (e.g. the `project_setup` blueprint is not loaded) leaves the project created and
/// its setup `failed`, with the reason in a `setup_failed` event.
pub async fn on_project_created(c: &Ctx, project: &Project) -> Result<(), ApiError> {
    let run = ob::ensure_setup_run(c.app.records.as_ref(), project).await?;
    let Err(e) = start_job(c, &run).await else {
        return Ok(());
    };
    tracing::warn!(project_id = project.id, error = %e.message, request_id = %c.request_id, "setup job not enqueued");
    let mut stages = pending_stages();
    stages[0] = Stage::new(
        "resolve",
        StageStatus::Failed,
        format!("setup job not enqueued: {}", e.message),
    );
    c.event(
        run.id,
        None,
        "setup_failed",
        format!("setup job not enqueued: {}", e.message),
        Some(json!({"stages": stages})),
    )
    .await?;
    c.app
        .records
        .transition_protocol(run.id, &ob::not_running(), ProtocolStatus::Failed)
        .await?;
    Ok(())
}

/// The onboarding summary of a project.
#[utoipa::path(
    get,
    path = "/projects/{id}/onboarding",
    tag = "pipelines",
    params(("id" = u64, Path, description = "Project id.")),
    responses(
        (status = 200, description = "Status, workspace, a hint of what to do next, the last event, the stages (each with the event that set it and when) and recent `setup_*` events (newest first) of the project's setup run `setup-{id}`.", body = OnboardingSummary),
        (status = 400, description = "The id is not an integer.", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer or project token.", body = ErrorBody),
        (status = 404, description = "No such project.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("api_token" = [])),
)]
async fn summary(c: &Ctx, id: &str) -> Result<Response, ApiError> {
    let project = load_project(c, id).await?;
    let records = c.app.records.as_ref();
    let Some(run) = ob::find_setup_run(records, project.id).await? else {
        let stages = view::stages(pending_stages(), &[], ProtocolStatus::Pending);
        let body = OnboardingSummary {
            project_id: project.id,
            protocol_run_id: None,
            status: ProtocolStatus::Pending,
            workspace_path: project.local_path.clone(),
            hint: view::hint(project.id, None, None, &stages),
            last_event: None,
            stages,
            events: Vec::new(),
            job: None,
            policy: policy(&project),
        };
        return reply(StatusCode::OK, &body);
    };
    let events = records.list_events(run.id, RECENT).await?;
    let last_final = events
        .iter()
        .find(|e| ob::FINAL_EVENTS.contains(&e.event_type.as_str()));
    let meta = |key: &str| {
        last_final
            .and_then(|e| e.metadata.as_ref())
            .and_then(|m| m.get(key))
    };
    let job = latest_job(c, &events).await?;
    // The records learn of a job's setup only when it ends; meanwhile a job a worker has
    // taken shows the onboarding as running.
    let status = match run.status {
        ProtocolStatus::Pending
            if job.as_ref().and_then(|j| j.status.as_deref()) == Some("running") =>
        {
            ProtocolStatus::Running
        }
        s => s,
    };
    let stages: Vec<Stage> = match status {
        ProtocolStatus::Pending => pending_stages(),
        ProtocolStatus::Running => {
            let mut s = pending_stages();
            s[0].status = StageStatus::Running;
            s
        }
        // The final event's stages, as the setup reported them.
        _ => meta("stages")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_else(pending_stages),
    };
    let workspace = match meta("workspace_path") {
        Some(Value::String(path)) => Some(path.clone()),
        _ => project.local_path.clone(),
    };
    let stages = view::stages(stages, &events, status);
    let job_status = job.as_ref().and_then(|j| j.status.as_deref());
    let hint = view::hint(project.id, Some(status), job_status, &stages);
    let body = OnboardingSummary {
        project_id: project.id,
        protocol_run_id: Some(run.id),
        status,
        workspace_path: workspace,
        hint,
        last_event: view::last_event(&events),
        stages,
        events: views::list(&events, |e| views::event(e, None)),
        job,
        policy: policy(&project),
    };
    reply(StatusCode::OK, &body)
}

/// The project's policy pack: `{name, qa_policy}`.
fn policy(project: &Project) -> PolicyView {
    let pack = crate::policy::PolicyPack::of(project);
    PolicyView {
        name: pack.name.to_string(),
        qa_policy: pack.qa_policy,
    }
}

/// The job of the newest `setup_enqueued` event, with its Baton status.
async fn latest_job(c: &Ctx, events: &[crate::Event]) -> Result<Option<SetupJob>, ApiError> {
    let id = events
        .iter()
        .find(|e| e.event_type == "setup_enqueued")
        .and_then(|e| e.metadata.as_ref())
        .and_then(|m| m.get("job_id"))
        .and_then(Value::as_str);
    let Some(id) = id else {
        return Ok(None);
    };
    let status = c.app.engine.store.get_job(id).await?.map(|j| j.status);
    Ok(Some(SetupJob {
        job_id: id.to_string(),
        job_type: PipelineJob::Setup.job_type().to_string(),
        status,
    }))
}

/// Starts (or re-runs) the project's onboarding.
#[utoipa::path(
    post,
    path = "/projects/{id}/onboarding/actions/start",
    tag = "pipelines",
    params(("id" = u64, Path, description = "Project id.")),
    request_body(content = Option<StartOnboarding>, description = "`{\"inline\": bool}`, optional (default false)."),
    responses(
        (status = 200, description = "`inline=false`: the `project_setup` job enqueued (`job` names it). `inline=true`: the setup ran in the orchestrator (`job: null`); the message gives its status.", body = ActionAnswer),
        (status = 400, description = "Bad id or body.", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer or project token.", body = ErrorBody),
        (status = 404, description = "No such project.", body = ErrorBody),
        (status = 409, description = "A setup of this project is running.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("api_token" = [])),
)]
async fn start(c: &Ctx, id: &str, body: Result<Bytes, ApiError>) -> Result<Response, ApiError> {
    let body = body?;
    let req: StartOnboarding = if body.iter().all(u8::is_ascii_whitespace) {
        StartOnboarding::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("invalid onboarding start: {e}")))?
    };
    let project = load_project(c, id).await?;
    let records = c.app.records.as_ref();
    let run = ob::ensure_setup_run(records, &project).await?;
    if !req.inline {
        let job = start_job(c, &run).await?;
        return job_answer(
            format!("onboarding of project {} enqueued", project.id),
            PipelineJob::Setup,
            &job,
        );
    }
    let meta = json!({"request_id": c.request_id, "inline": true});
    if let Transition::Conflict { .. } =
        ob::begin(records, run.id, &ob::not_running(), "inline", &meta).await?
    {
        return Err(conflict(format!(
            "onboarding of project {} is running",
            project.id
        )));
    }
    // In a task of its own: a caller hanging up must not leave the run `running`.
    let app = c.app.clone();
    let (run_id, project_id) = (run.id, project.id);
    let status = tokio::spawn(async move {
        let outcome = crate::setup_inline::run(&project, &app.cfg.projects_root).await;
        ob::apply_setup(app.records.as_ref(), &project, run_id, &outcome, &meta).await
    })
    .await
    .map_err(ApiError::internal)??;
    reply(
        StatusCode::OK,
        &json!({"message": format!("onboarding of project {project_id} {status} (inline)"), "job": null}),
    )
}
