//! HTTP routes of the worker-pull face (seed 002): `/_public`, `/api/v1`, `/_worker`;
//! and the coding-pipelines API of seed 001 ([`pipelines`]: `/projects`, `/protocols`,
//! `/steps`, `/events`, `/health`, `/codex/runs`, `/queues`, `/metrics`, `/webhooks`).
//!
//! One module per group; handlers return `Result<Response, ApiError>` and [`respond`]
//! turns errors into the JSON error shape (handler futures are boxed: the route future of
//! every connection is as large as its largest branch, and ten thousand held long-polls
//! should not each carry the state of a job creation), so routing rejections are the only thing the
//! [`recover`] handler maps. Every response carries `X-RXON-Version`; every request is
//! counted by route template and status.
//!
//! [`ROUTES`] lists every route served: metrics label requests with its templates, and
//! the tests require each to be in the OpenAPI document ([`openapi`]), so a new route is
//! added to the filters, to [`ROUTES`], and documented with `#[utoipa::path]` on its
//! handler listed in [`openapi::ApiDoc`].

pub mod approval;
pub mod batch;
pub mod blueprints;
pub mod client;
pub mod error;
pub mod openapi;
pub mod ops;
pub mod public;
pub mod registration;
pub mod schemas;
pub mod worker;
pub mod ws;

use crate::auth::Auth;
use crate::config::Config;
use crate::dispatch::Dispatcher;
use crate::engine::Engine;
use crate::metrics::Metrics;
pub use baton_http::{
    body, from_value, json_response, ok_json, parse_json, raw_json_response, respond,
};
use baton_http::{serve_faces, CatchAll, Face, Faces};
use std::convert::Infallible;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use warp::reply::Response;
use warp::Filter;

/// Everything a handler may need.
pub struct App {
    pub engine: Arc<Engine>,
    pub auth: Arc<Auth>,
    pub dispatcher: Arc<Dispatcher>,
    pub hub: Arc<ws::Hub>,
    pub cfg: Arc<Config>,
    pub metrics: Arc<Metrics>,
    /// The coding-pipelines face (its records, configuration and metrics).
    pub pipelines: Arc<baton_pipelines::PipelinesFace>,
    pub shutdown: CancellationToken,
    /// `GET /_public/openapi.json`, built once.
    pub openapi: openapi::SpecCache,
    /// Whether the store has answered since the start ([`readiness`]).
    pub readiness: Arc<baton_engine::readiness::Readiness>,
}

pub type AppRef = Arc<App>;

pub fn with_app(app: AppRef) -> impl Filter<Extract = (AppRef,), Error = Infallible> + Clone {
    warp::any().map(move || app.clone())
}

/// All routes of both faces, wrapped with what is cross-cutting
/// ([`baton_http::serve_faces`]: readiness gate, rejections, protocol header, metrics).
pub fn routes(app: AppRef) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone {
    let faces = Arc::new(Faces::new(vec![
        Arc::new(RuntimeFace),
        app.pipelines.clone(),
    ]));
    let gate = baton_http::Gate {
        readiness: app.readiness.clone(),
        store_kind: app.engine.store.kind(),
    };
    let routes = public::routes(app.clone())
        .or(approval::routes(app.clone()))
        .unify()
        .or(ops::routes(app.clone()))
        .unify()
        .or(client::routes(app.clone()))
        .unify()
        .or(worker::routes(app.clone()))
        .unify()
        .or(baton_pipelines::routes(app.pipelines.clone()))
        .unify();
    serve_faces(routes, faces, app.metrics.http.clone(), gate)
}

/// The worker-pull runtime: `/_public`, `/api/v1`, `/_worker`.
pub struct RuntimeFace;

impl Face for RuntimeFace {
    fn name(&self) -> &'static str {
        "runtime"
    }
    fn routes(&self) -> &'static [(&'static str, &'static str)] {
        ROUTES
    }
    fn catch_all(&self) -> Option<CatchAll> {
        Some(CatchAll {
            method: "POST",
            first_segment: "api",
            template: CREATE_JOB_ROUTE,
        })
    }
    fn always_served(&self) -> &'static [&'static str] {
        &[
            "/_public/status",
            "/_public/metrics",
            "/_public/openapi.json",
            "/_public/docs",
        ]
    }
    fn openapi(&self) -> utoipa::openapi::OpenApi {
        <openapi::ApiDoc as utoipa::OpenApi>::openapi()
    }
}

/// The blueprint creation route: any POST under `/api` that no other route takes (the
/// endpoint may span several segments).
pub const CREATE_JOB_ROUTE: &str = "/api/{version}/{endpoint}";

/// Every route of the runtime face, as `(method, path template)`. A template segment
/// `{...}` stands for one path segment, except in [`CREATE_JOB_ROUTE`]. Each must be
/// documented in the OpenAPI document (tested).
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/_public/status"),
    ("GET", "/_public/metrics"),
    ("GET", "/_public/openapi.json"),
    ("GET", "/_public/docs"),
    ("POST", "/_public/webhooks/approval/{job_id}"),
    ("GET", "/_public/jobs/quarantined"),
    ("POST", "/_public/debug/flush_db"),
    ("POST", CREATE_JOB_ROUTE),
    ("GET", "/api/v1/jobs/{id}"),
    ("POST", "/api/v1/jobs/{id}/cancel"),
    ("GET", "/api/v1/jobs/{id}/history"),
    ("GET", "/api/v1/workers"),
    ("GET", "/api/v1/dashboard"),
    ("GET", "/api/v1/blueprints"),
    ("GET", "/api/v1/blueprints/{name}"),
    ("GET", "/api/v1/blueprints/{name}/graph"),
    ("POST", "/_worker/workers/register"),
    ("PATCH", "/_worker/workers/{id}"),
    ("GET", "/_worker/workers/{id}/tasks/next"),
    ("GET", "/_worker/workers/{id}/tasks/batch"),
    ("POST", "/_worker/tasks/result"),
    ("POST", "/_worker/tasks/results"),
    ("POST", "/_worker/events"),
    ("GET", "/_worker/ws/{id}"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use warp::http::StatusCode;

    /// A request path for a template: every parameter `x`.
    pub(crate) fn sample_path(template: &str) -> String {
        if template == CREATE_JOB_ROUTE {
            return "/api/v1/jobs/x".into();
        }
        baton_http::routes::sample_path(template)
    }

    /// Every route of every face, as the server serves them.
    pub(crate) fn all_routes() -> Vec<(&'static str, &'static str)> {
        ROUTES
            .iter()
            .chain(baton_pipelines::ROUTES)
            .copied()
            .collect()
    }

    fn app() -> AppRef {
        let cfg = Config::default();
        let stores = crate::Stores::memory(cfg.history_limit);
        crate::build(cfg, stores, crate::blueprint::Registry::default()).expect("app builds")
    }

    #[test]
    fn every_route_is_its_own_label() {
        let faces = Faces::new(vec![Arc::new(RuntimeFace), app().pipelines.clone()]);
        for (method, template) in all_routes() {
            let path = sample_path(template);
            assert_eq!(
                faces.label(method, &path).template,
                template,
                "{method} {path}"
            );
        }
        assert_eq!(
            faces.label("POST", "/api/v1/jobs/echo").template,
            CREATE_JOB_ROUTE
        );
        assert_eq!(faces.label("GET", "/v1/workflows").template, "other");
    }

    /// Catches a route listed that no filter serves (the reverse, a filter missing
    /// from the list, shows as its requests labelled `other` and its route undocumented).
    #[tokio::test]
    async fn every_listed_route_is_served() {
        let cfg = Config {
            client_token: Some("c".into()),
            worker_token: Some("w".into()),
            // Debug routes exist only when enabled.
            enable_debug_endpoints: true,
            ..Config::default()
        };
        let store = crate::Stores::memory(cfg.history_limit);
        let app =
            crate::build(cfg, store, crate::blueprint::Registry::default()).expect("app builds");
        app.readiness.mark_ready();
        let filter = routes(app);
        for (method, template) in all_routes() {
            let path = sample_path(template);
            let resp = warp::test::request()
                .method(method)
                .path(&path)
                .reply(&filter)
                .await;
            let body = String::from_utf8_lossy(resp.body());
            assert!(
                !body.contains("no such route") && resp.status() != StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} is not served: {} {body}",
                resp.status()
            );
        }
    }
}
