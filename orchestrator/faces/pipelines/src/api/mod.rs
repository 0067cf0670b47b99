//! The coding pipelines' HTTP API on the records layer ([`crate`]):
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
//! ([`crate::status`]): a wrong current status or a lost race is 409 naming
//! the status found. Actions answer `{"message", "job"}`, `job` naming the Baton job they
//! enqueued (`engine::pipeline_jobs`) or `null`; those that only change a record (pause,
//! resume, cancel, step approve) also carry the record's fields, which is what the
//! upstream clients read. Job types are answered as `plan_protocol_job`, ...
//! ([`crate::runs::job_type_name`]).
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
pub mod doc;
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

use crate::jobs::{PipelineJob, PipelineJobs};
use crate::AppRef;
use crate::{Id, NewEvent, RecordError};
use baton_http::{respond, ApiError};

use serde_json::{json, Value};

use std::future::Future;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

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

/// Every route of the coding-pipelines face, as `(method, path template)`; each must be
/// documented in the OpenAPI document (tested).
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/projects"),
    ("GET", "/projects"),
    ("GET", "/projects/{id}"),
    ("GET", "/projects/{id}/clarifications"),
    ("POST", "/projects/{id}/clarifications/{key}"),
    ("POST", "/projects/{id}/protocols"),
    ("GET", "/projects/{id}/protocols"),
    ("GET", "/projects/{id}/onboarding"),
    ("POST", "/projects/{id}/onboarding/actions/start"),
    ("GET", "/projects/{id}/branches"),
    ("POST", "/projects/{id}/branches/{branch}/delete"),
    ("GET", "/protocols/{id}"),
    ("GET", "/protocols/{id}/clarifications"),
    ("POST", "/protocols/{id}/clarifications/{key}"),
    ("POST", "/protocols/{id}/actions/{action}"),
    ("POST", "/protocols/{id}/steps"),
    ("GET", "/protocols/{id}/steps"),
    ("GET", "/protocols/{id}/events"),
    ("GET", "/steps/{id}"),
    ("POST", "/steps/{id}/actions/{action}"),
    ("GET", "/events"),
    ("GET", "/health"),
    ("POST", "/webhooks/github"),
    ("POST", "/webhooks/gitlab"),
    ("POST", "/projects/{id}/codemachine/import"),
    ("GET", "/codex/runs"),
    ("GET", "/codex/runs/{run_id}"),
    ("GET", "/codex/runs/{run_id}/logs"),
    ("GET", "/codex/runs/{run_id}/artifacts"),
    (
        "GET",
        "/codex/runs/{run_id}/artifacts/{artifact_id}/content",
    ),
    ("GET", "/protocols/{id}/runs"),
    ("GET", "/steps/{id}/runs"),
    ("GET", "/queues"),
    ("GET", "/queues/jobs"),
    ("GET", "/protocols/{id}/spec"),
    ("GET", "/protocols/{id}/ci/summary"),
    ("GET", "/projects/{id}/policy/findings"),
    ("GET", "/metrics"),
];

/// The coding pipelines as a face of the server: its routes, its document, and its own
/// request metrics (`requests_total`, `requests_duration_seconds`), which count only its
/// routes.
impl baton_http::Face for crate::PipelinesFace {
    fn name(&self) -> &'static str {
        "pipelines"
    }
    fn routes(&self) -> &'static [(&'static str, &'static str)] {
        ROUTES
    }
    fn always_served(&self) -> &'static [&'static str] {
        &["/health"]
    }
    fn openapi(&self) -> utoipa::openapi::OpenApi {
        <doc::PipelinesDoc as utoipa::OpenApi>::openapi()
    }
    fn observe(
        &self,
        route: &'static str,
        method: &str,
        status: u16,
        elapsed: std::time::Duration,
    ) {
        let status = status.to_string();
        let labels = [route, method, status.as_str()];
        self.metrics.requests.with_label_values(&labels).inc();
        self.metrics
            .requests_duration
            .with_label_values(&labels)
            .observe(elapsed.as_secs_f64());
    }
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

pub use baton_http::{request_id, tokens_match, REQUEST_ID};

impl Ctx {
    /// The pipelines' job code, on this app's engine, records and metrics.
    pub fn jobs(&self) -> PipelineJobs<'_> {
        PipelineJobs {
            engine: &self.app.engine,
            records: self.app.records.as_ref(),
            metrics: &self.app.metrics,
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

    pub(super) fn stamp(&self, resp: Response) -> Response {
        baton_http::stamp(&self.request_id, resp)
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
    ApiError::unauthorized(message)
}

pub fn conflict(message: impl Into<String>) -> ApiError {
    ApiError::conflict(message)
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

pub use baton_http::{json_body, reply};

/// The `job` of an answer: the Baton job just enqueued, under its client-facing job type
/// (`execute_step_job`, ...) in the one queue of pipeline jobs, [`queues::QUEUE`].
pub fn job_json(kind: PipelineJob, job_id: &str) -> schemas::JobRef {
    schemas::JobRef {
        job_id: job_id.to_string(),
        job_type: kind.job_type().to_string(),
        status: "queued".into(),
        queue: queues::QUEUE.into(),
    }
}

/// An action's answer naming the Baton job it enqueued.
pub fn job_answer(message: String, kind: PipelineJob, job_id: &str) -> Result<Response, ApiError> {
    reply(
        StatusCode::OK,
        &schemas::ActionAnswer {
            message,
            job: Some(job_json(kind, job_id)),
        },
    )
}

/// Enqueues the pipeline job of an action that was just applied (its event is the
/// action's; the answer names the job).
pub async fn enqueue(
    c: &Ctx,
    kind: PipelineJob,
    run: &crate::ProtocolRun,
    step: Option<&crate::StepRun>,
) -> Result<String, ApiError> {
    let job_id = c.jobs().enqueue(kind, run, step).await?;
    tracing::info!(job_id, job_type = %kind.job_type(), run = run.id, request_id = %c.request_id, "pipeline job enqueued");
    Ok(job_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_integers() {
        assert_eq!(parse_id("12", "project").ok(), Some(12));
        assert!(parse_id("abc", "project").is_err());
        assert!(parse_id("-1", "project").is_err());
    }
}
