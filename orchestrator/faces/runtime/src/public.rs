//! `/_public`: readiness, Prometheus metrics, the OpenAPI document and its docs page (no
//! token).
//!
//! The docs page is static HTML that loads Swagger UI's files from the binary
//! (`/_public/docs/assets/`) and points it at `/_public/openapi.json`: the page needs no
//! network.

use super::error::ApiError;
use super::schemas::{ErrorBody, ServiceStatus};
use super::{ok_json, raw_json_response, respond, with_app, AppRef};

use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection};

/// The docs page (Swagger UI's files served from the binary).
const DOCS_HTML: &str = include_str!("docs.html");

pub fn routes(app: AppRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let status = warp::path!("_public" / "status")
        .and(warp::get())
        .and(with_app(app.clone()))
        .then(|app: AppRef| async move { status(&app).await });
    let metrics = warp::path!("_public" / "metrics")
        .and(warp::get())
        .and(with_app(app.clone()))
        .then(|app: AppRef| async move { metrics_text(&app).await });
    let openapi = warp::path!("_public" / "openapi.json")
        .and(warp::get())
        .and(with_app(app))
        .then(|app: AppRef| async move { respond(openapi_json(&app)) });
    let docs = warp::path!("_public" / "docs")
        .and(warp::get())
        .then(|| async { docs() });
    let assets = warp::path!("_public" / "docs" / "assets" / String)
        .and(warp::get())
        .then(|name: String| async move { docs_asset(&name) });
    status
        .or(metrics)
        .unify()
        .or(openapi)
        .unify()
        .or(docs)
        .unify()
        .or(assets)
        .unify()
}

/// Swagger UI's files, compiled in (see `assets/swagger-ui/README.md`).
const DOCS_ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "swagger-ui-bundle.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/swagger-ui/swagger-ui-bundle.js"),
    ),
    (
        "swagger-ui.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/swagger-ui/swagger-ui.css"),
    ),
    (
        "LICENSE",
        "text/plain; charset=utf-8",
        include_bytes!("../assets/swagger-ui/LICENSE"),
    ),
];

/// One of the docs page's own files (Swagger UI, served from the binary: the page needs
/// no network).
#[utoipa::path(
    get,
    path = "/_public/docs/assets/{name}",
    tag = "public",
    params(("name" = String, Path, description = "`swagger-ui-bundle.js`, `swagger-ui.css` or `LICENSE`.")),
    responses(
        (status = 200, description = "The file.", body = String, content_type = "text/javascript"),
        (status = 404, description = "No such file.", body = ErrorBody),
    ),
)]
pub(super) fn docs_asset(name: &str) -> Response {
    match DOCS_ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, kind, bytes)) => {
            let mut resp = Response::new(bytes.to_vec().into());
            let h = resp.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            );
            resp
        }
        None => baton_http::ApiError::not_found(format!("no docs asset `{name}`")).into_response(),
    }
}

/// Readiness: 200 when the store answers, 503 `store_unavailable` while it does not
/// (before it first answered, without asking it again: see [`super::readiness`]).
#[utoipa::path(
    get,
    path = "/_public/status",
    tag = "public",
    responses(
        (status = 200, description = "The orchestrator is up and its store answers.", body = ServiceStatus),
        (status = 503, description = "The store does not answer (yet).", body = ErrorBody),
    ),
)]
async fn status(app: &AppRef) -> Response {
    let store = &app.engine.store;
    if !app.readiness.is_ready() {
        return baton_http::face::not_ready_error(store.kind()).into_response();
    }
    if let Err(e) = store.ping().await {
        return ApiError::from(e).into_response();
    }
    respond(ok_json(&ServiceStatus {
        status: "ok".into(),
        store: store.kind().into(),
        version: env!("CARGO_PKG_VERSION").into(),
        protocol_version: baton_protocol::PROTOCOL_VERSION.into(),
    }))
}

/// Prometheus metrics; the cluster-wide gauges are refreshed from the store first.
#[utoipa::path(
    get,
    path = "/_public/metrics",
    tag = "public",
    operation_id = "metrics",
    responses((
        status = 200,
        description = "Prometheus text format.",
        body = String,
        content_type = "text/plain; version=0.0.4"
    )),
)]
pub(crate) async fn metrics_text(app: &AppRef) -> Response {
    app.engine.refresh_gauges().await;
    baton_http::metrics_text(&app.registry)
}

/// This document: every route, with a creation path per loaded blueprint.
#[utoipa::path(
    get,
    path = "/_public/openapi.json",
    tag = "public",
    responses(
        (status = 200, description = "OpenAPI 3.1 document.", body = Object),
        (status = 500, description = "The document could not be encoded.", body = ErrorBody),
    ),
)]
fn openapi_json(app: &AppRef) -> Result<Response, ApiError> {
    let json = app
        .openapi
        .json(&app.engine.blueprints)
        .map_err(ApiError::internal)?;
    Ok(raw_json_response(StatusCode::OK, json))
}

/// Interactive API docs (Swagger UI, served from the binary: no network needed) for this document.
#[utoipa::path(
    get,
    path = "/_public/docs",
    tag = "public",
    responses((status = 200, description = "HTML page.", body = String, content_type = "text/html")),
)]
fn docs() -> Response {
    let mut resp = Response::new(DOCS_HTML.into());
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}
