//! `GET /queues` and `GET /queues/jobs`: the pipeline jobs as one queue.
//!
//! The data: the queue index ([`QueueJob`], written when a pipeline action enqueues a
//! job; newest first, at most [`MAX_QUEUE_JOBS`] looked at) joined with each Baton job's
//! current state, from which the queue status follows ([`queue_status`]): `queued`
//! (pending, waiting for a worker or a retry), `started` (running or waiting on
//! something), `finished`, `failed` (failed, cancelled or quarantined). A job gone from
//! the store (expired) is left out. Jobs of projects whose `X-Project-Token` the request
//! lacks are left out of `/queues/jobs` (their payload names the repository); the counts
//! of `/queues` are totals.
//!
//! Shapes, as the upstream clients read them: pipeline workers pull every pipeline job
//! from one pool, so there is one queue, [`QUEUE`] (`default`, the name upstream's
//! clients show). `/queues` is an object, `{"backend": "baton-memory"|"baton-redis",
//! "default": {queued, started, finished, failed, job_types: {<job_type>: counts}}}`
//! (every key but `backend` is a queue, which is how the clients iterate it), and each
//! job of `/queues/jobs` carries `queue`, `attempts` and, beside the RFC 3339 times,
//! upstream's epoch-second floats (`created_at_epoch`, `started_at_epoch`,
//! `ended_at_epoch`). Job types are the client-facing `_job` names.
//!
//! The same join gives the runs still in flight to [`super::runs`] ([`live_runs_of`]).

use super::run_schemas::{JobCounts, QueueCounts, QueueJobView, QueuesView};
use super::{ctx, reply, serve, Ctx};
use crate::jobs::attempts::live_runs;
use crate::runs::{job_type_name, QueueJob, Run, MAX_QUEUE_JOBS, RUN_KINDS};
use crate::AppRef;
use baton_engine::job::JobDoc;
use baton_http::ApiError;
use baton_http::ErrorBody;
use baton_protocol::clock::rfc3339;
use baton_protocol::job_status;
use baton_store::StoredJob;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

type Query = HashMap<String, String>;

/// The one queue of pipeline jobs.
pub const QUEUE: &str = "default";

/// The queue statuses.
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

/// Epoch ms as the epoch-second float upstream's job records carry.
fn epoch_seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// The newest `limit` indexed jobs with their Baton job (expired ones skipped).
async fn joined(c: &Ctx, limit: usize) -> Result<Vec<(QueueJob, StoredJob, JobDoc)>, ApiError> {
    let entries = c.app.records.list_jobs(limit).await?;
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        if let Some((job, doc)) = c.app.engine.job(&entry.job_id).await? {
            out.push((entry, job, doc));
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
        if let Some((job, doc)) = c.app.engine.job(&entry.job_id).await? {
            out.extend(live_runs(&job, &doc));
        }
    }
    Ok(out)
}

/// Job counts by status: the one queue, and within it each job type.
#[utoipa::path(
    get,
    path = "/queues",
    tag = "pipelines",
    responses(
        (status = 200, description = "`backend` and the queue `default`, counted over the newest 500 pipeline jobs; `job_types` has every shipped pipeline job type (and any other seen).", body = QueuesView),
        (status = 401, description = "Missing or wrong bearer token.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("api_token" = [])),
)]
async fn queues(c: &Ctx) -> Result<Response, ApiError> {
    let mut by_type: BTreeMap<String, BTreeMap<&str, u64>> = RUN_KINDS
        .iter()
        .map(|(bp, _)| (job_type_name(bp), BTreeMap::new()))
        .collect();
    let mut total: BTreeMap<&str, u64> = BTreeMap::new();
    for (entry, job, _) in joined(c, MAX_QUEUE_JOBS).await? {
        let status = queue_status(&job.status);
        *by_type
            .entry(job_type_name(&entry.job_type))
            .or_default()
            .entry(status)
            .or_default() += 1;
        *total.entry(status).or_default() += 1;
    }
    let counts = |by: &BTreeMap<&str, u64>| {
        let n = |s: &str| by.get(s).copied().unwrap_or(0);
        JobCounts {
            queued: n("queued"),
            started: n("started"),
            finished: n("finished"),
            failed: n("failed"),
        }
    };
    let all = counts(&total);
    let queue = QueueCounts {
        queued: all.queued,
        started: all.started,
        finished: all.finished,
        failed: all.failed,
        job_types: by_type
            .iter()
            .map(|(name, by)| (name.clone(), counts(by)))
            .collect(),
    };
    let backend = format!("baton-{}", c.app.records.kind());
    reply(
        StatusCode::OK,
        &QueuesView {
            backend,
            default: queue,
        },
    )
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
            baton_store::TaskSlot::Leased { claimed_ms, .. } => Some(*claimed_ms),
            _ => None,
        });
        let started_ms = entry.started_at.or(started);
        out.push(QueueJobView {
            job_type: job_type_name(&entry.job_type),
            status: status.to_string(),
            queue: QUEUE.to_string(),
            attempts: doc.run.attempt,
            created_at: rfc3339(entry.created_at),
            started_at: started_ms.map(rfc3339),
            ended_at: doc.finished_ms.map(rfc3339),
            created_at_epoch: epoch_seconds(entry.created_at),
            started_at_epoch: started_ms.map(epoch_seconds),
            ended_at_epoch: doc.finished_ms.map(epoch_seconds),
            meta: json!({
                "pipeline": doc.metadata.get("pipeline"), "baton_status": job.status,
                "attempt": doc.run.attempt, "project_id": entry.project_id,
            }),
            result: doc.result,
            error: doc.error,
            job_id: entry.job_id,
            payload: entry.payload,
        });
    }
    reply(StatusCode::OK, &out)
}
