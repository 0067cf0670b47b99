//! `GET /api/v1/stream`: server-sent events for pages that follow jobs live (the
//! dashboard). `EventSource` cannot send headers, so the client token comes as `token`
//! in the query.
//!
//! Events: `counts` (the job counts by status, whenever they change; the client's own
//! jobs are among them, so pages listing jobs refresh on it) and, with `job=<id>`, `job`
//! (that job's view, whenever its version moves). Both are read from the store, so a
//! page follows jobs that any orchestrator advances; an idle stream costs one read a
//! second (and one per 300 ms for a followed job).

use super::client::client;
use super::error::ApiError;
use super::schemas::ErrorBody;
use super::{respond, with_app, AppRef};
use futures_util::{SinkExt, Stream};
use serde_json::Value;
use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;
use warp::reply::{Reply, Response};
use warp::sse::Event;
use warp::{Filter, Rejection};

const COUNTS_EVERY: Duration = Duration::from_secs(1);
const JOB_EVERY: Duration = Duration::from_millis(300);

pub fn routes(app: AppRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "stream")
        .and(warp::get())
        .and(warp::query::<HashMap<String, String>>())
        .and(with_app(app))
        .then(|q: HashMap<String, String>, app: AppRef| async move {
            respond(Box::pin(open(app, q)).await)
        })
}

/// What the stream last sent.
struct Sent {
    counts: Option<Value>,
    version: Option<u64>,
    next_counts: tokio::time::Instant,
}

/// Server-sent events of job counts and, with `job`, one job's view.
#[utoipa::path(
    get,
    path = "/api/v1/stream",
    tag = "jobs",
    params(
        ("token" = String, Query, description = "The client token (EventSource sends no headers)."),
        ("job" = Option<String>, Query, description = "A job to follow: its view as `job` events."),
    ),
    responses(
        (status = 200, description = "`text/event-stream`: `counts` events (`{\"jobs\": {status: n}}`) and `job` events (the job view).", body = String, content_type = "text/event-stream"),
        (status = 401, description = "Missing or unknown token.", body = ErrorBody),
        (status = 403, description = "The job is another client's.", body = ErrorBody),
        (status = 404, description = "No such job.", body = ErrorBody),
    ),
    security(("client_token_query" = [])),
)]
pub(super) async fn open(app: AppRef, q: HashMap<String, String>) -> Result<Response, ApiError> {
    let caller = client(&app, &q.get("token").cloned())?;
    let job = q.get("job").cloned();
    if let Some(id) = &job {
        // Refused before the stream starts, in the face's error shape.
        app.engine.job_for_client(&caller, id).await?;
    }
    let stream = events(app, caller, job);
    Ok(warp::sse::reply(warp::sse::keep_alive().stream(stream)).into_response())
}

fn events(
    app: AppRef,
    caller: String,
    job: Option<String>,
) -> impl Stream<Item = Result<Event, Infallible>> + Send + Sync + 'static {
    // The reads happen in a task of their own; the response reads the channel (warp wants
    // a stream it can share between threads, which a future of the store is not).
    let (mut tx, rx) = futures_channel::mpsc::channel::<Result<Event, Infallible>>(16);
    tokio::spawn(async move {
        let mut sent = Sent {
            counts: None,
            version: None,
            next_counts: tokio::time::Instant::now(),
        };
        while let Some(event) = next_event(&app, &caller, job.as_deref(), &mut sent).await {
            if tx.send(Ok(event)).await.is_err() {
                break; // the page went away
            }
        }
    });
    rx
}

/// The next event to send; `None` when the server drains.
async fn next_event(
    app: &AppRef,
    caller: &str,
    job: Option<&str>,
    sent: &mut Sent,
) -> Option<Event> {
    loop {
        if app.shutdown.is_cancelled() {
            return None;
        }
        if let Some(id) = job {
            if let Ok((stored, doc)) = app.engine.job_for_client(caller, id).await {
                if sent.version != Some(stored.version) {
                    sent.version = Some(stored.version);
                    let mut view = super::job_view::job_view(&stored, &doc);
                    super::skills::hint(app, &mut view).await;
                    let data = serde_json::to_string(&view).unwrap_or_default();
                    return Some(Event::default().event("job").data(data));
                }
            }
        }
        if tokio::time::Instant::now() >= sent.next_counts {
            sent.next_counts = tokio::time::Instant::now() + COUNTS_EVERY;
            if let Ok(counts) = app.engine.store.job_counts().await {
                let jobs: serde_json::Map<String, Value> = counts
                    .into_iter()
                    .filter(|(_, n)| *n > 0)
                    .map(|(k, n)| (k, Value::from(n)))
                    .collect();
                let value = serde_json::json!({ "jobs": jobs });
                if sent.counts.as_ref() != Some(&value) {
                    let data = value.to_string();
                    sent.counts = Some(value);
                    return Some(Event::default().event("counts").data(data));
                }
            }
        }
        let nap = if job.is_some() {
            JOB_EVERY
        } else {
            COUNTS_EVERY
        };
        tokio::select! {
            _ = tokio::time::sleep(nap) => {}
            _ = app.shutdown.cancelled() => return None,
        }
    }
}
