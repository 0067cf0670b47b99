//! `GET /metrics`: the coding pipelines' Prometheus endpoint. The same registry as
//! `/_public/metrics` (Baton's own metrics and the pipelines' ones named as the seed names
//! them, see [`crate::metrics`]); no token, like `/health`, so a scraper needs
//! none.

use super::{ctx, Ctx};
use crate::AppRef;
use warp::reply::Response;
use warp::{Filter, Rejection};

pub fn routes(app: AppRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("metrics")
        .and(warp::get())
        .and(ctx(app))
        .then(|c: Ctx| async move { metrics(&c).await })
}

/// Prometheus text format, with the pipelines' metrics.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "pipelines",
    operation_id = "pipeline_metrics",
    responses((
        status = 200,
        description = "Prometheus text format: Baton's metrics and `jobs_processed_total`, `jobs_duration_seconds`, `webhooks_total`, `codex_token_estimated_total`, `qa_verdict_total`, `requests_total`, `requests_duration_seconds`.",
        body = String,
        content_type = "text/plain; version=0.0.4"
    )),
)]
async fn metrics(c: &Ctx) -> Response {
    c.app.engine.refresh_gauges().await;
    c.stamp(baton_http::metrics_text(&c.app.registry))
}
