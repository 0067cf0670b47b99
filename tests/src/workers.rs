//! Rust SDK workers for tests.

use crate::orchestrator::WORKER_TOKEN;
use baton_worker::{Worker, WorkerBuilder, WorkerConfig, WorkerHandle};
use std::time::Duration;

/// SDK config pointing at `base_url`, with quick heartbeats.
pub fn config(base_url: &str, worker_id: &str) -> WorkerConfig {
    WorkerConfig::new(base_url)
        .token(WORKER_TOKEN)
        .worker_id(worker_id)
        .worker_type("test-worker")
        .heartbeat_interval(Duration::from_millis(500))
        .task_poll_timeout(Duration::from_secs(2))
        .result_retry_initial_delay(Duration::from_millis(100))
        .shutdown_timeout(Duration::from_secs(2))
        .cancel_grace(Duration::from_secs(1))
}

/// Starts an echo worker.
pub fn echo(base_url: &str, worker_id: &str) -> WorkerHandle {
    spawn(baton_worker_examples::example_skills(Worker::builder(
        config(base_url, worker_id),
    )))
}

pub fn spawn(builder: WorkerBuilder) -> WorkerHandle {
    builder.build().expect("worker builds").spawn()
}

/// Waits until the orchestrator lists `worker_id` (registration done).
pub async fn wait_registered(client: &crate::Client, worker_id: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, workers) = client.get("/api/v1/workers").await;
        if workers
            .as_array()
            .is_some_and(|a| a.iter().any(|w| w["worker_id"] == worker_id))
        {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "worker {worker_id} never registered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until no worker holds a task (every cancelled or stopped task let go).
pub async fn wait_all_idle(client: &crate::Client, timeout: Duration) {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let (_, workers) = client.get("/api/v1/workers").await;
        let idle = workers.as_array().is_some_and(|ws| {
            ws.iter()
                .all(|w| w["current_tasks"].as_array().is_some_and(Vec::is_empty))
        });
        if idle {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "tasks still held: {workers}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `worker_id`'s command WebSocket is connected (it opens just after the
/// registration, so a cancel sent before then is only recorded for the next heartbeat).
pub async fn wait_websocket(client: &crate::Client, worker_id: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, workers) = client.get("/api/v1/workers").await;
        let connected = workers.as_array().is_some_and(|ws| {
            ws.iter()
                .any(|w| w["worker_id"] == worker_id && w["websocket"] == true)
        });
        if connected {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "worker {worker_id} never opened its WebSocket: {workers}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
