//! `/api/v1/blueprints`: the loaded blueprints, for clients (`X-Client-Token`).
//!
//! Read-only views of the registry: the list, one definition, and a Graphviz rendering of
//! the state machine. Kept apart from the job routes of [`super::client`] because they
//! read only the registry, never the store.

use super::client::{client, token, Token};
use super::error::ApiError;
use super::graph::{to_dot, Graph};
use super::schemas::{BlueprintDetail, BlueprintSummary, ErrorBody};
use super::{ok_json, respond, with_app, AppRef};
use baton_blueprint::Blueprint;
use std::sync::Arc;
use warp::http::{header, HeaderValue};
use warp::reply::Response;
use warp::{Filter, Rejection};

pub fn routes(app: AppRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let blueprints = warp::path!("api" / "v1" / "blueprints")
        .and(warp::get())
        .and(token())
        .and(with_app(app.clone()))
        .then(|t: Token, app: AppRef| async move { respond(list_blueprints(&app, &t)) });
    let blueprint = warp::path!("api" / "v1" / "blueprints" / String)
        .and(warp::get())
        .and(token())
        .and(with_app(app.clone()))
        .then(|name: String, t: Token, app: AppRef| async move {
            respond(get_blueprint(&app, &t, &name))
        });
    let graph =
        warp::path!("api" / "v1" / "blueprints" / String / "graph")
            .and(warp::get())
            .and(token())
            .and(warp::query::<std::collections::HashMap<String, String>>())
            .and(with_app(app))
            .then(
                |name: String,
                 t: Token,
                 q: std::collections::HashMap<String, String>,
                 app: AppRef| async move {
                    respond(graph(&app, &t, &name, q.get("format").map(String::as_str)).await)
                },
            );
    blueprints.or(blueprint).unify().or(graph).unify()
}

fn blueprint_summary(bp: &Blueprint) -> BlueprintSummary {
    let mut skills: Vec<String> = bp.skills().map(str::to_string).collect();
    skills.sort_unstable();
    skills.dedup();
    BlueprintSummary {
        name: bp.name.clone(),
        version: bp.version.clone(),
        endpoint: format!("/api/{}{}", bp.version, bp.endpoint),
        description: bp.description.clone(),
        start: bp.start.clone(),
        states: bp.states.keys().cloned().collect(),
        skills,
    }
}

/// The loaded blueprints, by name.
#[utoipa::path(
    get,
    path = "/api/v1/blueprints",
    tag = "blueprints",
    responses(
        (status = 200, description = "Every loaded blueprint.", body = [BlueprintSummary]),
        (status = 401, description = "Missing or unknown client token.", body = ErrorBody),
    ),
    security(("client_token" = [])),
)]
fn list_blueprints(app: &AppRef, t: &Token) -> Result<Response, ApiError> {
    client(app, t)?;
    let mut list: Vec<BlueprintSummary> = app
        .engine
        .blueprints
        .all()
        .map(|bp| blueprint_summary(bp))
        .collect();
    list.sort_by(|a, b| a.name.cmp(&b.name));
    ok_json(&list)
}

fn find_blueprint<'a>(app: &'a AppRef, name: &str) -> Result<&'a Blueprint, ApiError> {
    app.engine
        .blueprints
        .get(name)
        .map(|b| b.as_ref())
        .ok_or_else(|| ApiError::not_found(format!("no blueprint named `{name}`")))
}

/// One blueprint with its definition.
#[utoipa::path(
    get,
    path = "/api/v1/blueprints/{name}",
    tag = "blueprints",
    params(("name" = String, Path, description = "Blueprint name.")),
    responses(
        (status = 200, description = "The blueprint.", body = BlueprintDetail),
        (status = 401, description = "Missing or unknown client token.", body = ErrorBody),
        (status = 404, description = "No blueprint of that name.", body = ErrorBody),
    ),
    security(("client_token" = [])),
)]
fn get_blueprint(app: &AppRef, t: &Token, name: &str) -> Result<Response, ApiError> {
    client(app, t)?;
    let bp = find_blueprint(app, name)?;
    ok_json(&BlueprintDetail {
        summary: blueprint_summary(bp),
        definition: bp.definition.clone(),
    })
}

/// A blueprint as a graph: Graphviz DOT, or JSON with `?format=json` (the dashboard
/// draws that). The start state is marked, end states carry their status, and each edge
/// the outcome that takes it (a branch's edges their condition). Blueprints compiled
/// from workflows (`wf-...`) are served too.
#[utoipa::path(
    get,
    path = "/api/v1/blueprints/{name}/graph",
    tag = "blueprints",
    operation_id = "blueprint_graph",
    params(
        ("name" = String, Path, description = "Blueprint name."),
        ("format" = Option<String>, Query, description = "`dot` (default) or `json`."),
    ),
    responses(
        (status = 200, description = "DOT source, or with `format=json` the graph as JSON.", content(
            (String = "text/vnd.graphviz"),
            (Graph = "application/json"),
        )),
        (status = 400, description = "A `format` other than `dot` or `json`.", body = ErrorBody),
        (status = 401, description = "Missing or unknown client token.", body = ErrorBody),
        (status = 404, description = "No blueprint of that name.", body = ErrorBody),
    ),
    security(("client_token" = [])),
)]
async fn graph(
    app: &AppRef,
    t: &Token,
    name: &str,
    format: Option<&str>,
) -> Result<Response, ApiError> {
    client(app, t)?;
    let bp: Arc<Blueprint> = app
        .engine
        .blueprint(name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no blueprint named `{name}`")))?;
    match format {
        None | Some("dot") => {
            let mut resp = Response::new(to_dot(&bp).into());
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/vnd.graphviz"),
            );
            Ok(resp)
        }
        Some("json") => ok_json(&Graph::of(&bp)),
        Some(other) => Err(ApiError::bad_request(format!(
            "`format` is `dot` or `json`, not `{other}`"
        ))),
    }
}
