//! `POST /api/{version}/{endpoint}/batch`: many jobs of one blueprint in one request.
//!
//! The body is `{"jobs": [<creation body>, ...]}`, each item what the single creation
//! route takes. Every item is checked on its own: one that is malformed gets its error
//! in its place and the others are created all the same. The answer lists, in the
//! order of the request, `{"status": "accepted", "job_id"}` or `{"status": "error",
//! "error", "code"}`. The jobs go to the store in chunks, each chunk's commits in one
//! round trip ([`baton_engine::Engine::create_jobs`]); at most `BATON_MAX_BATCH_JOBS`
//! items per request. A store failure of a chunk marks its items `store_unavailable`
//! and stops there: the items after it are reported as not attempted, never lost
//! silently.

use super::client::{client, new_job, Token};
use super::error::{codes, ApiError};
use super::schemas::ErrorBody;
use super::{json_response, parse_json, AppRef};
use baton_blueprint::Blueprint;
use baton_engine::NewJob;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reply::Response;

/// Jobs per store round trip.
const CHUNK: usize = 100;

/// Many creations of one blueprint.
#[derive(Deserialize, ToSchema)]
pub struct CreateJobsRequest {
    /// Each item as `POST /api/{version}/{endpoint}` takes it (`initial_data`,
    /// `webhook_url`, `metadata`, `dispatch_timeout`, `result_timeout`).
    #[schema(value_type = Vec<Object>)]
    pub jobs: Vec<Value>,
}

/// One item's outcome.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct CreatedItem {
    /// `accepted` or `error`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// Why the item was not created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `bad_request`, or `store_unavailable` (the item was not created; its message
    /// says when it was not attempted because an earlier chunk failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// The outcome of every item, in the request's order.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct CreatedJobs {
    pub accepted: usize,
    pub rejected: usize,
    pub jobs: Vec<CreatedItem>,
}

impl CreatedItem {
    fn accepted(job_id: String) -> CreatedItem {
        CreatedItem {
            status: "accepted".into(),
            job_id: Some(job_id),
            error: None,
            code: None,
        }
    }

    fn error(e: ApiError) -> CreatedItem {
        CreatedItem {
            status: "error".into(),
            job_id: None,
            error: Some(e.message),
            code: Some(e.code.to_string()),
        }
    }
}

/// Creates many jobs of a blueprint at once.
#[utoipa::path(
    post,
    path = "/api/{version}/{endpoint}/batch",
    tag = "jobs",
    params(
        ("version" = String, Path, description = "The blueprint's version, e.g. `v1`."),
        ("endpoint" = String, Path, description = "The blueprint's endpoint after the version, e.g. `jobs/echo`."),
    ),
    request_body = CreateJobsRequest,
    responses(
        (status = 200, description = "Each item's job id or error, in order; an item's error never fails the others.", body = CreatedJobs),
        (status = 400, description = "The body is not `{\"jobs\": [...]}`, is empty or has more items than BATON_MAX_BATCH_JOBS.", body = ErrorBody),
        (status = 401, description = "Missing or unknown client token.", body = ErrorBody),
        (status = 404, description = "No blueprint serves this path.", body = ErrorBody),
        (status = 413, description = "Body too large.", body = ErrorBody),
        (status = 503, description = "Store unavailable before any job was created.", body = ErrorBody),
    ),
    security(("client_token" = [])),
)]
pub(super) async fn create_jobs(
    app: &AppRef,
    t: &Token,
    bp: &Blueprint,
    body: Result<Bytes, ApiError>,
) -> Result<Response, ApiError> {
    let client = client(app, t)?;
    let items = items(parse_json(&body?)?, app.cfg.max_batch_jobs)?;
    let mut checked = items.into_iter().map(new_job);
    let mut out: Vec<CreatedItem> = Vec::with_capacity(checked.len());
    let mut failed: Option<ApiError> = None;
    loop {
        let chunk: Vec<Result<NewJob, ApiError>> = checked.by_ref().take(CHUNK).collect();
        if chunk.is_empty() {
            break;
        }
        if let Some(e) = &failed {
            out.extend(chunk.iter().map(|_| not_attempted(e)));
            continue;
        }
        let (items, error) = create_chunk(app, &client, bp, chunk).await;
        if let Some(e) = error {
            if out.is_empty() {
                return Err(e);
            }
            failed = Some(e);
        }
        out.extend(items);
    }
    if let Some(skill) = bp.start_skill() {
        if let Some(id) = out.iter().find_map(|i| i.job_id.as_deref()) {
            super::skills::warn_if_unserved(app, id, &[skill.to_string()]).await;
        }
    }
    let accepted = out.iter().filter(|i| i.job_id.is_some()).count();
    let answer = CreatedJobs {
        accepted,
        rejected: out.len() - accepted,
        jobs: out,
    };
    Ok(json_response(StatusCode::OK, &answer))
}

/// Creates a chunk's valid items together: every item's outcome in order, and the store's
/// error if the chunk could not be committed (its valid items then carry that error).
async fn create_chunk(
    app: &AppRef,
    client: &str,
    bp: &Blueprint,
    chunk: Vec<Result<NewJob, ApiError>>,
) -> (Vec<CreatedItem>, Option<ApiError>) {
    let mut reqs = Vec::new();
    // The invalid items keep their place with their error.
    let slots: Vec<Option<CreatedItem>> = chunk
        .into_iter()
        .map(|item| match item {
            Ok(req) => {
                reqs.push(req);
                None
            }
            Err(e) => Some(CreatedItem::error(e)),
        })
        .collect();
    let mut created = match app.engine.create_jobs(client, bp, reqs).await {
        Ok(created) => created.into_iter(),
        Err(e) => {
            let e = ApiError::from(e);
            let items = slots
                .into_iter()
                .map(|s| s.unwrap_or_else(|| CreatedItem::error(e.clone())))
                .collect();
            return (items, Some(e));
        }
    };
    let items = slots
        .into_iter()
        .map(|slot| match slot {
            Some(error) => error,
            None => match created.next() {
                Some(Ok(id)) => CreatedItem::accepted(id),
                Some(Err(e)) => CreatedItem::error(e.into()),
                None => CreatedItem::error(ApiError::internal("a batch answer is missing")),
            },
        })
        .collect();
    (items, None)
}

/// The items of a `{"jobs": [...]}` body, 1 to `max` of them.
fn items(body: Value, max: usize) -> Result<Vec<Value>, ApiError> {
    let Value::Object(mut map) = body else {
        return Err(ApiError::bad_request("the body must be {\"jobs\": [...]}"));
    };
    if let Some(unknown) = map.keys().find(|k| k.as_str() != "jobs") {
        return Err(ApiError::bad_request(format!(
            "unknown field `{unknown}` (expected jobs)"
        )));
    }
    let Some(Value::Array(items)) = map.remove("jobs") else {
        return Err(ApiError::bad_request("`jobs` must be a list of job bodies"));
    };
    if items.is_empty() || items.len() > max {
        return Err(ApiError::bad_request(format!(
            "`jobs` holds 1 to {max} items (BATON_MAX_BATCH_JOBS), not {}",
            items.len()
        )));
    }
    Ok(items)
}

fn not_attempted(cause: &ApiError) -> CreatedItem {
    CreatedItem {
        status: "error".into(),
        job_id: None,
        error: Some(format!(
            "not attempted: an earlier chunk failed ({})",
            cause.message
        )),
        code: Some(codes::STORE_UNAVAILABLE.into()),
    }
}
