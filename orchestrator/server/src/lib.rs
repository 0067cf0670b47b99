//! The `baton` server: configuration by section ([`config`]), the wiring of the core and
//! the faces ([`wiring`]), the metrics registry ([`metrics`]) and the run loop.
//!
//! One core, faces on top. The core (`orchestrator/core/`): blueprints
//! ([`blueprint`]), the job store and its Redis implementation ([`store`]), and the
//! engine with its dispatcher, reaper and live registries ([`engine`]). The faces
//! (`orchestrator/faces/`), each an HTTP API on the engine: the worker-pull runtime
//! ([`runtime`]: `/_public`, `/api/v1`, `/_worker`), the coding pipelines
//! ([`pipelines`]: `/projects`, `/protocols`, ...) and workflow management
//! ([`workflows`]: `/v1/*`, `/health/*`), sharing [`baton_http`]. This crate
//! is the only one that knows every face; the example workers are linked only with the
//! `dev` feature (`baton dev`).
//!
//! [`run`] serves on a listener until a shutdown future resolves; tests call it on port 0.

pub mod config;
pub mod config_workflows;
pub mod ctl;
#[cfg(feature = "dev")]
pub mod dev;
pub mod metrics;
pub mod wiring;

#[cfg(test)]
mod openapi_tests;

pub use baton_blueprint as blueprint;
pub use baton_engine as engine;
pub use baton_engine::dispatch;
pub use baton_pipelines as pipelines;
pub use baton_protocol::clock;
pub use baton_runtime as runtime;
pub use baton_workflows as workflows;
/// The job store (trait, memory store) and the Redis store.
pub mod store {
    pub use baton_store::*;
    pub use baton_store_redis as redis;
}
pub use wiring::{build, open_stores, Server, Stores};

use blueprint::Registry;
use config::Config;
use std::future::Future;
use tokio::net::TcpListener;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("blueprint error: {0}")]
    Blueprint(#[from] blueprint::BlueprintError),
    #[error("token configuration: {0}")]
    Auth(#[from] runtime::auth::AuthConfigError),
    #[error("{0}")]
    Workflow(#[from] workflows::yaml::LoadError),
    #[error("store: {0}")]
    Store(#[from] store::StoreError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Blueprints of `BATON_BLUEPRINTS_DIR`.
pub fn load_blueprints(cfg: &Config) -> Result<Registry, StartError> {
    Ok(Registry::new(blueprint::load_dir(&cfg.blueprints_dir)?)?)
}

/// Opens the configured store, loads the blueprints and serves until `shutdown` (also
/// while the store is unreachable: see [`baton_engine::readiness`]).
pub async fn run(
    listener: TcpListener,
    cfg: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    let stores = open_stores(&cfg).await?;
    let registry = load_blueprints(&cfg)?;
    run_with(listener, cfg, stores, registry, shutdown).await
}

/// Serves with an explicit backend and blueprints until `shutdown` resolves.
pub async fn run_with(
    listener: TcpListener,
    cfg: Config,
    stores: Stores,
    registry: Registry,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    let server = build(cfg, stores, registry)?;
    let app = server.runtime.clone();
    let token = app.shutdown.clone();
    baton_engine::readiness::try_first(app.engine.store.as_ref(), &app.readiness).await;
    let connector = tokio::spawn(baton_engine::readiness::connect(
        app.engine.store.clone(),
        app.readiness.clone(),
        token.clone(),
    ));
    // Timers and leases wait for the store: a reaper pass against an unreachable one
    // would only fail, every tick.
    let reaper = tokio::spawn({
        let (app, token) = (app.clone(), token.clone());
        async move {
            tokio::select! {
                _ = app.readiness.wait() => {}
                _ = token.cancelled() => return,
            }
            let _ = engine::spawn_reaper(app.engine.clone(), token).await;
        }
    });
    // Schedules fire once the store answers, as timers do.
    let scheduler = tokio::spawn({
        let (app, token, face) = (app.clone(), token.clone(), server.workflows.clone());
        async move {
            tokio::select! {
                _ = app.readiness.wait() => {}
                _ = token.cancelled() => return,
            }
            baton_workflows::schedules::runner::run(face).await;
        }
    });
    let notices = dispatch::spawn_notice_loop(
        app.engine.store.clone(),
        app.engine.live.clone(),
        app.hub.clone(),
        token.clone(),
    );
    tracing::info!(
        addr = %listener.local_addr()?,
        store = app.engine.store.kind(),
        store_ready = app.readiness.is_ready(),
        blueprints = app.engine.blueprints.len(),
        "baton orchestrator listening"
    );
    if server.pipelines.cfg.api_token.is_none() {
        tracing::warn!(
            routes = "/projects, /protocols, /steps, /events",
            "BATON_API_TOKEN is not set: the coding-pipelines API takes no bearer token"
        );
    }
    if app.cfg.enable_debug_endpoints {
        tracing::warn!(
            routes = "POST /_public/debug/flush_db",
            "debug endpoints are enabled (BATON_ENABLE_DEBUG_ENDPOINTS): anyone who can reach this server can delete all its data"
        );
    }
    let http = tokio::spawn(baton_http::server::serve(
        listener,
        wiring::routes(&server),
        token.clone(),
        server.cfg.shutdown_timeout,
    ));
    shutdown.await;
    tracing::info!("shutting down");
    // Cancelling first releases held long-polls (answered 204) and closes WebSockets, so
    // the drain below is quick.
    token.cancel();
    let _ = http.await;
    let _ = connector.await;
    let _ = reaper.await;
    let _ = scheduler.await;
    let _ = notices.await;
    tracing::info!("stopped");
    Ok(())
}
