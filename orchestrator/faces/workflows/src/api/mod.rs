//! The workflow face's routes: `/v1/*` behind a login token, `/health/*` and `GET /`.
//!
//! Every request under this face's paths is answered by this face: a route it does not
//! have (404), a method a route does not take (405) and every other rejection answer the
//! envelope ([`crate::error`]) with the request's `X-Request-ID` ([`routes`]). Handlers are
//! plain async functions of a [`Ctx`] and their inputs, returning [`WfResult`]; [`serve`]
//! turns the outcome into the answer and stamps the request id.

mod auth;
mod control;
pub mod doc;
mod executions;
mod health;
mod jobs;
mod live;
pub mod prompts;
mod schedules;
pub mod schemas;
mod versions;
mod webhooks;
mod workflows;
mod yaml_workflows;

pub use workflows::invalid;

use crate::auth::Claims;
use crate::error::{WfError, WfResult};
use crate::rate::{client_ip, Limited};
use crate::FaceRef;
use baton_http::{PeerAddr, REQUEST_ID};
use baton_protocol::clock::now_ms;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::sync::atomic::Ordering;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

/// Every route of the workflow face, as `(method, path template)`; each must be in the
/// OpenAPI document (tested).
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/health/live"),
    ("GET", "/health/ready"),
    ("GET", "/health/db"),
    ("GET", "/health/full"),
    ("POST", "/v1/auth/login"),
    ("GET", "/v1/workflows"),
    ("POST", "/v1/workflows"),
    ("GET", "/v1/workflows/{workflow_id}"),
    ("PUT", "/v1/workflows/{workflow_id}"),
    ("DELETE", "/v1/workflows/{workflow_id}"),
    ("GET", "/v1/yaml-workflows"),
    ("GET", "/v1/yaml-workflows/{workflow_id}"),
    ("POST", "/v1/workflows/execute"),
    ("POST", "/v1/workflows/{workflow_id}/execute"),
    ("POST", "/v1/yaml-workflows/execute"),
    ("GET", "/v1/executions"),
    ("GET", "/v1/executions/{execution_id}"),
    ("GET", "/v1/executions/{execution_id}/logs"),
    ("POST", "/v1/executions/{execution_id}/cancel"),
    ("POST", "/v1/executions/{execution_id}/pause"),
    ("POST", "/v1/executions/{execution_id}/resume"),
    ("DELETE", "/v1/executions/{execution_id}"),
    ("POST", "/v1/executions/cleanup"),
    ("POST", "/v1/jobs"),
    ("GET", "/v1/jobs"),
    ("GET", "/v1/jobs/stats"),
    ("POST", "/v1/jobs/cleanup"),
    ("GET", "/v1/jobs/{job_id}"),
    ("DELETE", "/v1/jobs/{job_id}"),
    ("POST", "/v1/jobs/{job_id}/cancel"),
    ("POST", "/v1/workflows/{workflow_name}/versions"),
    ("GET", "/v1/workflows/{workflow_name}/versions"),
    ("GET", "/v1/workflows/{workflow_name}/versions/compare"),
    ("GET", "/v1/workflows/{workflow_name}/versions/{version}"),
    ("DELETE", "/v1/workflows/{workflow_name}/versions/{version}"),
    (
        "POST",
        "/v1/workflows/{workflow_name}/versions/{version}/activate",
    ),
    ("POST", "/v1/workflows/{workflow_name}/rollback"),
    ("GET", "/v1/workflow-versions"),
    ("GET", "/v1/prompts"),
    ("POST", "/v1/prompts"),
    ("GET", "/v1/prompts/{template_id}"),
    ("DELETE", "/v1/prompts/{template_id}"),
    ("GET", "/ws/executions"),
    ("GET", "/v1/schedules"),
    ("POST", "/v1/schedules"),
    ("GET", "/v1/schedules/{schedule_id}"),
    ("PUT", "/v1/schedules/{schedule_id}"),
    ("DELETE", "/v1/schedules/{schedule_id}"),
    ("POST", "/v1/schedules/{schedule_id}/pause"),
    ("POST", "/v1/schedules/{schedule_id}/resume"),
    ("POST", "/v1/schedules/{schedule_id}/trigger"),
    ("GET", "/v1/schedules/{schedule_id}/history"),
    ("GET", "/v1/webhooks"),
    ("POST", "/v1/webhooks"),
    ("GET", "/v1/webhooks/{webhook_id}"),
    ("PUT", "/v1/webhooks/{webhook_id}"),
    ("DELETE", "/v1/webhooks/{webhook_id}"),
    ("POST", "/v1/webhooks/{webhook_id}/regenerate-secret"),
    ("GET", "/v1/webhooks/{webhook_id}/history"),
    ("POST", "/hooks/{webhook_id}"),
];

/// Paths answered before the store first answers (probes and the root).
pub const ALWAYS_SERVED: &[&str] = &[
    "/",
    "/health/live",
    "/health/ready",
    "/health/db",
    "/health/full",
];

/// What every handler gets: the face and what identifies the request.
pub struct Ctx {
    pub face: FaceRef,
    pub request_id: String,
    /// The address the request is counted for by the rate limits.
    pub client_ip: String,
    authorization: Option<String>,
}

impl Ctx {
    /// The caller's login, from `Authorization: Bearer <token>`: 401 `AUTH_FAILED` when
    /// missing, malformed, forged or expired.
    pub fn user(&self) -> WfResult<Claims> {
        let token = self
            .authorization
            .as_deref()
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                WfError::auth_failed("Missing bearer token (log in with POST /v1/auth/login)")
            })?;
        self.face
            .signer
            .verify(token, now_ms() / 1000)
            .map_err(|e| WfError::auth_failed(format!("Invalid token: {e}")))
    }

    /// Counts this request against `group`'s per-minute limit: 429 `RATE_LIMITED` past it.
    pub async fn limit(&self, group: Limited) -> WfResult<()> {
        let per_minute = group.per_minute(&self.face.cfg.rate_limits);
        if per_minute == 0 {
            return Ok(());
        }
        let bucket = format!("{}:{}", group.bucket(), self.client_ip);
        let count = self
            .face
            .records
            .count_request(&bucket, 60_000, now_ms())
            .await?;
        if count.count > u64::from(per_minute) {
            self.face
                .metrics
                .rate_limited
                .with_label_values(&[group.bucket()])
                .inc();
            let retry_after = count.resets_in_ms.div_ceil(1000).max(1);
            // Listed by /health/full until its window closes; the refusal stands without.
            let until = now_ms().saturating_add(i64::try_from(count.resets_in_ms).unwrap_or(0));
            if let Err(e) = self.face.records.block(&bucket, until).await {
                tracing::warn!(client = %bucket, error = %e, "refused client not recorded");
            }
            return Err(WfError::rate_limited(
                &format!("{per_minute}/minute"),
                retry_after,
            ));
        }
        Ok(())
    }
}

/// The [`Ctx`] of a request.
pub(crate) fn ctx(face: FaceRef) -> impl Filter<Extract = (Ctx,), Error = Rejection> + Clone {
    warp::header::optional::<String>(REQUEST_ID)
        .and(warp::ext::optional::<PeerAddr>())
        .and(warp::header::optional::<String>("x-forwarded-for"))
        .and(warp::header::optional::<String>("authorization"))
        .map(
            move |rid: Option<String>,
                  peer: Option<PeerAddr>,
                  forwarded: Option<String>,
                  authorization: Option<String>| {
                let client_ip = client_ip(
                    peer.map(|p| p.0),
                    forwarded.as_deref(),
                    &face.cfg.trusted_proxies,
                );
                Ctx {
                    face: face.clone(),
                    request_id: baton_http::request_id(rid),
                    client_ip,
                    authorization,
                }
            },
        )
}

/// Runs a handler: its answer or its error in the envelope, with the request id.
pub async fn serve<F>(c: Ctx, handler: impl FnOnce(Ctx) -> F) -> Response
where
    F: Future<Output = WfResult<Response>>,
{
    let rid = c.request_id.clone();
    // Counted down on drop: a request whose caller went away ends here too.
    struct InFlight(std::sync::Arc<std::sync::atomic::AtomicI64>);
    impl Drop for InFlight {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::Relaxed);
        }
    }
    c.face.active_requests.fetch_add(1, Ordering::Relaxed);
    let _in_flight = InFlight(c.face.active_requests.clone());
    match handler(c).await {
        Ok(resp) => baton_http::stamp(&rid, resp),
        Err(e) => e.into_response(&rid),
    }
}

/// A typed answer with a status.
pub fn answer(status: StatusCode, body: &impl serde::Serialize) -> WfResult<Response> {
    Ok(baton_http::reply(status, body)?)
}

/// The request body (413 past the limit).
pub fn body(
    face: &FaceRef,
) -> impl Filter<Extract = (Result<Bytes, baton_http::ApiError>,), Error = Rejection> + Clone {
    baton_http::body(face.cfg.max_body_bytes)
}

/// A JSON body as `T`: 400 when it is not JSON, 422 naming the field when it does not fit.
pub fn json<T: DeserializeOwned>(body: Result<Bytes, baton_http::ApiError>) -> WfResult<T> {
    from_value(baton_http::parse_json(&body?)?)
}

/// A parsed body as `T`: 422 naming the field that does not fit.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> WfResult<T> {
    serde_json::from_value(value).map_err(|e| WfError::validation(format!("invalid body: {e}")))
}

/// A path id: 1 to 128 letters, digits, `-`, `_`; else 404 (no such record can exist).
pub fn path_id(raw: &str, what: &str) -> WfResult<String> {
    if raw.len() <= crate::validate::MAX_ID_LEN && baton_protocol::is_identifier(raw) {
        Ok(raw.to_string())
    } else {
        Err(WfError::not_found(format!("no {what} `{raw}`")))
    }
}

/// The paths this face answers (and so answers every rejection of): `/v1/...`,
/// `/health/...` (`/health` itself is the coding pipelines'), `/ws/executions`,
/// `/hooks/...` and `/`.
pub fn owns(p: &str) -> bool {
    p == "/"
        || p == "/v1"
        || p.starts_with("/v1/")
        || p.starts_with("/health/")
        || p == "/ws/executions"
        || p.starts_with("/hooks/")
}

fn owned_path() -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::path::full()
        .and_then(|path: warp::path::FullPath| async move {
            if owns(path.as_str()) {
                Ok(())
            } else {
                Err(warp::reject::not_found())
            }
        })
        .untuple_one()
}

/// All the workflow face's routes, with its rejections answered in the envelope.
pub fn routes(face: FaceRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    // Boxed by group: one filter type nested this deep exceeds what the compiler will
    // evaluate in release builds.
    let definitions = health::routes(face.clone())
        .or(auth::routes(face.clone()))
        .unify()
        .or(versions::routes(face.clone()))
        .unify()
        .or(workflows::routes(face.clone()))
        .unify()
        .or(prompts::routes(face.clone()))
        .unify()
        .or(yaml_workflows::routes(face.clone()))
        .unify()
        .boxed();
    let runs = jobs::routes(face.clone())
        .or(executions::routes(face.clone()))
        .unify()
        .or(control::routes(face.clone()))
        .unify()
        .or(live::routes(face.clone()))
        .unify()
        .boxed();
    let triggers = schedules::routes(face.clone())
        .or(webhooks::routes(face))
        .unify()
        .boxed();
    let inner = definitions
        .or(runs)
        .unify()
        .or(triggers)
        .unify()
        .map(Ok::<Response, Rejection>)
        .or_else(|rejection: Rejection| async move { Ok::<_, Rejection>((Err(rejection),)) });
    owned_path()
        .and(warp::header::optional::<String>(REQUEST_ID))
        .and(inner)
        .map(
            |rid: Option<String>, outcome: Result<Response, Rejection>| match outcome {
                Ok(resp) => resp,
                Err(rejection) => WfError::from(baton_http::face::rejection_error(&rejection))
                    .into_response(&baton_http::request_id(rid)),
            },
        )
}
