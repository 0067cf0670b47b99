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
pub mod pipelines;
pub mod public;
pub mod readiness;
pub mod registration;
pub mod schemas;
pub mod worker;
pub mod ws;

use crate::auth::Auth;
use crate::config::Config;
use crate::dispatch::Dispatcher;
use crate::engine::Engine;
use crate::metrics::Metrics;
use crate::pipelines::RecordStore;
use bytes::{Buf, Bytes, BytesMut};
use error::ApiError;
use futures_util::{Stream, StreamExt};
use serde_json::Value;
use std::convert::Infallible;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection};

/// Everything a handler may need.
pub struct App {
    pub engine: Arc<Engine>,
    pub auth: Arc<Auth>,
    pub dispatcher: Arc<Dispatcher>,
    pub hub: Arc<ws::Hub>,
    pub cfg: Arc<Config>,
    pub metrics: Arc<Metrics>,
    /// The coding pipelines' records (projects, runs, steps, events, clarifications).
    pub records: Arc<dyn RecordStore>,
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

/// All routes, with error recovery, the protocol header and request metrics.
pub fn routes(app: AppRef) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone {
    let metrics = app.metrics.clone();
    let log = warp::log::custom(move |info: warp::log::Info<'_>| {
        let route = route_label(info.method().as_str(), info.path());
        let status = info.status().as_u16().to_string();
        metrics
            .http_requests
            .with_label_values(&[route, info.method().as_str(), &status])
            .inc();
        metrics
            .http_duration
            .with_label_values(&[route])
            .observe(info.elapsed().as_secs_f64());
        // Seed 001's request metrics, for its face only: the worker and client routes
        // (the hot path) are not counted twice.
        if pipelines::counts_requests(route) {
            let labels = [route, info.method().as_str(), status.as_str()];
            let m = &metrics.pipelines;
            m.requests.with_label_values(&labels).inc();
            m.requests_duration
                .with_label_values(&labels)
                .observe(info.elapsed().as_secs_f64());
        }
    });
    readiness::gate(app.clone())
        .or(public::routes(app.clone()))
        .unify()
        .or(approval::routes(app.clone()))
        .unify()
        .or(ops::routes(app.clone()))
        .unify()
        .or(client::routes(app.clone()))
        .unify()
        .or(worker::routes(app.clone()))
        .unify()
        .or(pipelines::routes(app))
        .unify()
        .recover(recover)
        .unify()
        .map(|mut resp: Response| {
            resp.headers_mut().insert(
                baton_protocol::HEADER_PROTOCOL_VERSION,
                HeaderValue::from_static(baton_protocol::PROTOCOL_VERSION),
            );
            resp
        })
        .with(log)
        .map(warp::Reply::into_response)
}

/// Maps a handler result to a response.
pub fn respond(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(ApiError::into_response)
}

pub fn json_response(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    raw_json_response(status, bytes)
}

pub fn raw_json_response(status: StatusCode, body: impl Into<Bytes>) -> Response {
    let mut resp = Response::new(body.into().into());
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

pub fn ok_json(body: &Value) -> Result<Response, ApiError> {
    Ok(json_response(StatusCode::OK, body))
}

/// The request body, refused with 413 past `limit` bytes (announced or actual).
pub fn body(
    limit: usize,
) -> impl Filter<Extract = (Result<Bytes, ApiError>,), Error = Rejection> + Clone {
    warp::header::optional::<u64>("content-length")
        .and(warp::body::stream())
        .then(move |announced: Option<u64>, stream| async move {
            if announced.is_some_and(|n| n > limit as u64) {
                return Err(ApiError::too_large(limit));
            }
            collect_limited(stream, limit).await
        })
}

async fn collect_limited<S, B>(stream: S, limit: usize) -> Result<Bytes, ApiError>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let mut stream = std::pin::pin!(stream);
    let mut buf = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let mut chunk =
            chunk.map_err(|e| ApiError::bad_request(format!("cannot read body: {e}")))?;
        if buf.len() + chunk.remaining() > limit {
            return Err(ApiError::too_large(limit));
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            buf.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
    }
    Ok(buf.freeze())
}

/// Parses a JSON body with a message that says what is wrong.
pub fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("malformed JSON body: {e}")))
}

/// Deserializes a JSON value into a wire type, naming the offending field.
pub fn from_value<T: serde::de::DeserializeOwned>(
    value: &Value,
    what: &str,
) -> Result<T, ApiError> {
    T::deserialize(value).map_err(|e| ApiError::bad_request(format!("invalid {what}: {e}")))
}

async fn recover(rejection: Rejection) -> Result<Response, Infallible> {
    let err = if rejection.is_not_found() {
        ApiError::not_found("no such route")
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "method not allowed on this route",
        )
    } else if let Some(e) = rejection.find::<warp::reject::InvalidQuery>() {
        ApiError::bad_request(format!("invalid query string: {e}"))
    } else if let Some(e) = rejection.find::<warp::reject::InvalidHeader>() {
        ApiError::bad_request(e.to_string())
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "request body too large",
        )
    } else {
        tracing::debug!(?rejection, "unhandled rejection");
        ApiError::bad_request(format!("{rejection:?}"))
    };
    Ok(err.into_response())
}

/// The blueprint creation route: any POST under `/api` that no other route takes (the
/// endpoint may span several segments).
pub const CREATE_JOB_ROUTE: &str = "/api/{version}/{endpoint}";

/// Every route served, as `(method, path template)`. A template segment `{...}` stands
/// for one path segment, except in [`CREATE_JOB_ROUTE`]. Each must be documented in the
/// OpenAPI document (tested).
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
    // The coding-pipelines API of seed 001 (`pipelines`).
    ("POST", "/projects"),
    ("GET", "/projects"),
    ("GET", "/projects/{id}"),
    ("GET", "/projects/{id}/clarifications"),
    ("POST", "/projects/{id}/clarifications/{key}"),
    ("POST", "/projects/{id}/protocols"),
    ("GET", "/projects/{id}/protocols"),
    ("GET", "/projects/{id}/onboarding"),
    ("POST", "/projects/{id}/onboarding/actions/start"),
    ("GET", "/projects/{id}/branches"),
    ("POST", "/projects/{id}/branches/{branch}/delete"),
    ("GET", "/protocols/{id}"),
    ("GET", "/protocols/{id}/clarifications"),
    ("POST", "/protocols/{id}/clarifications/{key}"),
    ("POST", "/protocols/{id}/actions/{action}"),
    ("POST", "/protocols/{id}/steps"),
    ("GET", "/protocols/{id}/steps"),
    ("GET", "/protocols/{id}/events"),
    ("GET", "/steps/{id}"),
    ("POST", "/steps/{id}/actions/{action}"),
    ("GET", "/events"),
    ("GET", "/health"),
    ("POST", "/webhooks/github"),
    ("POST", "/webhooks/gitlab"),
    ("POST", "/projects/{id}/codemachine/import"),
    ("GET", "/codex/runs"),
    ("GET", "/codex/runs/{run_id}"),
    ("GET", "/codex/runs/{run_id}/logs"),
    ("GET", "/codex/runs/{run_id}/artifacts"),
    (
        "GET",
        "/codex/runs/{run_id}/artifacts/{artifact_id}/content",
    ),
    ("GET", "/protocols/{id}/runs"),
    ("GET", "/steps/{id}/runs"),
    ("GET", "/queues"),
    ("GET", "/queues/jobs"),
    ("GET", "/protocols/{id}/spec"),
    ("GET", "/protocols/{id}/ci/summary"),
    ("GET", "/projects/{id}/policy/findings"),
    ("GET", "/metrics"),
];

/// Route template of a request, for metrics (ids never become label values): the
/// [`ROUTES`] entry it matches, else the creation route for a POST under `/api`, else a
/// route of that shape with another method (a 405), else `/_public/other` or `other`.
pub fn route_label(method: &str, path: &str) -> &'static str {
    let path = path.trim_matches('/');
    // Split once: this runs for every request, and the table is matched segment-wise.
    let mut segs: [&str; MAX_SEGMENTS] = [""; MAX_SEGMENTS];
    let mut n = 0;
    for seg in path.split('/') {
        if n == MAX_SEGMENTS {
            n += 1;
            break;
        }
        segs[n] = seg;
        n += 1;
    }
    let mut same_shape = None;
    if n <= MAX_SEGMENTS {
        let segs = &segs[..n];
        for (m, template, want) in split_routes() {
            if want.len() == n && matches_segments(want, segs) {
                if *m == method {
                    return template;
                }
                same_shape.get_or_insert(*template);
            }
        }
    }
    let first = segs[0];
    if method == "POST" && first == "api" {
        CREATE_JOB_ROUTE
    } else if let Some(template) = same_shape {
        template
    } else if first == "_public" {
        "/_public/other"
    } else {
        "other"
    }
}

/// Longest route template, in segments (longer paths match none).
const MAX_SEGMENTS: usize = 8;

/// [`ROUTES`] without the creation route, each template split into its segments.
fn split_routes() -> &'static [(&'static str, &'static str, Vec<&'static str>)] {
    static SPLIT: std::sync::OnceLock<Vec<(&str, &str, Vec<&str>)>> = std::sync::OnceLock::new();
    SPLIT.get_or_init(|| {
        ROUTES
            .iter()
            .filter(|(_, t)| *t != CREATE_JOB_ROUTE)
            .map(|&(m, t)| (m, t, t.trim_start_matches('/').split('/').collect()))
            .collect()
    })
}

/// Whether path segments fit a template's (`{...}` matches any one segment).
fn matches_segments(want: &[&str], got: &[&str]) -> bool {
    want.iter()
        .zip(got)
        .all(|(w, g)| w == g || w.starts_with('{'))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request path for a template: every parameter `x`.
    pub(crate) fn sample_path(template: &str) -> String {
        if template == CREATE_JOB_ROUTE {
            return "/api/v1/jobs/x".into();
        }
        template
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x" } else { seg })
            .collect::<Vec<_>>()
            .join("/")
    }

    #[test]
    fn route_labels_hide_ids() {
        assert_eq!(route_label("GET", "/api/v1/jobs/123"), "/api/v1/jobs/{id}");
        assert_eq!(route_label("POST", "/api/v1/jobs/echo"), CREATE_JOB_ROUTE);
        assert_eq!(route_label("POST", "/api/v2/a/b/c/d"), CREATE_JOB_ROUTE);
        assert_eq!(
            route_label("GET", "/_worker/workers/w1/tasks/next"),
            "/_worker/workers/{id}/tasks/next"
        );
        assert_eq!(
            route_label("PATCH", "/_worker/workers/w1"),
            "/_worker/workers/{id}"
        );
        assert_eq!(
            route_label("POST", "/_worker/workers/register"),
            "/_worker/workers/register"
        );
        assert_eq!(
            route_label("DELETE", "/_worker/workers/w1"),
            "/_worker/workers/{id}",
            "another method of a route is counted against it"
        );
        assert_eq!(route_label("GET", "/_public/nope"), "/_public/other");
        assert_eq!(route_label("GET", "/_publicx"), "other");
        assert_eq!(route_label("GET", "/nope"), "other");
        assert_eq!(
            route_label("GET", "/_public/jobs/quarantined"),
            "/_public/jobs/quarantined"
        );
        assert_eq!(
            route_label("POST", "/_public/debug/flush_db"),
            "/_public/debug/flush_db"
        );
        assert_eq!(route_label("GET", "/_public/debug/other"), "/_public/other");
    }

    #[test]
    fn every_route_is_its_own_label() {
        for &(method, template) in ROUTES {
            let path = sample_path(template);
            assert_eq!(route_label(method, &path), template, "{method} {path}");
        }
    }

    /// Catches a [`ROUTES`] entry that no filter serves (the reverse, a filter missing
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
        for &(method, template) in ROUTES {
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
