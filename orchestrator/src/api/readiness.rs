//! Readiness: an orchestrator serves before its store answers.
//!
//! The data: one flag, [`Readiness`], false until the store has answered a ping once
//! (the embedded store answers at once). [`try_first`] pings the store once before the
//! server accepts requests; if that fails, [`connect`] pings it with a doubling delay
//! until it answers, logging each failure with its error and the next
//! delay, so that an orchestrator started during a Redis outage waits for Redis instead
//! of exiting (a supervisor restarting processes one at a time would otherwise keep it
//! down). Until the flag is set, [`gate`] answers every route but the probes and the
//! documents with 503 `store_unavailable` in the error shape of the API faces (with
//! `X-Request-ID` on the coding-pipelines routes, as all their answers have), and
//! `GET /_public/status` answers 503. The reaper starts once the flag is set.
//!
//! After that, a store outage shows as the 503 `store_unavailable` every handler answers
//! when a store call fails, and `/_public/status` (which pings the store) answers 503.

use super::error::ApiError;
use super::AppRef;
use crate::store::Store;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use warp::http::{HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection};

/// First delay between two pings of a store that does not answer; doubles up to
/// [`RETRY_MAX`].
const RETRY_MIN: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(5);
/// Longest wait for the ping made before serving.
const FIRST_PING: Duration = Duration::from_secs(1);

/// Routes served before the store answers: the probes and the documents.
const ALWAYS_SERVED: &[&str] = &[
    "/_public/status",
    "/_public/metrics",
    "/_public/openapi.json",
    "/_public/docs",
    "/health",
];

/// Whether the store has answered since the start; see the module docs.
#[derive(Default)]
pub struct Readiness {
    ready: AtomicBool,
    changed: Notify,
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    pub fn mark_ready(&self) {
        self.ready.store(true, Ordering::Release);
        self.changed.notify_waiters();
    }

    /// Returns once the store has answered.
    pub async fn wait(&self) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.is_ready() {
                return;
            }
            changed.await;
        }
    }
}

/// One ping before serving, bounded by [`FIRST_PING`]: when the store is up (the usual
/// case) the first request already finds the orchestrator ready.
pub async fn try_first(store: &dyn Store, readiness: &Readiness) {
    if let Ok(Ok(())) = tokio::time::timeout(FIRST_PING, store.ping()).await {
        readiness.mark_ready();
    }
}

/// Pings `store` until it answers (then marks `readiness`) or `shutdown` fires; returns at
/// once if it is ready already.
pub async fn connect(
    store: Arc<dyn Store>,
    readiness: Arc<Readiness>,
    shutdown: CancellationToken,
) {
    if readiness.is_ready() {
        return;
    }
    let mut delay = RETRY_MIN;
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        match store.ping().await {
            Ok(()) => {
                if attempts > 1 {
                    tracing::info!(store = store.kind(), attempts, "store reachable; serving");
                }
                readiness.mark_ready();
                return;
            }
            Err(e) => tracing::warn!(
                store = store.kind(),
                error = %e,
                attempt = attempts,
                retry_in_ms = delay.as_millis() as u64,
                "store unreachable; answering 503 until it is, retrying"
            ),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(RETRY_MAX);
    }
}

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
