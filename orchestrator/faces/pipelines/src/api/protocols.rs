//! Protocol runs: create and list a project's runs, read one, its clarifications.
//! The actions on a run are in [`super::actions`].
//!
//! A run is one piece of work on a branch (`protocol_name`). It is created `pending`, or
//! in the `status` the body names (the plan job that would move it on is not part of this
//! slice, so a caller may record a run that was planned elsewhere); the move from
//! `pending` is a compare-and-set like any other. Every creation writes
//! `protocol_created`.

use super::projects::{answer, list_clarifications};
use super::schemas::{AnswerClarification, ClarificationView, CreateProtocol, ProtocolRunView};
use super::{ctx, json_body, parse_id, reply, serve, views, Ctx};
use crate::AppRef;
use crate::{ClarificationScope, NewProtocolRun, ProtocolRun, ProtocolStatus, Transition};
use baton_http::body;
use baton_http::ApiError;
use baton_http::ErrorBody;
use bytes::Bytes;
use std::collections::HashMap;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

type Query = HashMap<String, String>;

pub fn routes(app: AppRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let limit = app.cfg.max_body_bytes;
    let create = warp::path!("projects" / String / "protocols")
        .and(warp::post())
        .and(ctx(app.clone()))
        .and(body(limit))
        .then(
            |id: String, c: Ctx, b: Result<Bytes, ApiError>| async move {
                serve(&c, create_protocol(&c, &id, b)).await
            },
        );
    let list = warp::path!("projects" / String / "protocols")
        .and(warp::get())
        .and(ctx(app.clone()))
        .then(|id: String, c: Ctx| async move { serve(&c, list_protocols(&c, &id)).await });
    let get = warp::path!("protocols" / String)
        .and(warp::get())
        .and(ctx(app.clone()))
        .then(|id: String, c: Ctx| async move { serve(&c, get_protocol(&c, &id)).await });
    let clarifications = warp::path!("protocols" / String / "clarifications")
        .and(warp::get())
        .and(ctx(app.clone()))
        .and(warp::query::<Query>())
        .then(|id: String, c: Ctx, q: Query| async move {
            serve(&c, protocol_clarifications(&c, &id, q)).await
        });
    let answer = warp::path!("protocols" / String / "clarifications" / String)
        .and(warp::post())
        .and(ctx(app))
        .and(body(limit))
        .then(
            |id: String, key: String, c: Ctx, b: Result<Bytes, ApiError>| async move {
                serve(&c, answer_protocol_clarification(&c, &id, &key, b)).await
            },
        );
    create
        .or(list)
        .unify()
        .or(get)
        .unify()
        .or(clarifications)
        .unify()
        .or(answer)
        .unify()
}

/// The run of a path id, after the project token check (400, 404, 401).
pub(super) async fn load_run(c: &Ctx, id: &str) -> Result<ProtocolRun, ApiError> {
    let id = parse_id(id, "protocol run")?;
    let run = c.app.records.get_protocol_run(id).await?;
    c.check_project(run.project_id).await?;
    Ok(run)
}

/// Creates a run of the project.
#[utoipa::path(
    post,
    path = "/projects/{id}/protocols",
    tag = "pipelines",
    params(("id" = u64, Path, description = "Project id.")),
    request_body = CreateProtocol,
    responses(
        (status = 201, description = "Created.", body = ProtocolRunView),
        (status = 400, description = "Bad id or body.", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer or project token.", body = ErrorBody),
        (status = 404, description = "No such project.", body = ErrorBody),
        (status = 409, description = "The name is `setup-{id}`, reserved for the project's onboarding run.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("api_token" = [])),
)]
async fn create_protocol(
    c: &Ctx,
    project_id: &str,
    body: Result<Bytes, ApiError>,
) -> Result<Response, ApiError> {
    let project_id = parse_id(project_id, "project")?;
    c.check_project(project_id).await?;
    let req: CreateProtocol = json_body(body, "protocol run")?;
    if req.protocol_name.trim().is_empty() {
        return Err(ApiError::bad_request("`protocol_name` must not be empty"));
    }
    super::gates::not_reserved(project_id, &req.protocol_name)?;
    let base_branch = match req.base_branch {
        Some(b) => b,
        None => c.app.records.get_project(project_id).await?.base_branch,
    };
    let records = &c.app.records;
    let mut run = records
        .create_protocol_run(NewProtocolRun {
            project_id,
            protocol_name: req.protocol_name,
            base_branch,
            worktree_path: req.worktree_path,
            protocol_root: req.protocol_root,
            description: req.description,
            template_config: req.template_config,
            template_source: req.template_source,
        })
        .await?;
    if let Some(status) = req.status.filter(|s| *s != ProtocolStatus::Pending) {
        // Nobody else knows the run yet, so this cannot lose a race; checked anyway.
        match records
            .transition_protocol(run.id, &[ProtocolStatus::Pending], status)
            .await?
        {
            Transition::Applied { .. } => run = records.get_protocol_run(run.id).await?,
            Transition::Conflict { current } => {
                tracing::warn!(run = run.id, %current, "new run changed before its first status");
            }
        }
    }
    c.event(
        run.id,
        None,
        "protocol_created",
        format!(
            "protocol run {} created ({})",
            run.protocol_name, run.status
        ),
        None,
    )
    .await?;
    reply(StatusCode::CREATED, &views::run(&run))
}

/// The project's runs, by id.
#[utoipa::path(
    get,
    path = "/projects/{id}/protocols",
    tag = "pipelines",
    params(("id" = u64, Path, description = "Project id.")),
    responses(
        (status = 200, description = "The runs.", body = [ProtocolRunView]),
        (status = 400, description = "The id is not an integer.", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer or project token.", body = ErrorBody),
        (status = 404, description = "No such project.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("api_token" = [])),
)]
async fn list_protocols(c: &Ctx, project_id: &str) -> Result<Response, ApiError> {
    let project_id = parse_id(project_id, "project")?;
    c.check_project(project_id).await?;
    let runs = c.app.records.list_protocol_runs(project_id).await?;
    reply(StatusCode::OK, &views::list(&runs, views::run))
}

/// One run.
#[utoipa::path(
    get,
    path = "/protocols/{id}",
    tag = "pipelines",
    params(("id" = u64, Path, description = "Protocol run id.")),
    responses(
        (status = 200, description = "The run.", body = ProtocolRunView),
        (status = 400, description = "The id is not an integer.", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer or project token.", body = ErrorBody),
        (status = 404, description = "No such run.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("api_token" = [])),
)]
async fn get_protocol(c: &Ctx, id: &str) -> Result<Response, ApiError> {
    let run = load_run(c, id).await?;
    reply(StatusCode::OK, &views::run(&run))
}

/// The run's clarifications (planning and execution gates), by key.
#[utoipa::path(
    get,
    path = "/protocols/{id}/clarifications",
    tag = "pipelines",
    params(
        ("id" = u64, Path, description = "Protocol run id."),
        ("status" = Option<String>, Query, description = "`open` or `answered`."),
    ),
    responses(
        (status = 200, description = "The clarifications.", body = [ClarificationView]),
        (status = 400, description = "Bad id or status.", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer or project token.", body = ErrorBody),
        (status = 404, description = "No such run.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("api_token" = [])),
)]
async fn protocol_clarifications(c: &Ctx, id: &str, q: Query) -> Result<Response, ApiError> {
    let run = load_run(c, id).await?;
    list_clarifications(c, ClarificationScope::ProtocolRun(run.id), &q).await
}

/// Answers a run's clarification (event `clarification_answered`).
#[utoipa::path(
    post,
    path = "/protocols/{id}/clarifications/{key}",
    tag = "pipelines",
    params(
        ("id" = u64, Path, description = "Protocol run id."),
        ("key" = String, Path, description = "Clarification key."),
    ),
    request_body = AnswerClarification,
    responses(
        (status = 200, description = "The answered clarification.", body = ClarificationView),
        (status = 400, description = "Bad id or body.", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer or project token.", body = ErrorBody),
        (status = 404, description = "No such run or key.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("api_token" = [])),
)]
async fn answer_protocol_clarification(
    c: &Ctx,
    id: &str,
    key: &str,
    body: Result<Bytes, ApiError>,
) -> Result<Response, ApiError> {
    let run = load_run(c, id).await?;
    let answered = answer(c, ClarificationScope::ProtocolRun(run.id), key, body).await?;
    c.event(
        run.id,
        None,
        "clarification_answered",
        format!("clarification `{key}` answered"),
        Some(serde_json::json!({"key": key})),
    )
    .await?;
    reply(StatusCode::OK, &views::clarification(&answered))
}
