//! Events (a run's, or recent ones across projects) and `GET /health`.
//!
//! Events are listed newest first, `limit` clamped to 1..=500 (default 50). The
//! cross-project listing fills `protocol_name`, `project_id` and `project_name`, and
//! leaves out the events of projects whose `X-Project-Token` the request does not hold
//! (asking for one such project with `project_id` is 401 instead).

use super::protocols::load_run;
use super::schemas::{EventView, Health};
use super::{ctx, parse_id, reply, serve, serve_public, views, Ctx};
use crate::AppRef;
use crate::{store::clamp_limit, Id};
use baton_http::ApiError;
use baton_http::ErrorBody;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

type Query = HashMap<String, String>;

const DEFAULT_LIMIT: usize = 50;

pub fn routes(app: AppRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let run_events = warp::path!("protocols" / String / "events")
        .and(warp::get())
        .and(ctx(app.clone()))
        .and(warp::query::<Query>())
        .then(|id: String, c: Ctx, q: Query| async move {
            serve(&c, protocol_events(&c, &id, q)).await
        });
    let recent = warp::path!("events")
        .and(warp::get())
        .and(ctx(app.clone()))
        .and(warp::query::<Query>())
        .then(|c: Ctx, q: Query| async move { serve(&c, recent_events(&c, q)).await });
    let health = warp::path!("health")
        .and(warp::get())
        .and(ctx(app))
        .then(|c: Ctx| async move { serve_public(&c, health(&c)).await });
    run_events.or(recent).unify().or(health).unify()
}

/// `?limit=`, clamped; 400 if not a number.
fn limit(q: &Query) -> Result<usize, ApiError> {
    match q.get("limit").map(String::as_str) {
        None | Some("") => Ok(DEFAULT_LIMIT),
        Some(raw) => raw
            .parse::<i64>()
            .map(|n| clamp_limit(n.clamp(0, i64::from(u32::MAX)) as usize))
            .map_err(|_| ApiError::bad_request(format!("`limit` must be an integer, not `{raw}`"))),
    }
}

/// A run's events, newest first.
#[utoipa::path(
    get,
    path = "/protocols/{id}/events",
    tag = "pipelines",
    params(
        ("id" = u64, Path, description = "Protocol run id."),
        ("limit" = Option<u32>, Query, description = "At most this many (1..=500, default 50)."),
    ),
    responses(
        (status = 200, description = "The events, newest first.", body = [EventView]),
        (status = 400, description = "Bad id or limit.", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer or project token.", body = ErrorBody),
        (status = 404, description = "No such run.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("api_token" = [])),
)]
async fn protocol_events(c: &Ctx, id: &str, q: Query) -> Result<Response, ApiError> {
    let limit = limit(&q)?;
    let run = load_run(c, id).await?;
    let events = c.app.records.list_events(run.id, limit).await?;
    reply(
        StatusCode::OK,
        &views::list(&events, |e| views::event(e, None)),
    )
}

/// Recent events of every project (or of `project_id`), newest first, with the names of
/// their run and project.
#[utoipa::path(
    get,
    path = "/events",
    tag = "pipelines",
    params(
        ("project_id" = Option<u64>, Query, description = "Only this project's events."),
        ("limit" = Option<u32>, Query, description = "At most this many (1..=500, default 50)."),
    ),
    responses(
        (status = 200, description = "The events, newest first.", body = [EventView]),
        (status = 400, description = "Bad project_id or limit.", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token, or project token of `project_id`.", body = ErrorBody),
        (status = 404, description = "No such project.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("api_token" = [])),
)]
async fn recent_events(c: &Ctx, q: Query) -> Result<Response, ApiError> {
    let limit = limit(&q)?;
    let project_id = match q.get("project_id").map(String::as_str) {
        None | Some("") => None,
        Some(raw) => Some(parse_id(raw, "project")?),
    };
    if let Some(id) = project_id {
        c.check_project(id).await?;
    }
    let records = &c.app.records;
    let events = records.recent_events(project_id, limit).await?;
    // Names and visibility once per run and project, not per event.
    let mut visible: HashMap<Id, Option<String>> = HashMap::new();
    let mut run_names: HashMap<Id, String> = HashMap::new();
    let mut out = Vec::with_capacity(events.len());
    for e in &events {
        if let Entry::Vacant(slot) = visible.entry(e.project_id) {
            let name = if c.may_see(e.project_id).await? {
                Some(records.get_project(e.project_id).await?.name)
            } else {
                None
            };
            slot.insert(name);
        }
        let Some(Some(project_name)) = visible.get(&e.project_id) else {
            continue;
        };
        if let Entry::Vacant(slot) = run_names.entry(e.protocol_run_id) {
            let run = records.get_protocol_run(e.protocol_run_id).await?;
            slot.insert(run.protocol_name);
        }
        let protocol_name = run_names
            .get(&e.protocol_run_id)
            .map(String::as_str)
            .unwrap_or_default();
        out.push(views::event(e, Some((protocol_name, project_name))));
    }
    reply(StatusCode::OK, &out)
}

/// `ok`, or `degraded` when the store does not answer a ping. No token needed.
#[utoipa::path(
    get,
    path = "/health",
    tag = "pipelines",
    responses(
        (status = 200, description = "`ok` or `degraded`.", body = Health),
    ),
)]
async fn health(c: &Ctx) -> Result<Response, ApiError> {
    let status = match c.app.engine.store.ping().await {
        Ok(()) => "ok",
        Err(e) => {
            tracing::warn!(error = %e, "health: store ping failed");
            "degraded"
        }
    };
    reply(
        StatusCode::OK,
        &Health {
            status: status.into(),
            timestamp: baton_protocol::clock::rfc3339(baton_protocol::clock::now_ms()),
        },
    )
}
