//! `workflow-worker`: runs the steps of workflow executions (see
//! `baton_worker_examples::workflow`): skills `wf-ai-prompt`, `wf-shell`, `wf-transform`,
//! `wf-checkpoint`.
//!
//! Configured by the SDK's environment names (`ORCHESTRATOR_URL`, `WORKER_TOKEN`,
//! `WORKER_ID`, ...) and its own: `WORKFLOW_ALLOW_SHELL` (default false: shell steps are
//! refused, since they run commands on this host), `OPENAI_BASE_URL` and `OPENAI_API_KEY`
//! (unset: the offline AI engine), `WORKFLOW_STEP_TIMEOUT_SECONDS` (default 300).

use std::process::ExitCode;

use baton_worker::{Worker, WorkerConfig};
use baton_worker_examples::shutdown_signal;
use baton_worker_examples::workflow::{workflow_skills, WorkflowSettings};

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
            tracing::error!(error = %e, "workflow-worker failed");
            eprintln!("workflow-worker: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let settings = WorkflowSettings::from_lookup(|k| std::env::var(k).ok())?;
    let mut config = WorkerConfig::from_env()?;
    if std::env::var_os("WORKER_TYPE").is_none() {
        config = config.worker_type("workflow-worker");
    }
    tracing::info!(shell = settings.allow_shell, ai = ?settings.ai, "workflow-worker settings");
    let worker = workflow_skills(Worker::builder(config), settings).build()?;
    tracing::info!(worker_id = worker.worker_id(), "workflow-worker starting");
    worker.run(shutdown_signal()).await?;
    Ok(())
}
