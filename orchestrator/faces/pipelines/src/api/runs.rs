//! Runs, their logs and artifacts: `/codex/runs[/{run_id}[/logs|/artifacts[/{id}/content]]]`,
//! `/protocols/{id}/runs`, `/steps/{id}/runs`.
//!
//! A run is one attempt of a pipeline job ([`crate::runs`]): recorded when its
//! result arrives, and shown while in flight (`queued`, `running`) from the job's tasks
//! ([`super::queues::live_runs_of`], over the newest 100 pipeline jobs). Listings are
//! newest first, in-flight runs ahead; `limit` defaults to 100, clamped to 1..=500.
//! `job_type` is answered as clients name it (`execute_step_job`) and filtered in either
//! form (`?job_type=execute_step` too); the records keep the blueprint name.
//! Logs and artifact contents are `text/plain` (capped when recorded: 256 KiB of log,
//! 1 MiB per artifact). A run of a project with an `api_token` needs its
//! `X-Project-Token`; the unfiltered listing leaves such runs out instead.

use super::protocols::load_run;
use super::run_schemas::{ArtifactView, RunView};
use super::{ctx, parse_id, queues::live_runs_of, reply, serve, Ctx};
use crate::runs::*;
use crate::AppRef;
use crate::{Id, RecordError};
use baton_http::ApiError;
use baton_http::ErrorBody;
use baton_protocol::clock::rfc3339;
use std::collections::HashMap;
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection};

type Query = HashMap<String, String>;

pub fn routes(app: AppRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let get = warp::get().and(ctx(app)).and(warp::query::<Query>());
    let list = warp::path!("codex" / "runs")
        .and(get.clone())
        .then(|c: Ctx, q: Query| async move { serve(&c, list_runs(&c, q)).await });
    let one = warp::path!("codex" / "runs" / String)
        .and(get.clone())
        .then(|id: String, c: Ctx, _: Query| async move { serve(&c, get_run(&c, &id)).await });
    let logs = warp::path!("codex" / "runs" / String / "logs")
        .and(get.clone())
        .then(|id: String, c: Ctx, _: Query| async move { serve(&c, run_logs(&c, &id)).await });
    let artifacts =
        warp::path!("codex" / "runs" / String / "artifacts")
            .and(get.clone())
            .then(|id: String, c: Ctx, q: Query| async move {
                serve(&c, run_artifacts(&c, &id, q)).await
            });
    let content = warp::path!("codex" / "runs" / String / "artifacts" / String / "content")
        .and(get.clone())
        .then(|id: String, aid: String, c: Ctx, _: Query| async move {
            serve(&c, artifact_content(&c, &id, &aid)).await
        });
    let of_protocol =
        warp::path!("protocols" / String / "runs")
            .and(get.clone())
            .then(|id: String, c: Ctx, q: Query| async move {
                serve(&c, protocol_runs(&c, &id, q)).await
            });
    let of_step = warp::path!("steps" / String / "runs")
        .and(get)
        .then(|id: String, c: Ctx, q: Query| async move { serve(&c, step_runs(&c, &id, q)).await });
    list.or(one)
        .unify()
        .or(logs)
        .unify()
        .or(artifacts)
        .unify()
        .or(content)
        .unify()
        .or(of_protocol)
        .unify()
        .or(of_step)
        .unify()
}

/// A run as answered: times as RFC 3339, `job_type` as clients name it.
fn run_view(r: &Run) -> RunView {
    RunView {
        run_id: r.run_id.clone(),
        job_id: r.job_id.clone(),
        job_type: job_type_name(&r.job_type),
        status: r.status,
        run_kind: r.run_kind.clone(),
        project_id: r.project_id,
        protocol_run_id: r.protocol_run_id,
        step_run_id: r.step_run_id,
        attempt: r.attempt,
        worker_id: r.worker_id.clone(),
        started_at: r.started_at.map(rfc3339),
        finished_at: r.finished_at.map(rfc3339),
        params: r.params.clone(),
        result: r.result.clone(),
        error: r.error.clone(),
        log_path: r.log_path.clone(),
        log_bytes: r.log_bytes,
        log_truncated: r.log_truncated,
        cost_tokens: r.cost_tokens,
        cost_cents: r.cost_cents,
        created_at: rfc3339(r.created_at),
    }
}

fn artifact_view(a: &RunArtifact) -> ArtifactView {
    ArtifactView {
        id: a.id,
        run_id: a.run_id.clone(),
        name: a.name.clone(),
        kind: a.kind.clone(),
        path: a.path.clone(),
        sha256: a.sha256.clone(),
        bytes: a.bytes,
        truncated: a.truncated,
        created_at: rfc3339(a.created_at),
    }
}

fn text(body: String) -> Result<Response, ApiError> {
    let mut resp = Response::new(body.into());
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(resp)
}

fn opt<'q>(q: &'q Query, key: &str) -> Option<&'q str> {
    q.get(key).map(String::as_str).filter(|v| !v.is_empty())
}

/// The filter of a query (400 on a bad value); `ids` false ignores the id filters
/// (the path gives them).
fn filter(q: &Query, ids: bool) -> Result<RunFilter, ApiError> {
    let id = |key: &str| opt(q, key).map(|v| parse_id(v, key)).transpose();
    let status = opt(q, "status")
        .map(|s| {
            RunStatus::parse(s).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "`status` must be queued, running, succeeded, failed or cancelled, not `{s}`"
                ))
            })
        })
        .transpose()?;
    let run_kind = opt(q, "run_kind")
        .map(|k| {
            if is_run_kind(k) {
                Ok(k.to_string())
            } else {
                Err(ApiError::bad_request(format!("unknown `run_kind` `{k}`")))
            }
        })
        .transpose()?;
    let limit = match opt(q, "limit") {
        None => DEFAULT_RUN_LIMIT,
        Some(raw) => raw
            .parse::<i64>()
            .map(|n| n.clamp(1, MAX_RUNS as i64) as usize)
            .map_err(|_| {
                ApiError::bad_request(format!("`limit` must be an integer, not `{raw}`"))
            })?,
    };
    Ok(RunFilter {
        job_type: if ids {
            opt(q, "job_type").map(|t| blueprint_of(t).to_string())
        } else {
            None
        },
        status,
        project_id: if ids { id("project_id")? } else { None },
        protocol_run_id: if ids { id("protocol_run_id")? } else { None },
        step_run_id: if ids { id("step_run_id")? } else { None },
        run_kind,
        limit,
    })
}

/// In-flight runs (when the status filter allows them) ahead of recorded ones, the
/// runs of projects the request may not see left out.
async fn runs_matching(c: &Ctx, f: &RunFilter) -> Result<Vec<RunView>, ApiError> {
    let mut runs = Vec::new();
    if f.status.is_none_or(RunStatus::live) {
        let keep = |j: &QueueJob| {
            f.project_id.is_none_or(|p| j.project_id == Some(p))
                && f.protocol_run_id
                    .is_none_or(|p| j.protocol_run_id == Some(p))
                && f.step_run_id.is_none_or(|s| j.step_run_id == Some(s))
                && f.job_type.as_ref().is_none_or(|t| *t == j.job_type)
        };
        runs.extend(
            live_runs_of(c, keep)
                .await?
                .into_iter()
                .filter(|r| f.matches(r)),
        );
    }
    runs.extend(c.app.records.list_runs(f).await?);
    let mut seen = std::collections::HashSet::new();
    let mut visible: HashMap<Id, bool> = HashMap::new();
    let mut out = Vec::new();
    for r in runs {
        if out.len() >= f.limit() || !seen.insert(r.run_id.clone()) {
            continue;
        }
        if let Some(p) = r.project_id {
            if let std::collections::hash_map::Entry::Vacant(e) = visible.entry(p) {
                e.insert(c.may_see(p).await?);
            }
            if visible.get(&p) == Some(&false) {
                continue;
            }
        }
        out.push(run_view(&r));
    }
    Ok(out)
}

/// A run, recorded or in flight, checked against the project token.
async fn find_run(c: &Ctx, run_id: &str) -> Result<Run, ApiError> {
    let run = match c.app.records.get_run(run_id).await {
        Ok(run) => run,
        Err(RecordError::NotFound { .. }) => live_runs_of(c, |_| true)
            .await?
            .into_iter()
            .find(|r| r.run_id == run_id)
            .ok_or_else(|| ApiError::not_found(format!("run {run_id} not found")))?,
        Err(e) => return Err(e.into()),
    };
    if let Some(p) = run.project_id {
        c.check_project(p).await?;
    }
    Ok(run)
}

/// Runs of every pipeline job, filtered.
#[utoipa::path(
    get,
    path = "/codex/runs",
    tag = "pipelines",
    params(
        ("job_type" = Option<String>, Query, description = "E.g. `execute_step_job` (the blueprint name `execute_step` is accepted too)."),
        ("status" = Option<String>, Query, description = "`queued`, `running`, `succeeded`, `failed` or `cancelled`."),
        ("project_id" = Option<u64>, Query, description = "Only this project's runs."),
        ("protocol_run_id" = Option<u64>, Query, description = "Only this protocol run's runs."),
        ("step_run_id" = Option<u64>, Query, description = "Only this step's runs."),
        ("run_kind" = Option<String>, Query, description = "`plan`, `exec`, `qa`, `setup`, `open_pr` or `codemachine_import`."),
        ("limit" = Option<u32>, Query, description = "At most this many (1..=500, default 100)."),
    ),
    responses(
        (status = 200, description = "Runs, newest first (in-flight ones ahead).", body = [RunView]),
        (status = 400, description = "Bad status, run_kind, id or limit.", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token, or project token of `project_id`.", body = ErrorBody),
        (status = 404, description = "No such project.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("api_token" = [])),
)]
async fn list_runs(c: &Ctx, q: Query) -> Result<Response, ApiError> {
    let f = filter(&q, true)?;
    if let Some(p) = f.project_id {
        c.check_project(p).await?;
    }
    reply(StatusCode::OK, &runs_matching(c, &f).await?)
}

/// A protocol run's runs.
#[utoipa::path(
    get,
    path = "/protocols/{id}/runs",
    tag = "pipelines",
    params(
        ("id" = u64, Path, description = "Protocol run id."),
        ("run_kind" = Option<String>, Query, description = "`plan`, `exec`, `qa`, `setup`, `open_pr` or `codemachine_import`."),
        ("limit" = Option<u32>, Query, description = "At most this many (1..=500, default 100)."),
    ),
    responses(
        (status = 200, description = "Runs, newest first (in-flight ones ahead).", body = [RunView]),
        (status = 400, description = "Bad id, run_kind or limit.", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer or project token.", body = ErrorBody),
        (status = 404, description = "No such protocol run.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("api_token" = [])),
)]
async fn protocol_runs(c: &Ctx, id: &str, q: Query) -> Result<Response, ApiError> {
    let run = load_run(c, id).await?;
    let f = RunFilter {
        protocol_run_id: Some(run.id),
        ..filter(&q, false)?
    };
    reply(StatusCode::OK, &runs_matching(c, &f).await?)
}

/// A step's runs (its executions and reviews, each attempt).
#[utoipa::path(
    get,
    path = "/steps/{id}/runs",
    tag = "pipelines",
    params(
        ("id" = u64, Path, description = "Step run id."),
        ("run_kind" = Option<String>, Query, description = "`exec`, `qa`, ..."),
        ("limit" = Option<u32>, Query, description = "At most this many (1..=500, default 100)."),
    ),
    responses(
        (status = 200, description = "Runs, newest first (in-flight ones ahead).", body = [RunView]),
        (status = 400, description = "Bad id, run_kind or limit.", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer or project token.", body = ErrorBody),
        (status = 404, description = "No such step.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("api_token" = [])),
)]
async fn step_runs(c: &Ctx, id: &str, q: Query) -> Result<Response, ApiError> {
    let step = c
        .app
        .records
        .get_step_run(parse_id(id, "step run")?)
        .await?;
    let run = c.app.records.get_protocol_run(step.protocol_run_id).await?;
    c.check_project(run.project_id).await?;
    let f = RunFilter {
        step_run_id: Some(step.id),
        ..filter(&q, false)?
    };
    reply(StatusCode::OK, &runs_matching(c, &f).await?)
}

/// One run.
#[utoipa::path(
    get,
    path = "/codex/runs/{run_id}",
    tag = "pipelines",
    params(("run_id" = String, Path, description = "Run id (the attempt's task id).")),
    responses(
        (status = 200, description = "The run.", body = RunView),
        (status = 401, description = "Missing or wrong bearer or project token.", body = ErrorBody),
        (status = 404, description = "No such run.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("api_token" = [])),
)]
async fn get_run(c: &Ctx, run_id: &str) -> Result<Response, ApiError> {
    let run = find_run(c, run_id).await?;
    reply(StatusCode::OK, &run_view(&run))
}

/// A run's log (empty while it is in flight).
#[utoipa::path(
    get,
    path = "/codex/runs/{run_id}/logs",
    tag = "pipelines",
    params(("run_id" = String, Path, description = "Run id.")),
    responses(
        (status = 200, description = "The log (at most 256 KiB: the tail, behind a line saying what was cut).", body = String, content_type = "text/plain"),
        (status = 401, description = "Missing or wrong bearer or project token.", body = ErrorBody),
        (status = 404, description = "No such run.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("api_token" = [])),
)]
async fn run_logs(c: &Ctx, run_id: &str) -> Result<Response, ApiError> {
    let run = find_run(c, run_id).await?;
    if run.status.live() {
        return text(String::new());
    }
    text(c.app.records.run_log(run_id).await?)
}

/// A run's artifacts (metadata).
#[utoipa::path(
    get,
    path = "/codex/runs/{run_id}/artifacts",
    tag = "pipelines",
    params(
        ("run_id" = String, Path, description = "Run id."),
        ("kind" = Option<String>, Query, description = "Only artifacts of this kind."),
        ("limit" = Option<u32>, Query, description = "At most this many (1..=500, default 100)."),
    ),
    responses(
        (status = 200, description = "The artifacts, oldest first.", body = [ArtifactView]),
        (status = 400, description = "Bad limit.", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer or project token.", body = ErrorBody),
        (status = 404, description = "No such run.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("api_token" = [])),
)]
async fn run_artifacts(c: &Ctx, run_id: &str, q: Query) -> Result<Response, ApiError> {
    let limit = filter(&q, false)?.limit;
    let run = find_run(c, run_id).await?;
    if run.status.live() {
        return reply(StatusCode::OK, &Vec::<ArtifactView>::new());
    }
    let list = c
        .app
        .records
        .list_artifacts(run_id, opt(&q, "kind"), limit)
        .await?;
    let out: Vec<ArtifactView> = list.iter().map(artifact_view).collect();
    reply(StatusCode::OK, &out)
}

/// An artifact's content.
#[utoipa::path(
    get,
    path = "/codex/runs/{run_id}/artifacts/{artifact_id}/content",
    tag = "pipelines",
    params(
        ("run_id" = String, Path, description = "Run id."),
        ("artifact_id" = u64, Path, description = "Artifact id."),
    ),
    responses(
        (status = 200, description = "The content as text (at most 1 MiB).", body = String, content_type = "text/plain"),
        (status = 400, description = "Bad artifact id.", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer or project token.", body = ErrorBody),
        (status = 404, description = "No such run, or no such artifact of it.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("api_token" = [])),
)]
async fn artifact_content(c: &Ctx, run_id: &str, artifact: &str) -> Result<Response, ApiError> {
    let artifact = parse_id(artifact, "artifact")?;
    find_run(c, run_id).await?;
    let (_, content) = c.app.records.artifact_content(run_id, artifact).await?;
    text(content)
}
