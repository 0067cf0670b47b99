//! The command WebSocket (`GET /_worker/ws/{worker_id}`).
//!
//! The server pushes TEXT frames holding a [`WorkerCommand`]; the one command of RXON 1.0b15
//! is `cancel_task`, which fires the named task's token. A cancel for a task not held yet
//! is remembered briefly (it may overtake the poll answer that brings the task). The socket
//! is reconnected with a doubling delay (1 s to 30 s) whenever it drops, and closed
//! cleanly when the worker stops. Heartbeats' `cancel_task_ids` cover the time the socket
//! is down.

use std::sync::Arc;
use std::time::Duration;

use baton_protocol::{WorkerCommand, COMMAND_CANCEL_TASK};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::state::Shared;

const RECONNECT_MIN: Duration = Duration::from_secs(1);
const RECONNECT_MAX: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Listens until `stop` fires; see the module docs.
pub(crate) async fn run(shared: Arc<Shared>, stop: CancellationToken) {
    let url = shared.client.websocket_url();
    let worker_id = shared.worker_id().to_string();
    let mut delay = RECONNECT_MIN;
    loop {
        let mut request = match url.as_str().into_client_request() {
            Ok(request) => request,
            Err(e) => {
                // The URL comes from a validated config, so this is not expected to heal.
                tracing::error!(%worker_id, %url, error = %e, "cannot build the WebSocket request; commands arrive by heartbeat only");
                return;
            }
        };
        for (name, value) in shared.client.auth_headers() {
            match (HeaderName::try_from(name), HeaderValue::try_from(value)) {
                (Ok(name), Ok(value)) => {
                    request.headers_mut().insert(name, value);
                }
                _ => tracing::error!(%worker_id, header = name, "header not representable"),
            }
        }
        let connecting =
            tokio::time::timeout(CONNECT_TIMEOUT, tokio_tungstenite::connect_async(request));
        let connected = tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            connected = connecting => connected,
        };
        match connected {
            Ok(Ok((mut socket, _))) => {
                tracing::info!(%worker_id, "command WebSocket connected");
                delay = RECONNECT_MIN;
                loop {
                    let frame = tokio::select! {
                        biased;
                        _ = stop.cancelled() => {
                            let _ = tokio::time::timeout(CLOSE_TIMEOUT, socket.close(None)).await;
                            tracing::debug!(%worker_id, "command WebSocket closed");
                            return;
                        }
                        frame = socket.next() => frame,
                    };
                    match frame {
                        Some(Ok(Message::Text(text))) => handle_command(&shared, text.as_str()),
                        Some(Ok(Message::Close(_))) | None => {
                            tracing::warn!(%worker_id, "command WebSocket closed by the server");
                            break;
                        }
                        // Pings are answered by tungstenite itself; nothing else is expected.
                        Some(Ok(_)) => {}
                        Some(Err(e)) => {
                            tracing::warn!(%worker_id, error = %e, "command WebSocket failed");
                            break;
                        }
                    }
                }
                // Flush anything queued (e.g. a pong) and drop the dead socket.
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, socket.flush()).await;
            }
            Ok(Err(e)) => {
                tracing::warn!(%worker_id, error = %e, retry_in = ?delay, "command WebSocket connect failed")
            }
            Err(_) => {
                tracing::warn!(%worker_id, retry_in = ?delay, "command WebSocket connect timed out")
            }
        }
        tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(RECONNECT_MAX);
    }
}

fn handle_command(shared: &Shared, text: &str) {
    let command: WorkerCommand = match serde_json::from_str(text) {
        Ok(command) => command,
        Err(e) => {
            tracing::warn!(worker_id = %shared.worker_id(), error = %e, "unreadable WebSocket command");
            return;
        }
    };
    match (command.command.as_str(), command.task_id.as_deref()) {
        (COMMAND_CANCEL_TASK, Some(task_id)) => {
            shared.tasks.cancel(task_id, "websocket", true);
        }
        (other, _) => {
            tracing::warn!(worker_id = %shared.worker_id(), command = other, "unknown WebSocket command")
        }
    }
}
