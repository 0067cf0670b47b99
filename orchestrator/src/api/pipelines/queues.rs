//! `GET /queues` and `GET /queues/jobs`: the pipeline jobs as queues, one per job type.
//!
//! The data: the queue index ([`QueueJob`], written when a pipeline action enqueues a
//! job; newest first, at most [`MAX_QUEUE_JOBS`] looked at) joined with each Baton job's
//! current state, from which the seed's status follows ([`queue_status`]): `queued`
//! (pending, waiting for a worker or a retry), `started` (running or waiting on
//! something), `finished`, `failed` (failed, cancelled or quarantined). A job gone from
//! the store (expired) is left out. Jobs of projects whose `X-Project-Token` the request
//! lacks are left out of `/queues/jobs` (their payload names the repository); the counts
//! of `/queues` are totals.
//!
//! The same join gives the runs still in flight to [`super::runs`] ([`live_runs_of`]).

use super::run_schemas::{QueueJobView, QueueStats};
use super::{ctx, reply, serve, Ctx};
use crate::api::error::ApiError;
use crate::api::schemas::ErrorBody;
use crate::api::AppRef;
use crate::clock::rfc3339;
use crate::engine::job::JobDoc;
use crate::engine::live_runs;
use crate::pipelines::runs::{QueueJob, Run, MAX_QUEUE_JOBS, RUN_KINDS};
use crate::store::StoredJob;
use baton_protocol::job_status;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

type Query = HashMap<String, String>;

/// The seed's queue statuses.
pub const QUEUE_STATUSES: [&str; 4] = ["queued", "started", "finished", "failed"];

/// Newest pipeline jobs whose in-flight attempts the runs routes show.
const LIVE_SCAN: usize = 100;

pub fn routes(app: AppRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let stats = warp::path!("queues")
        .and(warp::get())
        .and(ctx(app.clone()))
        .then(|c: Ctx| async move { serve(&c, queues(&c)).await });
    let jobs = warp::path!("queues" / "jobs")
        .and(warp::get())
        .and(ctx(app))
        .and(warp::query::<Query>())
        .then(|c: Ctx, q: Query| async move { serve(&c, queue_jobs(&c, q)).await });
    stats.or(jobs).unify()
}

/// The seed's status of a Baton job status.
pub fn queue_status(status: &str) -> &'static str {
    match status {
        job_status::PENDING | job_status::WAITING_FOR_WORKER | job_status::AWAITING_RETRY => {
            "queued"
        }
        job_status::FINISHED => "finished",
        s if job_status::is_terminal(s) => "failed",
        _ => "started",
    }
}

/// The newest `limit` indexed jobs with their Baton job (expired ones skipped).
async fn joined(c: &Ctx, limit: usize) -> Result<Vec<(QueueJob, StoredJob, JobDoc)>, ApiError> {
    let entries = c.app.records.list_jobs(limit).await?;
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        match c.app.engine.job_with_doc(&entry.job_id).await {
            Ok((job, doc)) => out.push((entry, job, doc)),
            Err(crate::engine::EngineError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// In-flight attempts of the newest pipeline jobs that `keep` selects by their entry.
pub(super) async fn live_runs_of(
    c: &Ctx,
    keep: impl Fn(&QueueJob) -> bool,
) -> Result<Vec<Run>, ApiError> {
    let entries = c.app.records.list_jobs(LIVE_SCAN).await?;
    let mut out = Vec::new();
    for entry in entries.iter().filter(|e| keep(e)) {
        match c.app.engine.job_with_doc(&entry.job_id).await {
            Ok((job, doc)) => out.extend(live_runs(&job, &doc)),
            Err(crate::engine::EngineError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// Job counts by status, one queue per job type.
#[utoipa::path(
    get,
    path = "/queues",
    tag = "pipelines",
    responses(
        (status = 200, description = "One entry per job type (the shipped pipeline blueprints, and any other seen), counted over the newest 500 pipeline jobs.", body = [QueueStats]),
        (status = 401, description = "Missing or wrong bearer token.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("api_token" = [])),
)]
async fn queues(c: &Ctx) -> Result<Response, ApiError> {
    let mut counts: BTreeMap<String, BTreeMap<&str, u64>> = RUN_KINDS
        .iter()
        .map(|(bp, _)| (bp.to_string(), BTreeMap::new()))
        .collect();
    for (entry, job, _) in joined(c, MAX_QUEUE_JOBS).await? {
        *counts
            .entry(entry.job_type)
            .or_default()
            .entry(queue_status(&job.status))
            .or_default() += 1;
    }
    let out: Vec<Value> = counts
        .into_iter()
        .map(|(name, by)| {
            let n = |s: &str| by.get(s).copied().unwrap_or(0);
            json!({
                "name": name, "count": n("queued"), "queued": n("queued"),
                "started": n("started"), "finished": n("finished"), "failed": n("failed"),
            })
        })
        .collect();
    reply(StatusCode::OK, &out)
}

/// The newest pipeline jobs, of one status if asked.
#[utoipa::path(
    get,
    path = "/queues/jobs",
    tag = "pipelines",
    params(("status" = Option<String>, Query, description = "`queued`, `started`, `finished` or `failed`; all when absent.")),
    responses(
        (status = 200, description = "Jobs, newest first (at most 500 looked at).", body = [QueueJobView]),
        (status = 400, description = "Unknown status.", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("api_token" = [])),
)]
async fn queue_jobs(c: &Ctx, q: Query) -> Result<Response, ApiError> {
    let want = match q.get("status").map(String::as_str) {
        None | Some("") => None,
        Some(s) if QUEUE_STATUSES.contains(&s) => Some(s.to_string()),
        Some(s) => {
            return Err(ApiError::bad_request(format!(
                "`status` must be one of {}, not `{s}`",
                QUEUE_STATUSES.join(", ")
            )))
        }
    };
    let mut visible: HashMap<u64, bool> = HashMap::new();
    let mut out = Vec::new();
    for (entry, job, doc) in joined(c, MAX_QUEUE_JOBS).await? {
        let status = queue_status(&job.status);
        if want.as_deref().is_some_and(|w| w != status) {
            continue;
        }
        if let Some(p) = entry.project_id {
            if !*match visible.entry(p) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => e.insert(c.may_see(p).await?),
            } {
                continue;
            }
        }
        let started = job.tasks.values().find_map(|s| match s {
            crate::store::TaskSlot::Leased { claimed_ms, .. } => Some(*claimed_ms),
            _ => None,
        });
        out.push(json!({
            "job_id": entry.job_id, "job_type": entry.job_type, "payload": entry.payload,
            "status": status,
            "created_at": rfc3339(entry.created_at),
            "started_at": entry.started_at.or(started).map(rfc3339),
            "ended_at": doc.finished_ms.map(rfc3339),
            "result": doc.result, "error": doc.error,
            "meta": {
                "pipeline": doc.metadata.get("pipeline"), "baton_status": job.status,
                "attempt": doc.run.attempt, "project_id": entry.project_id,
            },
        }));
    }
    reply(StatusCode::OK, &out)
}
