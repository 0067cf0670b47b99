//! `GET /api/v1/jobs`: jobs listed by the store's job index (filters, newest first, a
//! cursor per page), and `GET /api/v1/stats/timeline`: jobs created, finished and failed
//! per time bucket. A client token lists its own jobs; the admin token
//! (`BATON_ADMIN_TOKEN`) every client's, and may filter by client.

use super::client::{client, token, Token};
use super::error::ApiError;
use super::schemas::ErrorBody;
use super::{ok_json, respond, with_app, AppRef};
use baton_engine::ADMIN_CLIENT;
use baton_protocol::clock::{now_ms, rfc3339};
use baton_protocol::job_status;
use baton_store::{JobCursor, JobQuery};
use serde::Serialize;
use std::collections::HashMap;
use utoipa::ToSchema;
use warp::reply::Response;
use warp::{Filter, Rejection};

/// Jobs per page when `limit` is absent, and the most a page may hold.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 500;
/// Index entries one request looks at: bounds a request whatever the filters. On Redis
/// the walk is one script, which holds the server: 2,000 entries are ~15 ms of it (a
/// million stored jobs change nothing), where 5,000 were ~35 ms.
const SCAN_LIMIT: usize = 2_000;

/// A job in a listing.
#[derive(Serialize, ToSchema)]
pub struct JobListItem {
    pub id: String,
    pub status: String,
    pub blueprint_name: String,
    pub client: String,
    pub created_at: String,
    pub updated_at: String,
}

/// One page of jobs.
#[derive(Serialize, ToSchema)]
pub struct JobList {
    /// Newest first.
    pub jobs: Vec<JobListItem>,
    /// Pass as `cursor` for the next page; `null` when there is none. A page may hold
    /// fewer than `limit` jobs and still have a next one (each request looks at a bounded
    /// number of index entries).
    pub next_cursor: Option<String>,
}

/// Jobs in one time bucket.
#[derive(Serialize, ToSchema)]
pub struct TimelinePoint {
    pub start: String,
    pub created: u64,
    /// Jobs that ended `finished` in the bucket.
    pub finished: u64,
    /// Jobs that ended `failed` or `quarantined` in the bucket.
    pub failed: u64,
}

#[derive(Serialize, ToSchema)]
pub struct Timeline {
    pub bucket_seconds: u64,
    /// Oldest first, the last one the current bucket.
    pub buckets: Vec<TimelinePoint>,
}

pub fn routes(app: AppRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let list = warp::path!("api" / "v1" / "jobs")
        .and(warp::get())
        .and(token())
        .and(warp::query::<HashMap<String, String>>())
        .and(with_app(app.clone()))
        .then(
            |t: Token, q: HashMap<String, String>, app: AppRef| async move {
                respond(Box::pin(list_jobs(&app, &t, &q)).await)
            },
        );
    let timeline = warp::path!("api" / "v1" / "stats" / "timeline")
        .and(warp::get())
        .and(token())
        .and(warp::query::<HashMap<String, String>>())
        .and(with_app(app))
        .then(
            |t: Token, q: HashMap<String, String>, app: AppRef| async move {
                respond(Box::pin(timeline(&app, &t, &q)).await)
            },
        );
    list.or(timeline).unify()
}

fn bad(message: String) -> ApiError {
    ApiError::bad_request(message)
}

/// A time bound: RFC 3339 (`2026-12-07T10:00:00Z`) or epoch milliseconds.
fn time(name: &str, raw: &str) -> Result<i64, ApiError> {
    if let Ok(ms) = raw.parse::<i64>() {
        return Ok(ms);
    }
    baton_protocol::clock::parse_rfc3339(raw).ok_or_else(|| {
        bad(format!(
            "`{name}` is a time: RFC 3339 (2026-12-07T10:00:00Z) or epoch milliseconds, not `{raw}`"
        ))
    })
}

fn number(
    q: &HashMap<String, String>,
    name: &str,
    default: u64,
    max: u64,
) -> Result<u64, ApiError> {
    match q.get(name) {
        None => Ok(default),
        Some(raw) => match raw.parse::<u64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(bad(format!(
                "`{name}` is a whole number from 1 to {max}, not `{raw}`"
            ))),
        },
    }
}

/// The listing a request asks for, checked; the caller's client decides whose jobs.
fn query(q: &HashMap<String, String>, caller: &str) -> Result<JobQuery, ApiError> {
    const KNOWN: &[&str] = &[
        "status",
        "blueprint",
        "client",
        "from",
        "to",
        "q",
        "limit",
        "cursor",
    ];
    if let Some(unknown) = q.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(bad(format!(
            "unknown parameter `{unknown}` (expected {})",
            KNOWN.join(", ")
        )));
    }
    let status = q.get("status").filter(|s| !s.is_empty()).cloned();
    if let Some(s) = &status {
        if !job_status::ALL.contains(&s.as_str()) {
            return Err(bad(format!(
                "`status` is one of {}, not `{s}`",
                job_status::ALL.join(", ")
            )));
        }
    }
    let wanted = q.get("client").filter(|c| !c.is_empty()).cloned();
    let client = if caller == ADMIN_CLIENT {
        wanted
    } else {
        if wanted.as_deref().is_some_and(|w| w != caller) {
            return Err(ApiError::forbidden(
                "a client token lists its own jobs; every client's need the admin token",
            ));
        }
        Some(caller.to_string())
    };
    let cursor = match q.get("cursor").filter(|c| !c.is_empty()) {
        Some(c) => Some(
            JobCursor::decode(c)
                .ok_or_else(|| bad(format!("`cursor` `{c}` is not a cursor this listing gave")))?,
        ),
        None => None,
    };
    Ok(JobQuery {
        status,
        blueprint: q.get("blueprint").filter(|b| !b.is_empty()).cloned(),
        client,
        from_ms: q.get("from").map(|v| time("from", v)).transpose()?,
        to_ms: q.get("to").map(|v| time("to", v)).transpose()?,
        id_contains: q.get("q").filter(|t| !t.is_empty()).cloned(),
        cursor,
        limit: number(q, "limit", DEFAULT_LIMIT as u64, MAX_LIMIT as u64)? as usize,
        scan_limit: SCAN_LIMIT,
    })
}

/// Jobs, newest first, by the job index.
#[utoipa::path(
    get,
    path = "/api/v1/jobs",
    tag = "jobs",
    params(
        ("status" = Option<String>, Query, description = "Only jobs in this status now (`time` is then when they took it)."),
        ("blueprint" = Option<String>, Query, description = "Only jobs of this blueprint."),
        ("client" = Option<String>, Query, description = "Only this client's jobs (admin token only; a client token lists its own)."),
        ("from" = Option<String>, Query, description = "Created (or, with `status`, took it) at or after: RFC 3339 or epoch ms."),
        ("to" = Option<String>, Query, description = "... at or before."),
        ("q" = Option<String>, Query, description = "Text the job id contains."),
        ("limit" = Option<u32>, Query, description = "Jobs per page, 1 to 500 (default 50)."),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page."),
    ),
    responses(
        (status = 200, description = "A page, newest first.", body = JobList),
        (status = 400, description = "A bad parameter (named).", body = ErrorBody),
        (status = 401, description = "Missing or unknown client token.", body = ErrorBody),
        (status = 403, description = "A client token asked for another client's jobs.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("client_token" = [])),
)]
pub(super) async fn list_jobs(
    app: &AppRef,
    t: &Token,
    q: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let caller = client(app, t)?;
    let query = query(q, &caller)?;
    let page = app.engine.store.list_jobs(&query).await?;
    ok_json(&JobList {
        jobs: page
            .jobs
            .into_iter()
            .map(|j| JobListItem {
                id: j.id,
                status: j.status,
                blueprint_name: j.blueprint,
                client: j.client,
                created_at: rfc3339(j.created_ms),
                updated_at: rfc3339(j.updated_ms),
            })
            .collect(),
        next_cursor: page.next.map(|c| c.encode()),
    })
}

/// Jobs created, finished and failed per time bucket, every client's (admin token).
#[utoipa::path(
    get,
    path = "/api/v1/stats/timeline",
    tag = "jobs",
    params(
        ("minutes" = Option<u32>, Query, description = "How far back, 1 to 1440 (default 60)."),
        ("bucket_seconds" = Option<u32>, Query, description = "Bucket length, 1 to 3600 (default 60); at most 1440 buckets."),
    ),
    responses(
        (status = 200, description = "Oldest bucket first.", body = Timeline),
        (status = 400, description = "A bad parameter.", body = ErrorBody),
        (status = 401, description = "Missing or unknown client token.", body = ErrorBody),
        (status = 403, description = "Not the admin token: the counts cover every client.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("client_token" = [])),
)]
pub(super) async fn timeline(
    app: &AppRef,
    t: &Token,
    q: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    if client(app, t)? != ADMIN_CLIENT {
        return Err(ApiError::forbidden(
            "the timeline counts every client's jobs: it takes the admin token",
        ));
    }
    let minutes = number(q, "minutes", 60, 1440)?;
    let bucket = number(q, "bucket_seconds", 60, 3600)?;
    let buckets = (minutes * 60).div_ceil(bucket);
    if buckets > 1440 {
        return Err(bad(format!(
            "{buckets} buckets asked for: at most 1440 (widen `bucket_seconds`)"
        )));
    }
    let bucket_ms = i64::try_from(bucket * 1000).unwrap_or(60_000);
    // The last bucket holds now.
    let now = now_ms();
    let last = now - now.rem_euclid(bucket_ms);
    let start = last - (buckets as i64 - 1) * bucket_ms;
    let rows = app
        .engine
        .store
        .job_timeline(start, bucket_ms, buckets as usize)
        .await?;
    ok_json(&Timeline {
        bucket_seconds: bucket,
        buckets: rows
            .into_iter()
            .map(|b| TimelinePoint {
                start: rfc3339(b.start_ms),
                created: b.created,
                finished: b.finished,
                failed: b.failed,
            })
            .collect(),
    })
}
