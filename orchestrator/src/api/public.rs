//! `/_public`: liveness and Prometheus metrics (no token).

use super::{ok_json, respond, with_app, AppRef};
use crate::clock::now_ms;
use serde_json::json;
use warp::http::{header, HeaderValue};
use warp::reply::Response;
use warp::{Filter, Rejection};

pub fn routes(app: AppRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let status = warp::path!("_public" / "status")
        .and(warp::get())
        .and(with_app(app.clone()))
        .then(|app: AppRef| async move {
            respond(ok_json(&json!({
                "status": "ok",
                "store": app.engine.store.kind(),
                "version": env!("CARGO_PKG_VERSION"),
                "protocol_version": baton_protocol::PROTOCOL_VERSION,
            })))
        });
    let metrics = warp::path!("_public" / "metrics")
        .and(warp::get())
        .and(with_app(app))
        .then(|app: AppRef| async move { metrics_text(&app).await });
    status.or(metrics).unify()
}

/// Refreshes the cluster-wide gauges from the store, then renders everything.
async fn metrics_text(app: &AppRef) -> Response {
    let m = &app.metrics;
    let store = &app.engine.store;
    if let Ok(counts) = store.job_counts().await {
        for (status, n) in counts {
            m.jobs_by_status.with_label_values(&[&status]).set(n);
        }
    }
    if let Ok(depths) = store.queue_depths().await {
        for (skill, n) in depths {
            m.queue_depth.with_label_values(&[&skill]).set(n as i64);
        }
    }
    if let Ok(n) = store
        .active_workers(now_ms(), app.cfg.heartbeat_timeout)
        .await
    {
        m.active_workers.set(n as i64);
    }
    m.store_round_trips.set(store.round_trips() as i64);
    let mut resp = Response::new(m.render().into());
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}
