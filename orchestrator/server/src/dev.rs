//! `baton dev`: the orchestrator on the embedded store with example workers in-process,
//! so a fresh checkout runs a job end to end with one command.

use crate::blueprint::{self, Registry};
use crate::config::Config;
use crate::StartError;

/// Development defaults for anything not configured.
pub const DEV_CLIENT_TOKEN: &str = "dev-client-token";
pub const DEV_WORKER_TOKEN: &str = "dev-worker-token";
/// The admin token `baton dev` sets (sees every client's jobs: the dashboard and the CLI).
pub const DEV_ADMIN_TOKEN: &str = "dev-admin-token";

/// The echo blueprint compiled in, used when the blueprints directory does not exist.
pub const BUILTIN_ECHO: &str = include_str!("../../../blueprints/echo.yaml");

/// Fills in the development defaults.
pub fn dev_config(mut cfg: Config) -> Config {
    if cfg.client_token.is_none() && cfg.clients_file.is_none() {
        cfg.client_token = Some(DEV_CLIENT_TOKEN.into());
    }
    if cfg.worker_token.is_none() && cfg.worker_tokens_file.is_none() {
        cfg.worker_token = Some(DEV_WORKER_TOKEN.into());
    }
    if cfg.admin_token.is_none() {
        cfg.admin_token = Some(DEV_ADMIN_TOKEN.into());
    }
    // The workflow face: demo logins unless users are configured; `SECRET_KEY` when set
    // (dev instances on one Redis then accept each other's tokens), else a key made here.
    if cfg.workflows.api_credentials.is_none() {
        cfg.workflows.allow_demo_auth = true;
    }
    if cfg.workflows.secret_key.is_none() {
        cfg.workflows.secret_key = Some(crate::config_workflows::random_key());
    }
    cfg
}

/// A login that works with `cfg` (demo auth), for the start banner.
fn login_hint(cfg: &Config, url: &str) -> String {
    if cfg.workflows.allow_demo_auth {
        format!(
            "  TOKEN=$(curl -s -X POST {url}/v1/auth/login -H 'Content-Type: application/json' \\\n       -d '{{\"user_id\": \"admin\", \"password\": \"demo\"}}' | sed 's/.*\"access_token\":\"\\([^\"]*\\)\".*/\\1/')\n  curl -s {url}/v1/yaml-workflows -H \"Authorization: Bearer $TOKEN\"\n"
        )
    } else {
        "  (log in to /v1/auth/login as a user of API_CREDENTIALS)\n".to_string()
    }
}

/// Blueprints from the configured directory, or the built-in echo blueprint if the
/// directory does not exist (running the binary outside a checkout).
pub fn dev_blueprints(cfg: &Config) -> Result<Registry, StartError> {
    if cfg.blueprints_dir.is_dir() {
        return crate::load_blueprints(cfg);
    }
    tracing::warn!(dir = %cfg.blueprints_dir.display(), "blueprints directory not found; using the built-in echo blueprint");
    Ok(Registry::new(vec![blueprint::load_str(
        "builtin:echo.yaml",
        BUILTIN_ECHO,
    )?])?)
}

fn workflow_worker(url: &str, token: &str) -> Result<baton_worker::Worker, String> {
    use baton_worker_examples::workflow::{workflow_skills, WorkflowSettings};
    let mut settings = WorkflowSettings::from_lookup(|k| std::env::var(k).ok())?;
    settings.allow_shell = true;
    let config = baton_worker::WorkerConfig::new(url.to_string())
        .token(token.to_string())
        .worker_id("dev-workflow-1")
        .worker_type("workflow-worker");
    workflow_skills(baton_worker::Worker::builder(config), settings)
        .build()
        .map_err(|e| e.to_string())
}

/// Serves like [`crate::run_with`], plus `workers` in-process echo workers that connect
/// to this orchestrator over HTTP like any other worker.
pub async fn run_dev(
    listener: tokio::net::TcpListener,
    cfg: Config,
    workers: usize,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), StartError> {
    let stores = crate::open_stores(&cfg).await?;
    let registry = dev_blueprints(&cfg)?;
    let port = listener.local_addr()?.port();
    let client_token = cfg
        .client_token
        .clone()
        .unwrap_or_else(|| "<a token from BATON_CLIENTS_FILE>".into());
    let worker_token = cfg.worker_token.clone();
    let url = format!("http://127.0.0.1:{port}");
    let login = login_hint(&cfg, &url);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::run_with(listener, cfg, stores, registry, async {
        let _ = stop_rx.await;
    }));
    let mut handles = Vec::new();
    match worker_token.clone() {
        Some(token) => {
            for i in 1..=workers {
                let config = baton_worker::WorkerConfig::new(url.clone())
                    .token(token.clone())
                    .worker_id(format!("dev-echo-{i}"))
                    .worker_type("echo-worker");
                let builder =
                    baton_worker_examples::example_skills(baton_worker::Worker::builder(config));
                match builder.build() {
                    Ok(worker) => handles.push(worker.spawn()),
                    Err(e) => tracing::error!(error = %e, "cannot start an in-process echo worker"),
                }
            }
        }
        None => tracing::warn!("no global BATON_WORKER_TOKEN: starting no in-process workers"),
    }
    if let Some(token) = &worker_token {
        // The workflow steps, shell allowed (dev mode runs on the developer's own host);
        // AI steps offline unless OPENAI_BASE_URL is set.
        match workflow_worker(&url, token) {
            Ok(worker) => handles.push(worker.spawn()),
            Err(e) => tracing::error!(error = %e, "cannot start the in-process workflow worker"),
        }
    }
    tracing::info!(
        workers = handles.len(),
        "dev mode: in-process workers started (echo, and one workflow worker)"
    );
    println!(
        "\nBaton dev mode on {url} ({} in-process workers: echo and workflow).\nTry:\n  curl -s -X POST {url}/api/v1/jobs/echo -H 'X-Client-Token: {client_token}' \\\n       -H 'Content-Type: application/json' -d '{{\"initial_data\": {{\"message\": \"hello\"}}}}'\n  curl -s {url}/api/v1/jobs/<job_id> -H 'X-Client-Token: {client_token}'\nWorkflow management (log in, then list the YAML workflows):\n{login}",
        handles.len()
    );
    shutdown.await;
    for handle in handles {
        if let Err(e) = handle.shutdown().await {
            tracing::warn!(error = %e, "echo worker did not stop cleanly");
        }
    }
    let _ = stop_tx.send(());
    match server.await {
        Ok(result) => result,
        Err(e) => Err(StartError::Io(std::io::Error::other(e.to_string()))),
    }
}
