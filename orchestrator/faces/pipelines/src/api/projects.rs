//! `/projects`: create, list, read a project; its clarifications (list, answer).
//!
//! A project is a git repository. Its `secrets` are stored apart and never answered;
//! `secrets.api_token` makes `X-Project-Token` required on every route of the project
//! and of its runs and steps. `GET /projects` lists every project (public fields only).
//! Project clarifications have no run, so answering one writes no event (events belong to
//! runs); it is logged.
//!
//! Creating a project selects its policy pack (`project_classification`, see
//! [`crate::policy`]) and starts its onboarding ([`super::onboarding`]): the
//! setup run `setup-{id}` and a `project_setup` job.

use super::schemas::{AnswerClarification, ClarificationView, CreateProject, ProjectView};
use super::{ctx, json_body, parse_id, reply, serve, views, Ctx};
use crate::policy::PolicyPack;
use crate::AppRef;
use crate::{ClarificationScope, ClarificationStatus, NewProject, ProjectSecrets};
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
    let create = warp::path!("projects")
        .and(warp::post())
        .and(ctx(app.clone()))
        .and(body(limit))
        .then(|c: Ctx, b: Result<Bytes, ApiError>| async move {
            serve(&c, create_project(&c, b)).await
        });
    let list = warp::path!("projects")
        .and(warp::get())
        .and(ctx(app.clone()))
        .then(|c: Ctx| async move { serve(&c, list_projects(&c)).await });
    let get = warp::path!("projects" / String)
        .and(warp::get())
        .and(ctx(app.clone()))
        .then(|id: String, c: Ctx| async move { serve(&c, get_project(&c, &id)).await });
    let clarifications = warp::path!("projects" / String / "clarifications")
        .and(warp::get())
        .and(ctx(app.clone()))
        .and(warp::query::<Query>())
        .then(|id: String, c: Ctx, q: Query| async move {
            serve(&c, project_clarifications(&c, &id, q)).await
        });
    let answer = warp::path!("projects" / String / "clarifications" / String)
        .and(warp::post())
        .and(ctx(app))
        .and(body(limit))
        .then(
            |id: String, key: String, c: Ctx, b: Result<Bytes, ApiError>| async move {
                serve(&c, answer_project_clarification(&c, &id, &key, b)).await
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

/// Registers a project and starts its onboarding: a `project_setup` job on the setup run
/// `setup-{id}` (event `setup_enqueued`). `project_classification` selects a policy pack
/// (`crate::policy`) whose `default_models` fill the phases the request left
/// out; an unknown classification is 400 listing the valid ones.
#[utoipa::path(
    post,
    path = "/projects",
    tag = "pipelines",
    request_body = CreateProject,
    responses(
        (status = 201, description = "Created; `secrets` are stored, never answered.", body = ProjectView),
        (status = 400, description = "Malformed body, empty name / git_url, or unknown project_classification (the message lists the valid ones).", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("api_token" = [])),
)]
async fn create_project(c: &Ctx, body: Result<Bytes, ApiError>) -> Result<Response, ApiError> {
    let req: CreateProject = json_body(body, "project")?;
    if req.name.trim().is_empty() || req.git_url.trim().is_empty() {
        return Err(ApiError::bad_request(
            "`name` and `git_url` must not be empty",
        ));
    }
    let pack = PolicyPack::named(req.project_classification.as_deref())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let project = c
        .app
        .records
        .create_project(NewProject {
            name: req.name,
            git_url: req.git_url,
            local_path: req.local_path,
            base_branch: req.base_branch,
            ci_provider: req.ci_provider,
            project_classification: req.project_classification,
            default_models: pack.models_over(req.default_models),
            secrets: req.secrets.map(ProjectSecrets),
        })
        .await?;
    tracing::info!(project_id = project.id, pack = pack.name, request_id = %c.request_id, "project created");
    super::onboarding::on_project_created(c, &project).await?;
    reply(StatusCode::CREATED, &views::project(&project))
}

/// Every project, by id.
#[utoipa::path(
    get,
    path = "/projects",
    tag = "pipelines",
    responses(
        (status = 200, description = "The projects.", body = [ProjectView]),
        (status = 401, description = "Missing or wrong bearer token.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("api_token" = [])),
)]
async fn list_projects(c: &Ctx) -> Result<Response, ApiError> {
    let projects = c.app.records.list_projects().await?;
    reply(StatusCode::OK, &views::list(&projects, views::project))
}

/// One project.
#[utoipa::path(
    get,
    path = "/projects/{id}",
    tag = "pipelines",
    params(("id" = u64, Path, description = "Project id.")),
    responses(
        (status = 200, description = "The project.", body = ProjectView),
        (status = 400, description = "The id is not an integer.", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer or project token.", body = ErrorBody),
        (status = 404, description = "No such project.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("api_token" = [])),
)]
async fn get_project(c: &Ctx, id: &str) -> Result<Response, ApiError> {
    let id = parse_id(id, "project")?;
    c.check_project(id).await?;
    let project = c.app.records.get_project(id).await?;
    reply(StatusCode::OK, &views::project(&project))
}

/// `?status=open|answered`, if given.
pub(super) fn status_filter(q: &Query) -> Result<Option<ClarificationStatus>, ApiError> {
    match q.get("status").map(String::as_str) {
        None | Some("") => Ok(None),
        Some("open") => Ok(Some(ClarificationStatus::Open)),
        Some("answered") => Ok(Some(ClarificationStatus::Answered)),
        Some(other) => Err(ApiError::bad_request(format!(
            "`status` must be `open` or `answered`, not `{other}`"
        ))),
    }
}

/// The scope's clarifications, by key, filtered by status.
pub(super) async fn list_clarifications(
    c: &Ctx,
    scope: ClarificationScope,
    q: &Query,
) -> Result<Response, ApiError> {
    let status = status_filter(q)?;
    let mut items = c.app.records.list_clarifications(scope).await?;
    if let Some(status) = status {
        items.retain(|cl| cl.status == status);
    }
    reply(StatusCode::OK, &views::list(&items, views::clarification))
}

/// Records an answer; the answered clarification.
pub(super) async fn answer(
    c: &Ctx,
    scope: ClarificationScope,
    key: &str,
    body: Result<Bytes, ApiError>,
) -> Result<crate::Clarification, ApiError> {
    let req: AnswerClarification = json_body(body, "answer")?;
    let answered = c
        .app
        .records
        .answer_clarification(scope, key, req.answer, req.answered_by)
        .await?;
    tracing::info!(?scope, key, request_id = %c.request_id, "clarification answered");
    Ok(answered)
}

/// The project's clarifications (onboarding questions), by key.
#[utoipa::path(
    get,
    path = "/projects/{id}/clarifications",
    tag = "pipelines",
    params(
        ("id" = u64, Path, description = "Project id."),
        ("status" = Option<String>, Query, description = "`open` or `answered`."),
    ),
    responses(
        (status = 200, description = "The clarifications.", body = [ClarificationView]),
        (status = 400, description = "Bad id or status.", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer or project token.", body = ErrorBody),
        (status = 404, description = "No such project.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("api_token" = [])),
)]
async fn project_clarifications(c: &Ctx, id: &str, q: Query) -> Result<Response, ApiError> {
    let id = parse_id(id, "project")?;
    c.check_project(id).await?;
    list_clarifications(c, ClarificationScope::Project(id), &q).await
}

/// Answers a project clarification.
#[utoipa::path(
    post,
    path = "/projects/{id}/clarifications/{key}",
    tag = "pipelines",
    params(
        ("id" = u64, Path, description = "Project id."),
        ("key" = String, Path, description = "Clarification key."),
    ),
    request_body = AnswerClarification,
    responses(
        (status = 200, description = "The answered clarification.", body = ClarificationView),
        (status = 400, description = "Bad id or body.", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer or project token.", body = ErrorBody),
        (status = 404, description = "No such project or key.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("api_token" = [])),
)]
async fn answer_project_clarification(
    c: &Ctx,
    id: &str,
    key: &str,
    body: Result<Bytes, ApiError>,
) -> Result<Response, ApiError> {
    let id = parse_id(id, "project")?;
    c.check_project(id).await?;
    let answered = answer(c, ClarificationScope::Project(id), key, body).await?;
    reply(StatusCode::OK, &views::clarification(&answered))
}
