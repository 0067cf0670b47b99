//! Baton's orchestrator: a distributed worker-pull job runtime.
//!
//! [`run`] serves the HTTP API on a listener until a shutdown future resolves; tests call
//! it on port 0. The pieces:
//!
//! - [`blueprint`]: declarative state machines loaded from YAML;
//! - [`store`]: the trait every piece of state goes through, with the embedded in-memory
//!   store and the Redis store;
//! - [`engine`]: jobs advancing on events, one atomic commit per transition;
//! - [`dispatch`]: long-polling workers waiting without holding store connections;
//! - [`api`]: the `/_public`, `/api/v1` and `/_worker` routes;
//! - [`auth`]: client and worker tokens, signed bodies;
//! - [`pipelines`]: the coding-pipelines face (records, state machines, jobs, routes).

pub mod api;
pub mod auth;
pub use baton_blueprint as blueprint;
pub use baton_protocol::clock;
pub mod config;
pub mod dev;
pub use baton_engine as engine;
pub use baton_engine::dispatch;
pub mod metrics;
pub use baton_pipelines as pipelines;
/// The job store (trait, memory store) and the Redis store.
pub mod store {
    pub use baton_store::*;
    pub use baton_store_redis as redis;
}

use api::{App, AppRef};
use blueprint::Registry;
use config::Config;
use std::future::Future;
use std::sync::Arc;
use store::Store;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("blueprint error: {0}")]
    Blueprint(#[from] blueprint::BlueprintError),
    #[error("token configuration: {0}")]
    Auth(#[from] auth::AuthConfigError),
    #[error("store: {0}")]
    Store(#[from] store::StoreError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Everything an orchestrator keeps, opened once: the job store and, beside it (same
/// Redis, same prefix; or in the same process), the records of the faces.
#[derive(Clone)]
pub struct Stores {
    pub store: Arc<dyn Store>,
    /// The coding pipelines' records (projects, runs, steps, events, clarifications).
    pub records: Arc<dyn pipelines::RecordStore>,
}

impl Stores {
    /// The embedded store: nothing survives the process.
    pub fn memory(history_limit: usize) -> Stores {
        Stores {
            store: Arc::new(store::memory::MemoryStore::new(history_limit)),
            records: Arc::new(pipelines::memory::MemoryRecords::new()),
        }
    }

    /// A Redis store and the faces' records on its connections and key prefix.
    pub fn redis(store: store::redis::RedisStore) -> Stores {
        let shared = store.shared();
        Stores {
            records: Arc::new(pipelines::redis::RedisRecords::with_pool(
                shared.pool,
                shared.keys,
            )),
            store: Arc::new(store),
        }
    }
}

/// The configured backend: Redis when `BATON_REDIS_URL` is set, else the embedded one.
/// Redis need not be reachable yet (the server waits for it, see [`api::readiness`]);
/// only a malformed URL fails.
pub async fn open_stores(cfg: &Config) -> Result<Stores, StartError> {
    Ok(match &cfg.redis_url {
        Some(url) => Stores::redis(store::redis::RedisStore::open(
            url,
            &cfg.key_prefix,
            cfg.redis_pool_size,
            cfg.history_limit,
        )?),
        None => Stores::memory(cfg.history_limit),
    })
}

/// Blueprints of `BATON_BLUEPRINTS_DIR`.
pub fn load_blueprints(cfg: &Config) -> Result<Registry, StartError> {
    Ok(Registry::new(blueprint::load_dir(&cfg.blueprints_dir)?)?)
}

/// Opens the configured store, loads the blueprints and serves until `shutdown` (also
/// while the store is unreachable: see [`api::readiness`]).
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
    let app = build(cfg, stores, registry)?;
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
    if app.cfg.api_token.is_none() {
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
    let server = tokio::spawn(baton_http::server::serve(
        listener,
        api::routes(app.clone()),
        token.clone(),
        app.cfg.shutdown_timeout,
    ));
    shutdown.await;
    tracing::info!("shutting down");
    // Cancelling first releases held long-polls (answered 204) and closes WebSockets, so
    // the drain below is quick.
    token.cancel();
    let _ = server.await;
    let _ = connector.await;
    let _ = reaper.await;
    let _ = notices.await;
    tracing::info!("stopped");
    Ok(())
}

/// Wires the application together (no tasks started).
pub fn build(cfg: Config, stores: Stores, registry: Registry) -> Result<AppRef, StartError> {
    let Stores { store, records } = stores;
    let cfg = Arc::new(cfg);
    let auth = Arc::new(auth::Auth::from_config(&cfg)?);
    let metrics = Arc::new(metrics::Metrics::new());
    let shutdown = CancellationToken::new();
    let (name, hook) = pipelines::hook(&records, &metrics.pipelines);
    let hooks = engine::hooks::Hooks::new().with(name, hook);
    let engine = Arc::new(engine::Engine::new(
        store.clone(),
        Arc::new(registry),
        Arc::new(cfg.engine()),
        metrics.engine.clone(),
        hooks,
    ));
    let dispatcher = Arc::new(dispatch::Dispatcher::new(
        store,
        metrics.engine.clone(),
        cfg.heartbeat_timeout,
        engine.live.clone(),
        shutdown.clone(),
    ));
    let pipelines = Arc::new(pipelines::PipelinesFace {
        engine: engine.clone(),
        records,
        cfg: cfg.pipelines(),
        metrics: metrics.pipelines.clone(),
        registry: metrics.registry.clone(),
    });
    Ok(Arc::new(App {
        pipelines,
        engine,
        auth,
        dispatcher,
        hub: Arc::new(api::ws::Hub::default()),
        cfg,
        metrics,
        shutdown,
        openapi: Default::default(),
        readiness: Default::default(),
    }))
}
