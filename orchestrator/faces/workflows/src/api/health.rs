//! The probes: `/health/live`, `/health/ready`, `/health/db`, `/health/full`, and `GET /`.
//! No token; answered from the start, before the store first answers.

use super::schemas::{
    AppInfo, Application, Blocked, Database, DbHealth, ErrorEnvelope, FullHealth, Live, Migrations,
    Ready, Security,
};
use super::{answer, ctx, serve, Ctx};
use crate::error::WfResult;
use crate::FaceRef;
use baton_protocol::clock::{now_ms, rfc3339};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

/// The store layout this orchestrator reads and writes, as `/health/db` reports it.
pub const STORE_SCHEMA: &str = "baton-store-1";

pub fn routes(face: FaceRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let get = |f: FaceRef| warp::get().and(ctx(f));
    let root = warp::path::end()
        .and(get(face.clone()))
        .then(|c: Ctx| serve(c, root));
    let live = warp::path!("health" / "live")
        .and(get(face.clone()))
        .then(|c: Ctx| serve(c, live));
    let ready = warp::path!("health" / "ready")
        .and(get(face.clone()))
        .then(|c: Ctx| serve(c, ready));
    let db = warp::path!("health" / "db")
        .and(get(face.clone()))
        .then(|c: Ctx| serve(c, db));
    let full = warp::path!("health" / "full")
        .and(get(face))
        .then(|c: Ctx| serve(c, full));
    root.or(live)
        .unify()
        .or(ready)
        .unify()
        .or(db)
        .unify()
        .or(full)
        .unify()
}

/// What this service is.
#[utoipa::path(get, path = "/", tag = "health", responses((status = 200, description = "App info.", body = AppInfo)))]
async fn root(_c: Ctx) -> WfResult<Response> {
    answer(
        StatusCode::OK,
        &AppInfo {
            app: "Baton".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            status: "running".into(),
        },
    )
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/health/live", tag = "health", responses((status = 200, description = "Alive.", body = Live)))]
async fn live(_c: Ctx) -> WfResult<Response> {
    answer(
        StatusCode::OK,
        &Live {
            status: "alive".into(),
        },
    )
}

/// Why this orchestrator should not get traffic, if it should not.
fn not_ready_reason(c: &Ctx) -> Option<&'static str> {
    if c.face.shutdown.is_cancelled() {
        Some("Shutting down")
    } else if !c.face.readiness.is_ready() {
        Some("The store has not answered yet")
    } else {
        None
    }
}

/// Readiness: 503 while the store has not answered since the start and while draining.
#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "health",
    responses(
        (status = 200, description = "Ready.", body = Ready),
        (status = 503, description = "`not_ready` with the reason.", body = Ready),
    ),
)]
async fn ready(c: Ctx) -> WfResult<Response> {
    match not_ready_reason(&c) {
        None => answer(
            StatusCode::OK,
            &Ready {
                status: "ready".into(),
                reason: None,
            },
        ),
        Some(reason) => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            &Ready {
                status: "not_ready".into(),
                reason: Some(reason.into()),
            },
        ),
    }
}

/// Whether the store answers now.
async fn store_up(c: &Ctx) -> bool {
    match c.face.engine.store.ping().await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "health: store ping failed");
            false
        }
    }
}

/// The store: its backend, whether it answers, the schema version.
#[utoipa::path(
    get,
    path = "/health/db",
    tag = "health",
    responses(
        (status = 200, description = "The store answers.", body = DbHealth),
        (status = 503, description = "The store does not answer (`unhealthy`, `disconnected`).", body = DbHealth),
        (status = 500, description = "Internal error.", body = ErrorEnvelope),
    ),
)]
async fn db(c: Ctx) -> WfResult<Response> {
    let up = store_up(&c).await;
    let status = if up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    answer(
        status,
        &DbHealth {
            status: if up { "healthy" } else { "unhealthy" }.into(),
            database: if up { "connected" } else { "disconnected" }.into(),
            backend: c.face.engine.store.kind().into(),
            migrations: Migrations {
                applied: vec![STORE_SCHEMA.into()],
                pending: Vec::new(),
            },
            timestamp: rfc3339(now_ms()),
        },
    )
}

/// Everything at once: readiness, uptime, requests in flight, the store, rate limits.
#[utoipa::path(get, path = "/health/full", tag = "health", responses((status = 200, description = "The subsystems.", body = FullHealth)))]
async fn full(c: Ctx) -> WfResult<Response> {
    let up = store_up(&c).await;
    let mut rate_limited = BTreeMap::new();
    for group in ["login", "execute", "jobs", "hooks"] {
        let n = c
            .face
            .metrics
            .rate_limited
            .with_label_values(&[group])
            .get();
        rate_limited.insert(group.to_string(), n);
    }
    let reason = not_ready_reason(&c);
    // Both are reports: a store that does not answer leaves them empty.
    let blocked = match c.face.records.blocked(now_ms()).await {
        Ok(list) => list
            .into_iter()
            .map(|(client, until)| {
                let (group, ip) = client.split_once(':').unwrap_or(("", &client));
                Blocked {
                    group: group.to_string(),
                    ip: ip.to_string(),
                    until: rfc3339(until),
                }
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    let circuit_breakers = match c.face.records.circuits().await {
        Ok(list) => list
            .into_iter()
            .filter_map(|(engine, text)| Some((engine, serde_json::from_str(&text).ok()?)))
            .collect(),
        Err(_) => BTreeMap::new(),
    };
    answer(
        StatusCode::OK,
        &FullHealth {
            status: if up && reason.is_none() {
                "healthy"
            } else {
                "degraded"
            }
            .into(),
            timestamp: rfc3339(now_ms()),
            uptime_seconds: c.face.started.elapsed().as_secs(),
            application: Application {
                ready: reason.is_none(),
                shutting_down: c.face.shutdown.is_cancelled(),
                active_requests: c.face.active_requests.load(Ordering::Relaxed),
            },
            database: Database {
                status: if up { "connected" } else { "disconnected" }.into(),
                backend: c.face.engine.store.kind().into(),
            },
            circuit_breakers,
            security: Security {
                rate_limited,
                blocked,
            },
        },
    )
}
