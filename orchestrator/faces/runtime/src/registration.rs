//! `POST /_worker/workers/register`: what a registration means.
//!
//! Both SDKs register when their process starts, and again only after the orchestrator
//! forgot them (a heartbeat answered 404). So a registration says: the process that held
//! tasks under this worker id, if any, is gone (a worker restarted under its stable id, as
//! individual worker tokens require). In the same atomic step as the registration the
//! store takes back every lease recorded for the id ([`baton_store::Store::register_worker`]),
//! and the tasks are re-dispatched at once as new attempts
//! ([`baton_engine::Engine::revoke_leases`]), instead of staying leased until their
//! result timeout while the new process's heartbeats kept them alive.
//!
//! The exception is the same process registering again: a worker may send
//! `incarnation`, an id it draws at start (Baton's Rust SDK does; the Python SDK sends
//! none). A registration repeating the incarnation of the live registration keeps its
//! leases.

use super::error::ApiError;
use super::schemas::{ErrorBody, Registered, WorkerIdHeader};
use super::worker::{act_as, authenticate, check_id, verify, Body, WorkerHeaders};
use super::{from_value, ok_json, parse_json, AppRef};
use baton_protocol::clock::now_ms;
use baton_protocol::is_identifier;
use baton_protocol::WorkerRegistration;
use baton_store::WorkerUpdate;
use serde_json::Value;
use warp::reply::Response;

/// Registers (or re-registers) a worker and the skills it offers.
#[utoipa::path(
    post,
    path = "/_worker/workers/register",
    tag = "worker",
    params(WorkerIdHeader),
    request_body = WorkerRegistration,
    responses(
        (status = 200, description = "Registered.", body = Registered),
        (status = 400, description = "Malformed or invalid body.", body = ErrorBody),
        (status = 403, description = "Worker authentication or signature check failed.", body = ErrorBody),
        (status = 413, description = "Body too large.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("worker_token" = [])),
)]
pub(super) async fn register(
    app: &AppRef,
    h: WorkerHeaders,
    body: Body,
) -> Result<Response, ApiError> {
    // Authenticated once, before any validation message is answered; the body's worker
    // is then one the token may act as.
    let cred = authenticate(app, &h, None)?;
    let value = parse_json(&body?)?;
    let reg: WorkerRegistration = from_value(&value, "registration")?;
    check_id(&reg.worker_id, "worker_id")?;
    if h.1.as_deref().is_some_and(|id| id != reg.worker_id) {
        return Err(ApiError::bad_request(
            "X-Worker-ID does not match the body's worker_id",
        ));
    }
    act_as(app, &cred, &reg.worker_id)?;
    verify(app, &cred, &value, &reg.worker_id, &[])?;
    let skills = reg.skill_names();
    for s in &skills {
        check_id(s, "skill")?;
    }
    let incarnation = incarnation(&reg)?;
    // Before the previous leases are requeued: a poll of the previous process still
    // waiting here must not take them.
    app.engine.live.registered(&reg.worker_id);
    let now = now_ms();
    let revoked = app
        .engine
        .store
        .register_worker(&WorkerUpdate {
            worker_id: reg.worker_id.clone(),
            now_ms: now,
            ttl: app.cfg.heartbeat_timeout,
            status: "idle".into(),
            info: Some(registration_info(value, &reg).to_string()),
            skills: Some(skills.clone()),
            current_tasks: None,
            incarnation,
            lease_deadline_ms: now + baton_engine::LEASE_VISIBILITY.as_millis() as i64,
        })
        .await?;
    if app.hub.is_connected(&reg.worker_id) {
        // Re-registration after the store lost the worker (e.g. a Redis restart) while its
        // socket stayed up here.
        app.engine
            .store
            .set_worker_websocket(&reg.worker_id, true)
            .await?;
    }
    tracing::info!(worker_id = %reg.worker_id, skills = ?skills, revoked = revoked.len(), "worker registered");
    // The previous process's tasks go to a worker now (this one included), not when
    // their leases would have run out.
    app.engine.revoke_leases(&reg.worker_id, &revoked).await;
    ok_json(&Registered {
        status: "registered".into(),
        version: baton_protocol::PROTOCOL_VERSION.into(),
    })
}

/// The registration's `incarnation` (none when absent or empty); 400 if it is not an id.
fn incarnation(reg: &WorkerRegistration) -> Result<Option<String>, ApiError> {
    match reg.incarnation.as_deref() {
        None | Some("") => Ok(None),
        Some(i) if i.len() <= 128 && is_identifier(i) => Ok(Some(i.to_string())),
        Some(_) => Err(ApiError::bad_request(
            "incarnation must be at most 128 letters, digits, `_` or `-`",
        )),
    }
}

/// What is kept of a registration body: all of it but the signature, plus the WebSocket
/// flag wherever the worker put it.
fn registration_info(mut info: Value, reg: &WorkerRegistration) -> Value {
    if let Value::Object(map) = &mut info {
        map.remove("security");
        if reg.websockets() {
            map.insert("websockets".into(), Value::Bool(true));
        }
    }
    info
}
