//! The gate of every route while the store has not answered yet (see
//! [`baton_engine::readiness`]): 503 `store_unavailable` in the error shape of the API
//! faces (with `X-Request-ID` on the coding-pipelines routes, as all their answers
//! have), except for the probes and the documents; `GET /_public/status` answers 503.
//!
//! After that, a store outage shows as the 503 `store_unavailable` every handler answers
//! when a store call fails, and `/_public/status` (which pings the store) answers 503.

use super::error::ApiError;
use super::AppRef;
use warp::http::{HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection};

/// Routes served before the store answers: the probes and the documents.
const ALWAYS_SERVED: &[&str] = &[
    "/_public/status",
    "/_public/metrics",
    "/_public/openapi.json",
    "/_public/docs",
    "/health",
];

/// Answers 503 while the store has not answered yet (see the module docs); rejects (so
/// that the routes serve) once it has, and for [`ALWAYS_SERVED`] routes.
pub fn gate(app: AppRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::method()
        .and(warp::path::full())
        .and(warp::header::optional::<String>(
            super::pipelines::REQUEST_ID,
        ))
        .and_then(
            move |method: warp::http::Method, path: warp::path::FullPath, rid: Option<String>| {
                let ready = app.readiness.is_ready();
                let kind = app.engine.store.kind();
                std::future::ready(if ready || ALWAYS_SERVED.contains(&path.as_str()) {
                    Err(warp::reject::not_found())
                } else {
                    Ok(not_ready(kind, method.as_str(), path.as_str(), rid))
                })
            },
        )
}

/// The 503 answered before the store first answered.
pub fn not_ready_error(store: &str) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "store_unavailable",
        format!("the store ({store}) is not reachable yet; retrying"),
    )
}

fn not_ready(store: &str, method: &str, path: &str, request_id: Option<String>) -> Response {
    let mut resp = not_ready_error(store).into_response();
    let route = super::route_label(method, path);
    if super::pipelines::counts_requests(route) {
        let id = super::pipelines::request_id(request_id);
        if let Ok(v) = HeaderValue::from_str(&id) {
            resp.headers_mut().insert(super::pipelines::REQUEST_ID, v);
        }
    }
    resp
}
