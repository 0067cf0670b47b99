//! `echo-worker`: a standalone worker with the `echo` skill (see
//! `baton_worker_examples::echo` for what it does).
//!
//! Configured by the Python SDK's environment names (`ORCHESTRATOR_URL`, `WORKER_TOKEN`,
//! `WORKER_ID`, `MAX_CONCURRENT_TASKS`, ...); logs filtered by `RUST_LOG` (default
//! `info`). Ctrl-C or SIGTERM shuts it down gracefully: running tasks get
//! `WORKER_SHUTDOWN_TIMEOUT` seconds, the rest are handed back as `cancelled`.

use std::process::ExitCode;

use baton_worker::{Worker, WorkerConfig};
use baton_worker_examples::cli::{handle_args, Usage};
use baton_worker_examples::example_skills;
use baton_worker_examples::shutdown_signal;

const USAGE: Usage = Usage {
    name: "echo-worker",
    about: "a Baton worker with the example skills `echo` and `sum`.\n\
            `echo` answers with its params (the shipped `echo` blueprint's jobs); the params\n\
            `sleep_ms`, `fail` (transient | permanent | invalid_input), `fail_until_attempt`,\n\
            `progress: true`, `status` and `event` make it misbehave on purpose for demos.\n\
            `sum` adds up the `value`s of a parallel state's branches (`sum_items` jobs).",
    own_env: "",
    example: "ORCHESTRATOR_URL=http://localhost:8080 WORKER_TOKEN=dev-worker-token echo-worker",
};

#[tokio::main]
async fn main() -> ExitCode {
    if let Some(code) = handle_args(&USAGE) {
        return code;
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "echo-worker failed");
            eprintln!("echo-worker: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), baton_worker::WorkerError> {
    let mut config = WorkerConfig::from_env()?;
    if std::env::var_os("WORKER_TYPE").is_none() {
        config = config.worker_type("echo-worker");
    }
    let worker = example_skills(Worker::builder(config)).build()?;
    tracing::info!(worker_id = worker.worker_id(), "echo-worker starting");
    worker.run(shutdown_signal()).await
}
