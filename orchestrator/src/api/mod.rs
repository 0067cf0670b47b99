//! HTTP routes of the worker-pull face (seed 002): `/_public`, `/api/v1`, `/_worker`.
//!
//! One module per group; handlers return `Result<Response, ApiError>` and [`respond`]
//! turns errors into the JSON error shape (handler futures are boxed: the route future of
//! every connection is as large as its largest branch, and ten thousand held long-polls
//! should not each carry the state of a job creation), so routing rejections are the only thing the
//! [`recover`] handler maps. Every response carries `X-RXON-Version`; every request is
//! counted by route template and status.

pub mod approval;
pub mod batch;
pub mod client;
pub mod error;
pub mod public;
pub mod worker;
pub mod ws;

use crate::auth::Auth;
use crate::config::Config;
use crate::dispatch::Dispatcher;
use crate::engine::Engine;
use crate::metrics::Metrics;
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
    pub shutdown: CancellationToken,
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
    });
    public::routes(app.clone())
        .or(approval::routes(app.clone()))
        .unify()
        .or(client::routes(app.clone()))
        .unify()
        .or(worker::routes(app))
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

/// Route template of a request, for metrics (ids never become label values).
pub fn route_label(method: &str, path: &str) -> &'static str {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, segs.as_slice()) {
        (_, ["_public", "status"]) => "/_public/status",
        (_, ["_public", "metrics"]) => "/_public/metrics",
        (_, ["_public", "webhooks", "approval", _]) => "/_public/webhooks/approval/{job_id}",
        (_, ["_public", "jobs", "quarantined"]) => "/_public/jobs/quarantined",
        (_, ["_public", "debug", "flush_db"]) => "/_public/debug/flush_db",
        (_, ["_public", ..]) => "/_public/other",
        ("GET", ["api", _, "jobs", _]) => "/api/v1/jobs/{id}",
        (_, ["api", _, "jobs", _, "cancel"]) => "/api/v1/jobs/{id}/cancel",
        (_, ["api", _, "jobs", _, "history"]) => "/api/v1/jobs/{id}/history",
        (_, ["api", _, "workers"]) => "/api/v1/workers",
        (_, ["api", _, "dashboard"]) => "/api/v1/dashboard",
        (_, ["api", _, "blueprints", ..]) => "/api/v1/blueprints",
        ("POST", ["api", ..]) => "/api/{version}/{blueprint endpoint}",
        (_, ["_worker", "workers", "register"]) => "/_worker/workers/register",
        (_, ["_worker", "workers", _, "tasks", "next"]) => "/_worker/workers/{id}/tasks/next",
        (_, ["_worker", "workers", _, "tasks", "batch"]) => "/_worker/workers/{id}/tasks/batch",
        (_, ["_worker", "tasks", "results"]) => "/_worker/tasks/results",
        (_, ["_worker", "workers", _]) => "/_worker/workers/{id}",
        (_, ["_worker", "tasks", "result"]) => "/_worker/tasks/result",
        (_, ["_worker", "events"]) => "/_worker/events",
        (_, ["_worker", "ws", _]) => "/_worker/ws/{id}",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_labels_hide_ids() {
        assert_eq!(route_label("GET", "/api/v1/jobs/123"), "/api/v1/jobs/{id}");
        assert_eq!(
            route_label("POST", "/api/v1/jobs/echo"),
            "/api/{version}/{blueprint endpoint}"
        );
        assert_eq!(
            route_label("GET", "/_worker/workers/w1/tasks/next"),
            "/_worker/workers/{id}/tasks/next"
        );
        assert_eq!(
            route_label("PATCH", "/_worker/workers/w1"),
            "/_worker/workers/{id}"
        );
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
}
