//! A complete worker with one skill, `hello`.
//!
//! ```text
//! ORCHESTRATOR_URL=http://localhost:8080 WORKER_TOKEN=dev-worker-token \
//!     cargo run --example hello    (from the repository root)
//! ```
//!
//! It reads its settings from the environment like every SDK worker (`ORCHESTRATOR_URL`,
//! `WORKER_TOKEN`, `WORKER_ID`, ...; `dev-worker-token` is `baton dev`'s worker token).
//! The shipped blueprint `blueprints/hello.yaml` gives it jobs:
//!
//! ```text
//! curl -s -X POST http://localhost:8080/api/v1/jobs/hello -H 'X-Client-Token: dev-client-token' \
//!      -d '{"initial_data": {"name": "Ada", "delay_ms": 500}}'
//! ```
//!
//! Its task params `{"name": "Ada", "delay_ms": 500}` answer `{"greeting": "Hello, Ada!"}`
//! after reporting progress; it stops early when cancelled. Ctrl-C shuts the worker down
//! gracefully. A wrong or missing `WORKER_TOKEN` ends it at once with a message saying so.

use std::process::ExitCode;
use std::time::Duration;

use baton_worker::{TaskContext, TaskError, Worker, WorkerConfig, WorkerError};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct HelloParams {
    name: String,
    #[serde(default)]
    delay_ms: u64,
}

#[derive(Serialize)]
struct Greeting {
    greeting: String,
}

async fn hello(params: HelloParams, ctx: TaskContext) -> Result<Greeting, TaskError> {
    if params.name.trim().is_empty() {
        return Err(TaskError::invalid_input("name must not be empty"));
    }
    let _ = ctx.progress(0.0, "thinking").await;
    tokio::select! {
        // The SDK reports a cancelled task as `cancelled` whatever we return here.
        _ = ctx.cancelled() => return Err(TaskError::transient("cancelled")),
        _ = tokio::time::sleep(Duration::from_millis(params.delay_ms)) => {}
    }
    let _ = ctx.progress(1.0, "done").await;
    Ok(Greeting {
        greeting: format!("Hello, {}!", params.name),
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Display, not Debug: the error says what to fix (e.g. WORKER_TOKEN).
            eprintln!("hello: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), WorkerError> {
    // ORCHESTRATOR_URL, WORKER_TOKEN, WORKER_ID, ... (WorkerConfig::from_env).
    let config = WorkerConfig::from_env()?.worker_type("hello-example");
    let worker = Worker::builder(config).skill("hello", hello).build()?;
    tracing::info!(worker_id = worker.worker_id(), "starting; Ctrl-C to stop");
    worker
        .run(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}
