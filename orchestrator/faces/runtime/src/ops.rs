//! `/_public` routes for operators: the quarantined jobs of a client (client token), and,
//! only when `BATON_ENABLE_DEBUG_ENDPOINTS` is on, the debug routes.

use super::client::{client, token, Token};
use super::error::ApiError;
use super::schemas::{ErrorBody, Flushed, QuarantinedJob, QuarantinedJobs};
use super::{ok_json, respond, with_app, AppRef};
use baton_engine::job::JobDoc;
use baton_protocol::clock::rfc3339;
use std::collections::HashMap;
use warp::reply::Response;
use warp::{Filter, Rejection};

/// Quarantined jobs listed when `?limit=` is absent, and the most a caller may ask for.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

pub fn routes(app: AppRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let quarantined = warp::path!("_public" / "jobs" / "quarantined")
        .and(warp::get())
        .and(token())
        .and(warp::query::<HashMap<String, String>>())
        .and(with_app(app.clone()))
        .then(
            |t: Token, q: HashMap<String, String>, app: AppRef| async move {
                respond(Box::pin(quarantined(&app, &t, q.get("limit").map(String::as_str))).await)
            },
        );
    let enabled = app.cfg.enable_debug_endpoints;
    // Checked right after the path (before the method): when off, every request to it is
    // rejected as if the route did not exist (404, not even a 405).
    let flush = warp::path!("_public" / "debug" / "flush_db")
        .and_then(move || async move {
            if enabled {
                Ok(())
            } else {
                Err(warp::reject::not_found())
            }
        })
        .untuple_one()
        .and(warp::post())
        .and(with_app(app))
        .then(|app: AppRef| async move { respond(Box::pin(flush_db(&app)).await) });
    quarantined.or(flush).unify()
}

/// `?limit=`: an integer from 1 to [`MAX_LIMIT`], [`DEFAULT_LIMIT`] when absent.
fn parse_limit(raw: Option<&str>) -> Result<usize, ApiError> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_LIMIT);
    };
    match raw.parse::<usize>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(ApiError::bad_request(format!(
            "limit `{raw}` must be an integer from 1 to {MAX_LIMIT}"
        ))),
    }
}

/// The caller's quarantined jobs, newest first: `{"jobs": [...], "count": n}`.
#[utoipa::path(
    get,
    path = "/_public/jobs/quarantined",
    tag = "public",
    params(("limit" = Option<u32>, Query, description = "Most jobs to list, 1 to 1000 (default 100).")),
    responses(
        (status = 200, description = "The caller's quarantined jobs, newest first.", body = QuarantinedJobs),
        (status = 400, description = "`limit` out of range.", body = ErrorBody),
        (status = 401, description = "Missing or unknown client token.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("client_token" = [])),
)]
pub(super) async fn quarantined(
    app: &AppRef,
    t: &Token,
    limit: Option<&str>,
) -> Result<Response, ApiError> {
    let client = client(app, t)?;
    let limit = parse_limit(limit)?;
    let entries = app.engine.store.quarantined_jobs(&client, limit).await?;
    let jobs: Vec<QuarantinedJob> = entries
        .iter()
        .filter_map(|e| {
            let doc: JobDoc = match serde_json::from_str(&e.job.doc) {
                Ok(doc) => doc,
                Err(error) => {
                    // One unreadable job should not hide the others.
                    tracing::warn!(job_id = %e.job.id, %error, "quarantined job has an unreadable document");
                    return None;
                }
            };
            // The index is per client already; this guards against a mix-up all the same.
            (doc.client == client).then(|| QuarantinedJob {
                job_id: e.job.id.clone(),
                blueprint_name: doc.blueprint,
                status: e.job.status.clone(),
                state: doc.state,
                error: doc.error,
                updated_at: rfc3339(doc.updated_ms),
                quarantined_at: rfc3339(e.quarantined_ms),
            })
        })
        .collect();
    ok_json(&QuarantinedJobs {
        count: jobs.len() as u64,
        jobs,
    })
}

/// Deletes everything the store holds (only routed when debug endpoints are on).
#[utoipa::path(
    post,
    path = "/_public/debug/flush_db",
    tag = "public",
    description = "Development only: exists when `BATON_ENABLE_DEBUG_ENDPOINTS=true`, else answers 404 like an unknown route. Deletes every job, task and worker Baton stored (on Redis only keys under its prefix).",
    responses(
        (status = 200, description = "Everything was deleted.", body = Flushed),
        (status = 404, description = "Debug endpoints are off.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
)]
pub(super) async fn flush_db(app: &AppRef) -> Result<Response, ApiError> {
    let store = app.engine.store.kind();
    tracing::warn!(
        store,
        "debug endpoint: deleting every job, task and worker of the store"
    );
    app.engine.store.flush().await?;
    // Forget what this process remembers of jobs, and wake clients waiting on one: they
    // re-read it and find nothing. Other orchestrators keep their caches: this is a
    // debugging aid, not a coordinated reset.
    app.engine.live.snapshots.clear();
    app.engine.resync();
    ok_json(&Flushed {
        status: "db_flushed".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_checked() {
        assert_eq!(parse_limit(None), Ok(DEFAULT_LIMIT));
        assert_eq!(parse_limit(Some("1")), Ok(1));
        assert_eq!(parse_limit(Some("1000")), Ok(1000));
        for bad in ["0", "1001", "-1", "ten", "", "2.5"] {
            assert_eq!(
                parse_limit(Some(bad)).map_err(|e| e.status.as_u16()),
                Err(400),
                "{bad}"
            );
        }
    }
}
