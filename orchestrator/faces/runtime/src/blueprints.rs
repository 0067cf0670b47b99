//! `/api/v1/blueprints`: the loaded blueprints, for clients (`X-Client-Token`).
//!
//! Read-only views of the registry: the list, one definition, and a Graphviz rendering of
//! the state machine. Kept apart from the job routes of [`super::client`] because they
//! read only the registry, never the store.

use super::client::{client, token, Token};
use super::error::ApiError;
use super::schemas::{BlueprintDetail, BlueprintSummary, ErrorBody};
use super::{ok_json, respond, with_app, AppRef};
use baton_blueprint::{Blueprint, Branches, StateKind};
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
    let graph = warp::path!("api" / "v1" / "blueprints" / String / "graph")
        .and(warp::get())
        .and(token())
        .and(with_app(app))
        .then(|name: String, t: Token, app: AppRef| async move { respond(graph(&app, &t, &name)) });
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

/// A blueprint as a Graphviz digraph (DOT).
#[utoipa::path(
    get,
    path = "/api/v1/blueprints/{name}/graph",
    tag = "blueprints",
    operation_id = "blueprint_graph",
    params(("name" = String, Path, description = "Blueprint name.")),
    responses(
        (status = 200, description = "DOT source.", body = String, content_type = "text/vnd.graphviz"),
        (status = 401, description = "Missing or unknown client token.", body = ErrorBody),
        (status = 404, description = "No blueprint of that name.", body = ErrorBody),
    ),
    security(("client_token" = [])),
)]
fn graph(app: &AppRef, t: &Token, name: &str) -> Result<Response, ApiError> {
    client(app, t)?;
    let bp = find_blueprint(app, name)?;
    let mut resp = Response::new(to_dot(bp).into());
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/vnd.graphviz"),
    );
    Ok(resp)
}

/// The blueprint as a Graphviz digraph: the start state bold, end states double circles,
/// edges labelled with the outcome that takes them.
pub fn to_dot(bp: &Blueprint) -> String {
    // Names are identifiers (checked at load), so only the `\n` line breaks we add are
    // escapes; quotes are escaped for safety.
    let q = |s: &str| format!("\"{}\"", s.replace('"', "\\\""));
    let mut out = format!("digraph {} {{\n  rankdir=LR;\n", q(&bp.name));
    for (name, state) in &bp.states {
        let shape = match &state.kind {
            StateKind::Dispatch(d) => format!(
                "shape=box, label={}",
                q(&format!("{name}\\ntask: {}", d.task))
            ),
            StateKind::End(e) => format!(
                "shape=doublecircle, label={}",
                q(&format!("{name}\\n({})", e.status.as_str()))
            ),
            StateKind::Approval(_) => {
                format!("shape=house, label={}", q(&format!("{name}\\n(approval)")))
            }
            StateKind::Branch(_) => format!("shape=diamond, label={}", q(name)),
            StateKind::Parallel(p) => {
                let what = match &p.branches {
                    Branches::Fixed(list) => format!("{} tasks", list.len()),
                    Branches::Map { items, task } => format!("{} per item of {items}", task.task),
                };
                format!(
                    "shape=box3d, label={}",
                    q(&format!("{name}\\nparallel: {what}"))
                )
            }
            StateKind::SubJob(s) => format!(
                "shape=component, label={}",
                q(&format!("{name}\\nsub-job: {}", s.blueprint))
            ),
        };
        let bold = if *name == bp.start {
            ", style=bold"
        } else {
            ""
        };
        out.push_str(&format!("  {} [{shape}{bold}];\n", q(name)));
    }
    for (name, state) in &bp.states {
        for (outcome, target) in &state.transitions {
            out.push_str(&format!(
                "  {} -> {} [label={}];\n",
                q(name),
                q(target),
                q(outcome)
            ));
        }
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_graph_has_every_state_and_edge() {
        let bp = baton_blueprint::load_str(
            "x.yaml",
            "name: g\nendpoint: /jobs/g\nstates:\n  a:\n    type: dispatch\n    start: true\n    task: t\n    transitions: {success: done}\n  done:\n    type: end\n    status: finished\n",
        )
        .unwrap();
        let dot = to_dot(&bp);
        assert!(dot.starts_with("digraph \"g\" {"), "{dot}");
        assert!(
            dot.contains("\"a\" -> \"done\" [label=\"success\"]"),
            "{dot}"
        );
        assert!(dot.contains("style=bold"), "{dot}");
        assert!(
            dot.contains("label=\"a\\ntask: t\""),
            "one line break escape in labels: {dot}"
        );
    }
}
