//! `POST /webhooks/github` and `POST /webhooks/gitlab`: CI results for a protocol run's
//! branch. They are authenticated by the provider's signature with `BATON_WEBHOOK_TOKEN`
//! (GitHub `X-Hub-Signature-256`; GitLab the token in `X-Gitlab-Token`, or in
//! `X-TasksGodzilla-Webhook-Token` / `X-Deksdenflow-Webhook-Token` as the upstream
//! clients' scripts send it, and, when sent, `X-Gitlab-Signature-256`), never by the API
//! bearer token, which a CI provider cannot send. The run is `?protocol_run_id=` or the
//! one whose `protocol_name` is the branch; what the event means for it is
//! `pipelines::ci::apply_ci`, or with `BATON_AUTO_QA_ON_CI=true` and a success,
//! `pipelines::ci::ci_success_to_qa` (the step goes to `needs_qa` and a `run_quality_job`
//! is enqueued).

use super::schemas::WebhookAnswer;
use super::{reply, serve_public, Ctx};
use crate::ci::{apply_ci, ci_success_to_qa};
use crate::webhooks::{
    github_signal, gitlab_signal, verify_github, verify_gitlab, CiSignal, CiStatus,
    GITLAB_TOKEN_HEADERS,
};
use crate::AppRef;
use crate::{Id, ProtocolRun};
use baton_http::body;
use baton_http::ApiError;
use baton_http::ErrorBody;
use bytes::Bytes;
use serde_json::Value;
use std::collections::HashMap;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

type Query = HashMap<String, String>;

pub fn routes(app: AppRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let limit = app.cfg.max_body_bytes;
    let common = warp::post()
        .and(super::ctx(app))
        .and(warp::query::<Query>())
        .and(warp::header::headers_cloned())
        .and(body(limit));
    let github = warp::path!("webhooks" / "github").and(common.clone()).then(
        |c: Ctx, q: Query, h: warp::http::HeaderMap, b: Result<Bytes, ApiError>| async move {
            counted(&c, "github", serve_public(&c, github(&c, q, h, b)).await)
        },
    );
    let gitlab = warp::path!("webhooks" / "gitlab").and(common).then(
        |c: Ctx, q: Query, h: warp::http::HeaderMap, b: Result<Bytes, ApiError>| async move {
            counted(&c, "gitlab", serve_public(&c, gitlab(&c, q, h, b)).await)
        },
    );
    github.or(gitlab).unify()
}

/// Counts the answer in `webhooks_total{provider,status}` (the HTTP status answered).
fn counted(c: &Ctx, provider: &str, resp: Response) -> Response {
    c.app
        .metrics
        .webhooks
        .with_label_values(&[provider, resp.status().as_str()])
        .inc();
    resp
}

fn header<'h>(h: &'h warp::http::HeaderMap, name: &str) -> Option<&'h str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn unauthorized(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        baton_http::codes::UNAUTHORIZED,
        format!("webhook signature: {e}"),
    )
}

/// A GitHub event about a run's branch.
#[utoipa::path(
    post,
    path = "/webhooks/github",
    tag = "pipelines",
    params(("protocol_run_id" = Option<u64>, Query, description = "The run; else the run named like the branch.")),
    request_body(content = Object, description = "GitHub's payload (`status`, `workflow_run`, `check_suite`, `check_run`, `pull_request`)."),
    responses(
        (status = 200, description = "Recorded. With `BATON_AUTO_QA_ON_CI=true` a success sends the step to `needs_qa` and enqueues a `run_quality_job` (`change`: `step sent to QA`).", body = WebhookAnswer),
        (status = 400, description = "Not JSON, or no branch in it.", body = ErrorBody),
        (status = 401, description = "Missing or wrong `X-Hub-Signature-256` (when `BATON_WEBHOOK_TOKEN` is set).", body = ErrorBody),
        (status = 404, description = "No run for the branch or id.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
)]
pub(super) async fn github(
    c: &Ctx,
    q: Query,
    h: warp::http::HeaderMap,
    b: Result<Bytes, ApiError>,
) -> Result<Response, ApiError> {
    let b = b?;
    let secret = c.app.cfg.ci_webhook_token.as_deref();
    verify_github(secret, header(&h, "x-hub-signature-256"), &b).map_err(unauthorized)?;
    let payload: Value = baton_http::parse_json(&b)?;
    let event = header(&h, "x-github-event").unwrap_or("");
    let signal = github_signal(event, &payload)
        .ok_or_else(|| ApiError::bad_request("the event names no branch"))?;
    record(c, &q, signal, "github").await
}

/// A GitLab hook about a run's branch.
#[utoipa::path(
    post,
    path = "/webhooks/gitlab",
    tag = "pipelines",
    params(("protocol_run_id" = Option<u64>, Query, description = "The run; else the run named like the branch.")),
    request_body(content = Object, description = "GitLab's pipeline or merge-request hook (branch: `object_attributes.source_branch`, `object_attributes.ref` or a top-level `ref`)."),
    responses(
        (status = 200, description = "Recorded.", body = Object),
        (status = 400, description = "Not JSON, or no branch in it.", body = ErrorBody),
        (status = 401, description = "Missing or wrong token (`X-Gitlab-Token`, `X-TasksGodzilla-Webhook-Token` or `X-Deksdenflow-Webhook-Token`) or signature (when `BATON_WEBHOOK_TOKEN` is set).", body = ErrorBody),
        (status = 404, description = "No run for the branch or id.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
)]
pub(super) async fn gitlab(
    c: &Ctx,
    q: Query,
    h: warp::http::HeaderMap,
    b: Result<Bytes, ApiError>,
) -> Result<Response, ApiError> {
    let b = b?;
    let secret = c.app.cfg.ci_webhook_token.as_deref();
    let token = GITLAB_TOKEN_HEADERS.iter().find_map(|n| header(&h, n));
    verify_gitlab(secret, token, header(&h, "x-gitlab-signature-256"), &b).map_err(unauthorized)?;
    let payload: Value = baton_http::parse_json(&b)?;
    let event = header(&h, "x-gitlab-event").unwrap_or("");
    let signal = gitlab_signal(event, &payload)
        .ok_or_else(|| ApiError::bad_request("the hook names no branch"))?;
    record(c, &q, signal, "gitlab").await
}

async fn record(
    c: &Ctx,
    q: &Query,
    signal: CiSignal,
    provider: &str,
) -> Result<Response, ApiError> {
    let run = find_run(c, q, &signal.branch).await?;
    let records = c.app.records.as_ref();
    let auto_qa = c.app.cfg.auto_qa_on_ci && signal.status == CiStatus::Success && !signal.merged;
    let change = if auto_qa {
        let (change, follow_ups) = ci_success_to_qa(records, run.id, &signal, provider).await?;
        c.jobs().follow_ups(run.id, &follow_ups).await?;
        change
    } else {
        apply_ci(records, run.id, &signal, provider).await?
    };
    tracing::info!(provider, run = run.id, branch = %signal.branch, change, "CI webhook");
    reply(
        StatusCode::OK,
        &WebhookAnswer {
            message: "Webhook recorded".into(),
            job: None,
            change: change.to_string(),
        },
    )
}

/// `?protocol_run_id=`, else the run whose name is the branch (the newest one).
async fn find_run(c: &Ctx, q: &Query, branch: &str) -> Result<ProtocolRun, ApiError> {
    let records = &c.app.records;
    if let Some(raw) = q.get("protocol_run_id") {
        let id: Id = raw.parse().map_err(|_| {
            ApiError::bad_request(format!("protocol_run_id `{raw}` is not an integer"))
        })?;
        return Ok(records.get_protocol_run(id).await?);
    }
    let mut found: Option<ProtocolRun> = None;
    for project in records.list_projects().await? {
        for run in records.list_protocol_runs(project.id).await? {
            if run.protocol_name == branch && found.as_ref().is_none_or(|f| f.id < run.id) {
                found = Some(run);
            }
        }
    }
    found.ok_or_else(|| ApiError::not_found(format!("no protocol run for branch `{branch}`")))
}
