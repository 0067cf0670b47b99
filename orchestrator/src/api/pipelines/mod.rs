//! The coding-pipelines API of seed 001 on the records layer ([`crate::pipelines`]):
//! `/projects`, `/protocols/{id}`, `/steps/{id}`, `/events`, `/health`, `/codex/runs`,
//! `/queues`, `/metrics` (no `/api/v1` prefix, as the seed has them).
//!
//! The data: projects own protocol runs, runs own steps (unique by `step_index`) and
//! events (append-only, newest first when listed); clarifications hang off a project or a
//! run. Ids are integers allocated by the store; a path id that is not one is 400.
//! Timestamps are stored as epoch ms and answered as RFC 3339 ([`views`]). A project's
//! secrets are write-only: no answer carries them ([`views::project`] renders the public
//! record, which has no secrets field at all).
//!
//! Every request goes through [`serve`]: the bearer token (`BATON_API_TOKEN`, when set)
//! is checked first, and every answer, error or not, carries `X-Request-ID` (the
//! caller's when it sent a usable one, else a new uuid), also written into the metadata
//! of the events the request causes. Project-scoped routes also check the project's
//! `X-Project-Token` when its secrets hold an `api_token` ([`Ctx::check_project`]).
//!
//! Status changes are compare-and-sets through the state tables
//! ([`crate::pipelines::status`]): a wrong current status or a lost race is 409 naming
//! the status found. Actions answer `{"message", "job"}`, `job` naming the Baton job they
//! enqueued (`engine::pipeline_jobs`) or `null`; those that only change a record (pause,
//! resume, cancel, step approve) also carry the record's fields, which is what the
//! upstream clients read. Job types are answered as `plan_protocol_job`, ...
//! ([`crate::pipelines::runs::job_type_name`]).
//!
//! One file per resource group: [`projects`], [`protocols`] (+ [`actions`]), [`steps`],
//! [`events`] (also `/health`), [`codemachine`] (the CodeMachine import), [`webhooks`],
//! [`runs`] (runs, logs, artifacts), [`queues`], [`metrics`] (`/metrics`), [`summaries`]
//! (a run's spec and CI summary, a project's policy findings); [`schemas`] and
//! [`run_schemas`] spell the bodies out for OpenAPI.
//! Onboarding ([`onboarding`]: summary and start; [`onboarding_view`]: stage times and
//! hints) and branches ([`branches`]) have their bodies in [`onboarding_schemas`];
//! [`gates`] holds planning, execution and QA back while blocking clarifications are open.

pub mod actions;
pub mod branches;
pub mod codemachine;
pub mod events;
pub mod gates;
pub mod metrics;
pub mod onboarding;
pub mod onboarding_schemas;
pub mod onboarding_view;
pub mod projects;
pub mod protocols;
pub mod queues;
pub mod run_schemas;
pub mod runs;
pub mod schemas;
pub mod steps;
pub mod summaries;
pub mod views;
pub mod webhooks;

use super::error::ApiError;
use super::{respond, AppRef};
use crate::pipelines::jobs::{PipelineJob, PipelineJobs};
use crate::pipelines::{Id, NewEvent, RecordError};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::future::Future;
use warp::http::{HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection};

pub const REQUEST_ID: &str = "x-request-id";

/// All the pipelines routes.
pub fn routes(app: AppRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    projects::routes(app.clone())
        .or(protocols::routes(app.clone()))
        .unify()
        .or(actions::routes(app.clone()))
        .unify()
        .or(steps::routes(app.clone()))
        .unify()
        .or(events::routes(app.clone()))
        .unify()
        .or(webhooks::routes(app.clone()))
        .unify()
        .or(onboarding::routes(app.clone()))
        .unify()
        .or(branches::routes(app.clone()))
        .unify()
        .or(codemachine::routes(app.clone()))
        .unify()
        .or(runs::routes(app.clone()))
        .unify()
        .or(queues::routes(app.clone()))
        .unify()
        .or(summaries::routes(app.clone()))
        .unify()
        .or(metrics::routes(app))
        .unify()
}

/// Whether a request (by route template) is one of the pipelines API's, whose requests
/// `requests_total` / `requests_duration_seconds` count.
pub fn counts_requests(route: &str) -> bool {
    !(route.starts_with("/_") || route.starts_with("/api/") || route == "other")
}

/// What every handler gets: the app and the request's credentials and id.
#[derive(Clone)]
pub struct Ctx {
    pub app: AppRef,
    pub request_id: String,
    bearer: Option<String>,
    project_token: Option<String>,
}

pub(super) fn ctx(app: AppRef) -> impl Filter<Extract = (Ctx,), Error = Rejection> + Clone {
    warp::header::optional::<String>(REQUEST_ID)
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::header::optional::<String>("x-project-token"))
        .map(
            move |rid: Option<String>, bearer: Option<String>, project_token: Option<String>| Ctx {
                app: app.clone(),
                request_id: request_id(rid),
                bearer,
                project_token,
            },
        )
}

/// The caller's id if it is short printable ASCII (it is echoed in a header and stored
/// in events), else a new uuid.
pub(crate) fn request_id(sent: Option<String>) -> String {
    sent.filter(|s| (1..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Whether two secrets are equal, in time independent of where they differ: the
/// digests have a fixed length, so neither the position of a difference nor the token's
/// length shows in the timing.
pub fn tokens_match(given: &str, expected: &str) -> bool {
    let (a, b) = (
        Sha256::digest(given.as_bytes()),
        Sha256::digest(expected.as_bytes()),
    );
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

impl Ctx {
    /// The pipelines' job code, on this app's engine, records and metrics.
    pub fn jobs(&self) -> PipelineJobs<'_> {
        PipelineJobs {
            engine: &self.app.engine,
            records: self.app.records.as_ref(),
            metrics: &self.app.metrics.pipelines,
        }
    }

    /// 401 unless the bearer token matches `BATON_API_TOKEN` (no check when it is unset).
    fn authorize(&self) -> Result<(), ApiError> {
        let Some(expected) = self.app.cfg.api_token.as_deref() else {
            return Ok(());
        };
        let given = self
            .bearer
            .as_deref()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim);
        match given {
            Some(t) if tokens_match(t, expected) => Ok(()),
            Some(_) => Err(unauthorized("wrong bearer token")),
            None => Err(unauthorized("missing `Authorization: Bearer <token>`")),
        }
    }

    /// 404 for an unknown project; 401 when its secrets hold an `api_token` and the
    /// request's `X-Project-Token` is missing or another.
    pub async fn check_project(&self, project_id: Id) -> Result<(), ApiError> {
        let secrets = self.app.records.project_secrets(project_id).await?;
        let Some(expected) = secrets.api_token() else {
            return Ok(());
        };
        match self.project_token.as_deref() {
            Some(t) if tokens_match(t, expected) => Ok(()),
            Some(_) => Err(unauthorized("wrong X-Project-Token")),
            None => Err(unauthorized("this project requires X-Project-Token")),
        }
    }

    /// Whether the request may see a project's records (for listings that skip the
    /// others rather than refuse).
    pub async fn may_see(&self, project_id: Id) -> Result<bool, ApiError> {
        match self.check_project(project_id).await {
            Ok(()) => Ok(true),
            Err(e) if e.status == StatusCode::UNAUTHORIZED => Ok(false),
            // The project went away between listing and checking: nothing to show.
            Err(e) if e.status == StatusCode::NOT_FOUND => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Appends an event to a run, with the request id in its metadata.
    pub async fn event(
        &self,
        protocol_run_id: Id,
        step_run_id: Option<Id>,
        event_type: &str,
        message: String,
        extra: Option<Value>,
    ) -> Result<(), ApiError> {
        let mut metadata = json!({"request_id": self.request_id});
        if let (Some(Value::Object(extra)), Value::Object(m)) = (extra, &mut metadata) {
            m.extend(extra);
        }
        tracing::info!(
            protocol_run_id,
            step_run_id,
            event_type,
            request_id = %self.request_id,
            "{message}"
        );
        self.app
            .records
            .append_event(NewEvent {
                protocol_run_id,
                step_run_id,
                event_type: event_type.into(),
                message,
                metadata: Some(metadata),
            })
            .await?;
        Ok(())
    }

    pub(super) fn stamp(&self, mut resp: Response) -> Response {
        if let Ok(v) = HeaderValue::from_str(&self.request_id) {
            resp.headers_mut().insert(REQUEST_ID, v);
        }
        resp
    }
}

/// Runs a handler behind the bearer check and stamps `X-Request-ID` on its answer.
pub async fn serve(c: &Ctx, handler: impl Future<Output = Result<Response, ApiError>>) -> Response {
    let result = match c.authorize() {
        Ok(()) => Box::pin(handler).await,
        Err(e) => Err(e),
    };
    c.stamp(respond(result))
}

/// [`serve`] without the bearer check (`/health`, which probes call without tokens).
pub async fn serve_public(
    c: &Ctx,
    handler: impl Future<Output = Result<Response, ApiError>>,
) -> Response {
    c.stamp(respond(Box::pin(handler).await))
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
}

pub fn conflict(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "conflict", message)
}

impl From<RecordError> for ApiError {
    fn from(e: RecordError) -> ApiError {
        match e {
            RecordError::NotFound { .. } => ApiError::not_found(e.to_string()),
            RecordError::DuplicateStepIndex { .. } => conflict(e.to_string()),
            RecordError::Store(e) => e.into(),
        }
    }
}

/// A path id: a non-negative integer, else 400.
pub fn parse_id(raw: &str, what: &str) -> Result<Id, ApiError> {
    raw.parse::<Id>()
        .map_err(|_| ApiError::bad_request(format!("`{raw}` is not a {what} id (an integer)")))
}

/// A JSON body into `T`, 400 naming what is wrong.
pub fn json_body<T: DeserializeOwned>(
    body: Result<Bytes, ApiError>,
    what: &str,
) -> Result<T, ApiError> {
    let body = body?;
    serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("invalid {what}: {e}")))
}

/// A JSON answer with a status.
pub fn reply(status: StatusCode, body: &impl serde::Serialize) -> Result<Response, ApiError> {
    let value = serde_json::to_value(body)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    Ok(super::json_response(status, &value))
}

/// The `job` of an answer: the Baton job just enqueued, under its client-facing job type
/// (`execute_step_job`, ...) in the one queue of pipeline jobs, [`queues::QUEUE`].
pub fn job_json(kind: PipelineJob, job_id: &str) -> Value {
    json!({"job_id": job_id, "job_type": kind.job_type(), "status": "queued", "queue": queues::QUEUE})
}

/// An action's answer naming the Baton job it enqueued.
pub fn job_answer(message: String, kind: PipelineJob, job_id: &str) -> Result<Response, ApiError> {
    reply(
        StatusCode::OK,
        &json!({"message": message, "job": job_json(kind, job_id)}),
    )
}

/// Enqueues the pipeline job of an action that was just applied (its event is the
/// action's; the answer names the job).
pub async fn enqueue(
    c: &Ctx,
    kind: PipelineJob,
    run: &crate::pipelines::ProtocolRun,
    step: Option<&crate::pipelines::StepRun>,
) -> Result<String, ApiError> {
    let job_id = c.jobs().enqueue(kind, run, step).await?;
    tracing::info!(job_id, job_type = %kind.job_type(), run = run.id, request_id = %c.request_id, "pipeline job enqueued");
    Ok(job_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_by_value() {
        assert!(tokens_match("abc", "abc"));
        assert!(!tokens_match("abc", "abd"));
        assert!(!tokens_match("", "abc"));
    }

    #[test]
    fn request_ids_are_echoed_only_when_usable() {
        assert_eq!(request_id(Some("req-1".into())), "req-1");
        assert_ne!(request_id(Some("has space".into())), "has space");
        assert_ne!(request_id(Some("x".repeat(200))).len(), 200);
        assert_eq!(request_id(None).len(), 36);
    }

    #[test]
    fn ids_are_integers() {
        assert_eq!(parse_id("12", "project").ok(), Some(12));
        assert!(parse_id("abc", "project").is_err());
        assert!(parse_id("-1", "project").is_err());
    }
}
