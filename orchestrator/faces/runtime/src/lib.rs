//! The worker-pull runtime face: `/_public` (status, metrics, documents, the approval
//! webhook, operations), `/api/v1` (clients create and follow jobs, list workers and
//! blueprints) and `/_worker` (the RXON worker protocol: registration, heartbeats, task
//! long-polls, results, events, the command WebSocket).
//!
//! The face reads and changes jobs and workers through the engine ([`baton_engine`]) and
//! its dispatcher; it renders the views clients see ([`job_view`]); it checks client and
//! worker tokens and signed bodies ([`auth`]).
//!
//! One module per group; handlers return `Result<Response, ApiError>` and
//! [`baton_http::respond`] turns errors into the JSON error shape (handler futures are
//! boxed: the route future of every connection is as large as its largest branch, and ten
//! thousand held long-polls should not each carry the state of a job creation). Routing
//! rejections, the protocol header and the request metrics are the server's, once for
//! every face ([`baton_http::serve_faces`]).
//!
//! [`ROUTES`] lists every route served: metrics label requests with its templates, and
//! the server's tests require each to be in the OpenAPI document ([`openapi`]), so a new
//! route is added to the filters, to [`ROUTES`], and documented with `#[utoipa::path]`
//! on its handler listed in [`openapi::ApiDoc`].

pub mod approval;
pub mod auth;
pub mod batch;
pub mod blueprints;
pub mod bulk;
pub mod client;
pub mod control;
pub mod error;
pub mod graph;
pub mod job_view;
pub mod listing;
pub mod openapi;
pub mod ops;
pub mod public;
pub mod registration;
pub mod schemas;
pub mod skills;
pub mod stream;
pub mod worker;
pub mod ws;

use crate::auth::Auth;
use baton_engine::dispatch::Dispatcher;
use baton_engine::Engine;
pub use baton_http::{
    body, from_value, json_response, ok_json, parse_json, raw_json_response, respond,
};
use baton_http::{CatchAll, Face};
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use warp::reply::Response;
use warp::{Filter, Rejection};

/// The face's part of the configuration (the names are the `BATON_*` variables').
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// `BATON_CLIENT_TOKEN`: a client token (client name `default`).
    pub client_token: Option<String>,
    /// `BATON_CLIENTS_FILE`: YAML/JSON list of `{name, token}`.
    pub clients_file: Option<PathBuf>,
    /// `BATON_ADMIN_TOKEN`: an operator's token, which sees and acts on every client's
    /// jobs (the dashboard and the CLI use it).
    pub admin_token: Option<String>,
    /// `BATON_WORKER_TOKEN`: the global worker token.
    pub worker_token: Option<String>,
    /// `BATON_WORKER_TOKENS_FILE`: YAML/JSON map `worker_id: token`.
    pub worker_tokens_file: Option<PathBuf>,
    /// `BATON_SIGNATURE_MAX_SKEW_SECONDS`: accepted clock skew of signed bodies.
    pub signature_max_skew: Duration,
    /// `BATON_REQUIRE_SIGNATURES`: reject unsigned worker bodies.
    pub require_signatures: bool,
    /// `BATON_POLL_HOLD_SECONDS`: how long `tasks/next` holds an idle poll.
    pub poll_hold: Duration,
    /// `BATON_HEARTBEAT_TIMEOUT_SECONDS`: silence after which a worker is not listed.
    pub heartbeat_timeout: Duration,
    /// `BATON_HISTORY_LIMIT`: events kept per job.
    pub history_limit: usize,
    /// `BATON_MAX_BODY_BYTES`: larger request bodies get 413.
    pub max_body_bytes: usize,
    /// `BATON_MAX_BATCH_JOBS`: most jobs one `POST .../batch` creates.
    pub max_batch_jobs: usize,
    /// `BATON_ENABLE_DEBUG_ENDPOINTS`: serve `/_public/debug/*`; off, they do not exist.
    pub enable_debug_endpoints: bool,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            client_token: None,
            clients_file: None,
            admin_token: None,
            worker_token: None,
            worker_tokens_file: None,
            signature_max_skew: Duration::from_secs(60),
            require_signatures: false,
            poll_hold: Duration::from_secs(25),
            heartbeat_timeout: Duration::from_secs(45),
            history_limit: 200,
            max_body_bytes: 4 * 1024 * 1024,
            max_batch_jobs: 1_000,
            enable_debug_endpoints: false,
        }
    }
}

/// Everything a handler may need.
pub struct App {
    pub engine: Arc<Engine>,
    pub auth: Arc<Auth>,
    pub dispatcher: Arc<Dispatcher>,
    pub hub: Arc<ws::Hub>,
    pub cfg: Arc<RuntimeConfig>,
    /// The registry `/_public/metrics` renders (every face's metrics).
    pub registry: prometheus::Registry,
    pub shutdown: CancellationToken,
    /// `GET /_public/openapi.json`, built once.
    pub openapi: openapi::SpecCache,
    /// Whether the store has answered since the start ([`baton_engine::readiness`]).
    pub readiness: Arc<baton_engine::readiness::Readiness>,
    /// The skills registered workers have, read now and then ([`skills`]).
    pub skills: skills::Skills,
}

pub type AppRef = Arc<App>;

pub fn with_app(app: AppRef) -> impl Filter<Extract = (AppRef,), Error = Infallible> + Clone {
    warp::any().map(move || app.clone())
}

/// The face's routes (rejecting what is not theirs, for the next face to try).
pub fn routes(app: AppRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    public::routes(app.clone())
        .or(approval::routes(app.clone()))
        .unify()
        .or(ops::routes(app.clone()))
        .unify()
        .or(control::routes(app.clone()))
        .unify()
        .or(listing::routes(app.clone()))
        .unify()
        .or(stream::routes(app.clone()))
        .unify()
        .or(client::routes(app.clone()))
        .unify()
        .or(worker::routes(app))
        .unify()
}

impl Face for App {
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
            by_last_segment: &[("batch", CREATE_JOBS_ROUTE)],
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
    /// The docs page's files need no store.
    fn gates_itself(&self, path: &str) -> bool {
        path.starts_with("/_public/docs/assets/")
    }
    fn openapi(&self) -> utoipa::openapi::OpenApi {
        <openapi::ApiDoc as utoipa::OpenApi>::openapi()
    }
}

/// The blueprint creation route: any POST under `/api` that no other route takes (the
/// endpoint may span several segments).
pub const CREATE_JOB_ROUTE: &str = "/api/{version}/{endpoint}";

/// Many jobs of a blueprint at once (see [`bulk`]), served by the same route.
pub const CREATE_JOBS_ROUTE: &str = "/api/{version}/{endpoint}/batch";

/// Every route of the runtime face, as `(method, path template)`. A template segment
/// `{...}` stands for one path segment, except `{endpoint}` in [`CREATE_JOB_ROUTE`] and
/// [`CREATE_JOBS_ROUTE`]. Each must be
/// documented in the OpenAPI document (tested).
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/_public/status"),
    ("GET", "/_public/metrics"),
    ("GET", "/_public/openapi.json"),
    ("GET", "/_public/docs"),
    ("GET", "/_public/docs/assets/{name}"),
    ("POST", "/_public/webhooks/approval/{job_id}"),
    ("GET", "/_public/jobs/quarantined"),
    ("POST", "/_public/debug/flush_db"),
    ("POST", CREATE_JOB_ROUTE),
    ("POST", CREATE_JOBS_ROUTE),
    ("GET", "/api/v1/jobs"),
    ("GET", "/api/v1/stats/timeline"),
    ("GET", "/api/v1/stream"),
    ("GET", "/api/v1/jobs/{id}"),
    ("POST", "/api/v1/jobs/{id}/cancel"),
    ("POST", "/api/v1/jobs/{id}/pause"),
    ("POST", "/api/v1/jobs/{id}/resume"),
    ("POST", "/api/v1/jobs/{id}/retry"),
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
