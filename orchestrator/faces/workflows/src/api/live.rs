//! `GET /ws/executions?token=<jwt>`: live updates of executions over a WebSocket.
//!
//! The client sends `{"type": "subscribe" | "unsubscribe", "execution_ids": [...]}` and
//! `{"type": "ping"}`; the server sends `connected` once, `execution_status`,
//! `execution_metrics` and `execution_log` as executions move (see [`crate::live`]),
//! `subscribed` / `unsubscribed` acknowledgements, `pong`, and `error` for a message it
//! cannot take (the connection stays open). A missing, forged or expired token is let
//! through the upgrade and then closed with code 4001, so browsers see the reason (a
//! refused handshake shows them nothing).

use super::{ctx, Ctx};
use crate::live::Subscriptions;
use crate::FaceRef;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;
use warp::reply::{Reply, Response};
use warp::ws::{Message, WebSocket, Ws};
use warp::{Filter, Rejection};

/// How often followed executions are read for changes.
const POLL_EVERY: Duration = Duration::from_millis(200);
/// How often an idle socket is pinged, so dead peers are noticed.
const PING_EVERY: Duration = Duration::from_secs(20);
/// The close code of a missing or invalid token.
pub const BAD_TOKEN: u16 = 4001;

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// A client's message.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
    Subscribe {
        #[serde(default)]
        execution_ids: Vec<String>,
    },
    Unsubscribe {
        #[serde(default)]
        execution_ids: Vec<String>,
    },
    Ping,
}

/// Opens the live-updates WebSocket.
///
/// Authenticated by the `token` query parameter (a login token; `Authorization: Bearer`
/// also works). Messages are JSON text frames; docs/workflows.md lists each type.
#[utoipa::path(
    get,
    path = "/ws/executions",
    tag = "executions",
    operation_id = "executions_websocket",
    params(("token" = Option<String>, Query, description = "A login token (`POST /v1/auth/login`).")),
    responses(
        (status = 101, description = "Switched to the WebSocket protocol; closed with code 4001 when the token is missing or invalid."),
        (status = 400, description = "Not a WebSocket upgrade request.", body = super::schemas::ErrorEnvelope),
    ),
)]
pub(super) fn routes(
    face: FaceRef,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("ws" / "executions")
        .and(warp::get())
        .and(warp::query::<TokenQuery>())
        .and(warp::ws())
        .and(ctx(face))
        .map(|q: TokenQuery, ws: Ws, mut c: Ctx| {
            if let Some(t) = q.token {
                c.authorization = Some(format!("Bearer {t}"));
            }
            let user = c.user().map(|claims| claims.sub);
            ws.on_upgrade(move |socket| async move {
                match user {
                    Ok(user) => session(c.face, socket, user).await,
                    Err(e) => {
                        let (mut sink, _) = socket.split();
                        let close = Message::close_with(BAD_TOKEN, e.message.clone());
                        let _ = sink.send(close).await;
                        tracing::info!(reason = %e.message, "live updates refused: bad token");
                    }
                }
            })
            .into_response()
        })
}

async fn send(sink: &mut (impl SinkExt<Message> + Unpin), msg: &Value) -> bool {
    sink.send(Message::text(msg.to_string())).await.is_ok()
}

/// Answers one client message.
async fn handle(face: &FaceRef, subs: &mut Subscriptions, text: &str) -> Vec<Value> {
    let msg: ClientMessage = match serde_json::from_str(text) {
        Ok(m) => m,
        Err(e) => {
            return vec![json!({"type": "error", "message": format!(
                "not a message this socket takes ({e}): send {{\"type\": \"subscribe\" | \"unsubscribe\", \"execution_ids\": [...]}} or {{\"type\": \"ping\"}}"
            )})]
        }
    };
    match msg {
        ClientMessage::Ping => vec![json!({"type": "pong"})],
        ClientMessage::Unsubscribe { execution_ids } => {
            for id in &execution_ids {
                subs.unsubscribe(id);
            }
            vec![json!({"type": "unsubscribed", "execution_ids": execution_ids})]
        }
        ClientMessage::Subscribe { execution_ids } => {
            let mut out = Vec::new();
            let mut taken = Vec::new();
            for id in execution_ids {
                match subs.subscribe(face, &id).await {
                    Ok(mut now) => {
                        taken.push(id);
                        out.append(&mut now);
                    }
                    Err(e) => out.push(json!({"type": "error", "execution_id": id,
                                              "error_code": e.code, "message": e.message})),
                }
            }
            out.insert(0, json!({"type": "subscribed", "execution_ids": taken}));
            out
        }
    }
}

/// One connection: client messages in, updates out, until either side closes or the
/// orchestrator drains.
async fn session(face: FaceRef, socket: WebSocket, user: String) {
    let (mut sink, mut stream) = socket.split();
    let hello = json!({"type": "connected", "message": "Connected to execution updates"});
    if !send(&mut sink, &hello).await {
        return;
    }
    tracing::info!(user, "live updates connected");
    let mut subs = Subscriptions::default();
    let mut poll = tokio::time::interval(POLL_EVERY);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let shutdown = face.shutdown.clone();
    loop {
        let out = tokio::select! {
            _ = shutdown.cancelled() => {
                let _ = sink.send(Message::close_with(1001u16, "server shutting down")).await;
                break;
            }
            _ = ping.tick() => {
                if sink.send(Message::ping(Vec::new())).await.is_err() {
                    break;
                }
                continue;
            }
            _ = poll.tick(), if !subs.is_empty() => subs.poll(&face).await,
            frame = stream.next() => match frame {
                Some(Ok(msg)) if msg.is_text() => {
                    handle(&face, &mut subs, msg.to_str().unwrap_or_default()).await
                }
                Some(Ok(msg)) if msg.is_close() => break,
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => break,
            },
        };
        for msg in &out {
            if !send(&mut sink, msg).await {
                return;
            }
        }
    }
    tracing::info!(user, followed = subs.len(), "live updates closed");
}
