//! A face is one API served on the engine: its routes (for the filter and the metric
//! labels), its part of the OpenAPI document, and what it counts per request. The server
//! composes the faces' filters (statically: one future type, no boxing per request) and
//! wraps them once with what is cross-cutting ([`serve_faces`]): the readiness gate, the
//! mapping of routing rejections to the error shape, the protocol header, the request
//! metrics labelled by route template and the face's own observation of its requests.

use crate::error::{codes, ApiError};
use crate::routes::{CatchAll, Label, RouteTable};
use baton_engine::metrics::must;
use baton_engine::readiness::Readiness;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use warp::http::{HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection};

pub trait Face: Send + Sync {
    /// For logs (`runtime`, `pipelines`, ...).
    fn name(&self) -> &'static str;
    /// Every route served, as `(method, template)`; each must be in [`Face::openapi`].
    fn routes(&self) -> &'static [(&'static str, &'static str)];
    /// A route taking every remaining request of a method under a first segment.
    fn catch_all(&self) -> Option<CatchAll> {
        None
    }
    /// Paths answered before the store first answers (probes, documents).
    fn always_served(&self) -> &'static [&'static str] {
        &[]
    }
    /// Whether this face answers `path` itself while the store has not answered yet (in
    /// its own error shape, from its own failing store calls) instead of the gate's 503.
    fn gates_itself(&self, _path: &str) -> bool {
        false
    }
    /// This face's part of the OpenAPI document.
    fn openapi(&self) -> utoipa::openapi::OpenApi;
    /// Called once per answered request of this face (its own request metrics).
    fn observe(&self, _route: &'static str, _method: &str, _status: u16, _elapsed: Duration) {}
}

/// The faces served by one server, with their joined route table.
pub struct Faces {
    faces: Vec<Arc<dyn Face>>,
    table: RouteTable,
}

impl Faces {
    pub fn new(faces: Vec<Arc<dyn Face>>) -> Faces {
        let mut table = RouteTable::default();
        for (i, f) in faces.iter().enumerate() {
            if let Some(c) = f.catch_all() {
                table.add_catch_all(i, c);
            }
            table.add(i, f.routes());
        }
        Faces { faces, table }
    }

    pub fn label(&self, method: &str, path: &str) -> Label {
        self.table.label(method, path)
    }

    pub fn all(&self) -> &[Arc<dyn Face>] {
        &self.faces
    }

    /// The whole document: the first face's, with every other face's merged in.
    pub fn openapi(&self) -> utoipa::openapi::OpenApi {
        let mut faces = self.faces.iter();
        let mut doc = faces.next().map(|f| f.openapi()).unwrap_or_default();
        for f in faces {
            doc.merge(f.openapi());
        }
        doc
    }

    /// Whether `path` passes the readiness gate before the store first answered.
    fn ungated(&self, path: &str) -> bool {
        self.faces
            .iter()
            .any(|f| f.always_served().contains(&path) || f.gates_itself(path))
    }
}

/// Request counts and latency of every face, by route template.
#[derive(Clone)]
pub struct HttpMetrics {
    pub requests: IntCounterVec,
    pub duration: HistogramVec,
}

impl HttpMetrics {
    pub fn new(registry: &Registry) -> HttpMetrics {
        let requests = must(IntCounterVec::new(
            Opts::new("baton_http_requests_total", "HTTP requests"),
            &["route", "method", "status"],
        ));
        must(registry.register(Box::new(requests.clone())));
        let duration = must(HistogramVec::new(
            HistogramOpts::new(
                "baton_http_request_duration_seconds",
                "HTTP request latency",
            )
            .buckets(vec![
                0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                30.0, 60.0,
            ]),
            &["route"],
        ));
        must(registry.register(Box::new(duration.clone())));
        HttpMetrics { requests, duration }
    }
}

/// The store of a server, as the gate sees it.
pub struct Gate {
    pub readiness: Arc<Readiness>,
    /// `memory` or `redis`, for the message.
    pub store_kind: &'static str,
}

/// The faces' composed routes with everything cross-cutting (see the module docs).
pub fn serve_faces<F>(
    routes: F,
    faces: Arc<Faces>,
    metrics: HttpMetrics,
    gate: Gate,
) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone
where
    F: Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static,
    F::Future: Send,
{
    let log = {
        let faces = faces.clone();
        warp::log::custom(move |info: warp::log::Info<'_>| {
            let label = faces.label(info.method().as_str(), info.path());
            let status = info.status().as_u16();
            metrics
                .requests
                .with_label_values(&[label.template, info.method().as_str(), &status.to_string()])
                .inc();
            metrics
                .duration
                .with_label_values(&[label.template])
                .observe(info.elapsed().as_secs_f64());
            if let Some(face) = label.face.and_then(|i| faces.all().get(i)) {
                face.observe(
                    label.template,
                    info.method().as_str(),
                    status,
                    info.elapsed(),
                );
            }
        })
    };
    // One box for the faces' routes: the composed type is deep enough to overflow the
    // compiler's query depth where the server instantiates it, and one allocation per
    // request is small beside parsing it.
    let routes = routes.boxed();
    not_ready(faces, gate)
        .or(routes)
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

/// Answers 503 `store_unavailable` while the store has not answered since the start,
/// except on the faces' always-served paths; rejects (so the routes serve) once it has.
/// After that, an outage shows as the 503 every handler answers when a store call fails.
fn not_ready(
    faces: Arc<Faces>,
    gate: Gate,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let gate = Arc::new(gate);
    warp::path::full()
        .and(warp::header::optional::<String>(crate::REQUEST_ID))
        .and_then(move |path: warp::path::FullPath, rid: Option<String>| {
            let served = gate.readiness.is_ready() || faces.ungated(path.as_str());
            std::future::ready(if served {
                Err(warp::reject::not_found())
            } else {
                let resp = not_ready_error(gate.store_kind).into_response();
                // Every answer of the coding-pipelines face carries a request id; a
                // client of another face finds one more header.
                Ok(crate::stamp(&crate::request_id(rid), resp))
            })
        })
}

/// The 503 answered before the store first answered.
pub fn not_ready_error(store: &str) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        codes::STORE_UNAVAILABLE,
        format!("the store ({store}) is not reachable yet; retrying"),
    )
}

/// Routing rejections in the error shape.
pub fn rejection_error(rejection: &Rejection) -> ApiError {
    if rejection.is_not_found() {
        ApiError::not_found("no such route")
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            codes::METHOD_NOT_ALLOWED,
            "method not allowed on this route",
        )
    } else if let Some(e) = rejection.find::<warp::reject::InvalidQuery>() {
        ApiError::bad_request(format!("invalid query string: {e}"))
    } else if let Some(e) = rejection.find::<warp::reject::InvalidHeader>() {
        ApiError::bad_request(e.to_string())
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            codes::PAYLOAD_TOO_LARGE,
            "request body too large",
        )
    } else {
        tracing::debug!(?rejection, "unhandled rejection");
        ApiError::bad_request(format!("{rejection:?}"))
    }
}

async fn recover(rejection: Rejection) -> Result<Response, Infallible> {
    Ok(rejection_error(&rejection).into_response())
}
