//! `/v1/webhooks` (managed with a login token) and `POST /hooks/{webhook_id}` (called by
//! other systems, signed with the webhook's secret; see [`crate::hooks`]).

use super::schedules::{definition, history_limit, rows};
use super::schemas::{ErrorEnvelope, Success};
use super::{answer, body, ctx, path_id, serve, Ctx};
use crate::error::{codes, WfError, WfResult};
use crate::executions::{self, StartOptions, Started};
use crate::hooks::{self, HookDef, HookStatus, PayloadMapping, StoredHook, REDACTED};
use crate::rate::Limited;
use crate::schedules::runner::derived_id;
use crate::store::Written;
use crate::FaceRef;
use baton_protocol::clock::{now_ms, rfc3339};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use utoipa::ToSchema;
use warp::http::{HeaderMap, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection};

type Body = Result<Bytes, baton_http::ApiError>;

#[derive(Serialize, ToSchema)]
pub struct HookSummary {
    pub id: String,
    pub name: String,
    pub workflow_id: String,
    pub status: HookStatus,
    pub last_triggered: Option<String>,
    pub trigger_count: u64,
}

/// A webhook; its secret is never shown again after creation.
#[derive(Serialize, ToSchema)]
pub struct HookView {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub workflow_id: String,
    #[schema(example = "***REDACTED***")]
    pub secret: String,
    pub payload_mappings: Vec<PayloadMapping>,
    #[schema(value_type = Object)]
    pub static_variables: Map<String, Value>,
    pub status: HookStatus,
    pub created_at: String,
    pub updated_at: String,
    pub last_triggered: Option<String>,
    pub trigger_count: u64,
    /// Where deliveries go: `POST` here, signed.
    pub trigger_url: String,
}

#[derive(Serialize, ToSchema)]
pub struct HookCreated {
    #[schema(example = "success")]
    pub status: String,
    pub webhook_id: String,
    /// Shown this once: keep it.
    pub secret: String,
    #[schema(example = "/hooks/github-push")]
    pub trigger_url: String,
}

#[derive(Serialize, ToSchema)]
pub struct HookSaved {
    #[schema(example = "success")]
    pub status: String,
    pub webhook_id: String,
}

#[derive(Serialize, ToSchema)]
pub struct SecretRegenerated {
    #[schema(example = "success")]
    pub status: String,
    /// Shown this once: the old secret no longer signs.
    pub secret: String,
}

/// A webhook's history row.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct HookRun {
    pub webhook_id: String,
    pub workflow_id: String,
    pub triggered_at: String,
    pub source_ip: String,
    pub payload_size: u64,
    /// `running`, `success`, `failed` or `cancelled`.
    pub status: String,
    pub duration_seconds: Option<f64>,
    pub error: Option<String>,
    pub execution_id: Option<String>,
    /// The sender's delivery id, when it sent one.
    pub delivery_id: Option<String>,
}

/// The answer to a delivery.
#[derive(Serialize, ToSchema)]
pub struct DeliveryAnswer {
    /// `success`, `failed` or `cancelled` once the execution ended; `running` when it
    /// did not within `BATON_HOOK_WAIT_SECONDS` (poll `poll_url`).
    pub status: String,
    pub webhook_id: String,
    pub workflow_id: String,
    pub execution_id: String,
    pub duration_seconds: Option<f64>,
    /// The execution's outputs, once it ended.
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    pub error: Option<String>,
    pub poll_url: String,
    /// This delivery id was seen before: no new execution; this is the first one's.
    pub duplicate: bool,
}

pub fn routes(face: FaceRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let list = warp::path!("v1" / "webhooks")
        .and(warp::get())
        .and(ctx(face.clone()))
        .then(|c: Ctx| serve(c, list_webhooks));
    let create = warp::path!("v1" / "webhooks")
        .and(warp::post())
        .and(body(&face))
        .and(ctx(face.clone()))
        .then(|b: Body, c: Ctx| serve(c, move |c| create_webhook(c, b)));
    let get = warp::path!("v1" / "webhooks" / String)
        .and(warp::get())
        .and(ctx(face.clone()))
        .then(|id: String, c: Ctx| serve(c, move |c| get_webhook(c, id)));
    let put = warp::path!("v1" / "webhooks" / String)
        .and(warp::put())
        .and(body(&face))
        .and(ctx(face.clone()))
        .then(|id: String, b: Body, c: Ctx| serve(c, move |c| replace_webhook(c, id, b)));
    let delete = warp::path!("v1" / "webhooks" / String)
        .and(warp::delete())
        .and(ctx(face.clone()))
        .then(|id: String, c: Ctx| serve(c, move |c| delete_webhook(c, id)));
    let regenerate = warp::path!("v1" / "webhooks" / String / "regenerate-secret")
        .and(warp::post())
        .and(ctx(face.clone()))
        .then(|id: String, c: Ctx| serve(c, move |c| regenerate_secret(c, id)));
    let history = warp::path!("v1" / "webhooks" / String / "history")
        .and(warp::get())
        .and(warp::query::<HashMap<String, String>>())
        .and(ctx(face.clone()))
        .then(|id: String, q: HashMap<String, String>, c: Ctx| {
            serve(c, move |c| webhook_history(c, id, q))
        });
    let deliver = warp::path!("hooks" / String)
        .and(warp::post())
        .and(warp::header::headers_cloned())
        .and(body(&face))
        .and(ctx(face))
        .then(|id: String, h: HeaderMap, b: Body, c: Ctx| {
            serve(c, move |c| deliver_webhook(c, id, h, b))
        });
    list.or(create)
        .unify()
        .or(regenerate)
        .unify()
        .or(history)
        .unify()
        .or(get)
        .unify()
        .or(put)
        .unify()
        .or(delete)
        .unify()
        .or(deliver)
        .unify()
}

async fn load(face: &FaceRef, id: &str) -> WfResult<(String, StoredHook)> {
    let id = path_id(id, "webhook")?;
    let raw = face
        .records
        .get_hook(&id)
        .await?
        .ok_or_else(|| WfError::not_found(format!("no webhook `{id}`")))?;
    let hook = StoredHook::parse(&raw)?;
    Ok((raw, hook))
}

/// Writes a webhook over the one there: 404 when it was deleted meanwhile.
async fn replace(face: &FaceRef, hook: &StoredHook) -> WfResult<()> {
    let id = &hook.def.id;
    match face.records.put_hook(id, &hook.encode()?, false).await? {
        Written::Missing => Err(WfError::not_found(format!("no webhook `{id}`"))),
        _ => Ok(()),
    }
}

/// 400 naming `workflow_id` when it names no workflow.
async fn workflow_exists(face: &FaceRef, id: &str) -> WfResult<()> {
    match executions::find_workflow(face, id).await {
        Err(e) if e.status == StatusCode::NOT_FOUND => {
            Err(WfError::bad_request(format!("no workflow `{id}`")).with("field", "workflow_id"))
        }
        other => other.map(|_| ()),
    }
}

fn trigger_url(id: &str) -> String {
    format!("/hooks/{id}")
}

/// Every webhook (secrets left out).
#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks",
    responses(
        (status = 200, description = "By id.", body = [HookSummary]),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])),
)]
async fn list_webhooks(c: Ctx) -> WfResult<Response> {
    c.user()?;
    let mut out = Vec::new();
    for raw in c.face.records.list_hooks().await? {
        let h = StoredHook::parse(&raw)?;
        let (count, last) = c.face.records.deliveries(&h.def.id).await?;
        out.push(HookSummary {
            id: h.def.id,
            name: h.def.name,
            workflow_id: h.def.workflow_id,
            status: h.def.status,
            last_triggered: last.map(rfc3339),
            trigger_count: count,
        });
    }
    answer(StatusCode::OK, &out)
}

/// Creates a webhook; the answer shows its secret, this once.
#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks",
    request_body = HookDef,
    responses(
        (status = 200, description = "Saved; the secret is shown this once.", body = HookCreated),
        (status = 400, description = "`VALIDATION`: not JSON, or a field that does not fit (named in `details.field`), a workflow that does not exist.", body = ErrorEnvelope),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 409, description = "`CONFLICT`: the id is taken.", body = ErrorEnvelope),
        (status = 413, description = "Body too large.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])),
)]
async fn create_webhook(c: Ctx, b: Body) -> WfResult<Response> {
    let user = c.user()?;
    let mut def: HookDef = definition(b)?;
    def.check()?;
    workflow_exists(&c.face, &def.workflow_id).await?;
    let secret = def
        .secret
        .take()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(hooks::new_secret);
    let now = now_ms();
    let hook = StoredHook {
        def,
        secret: secret.clone(),
        created_ms: now,
        updated_ms: now,
    };
    let id = hook.def.id.clone();
    if c.face.records.put_hook(&id, &hook.encode()?, true).await? == Written::Exists {
        return Err(WfError::conflict(format!("a webhook `{id}` exists")));
    }
    tracing::info!(webhook = %id, user = %user.sub, "webhook created");
    answer(
        StatusCode::OK,
        &HookCreated {
            status: "success".into(),
            trigger_url: trigger_url(&id),
            webhook_id: id,
            secret,
        },
    )
}

/// One webhook; its secret as `***REDACTED***`.
#[utoipa::path(get, path = "/v1/webhooks/{webhook_id}", tag = "webhooks",
    params(("webhook_id" = String, Path, description = "Webhook id.")),
    responses(
        (status = 200, description = "The webhook.", body = HookView),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])),
)]
async fn get_webhook(c: Ctx, id: String) -> WfResult<Response> {
    c.user()?;
    let (_, h) = load(&c.face, &id).await?;
    let (count, last) = c.face.records.deliveries(&h.def.id).await?;
    answer(
        StatusCode::OK,
        &HookView {
            trigger_url: trigger_url(&h.def.id),
            id: h.def.id,
            name: h.def.name,
            description: h.def.description,
            workflow_id: h.def.workflow_id,
            secret: REDACTED.into(),
            payload_mappings: h.def.payload_mappings,
            static_variables: h.def.static_variables,
            status: h.def.status,
            created_at: rfc3339(h.created_ms),
            updated_at: rfc3339(h.updated_ms),
            last_triggered: last.map(rfc3339),
            trigger_count: count,
        },
    )
}

/// Replaces a webhook (the body as for creation; its `id` must be the path's). An
/// empty or absent `secret` keeps the current one.
#[utoipa::path(put, path = "/v1/webhooks/{webhook_id}", tag = "webhooks",
    params(("webhook_id" = String, Path, description = "Webhook id.")),
    request_body = HookDef,
    responses(
        (status = 200, description = "Replaced.", body = HookSaved),
        (status = 400, description = "`VALIDATION`, as for creation; or an `id` other than the path's.", body = ErrorEnvelope),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`.", body = ErrorEnvelope),
        (status = 413, description = "Body too large.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])),
)]
async fn replace_webhook(c: Ctx, id: String, b: Body) -> WfResult<Response> {
    let user = c.user()?;
    let (_, old) = load(&c.face, &id).await?;
    let mut value = baton_http::parse_json(&b?)?;
    if let Value::Object(m) = &mut value {
        m.entry("id")
            .or_insert_with(|| Value::String(old.def.id.clone()));
    }
    let mut def: HookDef = serde_json::from_value(value)
        .map_err(|e| WfError::bad_request(format!("invalid body: {e}")))?;
    if def.id != old.def.id {
        return Err(WfError::bad_request("the body's `id` is not the path's").with("field", "id"));
    }
    def.check()?;
    workflow_exists(&c.face, &def.workflow_id).await?;
    let secret = def
        .secret
        .take()
        .filter(|s| !s.is_empty())
        .unwrap_or(old.secret);
    let hook = StoredHook {
        def,
        secret,
        created_ms: old.created_ms,
        updated_ms: now_ms(),
    };
    replace(&c.face, &hook).await?;
    tracing::info!(webhook = %hook.def.id, user = %user.sub, "webhook replaced");
    answer(
        StatusCode::OK,
        &HookSaved {
            status: "success".into(),
            webhook_id: hook.def.id,
        },
    )
}

/// Deletes a webhook, its counts and its history (executions it started stay).
#[utoipa::path(delete, path = "/v1/webhooks/{webhook_id}", tag = "webhooks",
    params(("webhook_id" = String, Path, description = "Webhook id.")),
    responses(
        (status = 200, description = "Deleted.", body = Success),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])),
)]
async fn delete_webhook(c: Ctx, id: String) -> WfResult<Response> {
    let user = c.user()?;
    let id = path_id(&id, "webhook")?;
    if !c.face.records.delete_hook(&id).await? {
        return Err(WfError::not_found(format!("no webhook `{id}`")));
    }
    tracing::info!(webhook = %id, user = %user.sub, "webhook deleted");
    answer(StatusCode::OK, &Success::default())
}

/// A new secret for a webhook; the old one stops signing at once.
#[utoipa::path(post, path = "/v1/webhooks/{webhook_id}/regenerate-secret", tag = "webhooks",
    params(("webhook_id" = String, Path, description = "Webhook id.")),
    responses(
        (status = 200, description = "The new secret, shown this once.", body = SecretRegenerated),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])),
)]
async fn regenerate_secret(c: Ctx, id: String) -> WfResult<Response> {
    let user = c.user()?;
    let (_, mut hook) = load(&c.face, &id).await?;
    hook.secret = hooks::new_secret();
    hook.updated_ms = now_ms();
    replace(&c.face, &hook).await?;
    tracing::info!(webhook = %hook.def.id, user = %user.sub, "webhook secret regenerated");
    answer(
        StatusCode::OK,
        &SecretRegenerated {
            status: "success".into(),
            secret: hook.secret,
        },
    )
}

/// A webhook's deliveries, newest first.
#[utoipa::path(get, path = "/v1/webhooks/{webhook_id}/history", tag = "webhooks",
    params(("webhook_id" = String, Path, description = "Webhook id."), super::schedules::HistoryQuery),
    responses(
        (status = 200, description = "Newest first.", body = [HookRun]),
        (status = 400, description = "`VALIDATION`: a bad `limit`.", body = ErrorEnvelope),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])),
)]
async fn webhook_history(c: Ctx, id: String, q: HashMap<String, String>) -> WfResult<Response> {
    c.user()?;
    let limit = history_limit(&q)?;
    let (_, h) = load(&c.face, &id).await?;
    answer(
        StatusCode::OK,
        &rows(&c.face, &hooks::owner(&h.def.id), limit).await?,
    )
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// Counts a refused delivery and passes the refusal on.
fn refused(c: &Ctx, status: &str, e: WfError) -> WfError {
    c.face
        .metrics
        .hook_deliveries
        .with_label_values(&[status])
        .inc();
    e
}

/// Runs the webhook's workflow with the variables its mappings take from the payload;
/// answers when the execution ends, or after `BATON_HOOK_WAIT_SECONDS` with `running`.
#[utoipa::path(post, path = "/hooks/{webhook_id}", tag = "webhooks",
    params(
        ("webhook_id" = String, Path, description = "Webhook id."),
        ("X-Webhook-Signature" = String, Header, description = "`sha256=<hex HMAC-SHA256 of the raw body under the secret>` (the prefix is optional; GitHub's `X-Hub-Signature-256` is read too). With `X-Webhook-Timestamp`, the HMAC of `<timestamp>.<body>`."),
        ("X-Webhook-Timestamp" = Option<String>, Header, description = "Epoch seconds the sender signed; refused outside `BATON_HOOK_TOLERANCE_SECONDS`."),
        ("X-Webhook-Delivery" = Option<String>, Header, description = "The delivery's id (also `X-GitHub-Delivery`, `X-Gitlab-Event-UUID`): a delivery id seen before answers with the first delivery's execution."),
    ),
    request_body(content = Object, description = "The payload (JSON)."),
    responses(
        (status = 200, description = "The execution ended.", body = DeliveryAnswer),
        (status = 202, description = "The execution goes on: poll `poll_url`.", body = DeliveryAnswer),
        (status = 400, description = "`VALIDATION`: the webhook is disabled, or the body is not JSON.", body = ErrorEnvelope),
        (status = 401, description = "`AUTH_FAILED`: a missing or wrong signature, or a stale timestamp.", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`: no such webhook, or its workflow is gone.", body = ErrorEnvelope),
        (status = 413, description = "Body too large.", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION`: the variables do not fit the workflow's inputs.", body = ErrorEnvelope),
        (status = 429, description = "`RATE_LIMITED` (per client IP, shared by all orchestrators).", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
)]
async fn deliver_webhook(c: Ctx, id: String, h: HeaderMap, b: Body) -> WfResult<Response> {
    c.limit(Limited::Hooks)
        .await
        .map_err(|e| refused(&c, "rate_limited", e))?;
    let (_, hook) = load(&c.face, &id)
        .await
        .map_err(|e| refused(&c, "not_found", e))?;
    if hook.def.status == HookStatus::Disabled {
        return Err(refused(
            &c,
            "disabled",
            WfError::bad_request(format!("webhook `{id}` is disabled")),
        ));
    }
    let raw = b?;
    let signature = header(&h, "x-webhook-signature").or_else(|| header(&h, "x-hub-signature-256"));
    let timestamp = header(&h, "x-webhook-timestamp");
    let now = now_ms();
    let tolerance = c.face.cfg.hook_tolerance_secs;
    if let Err(e) = hooks::verify(
        &hook.secret,
        &raw,
        signature,
        timestamp,
        now / 1000,
        tolerance,
    ) {
        tracing::info!(webhook = %id, ip = %c.client_ip, reason = %e.message(), "webhook delivery refused");
        return Err(refused(
            &c,
            "unauthorized",
            WfError::auth_failed(e.message()),
        ));
    }
    let payload: Value = if raw.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Map::new())
    } else {
        serde_json::from_slice(&raw).map_err(|e| {
            refused(
                &c,
                "invalid",
                WfError::bad_request(format!("the payload is not JSON: {e}")),
            )
        })?
    };
    let wf = executions::find_workflow(&c.face, &hook.def.workflow_id)
        .await
        .map_err(|e| refused(&c, "invalid", e))?;
    let vars = hooks::variables(&hook.def, &payload);
    let delivery = hooks::DELIVERY_HEADERS
        .iter()
        .find_map(|n| header(&h, n))
        .map(str::to_string);
    let run_id = match &delivery {
        Some(d) => derived_id(&["hook", &hook.def.id, &hook.created_ms.to_string(), d]),
        None => uuid::Uuid::new_v4().to_string(),
    };
    let row = json!({"webhook_id": hook.def.id, "workflow_id": hook.def.workflow_id,
        "triggered_at": rfc3339(now), "source_ip": c.client_ip, "payload_size": raw.len(),
        "status": "running", "duration_seconds": null, "error": null, "execution_id": run_id,
        "delivery_id": delivery});
    let opts = StartOptions {
        id: Some(run_id),
        trigger: Some(json!({"kind": "hook", "owner": hooks::owner(&hook.def.id), "row": row})),
    };
    let started = executions::start_with(&c.face, &wf, &vars, opts)
        .await
        .map_err(|e| refused(&c, "invalid", e))?;
    let (exec, duplicate) = match started {
        Started::New(exec) => {
            let keep = c.face.cfg.scheduler.keep_runs;
            c.face
                .records
                .put_run(
                    &hooks::owner(&hook.def.id),
                    &exec,
                    now,
                    &row.to_string(),
                    keep,
                )
                .await?;
            c.face.records.count_delivery(&hook.def.id, now).await?;
            crate::runs::refresh(&c.face, &exec).await;
            c.face
                .metrics
                .hook_deliveries
                .with_label_values(&["accepted"])
                .inc();
            tracing::info!(webhook = %id, execution = %exec, delivery = ?delivery, "webhook delivery started an execution");
            (exec, false)
        }
        Started::Existed(exec) => {
            c.face
                .metrics
                .hook_deliveries
                .with_label_values(&["duplicate"])
                .inc();
            tracing::info!(webhook = %id, execution = %exec, delivery = ?delivery, "delivery seen before: its execution answers");
            (exec, true)
        }
    };
    let mut out = DeliveryAnswer {
        status: "running".into(),
        webhook_id: hook.def.id,
        workflow_id: hook.def.workflow_id,
        poll_url: format!("/v1/executions/{exec}"),
        execution_id: exec.clone(),
        duration_seconds: None,
        result: None,
        error: None,
        duplicate,
    };
    match super::executions::wait_end(&c.face, &exec, c.face.cfg.hook_wait).await {
        Ok(e) => {
            out.status = if e.status == "completed" {
                "success".into()
            } else {
                e.status.clone()
            };
            out.duration_seconds = e.duration_ms.map(|ms| ms as f64 / 1000.0);
            out.result = Some(Value::Object(e.outputs));
            out.error = e.error;
            answer(StatusCode::OK, &out)
        }
        Err(e) if e.code == codes::TIMEOUT || e.code == codes::SERVICE_UNAVAILABLE => {
            answer(StatusCode::ACCEPTED, &out)
        }
        Err(e) => Err(e),
    }
}
