//! `/v1/schedules`: schedules created, listed, read, replaced, deleted, paused, resumed,
//! triggered now, and their history. Every change is one compare-and-set of the
//! schedule's document and its place in the due set ([`crate::triggers`]); the loop that
//! fires them is [`crate::schedules::runner`].

use super::schemas::{ErrorEnvelope, Success};
use super::{answer, body, ctx, path_id, serve, Ctx};
use crate::error::{WfError, WfResult};
use crate::executions::{self, StartOptions, Started};
use crate::rate::Limited;
use crate::schedules::timing::{local_text, CronConfig, IntervalConfig};
use crate::schedules::{
    owner, Misfire, Overlap, ScheduleDef, ScheduleLife, ScheduleStatus, ScheduleType,
    StoredSchedule,
};
use crate::triggers::ScheduleCas;
use crate::FaceRef;
use baton_protocol::clock::{now_ms, rfc3339};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use utoipa::{IntoParams, ToSchema};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

type Body = Result<Bytes, baton_http::ApiError>;

/// A schedule in a listing.
#[derive(Serialize, ToSchema)]
pub struct ScheduleSummary {
    pub id: String,
    pub name: String,
    pub workflow_id: String,
    pub schedule_type: ScheduleType,
    pub status: ScheduleStatus,
    pub last_run: Option<String>,
    /// None while paused.
    pub next_run: Option<String>,
    pub run_count: u64,
}

/// A schedule.
#[derive(Serialize, ToSchema)]
pub struct ScheduleView {
    pub id: String,
    pub workflow_id: String,
    pub name: String,
    pub description: Option<String>,
    pub schedule_type: ScheduleType,
    pub cron_config: Option<CronConfig>,
    pub interval_config: Option<IntervalConfig>,
    /// The cron pattern's time zone.
    pub timezone: String,
    #[schema(value_type = Object)]
    pub variables: Map<String, Value>,
    pub status: ScheduleStatus,
    pub misfire: Misfire,
    pub overlap: Overlap,
    pub created_at: String,
    pub updated_at: String,
    pub last_run: Option<String>,
    pub next_run: Option<String>,
    /// `next_run` on the schedule's own wall clock.
    pub next_run_local: Option<String>,
    pub run_count: u64,
    /// The execution its last run started.
    pub last_execution_id: Option<String>,
}

/// A schedule's history row.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ScheduleRun {
    pub schedule_id: String,
    pub workflow_id: String,
    pub executed_at: String,
    /// The tick it ran for.
    pub scheduled_for: Option<String>,
    /// `running`, `completed`, `failed`, `cancelled` or `skipped`.
    pub status: String,
    pub duration_seconds: Option<f64>,
    pub error: Option<String>,
    pub execution_id: Option<String>,
    /// `schedule`, `catch_up` (one run for ticks missed) or `manual` (triggered).
    pub trigger: String,
}

#[derive(Serialize, ToSchema)]
pub struct ScheduleSaved {
    #[schema(example = "success")]
    pub status: String,
    pub schedule_id: String,
}

#[derive(Serialize, ToSchema)]
pub struct ScheduleMessage {
    #[schema(example = "success")]
    pub status: String,
    pub message: String,
    /// The execution a trigger started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
}

/// The history query, as documented; the handlers read it from the raw query so that a
/// bad `limit` gets the face's 400 rather than a rejection.
impl ScheduleMessage {
    fn new(message: &str, execution_id: Option<String>) -> ScheduleMessage {
        ScheduleMessage {
            status: "success".into(),
            message: message.into(),
            execution_id,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct HistoryQuery {
    /// 1 to 100 (default 10).
    pub limit: Option<String>,
}

fn summary(s: &StoredSchedule) -> ScheduleSummary {
    ScheduleSummary {
        id: s.def.id.clone(),
        name: s.def.name.clone(),
        workflow_id: s.def.workflow_id.clone(),
        schedule_type: s.def.schedule_type,
        status: s.def.status,
        last_run: s.life.last_run_ms.map(rfc3339),
        next_run: s.life.next_run_ms.map(rfc3339),
        run_count: s.life.run_count,
    }
}

fn view(s: StoredSchedule) -> ScheduleView {
    let tz =
        crate::schedules::timing::zone(s.def.timezone.as_deref()).unwrap_or(chrono_tz::Tz::UTC);
    ScheduleView {
        next_run_local: s.life.next_run_ms.map(|ms| local_text(ms, tz)),
        timezone: tz.name().to_string(),
        id: s.def.id,
        workflow_id: s.def.workflow_id,
        name: s.def.name,
        description: s.def.description,
        schedule_type: s.def.schedule_type,
        cron_config: s.def.cron_config,
        interval_config: s.def.interval_config,
        variables: s.def.variables,
        status: s.def.status,
        misfire: s.def.misfire,
        overlap: s.def.overlap,
        created_at: rfc3339(s.life.created_ms),
        updated_at: rfc3339(s.life.updated_ms),
        last_run: s.life.last_run_ms.map(rfc3339),
        next_run: s.life.next_run_ms.map(rfc3339),
        run_count: s.life.run_count,
        last_execution_id: s.life.last_execution,
    }
}

pub fn routes(face: FaceRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let list = warp::path!("v1" / "schedules")
        .and(warp::get())
        .and(ctx(face.clone()))
        .then(|c: Ctx| serve(c, list_schedules));
    let create = warp::path!("v1" / "schedules")
        .and(warp::post())
        .and(body(&face))
        .and(ctx(face.clone()))
        .then(|b: Body, c: Ctx| serve(c, move |c| create_schedule(c, b)));
    let get = warp::path!("v1" / "schedules" / String)
        .and(warp::get())
        .and(ctx(face.clone()))
        .then(|id: String, c: Ctx| serve(c, move |c| get_schedule(c, id)));
    let put = warp::path!("v1" / "schedules" / String)
        .and(warp::put())
        .and(body(&face))
        .and(ctx(face.clone()))
        .then(|id: String, b: Body, c: Ctx| serve(c, move |c| replace_schedule(c, id, b)));
    let delete = warp::path!("v1" / "schedules" / String)
        .and(warp::delete())
        .and(ctx(face.clone()))
        .then(|id: String, c: Ctx| serve(c, move |c| delete_schedule(c, id)));
    let action = warp::path!("v1" / "schedules" / String / String)
        .and(warp::post())
        .and(ctx(face.clone()))
        .and_then(|id: String, action: String, c: Ctx| async move {
            match action.as_str() {
                "pause" => Ok(serve(c, move |c| pause_schedule(c, id)).await),
                "resume" => Ok(serve(c, move |c| resume_schedule(c, id)).await),
                "trigger" => Ok(serve(c, move |c| trigger_schedule(c, id)).await),
                _ => Err(warp::reject::not_found()),
            }
        });
    let history = warp::path!("v1" / "schedules" / String / "history")
        .and(warp::get())
        .and(warp::query::<HashMap<String, String>>())
        .and(ctx(face))
        .then(|id: String, q: HashMap<String, String>, c: Ctx| {
            serve(c, move |c| schedule_history(c, id, q))
        });
    list.or(create)
        .unify()
        .or(history)
        .unify()
        .or(get)
        .unify()
        .or(put)
        .unify()
        .or(delete)
        .unify()
        .or(action)
        .unify()
}

/// A JSON body as a definition: 400 `VALIDATION` naming what does not fit.
pub(super) fn definition<T: serde::de::DeserializeOwned>(b: Body) -> WfResult<T> {
    let value = baton_http::parse_json(&b?)?;
    serde_json::from_value(value).map_err(|e| WfError::bad_request(format!("invalid body: {e}")))
}

/// A schedule by id: 404 when there is none.
async fn load(face: &FaceRef, id: &str) -> WfResult<(String, StoredSchedule)> {
    let id = path_id(id, "schedule")?;
    let raw = face
        .records
        .get_schedule(&id)
        .await?
        .ok_or_else(|| WfError::not_found(format!("no schedule `{id}`")))?;
    let s = StoredSchedule::parse(&raw)?;
    Ok((raw, s))
}

/// Checks a definition against the workflows there are, and where it ticks first.
async fn checked(face: &FaceRef, def: &ScheduleDef, anchor: i64) -> WfResult<Option<i64>> {
    let timing = def.timing(anchor)?;
    if let Err(e) = executions::find_workflow(face, &def.workflow_id).await {
        if e.status == StatusCode::NOT_FOUND {
            return Err(
                WfError::bad_request(format!("no workflow `{}`", def.workflow_id))
                    .with("field", "workflow_id"),
            );
        }
        return Err(e);
    }
    Ok(match def.status {
        ScheduleStatus::Active => timing.next_after(anchor),
        ScheduleStatus::Paused => None,
    })
}

async fn write(face: &FaceRef, expected: Option<&str>, s: &StoredSchedule) -> WfResult<bool> {
    let text = s.encode()?;
    let written = face
        .records
        .cas_schedule(ScheduleCas {
            id: &s.def.id,
            expected,
            new: Some(&text),
            next_ms: s
                .life
                .next_run_ms
                .filter(|_| s.def.status == ScheduleStatus::Active),
            claimed: None,
        })
        .await?;
    if written {
        face.schedules_changed.notify_waiters();
    }
    Ok(written)
}

/// Every schedule.
#[utoipa::path(get, path = "/v1/schedules", tag = "schedules",
    responses(
        (status = 200, description = "By id.", body = [ScheduleSummary]),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])),
)]
async fn list_schedules(c: Ctx) -> WfResult<Response> {
    c.user()?;
    let mut out = Vec::new();
    for raw in c.face.records.list_schedules().await? {
        out.push(summary(&StoredSchedule::parse(&raw)?));
    }
    answer(StatusCode::OK, &out)
}

/// Creates a schedule; an active one ticks from now.
#[utoipa::path(post, path = "/v1/schedules", tag = "schedules",
    request_body = ScheduleDef,
    responses(
        (status = 200, description = "Saved.", body = ScheduleSaved),
        (status = 400, description = "`VALIDATION`: not JSON, or a field that does not fit (named in `details.field`): a cron field, an interval under a second, a time zone, a workflow that does not exist.", body = ErrorEnvelope),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 409, description = "`CONFLICT`: the id is taken.", body = ErrorEnvelope),
        (status = 413, description = "Body too large.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])),
)]
async fn create_schedule(c: Ctx, b: Body) -> WfResult<Response> {
    let user = c.user()?;
    let def: ScheduleDef = definition(b)?;
    let now = now_ms();
    let next = checked(&c.face, &def, now).await?;
    let s = StoredSchedule {
        life: ScheduleLife {
            created_ms: now,
            updated_ms: now,
            anchor_ms: now,
            next_run_ms: next,
            ..ScheduleLife::default()
        },
        def,
    };
    if !write(&c.face, None, &s).await? {
        return Err(WfError::conflict(format!(
            "a schedule `{}` exists",
            s.def.id
        )));
    }
    tracing::info!(schedule = %s.def.id, user = %user.sub, next = ?next.map(rfc3339), "schedule created");
    answer(
        StatusCode::OK,
        &ScheduleSaved {
            status: "success".into(),
            schedule_id: s.def.id,
        },
    )
}

/// One schedule.
#[utoipa::path(get, path = "/v1/schedules/{schedule_id}", tag = "schedules",
    params(("schedule_id" = String, Path, description = "Schedule id.")),
    responses(
        (status = 200, description = "The schedule.", body = ScheduleView),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])),
)]
async fn get_schedule(c: Ctx, id: String) -> WfResult<Response> {
    c.user()?;
    let (_, s) = load(&c.face, &id).await?;
    answer(StatusCode::OK, &view(s))
}

/// Replaces a schedule's definition (the body as for creation; its `id` must be the
/// path's). Its runs and counts stay; it ticks from now.
#[utoipa::path(put, path = "/v1/schedules/{schedule_id}", tag = "schedules",
    params(("schedule_id" = String, Path, description = "Schedule id.")),
    request_body = ScheduleDef,
    responses(
        (status = 200, description = "Replaced.", body = ScheduleSaved),
        (status = 400, description = "`VALIDATION`, as for creation; or an `id` other than the path's.", body = ErrorEnvelope),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`.", body = ErrorEnvelope),
        (status = 409, description = "`CONFLICT`: it changed meanwhile; read it and try again.", body = ErrorEnvelope),
        (status = 413, description = "Body too large.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])),
)]
async fn replace_schedule(c: Ctx, id: String, b: Body) -> WfResult<Response> {
    let user = c.user()?;
    let (raw, old) = load(&c.face, &id).await?;
    let mut value = baton_http::parse_json(&b?)?;
    if let Value::Object(m) = &mut value {
        m.entry("id")
            .or_insert_with(|| Value::String(old.def.id.clone()));
    }
    let def: ScheduleDef = serde_json::from_value(value)
        .map_err(|e| WfError::bad_request(format!("invalid body: {e}")))?;
    if def.id != old.def.id {
        return Err(WfError::bad_request("the body's `id` is not the path's").with("field", "id"));
    }
    let now = now_ms();
    let next = checked(&c.face, &def, now).await?;
    let s = StoredSchedule {
        def,
        life: ScheduleLife {
            updated_ms: now,
            anchor_ms: now,
            next_run_ms: next,
            ..old.life
        },
    };
    if !write(&c.face, Some(&raw), &s).await? {
        return Err(WfError::conflict(format!(
            "schedule `{id}` changed meanwhile: read it and try again"
        )));
    }
    tracing::info!(schedule = %s.def.id, user = %user.sub, "schedule replaced");
    answer(
        StatusCode::OK,
        &ScheduleSaved {
            status: "success".into(),
            schedule_id: s.def.id,
        },
    )
}

/// Deletes a schedule and its history (executions it started stay).
#[utoipa::path(delete, path = "/v1/schedules/{schedule_id}", tag = "schedules",
    params(("schedule_id" = String, Path, description = "Schedule id.")),
    responses(
        (status = 200, description = "Deleted.", body = Success),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`.", body = ErrorEnvelope),
        (status = 409, description = "`CONFLICT`: it changed meanwhile; try again.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])),
)]
async fn delete_schedule(c: Ctx, id: String) -> WfResult<Response> {
    let user = c.user()?;
    let (raw, s) = load(&c.face, &id).await?;
    let cas = ScheduleCas {
        id: &s.def.id,
        expected: Some(&raw),
        new: None,
        next_ms: None,
        claimed: None,
    };
    if !c.face.records.cas_schedule(cas).await? {
        return Err(WfError::conflict(format!(
            "schedule `{id}` changed meanwhile: try again"
        )));
    }
    tracing::info!(schedule = %s.def.id, user = %user.sub, "schedule deleted");
    answer(StatusCode::OK, &Success::default())
}

/// Sets a schedule's status (pause, resume), retrying a concurrent change.
async fn set_status(c: &Ctx, id: &str, status: ScheduleStatus) -> WfResult<StoredSchedule> {
    for _ in 0..5 {
        let (raw, mut s) = load(&c.face, id).await?;
        if s.def.status == status {
            return Ok(s);
        }
        let now = now_ms();
        s.def.status = status;
        s.life.updated_ms = now;
        s.life.next_run_ms = match status {
            ScheduleStatus::Paused => None,
            ScheduleStatus::Active => {
                // Resumed: on schedule from now, the paused ticks not run.
                s.life.anchor_ms = now;
                s.timing()?.next_after(now)
            }
        };
        if write(&c.face, Some(&raw), &s).await? {
            return Ok(s);
        }
    }
    Err(WfError::conflict(format!(
        "schedule `{id}` kept changing: try again"
    )))
}

/// Pauses a schedule: no tick fires until it is resumed (running executions go on).
#[utoipa::path(post, path = "/v1/schedules/{schedule_id}/pause", tag = "schedules",
    params(("schedule_id" = String, Path, description = "Schedule id.")),
    responses(
        (status = 200, description = "Paused (also when it was).", body = ScheduleMessage),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`.", body = ErrorEnvelope),
        (status = 409, description = "`CONFLICT`: it kept changing.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])),
)]
async fn pause_schedule(c: Ctx, id: String) -> WfResult<Response> {
    let user = c.user()?;
    let s = set_status(&c, &id, ScheduleStatus::Paused).await?;
    tracing::info!(schedule = %s.def.id, user = %user.sub, "schedule paused");
    answer(
        StatusCode::OK,
        &ScheduleMessage::new("Schedule paused", None),
    )
}

/// Resumes a paused schedule: it ticks on from now (the ticks it was paused over do not
/// run).
#[utoipa::path(post, path = "/v1/schedules/{schedule_id}/resume", tag = "schedules",
    params(("schedule_id" = String, Path, description = "Schedule id.")),
    responses(
        (status = 200, description = "Resumed (also when it was active).", body = ScheduleMessage),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`.", body = ErrorEnvelope),
        (status = 409, description = "`CONFLICT`: it kept changing.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])),
)]
async fn resume_schedule(c: Ctx, id: String) -> WfResult<Response> {
    let user = c.user()?;
    let s = set_status(&c, &id, ScheduleStatus::Active).await?;
    tracing::info!(schedule = %s.def.id, user = %user.sub, next = ?s.life.next_run_ms.map(rfc3339), "schedule resumed");
    answer(
        StatusCode::OK,
        &ScheduleMessage::new("Schedule resumed", None),
    )
}

/// Runs a schedule's workflow now, with its variables; its next regular tick does not
/// move. Counted against the execute routes' rate limit.
#[utoipa::path(post, path = "/v1/schedules/{schedule_id}/trigger", tag = "schedules",
    params(("schedule_id" = String, Path, description = "Schedule id.")),
    responses(
        (status = 200, description = "Started.", body = ScheduleMessage),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`: no such schedule, or its workflow is gone.", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION`: the workflow does not take the schedule's variables.", body = ErrorEnvelope),
        (status = 429, description = "`RATE_LIMITED`.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])),
)]
async fn trigger_schedule(c: Ctx, id: String) -> WfResult<Response> {
    let user = c.user()?;
    c.limit(Limited::Execute).await?;
    let (_, s) = load(&c.face, &id).await?;
    let wf = executions::find_workflow(&c.face, &s.def.workflow_id).await?;
    let now = now_ms();
    let run_id = uuid::Uuid::new_v4().to_string();
    let row = json!({"schedule_id": s.def.id, "workflow_id": s.def.workflow_id,
        "executed_at": rfc3339(now), "scheduled_for": null, "status": "running",
        "duration_seconds": null, "error": null, "execution_id": run_id, "trigger": "manual"});
    let opts = StartOptions {
        id: Some(run_id.clone()),
        trigger: Some(json!({"kind": "schedule", "owner": s.owner(), "row": row})),
    };
    let (Started::New(exec) | Started::Existed(exec)) =
        executions::start_with(&c.face, &wf, &s.def.variables, opts).await?;
    let keep = c.face.cfg.scheduler.keep_runs;
    c.face
        .records
        .put_run(&s.owner(), &exec, now, &row.to_string(), keep)
        .await?;
    crate::runs::refresh(&c.face, &exec).await;
    count_manual_run(&c.face, &s.def.id, &exec, now).await;
    c.face
        .metrics
        .schedule_fires
        .with_label_values(&["manual"])
        .inc();
    tracing::info!(schedule = %s.def.id, execution = %exec, user = %user.sub, "schedule triggered");
    answer(
        StatusCode::OK,
        &ScheduleMessage::new("Workflow triggered", Some(exec)),
    )
}

/// Counts a triggered run in the schedule's life, keeping its next tick.
async fn count_manual_run(face: &FaceRef, id: &str, exec: &str, now: i64) {
    for _ in 0..5 {
        let Ok((raw, mut s)) = load(face, id).await else {
            return;
        };
        s.life.last_run_ms = Some(now);
        s.life.run_count += 1;
        s.life.last_execution = Some(exec.to_string());
        match write(face, Some(&raw), &s).await {
            Ok(true) => return,
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(schedule = id, error = %e.message, "triggered run not counted");
                return;
            }
        }
    }
}

/// A schedule's history, newest first: one row per tick (fired, skipped or failed to
/// start) and per trigger, completed when the execution ends.
#[utoipa::path(get, path = "/v1/schedules/{schedule_id}/history", tag = "schedules",
    params(("schedule_id" = String, Path, description = "Schedule id."), HistoryQuery),
    responses(
        (status = 200, description = "Newest first.", body = [ScheduleRun]),
        (status = 400, description = "`VALIDATION`: a bad `limit`.", body = ErrorEnvelope),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])),
)]
async fn schedule_history(c: Ctx, id: String, q: HashMap<String, String>) -> WfResult<Response> {
    c.user()?;
    let limit = history_limit(&q)?;
    let (_, s) = load(&c.face, &id).await?;
    let rows = rows(&c.face, &owner(&s.def.id), limit).await?;
    answer(StatusCode::OK, &rows)
}

/// `limit` of a history query: 1 to 100, default 10.
pub(super) fn history_limit(q: &HashMap<String, String>) -> WfResult<usize> {
    match q.get("limit") {
        None => Ok(10),
        Some(v) => v
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| {
                WfError::bad_request(format!("`limit` is 1 to 100, not {v:?}"))
                    .with("field", "limit")
            }),
    }
}

/// The newest `limit` history rows of `owner`, as JSON.
pub(super) async fn rows(face: &FaceRef, owner: &str, limit: usize) -> WfResult<Vec<Value>> {
    face.records
        .runs(owner, limit)
        .await?
        .iter()
        .map(|r| serde_json::from_str(r).map_err(WfError::internal))
        .collect()
}
