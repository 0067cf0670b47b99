//! The HTTP server loop: HTTP/1.1 connections (with upgrades, for WebSockets) serving the
//! warp filter.
//!
//! Written out (instead of `warp::serve`) for three reasons: accepted sockets get
//! `TCP_NODELAY`, since small JSON answers must not wait for Nagle's algorithm; an HTTP/1
//! connection is smaller than the auto-detecting HTTP/1+2 one, which matters with ten
//! thousand idle long-polls; and shutdown drains connections with a time limit, since
//! long-polls and WebSockets would otherwise hold it up.

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use warp::reply::Response;
use warp::Filter;

pub async fn serve<F>(
    listener: TcpListener,
    filter: F,
    shutdown: CancellationToken,
    drain_timeout: Duration,
) where
    F: Filter<Extract = (Response,), Error = std::convert::Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    F::Future: Send,
{
    let service = warp::service(filter);
    let connections = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(service.clone());
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let conn = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            let mut conn = std::pin::pin!(conn);
            let result = tokio::select! {
                result = conn.as_mut() => result,
                _ = shutdown.cancelled() => {
                    // Finish the request in flight (held polls answer at once), then close.
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    connections.close();
    if tokio::time::timeout(drain_timeout, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            timeout_ms = drain_timeout.as_millis() as u64,
            "connections still open at shutdown; closing them"
        );
    }
}
