//! `workflow-worker`: runs the steps of workflow executions (see
//! `baton_worker_examples::workflow`): skills `wf-ai-prompt`, `wf-shell`, `wf-transform`,
//! `wf-checkpoint`, `wf-fan-out`, `wf-fan-in`.
//!
//! Configured by the SDK's environment names (`ORCHESTRATOR_URL`, `WORKER_TOKEN`,
//! `WORKER_ID`, ...) and its own: `WORKFLOW_ALLOW_SHELL` (default false: shell steps are
//! refused, since they run commands on this host), `OPENAI_BASE_URL` and `OPENAI_API_KEY`
//! (unset: the offline AI engine), `WORKFLOW_STEP_TIMEOUT_SECONDS` (default 300).

use std::process::ExitCode;

use baton_worker::{Worker, WorkerConfig};
use baton_worker_examples::cli::{handle_args, Usage};
use baton_worker_examples::shutdown_signal;
use baton_worker_examples::workflow::{workflow_skills, WorkflowSettings};

const USAGE: Usage = Usage {
    name: "workflow-worker",
    about: "runs the steps of workflow executions (the workflow-management API, /v1/*):\n\
            skills `wf-ai-prompt`, `wf-shell`, `wf-transform`, `wf-checkpoint`, `wf-fan-out`\n\
            and `wf-fan-in`. `baton dev` runs one in-process; start this one for `baton serve`.",
    own_env: "  WORKFLOW_ALLOW_SHELL     run `shell` steps, commands on this host (default false)
  OPENAI_BASE_URL          an OpenAI-compatible endpoint for `ai-prompt` steps (unset:
                           the offline engine answers)
  OPENAI_API_KEY           its key
  WORKFLOW_STEP_TIMEOUT_SECONDS
                           bound on a step without its own timeout (default 300)
  WORKFLOW_AI_PRICES       model=cents,...: price of a thousand tokens by model
  WORKFLOW_AI_CIRCUIT_FAILURES, WORKFLOW_AI_CIRCUIT_COOLDOWN_SECONDS
                           the AI endpoint's circuit breaker (default 5 failures, 30 s)",
    example: "ORCHESTRATOR_URL=http://localhost:8080 WORKER_TOKEN=dev-worker-token \\\n    \
              WORKFLOW_ALLOW_SHELL=true workflow-worker",
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
