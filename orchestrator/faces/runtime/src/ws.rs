//! `GET /_worker/ws/{worker_id}`: the command channel to a worker.
//!
//! The [`Hub`] maps each locally connected worker to the sender of its connection (a new
//! connection replaces an older one). Commands reach it from any orchestrator through the
//! store's notices. [`serve_socket`] is written against `Sink`/`Stream` so tests can drive
//! it with channels; frames from the worker are events (e.g. progress). `route`'s
//! `#[utoipa::path]` documents the upgrade in the OpenAPI document.

use super::schemas::{ErrorBody, WorkerIdHeader};
use super::worker::{authenticate, handle_event, WorkerHeaders};
use super::{parse_json, respond, with_app, AppRef};
use baton_engine::dispatch::CommandSink;
use dashmap::DashMap;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use warp::reply::{Reply, Response};
use warp::ws::{Message, Ws};
use warp::{Filter, Rejection};

/// How often an idle socket is pinged, so dead peers are noticed.
const PING_EVERY: Duration = Duration::from_secs(20);

#[derive(Default)]
pub struct Hub {
    connections: DashMap<String, (u64, mpsc::UnboundedSender<String>)>,
    next_id: AtomicU64,
}

impl Hub {
    /// Registers a connection; returns its id and the commands meant for it.
    pub fn attach(&self, worker_id: &str) -> (u64, mpsc::UnboundedReceiver<String>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.connections.insert(worker_id.to_string(), (id, tx));
        (id, rx)
    }

    /// Unregisters a connection unless a newer one replaced it.
    pub fn detach(&self, worker_id: &str, id: u64) -> bool {
        self.connections
            .remove_if(worker_id, |_, (current, _)| *current == id)
            .is_some()
    }

    pub fn is_connected(&self, worker_id: &str) -> bool {
        self.connections.contains_key(worker_id)
    }
}

impl CommandSink for Hub {
    fn send(&self, worker_id: &str, payload: &str) {
        if let Some(conn) = self.connections.get(worker_id) {
            if conn.1.send(payload.to_string()).is_ok() {
                tracing::debug!(worker_id, "command sent over websocket");
            }
        }
    }
}

/// Opens a worker's command channel (WebSocket).
///
/// The server sends `WorkerCommand` TEXT frames (`{"command": "cancel_task", "task_id",
/// "job_id"}`); the worker's TEXT frames are `WorkerEvent`s (e.g. progress).
#[utoipa::path(
    get,
    path = "/_worker/ws/{id}",
    tag = "worker",
    operation_id = "worker_websocket",
    params(("id" = String, Path, description = "Worker id."), WorkerIdHeader),
    responses(
        (status = 101, description = "Switched to the WebSocket protocol."),
        (status = 400, description = "Not a WebSocket upgrade request.", body = ErrorBody),
        (status = 403, description = "Worker authentication failed.", body = ErrorBody),
    ),
    security(("worker_token" = [])),
)]
pub fn route(app: AppRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("_worker" / "ws" / String)
        .and(warp::ws())
        .and(super::worker::worker_headers())
        .and(with_app(app))
        .then(
            |worker_id: String, ws: Ws, h: WorkerHeaders, app: AppRef| async move {
                let cred = match authenticate(&app, &h, Some(&worker_id)) {
                    Ok(cred) => cred,
                    Err(e) => return respond(Err(e)),
                };
                ws.on_upgrade(move |socket| async move {
                    let (sink, stream) = socket.split();
                    let (conn_id, commands) = app.hub.attach(&worker_id);
                    let store = app.engine.store.clone();
                    if let Err(e) = store.set_worker_websocket(&worker_id, true).await {
                        tracing::warn!(worker_id, error = %e, "cannot record websocket connection");
                    }
                    tracing::info!(worker_id, "worker websocket connected");
                    let shutdown = app.shutdown.clone();
                    let events_app = app.clone();
                    serve_socket(sink, stream, commands, shutdown, move |text| {
                        let app = events_app.clone();
                        let cred = cred.clone();
                        async move {
                            let handled = match parse_json(text.as_bytes()) {
                                Ok(value) => handle_event(&app, &cred, value).await,
                                Err(e) => Err(e),
                            };
                            if let Err(e) = handled {
                                tracing::warn!(error = %e.message, "bad websocket event");
                            }
                        }
                    })
                    .await;
                    if app.hub.detach(&worker_id, conn_id) {
                        let _ = store.set_worker_websocket(&worker_id, false).await;
                    }
                    tracing::info!(worker_id, "worker websocket closed");
                })
                .into_response()
            },
        )
}

/// Pumps commands out and events in until either side closes or shutdown.
pub async fn serve_socket<S, R, E, F, Fut>(
    mut sink: S,
    mut stream: R,
    mut commands: mpsc::UnboundedReceiver<String>,
    shutdown: CancellationToken,
    mut on_text: F,
) where
    S: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, E>> + Unpin,
    F: FnMut(String) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => {
                let _ = sink.send(Message::close()).await;
                break;
            }
            _ = ping.tick() => {
                if sink.send(Message::ping(Vec::new())).await.is_err() {
                    break;
                }
            }
            command = commands.recv() => match command {
                Some(text) => {
                    if sink.send(Message::text(text)).await.is_err() {
                        break;
                    }
                }
                None => break,
            },
            frame = stream.next() => match frame {
                Some(Ok(msg)) if msg.is_text() => {
                    if let Ok(text) = msg.to_str() {
                        on_text(text.to_string()).await;
                    }
                }
                Some(Ok(msg)) if msg.is_close() => break,
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_channel::mpsc as fmpsc;
    use std::sync::{Arc, Mutex};

    #[tokio::test]
    async fn commands_go_out_and_text_frames_come_in() {
        let hub = Arc::new(Hub::default());
        let (conn, commands) = hub.attach("w1");
        let (out_tx, mut out_rx) = fmpsc::unbounded::<Message>();
        let (in_tx, in_rx) = fmpsc::unbounded::<Result<Message, std::io::Error>>();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(serve_socket(
            out_tx,
            in_rx,
            commands,
            shutdown.clone(),
            move |t| {
                seen2.lock().unwrap().push(t);
                async {}
            },
        ));
        hub.send("w1", r#"{"command":"cancel_task","task_id":"t1"}"#);
        let msg = out_rx.next().await.unwrap();
        assert_eq!(
            msg.to_str().unwrap(),
            r#"{"command":"cancel_task","task_id":"t1"}"#
        );
        in_tx
            .unbounded_send(Ok(Message::text("{\"event_type\":\"progress\"}")))
            .unwrap();
        in_tx.unbounded_send(Ok(Message::close())).unwrap();
        task.await.unwrap();
        assert_eq!(
            seen.lock().unwrap().as_slice(),
            ["{\"event_type\":\"progress\"}"]
        );
        assert!(hub.detach("w1", conn));
        assert!(!hub.is_connected("w1"));
    }

    #[test]
    fn a_newer_connection_is_not_detached_by_an_older_one() {
        let hub = Hub::default();
        let (old, _rx1) = hub.attach("w");
        let (new, _rx2) = hub.attach("w");
        assert!(!hub.detach("w", old));
        assert!(hub.is_connected("w"));
        assert!(hub.detach("w", new));
    }
}
