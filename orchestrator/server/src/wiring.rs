//! Wiring: the stores opened once, the engine built with the faces' hooks, each face on
//! the engine, and their routes composed into one filter with what is cross-cutting
//! ([`baton_http::serve_faces`]). The only place that knows every face.

use crate::config::Config;
use crate::metrics::Metrics;
use crate::{engine, pipelines, runtime, store, workflows, StartError};
use baton_blueprint::Registry;
use baton_http::{Face, Faces};
use std::convert::Infallible;
use std::sync::Arc;
use store::Store;
use tokio_util::sync::CancellationToken;
use warp::reply::Response;
use warp::Filter;

/// Everything an orchestrator keeps, opened once: the job store and, beside it (same
/// Redis, same prefix; or in the same process), the records of the faces.
#[derive(Clone)]
pub struct Stores {
    pub store: Arc<dyn Store>,
    /// The coding pipelines' records (projects, runs, steps, events, clarifications).
    pub records: Arc<dyn pipelines::RecordStore>,
    /// The workflow face's records (workflows, rate-limit counters).
    pub workflows: Arc<dyn workflows::store::WorkflowStore>,
}

impl Stores {
    /// The embedded store: nothing survives the process.
    pub fn memory(history_limit: usize) -> Stores {
        Stores {
            store: Arc::new(store::memory::MemoryStore::new(history_limit)),
            records: Arc::new(pipelines::memory::MemoryRecords::new()),
            workflows: Arc::new(workflows::memory::MemoryWorkflows::new()),
        }
    }

    /// A Redis store and the faces' records on its connections and key prefix.
    pub fn redis(store: store::redis::RedisStore) -> Stores {
        let shared = store.shared();
        Stores {
            records: Arc::new(pipelines::redis::RedisRecords::with_pool(
                shared.pool.clone(),
                shared.keys.clone(),
            )),
            workflows: Arc::new(workflows::redis::RedisWorkflows::with_pool(
                shared.pool,
                shared.keys,
            )),
            store: Arc::new(store),
        }
    }
}

/// The configured backend: Redis when `BATON_REDIS_URL` is set, else the embedded one.
/// Redis need not be reachable yet (the server waits for it, see [`baton_engine::readiness`]);
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

/// The faces of one orchestrator on one engine, and what the run loop needs.
pub struct Server {
    pub cfg: Arc<Config>,
    pub metrics: Arc<Metrics>,
    pub runtime: runtime::AppRef,
    pub pipelines: pipelines::AppRef,
    pub workflows: workflows::FaceRef,
    pub faces: Arc<Faces>,
}

/// Wires the core and the faces together (no tasks started).
pub fn build(cfg: Config, stores: Stores, registry: Registry) -> Result<Server, StartError> {
    let Stores {
        store,
        records,
        workflows: workflow_records,
    } = stores;
    let cfg = Arc::new(cfg);
    let workflows_cfg = cfg.workflows()?;
    let yaml = workflows::yaml::load_dir(&workflows_cfg.workflows_dir)?;
    let runtime_cfg = cfg.runtime();
    let auth = Arc::new(runtime::auth::Auth::from_config(&runtime_cfg)?);
    let metrics = Arc::new(Metrics::new());
    let shutdown = CancellationToken::new();
    let (name, hook) = pipelines::hook(&records, &metrics.pipelines);
    let hooks = engine::hooks::Hooks::new()
        .with(name, hook)
        .with(
            workflows::hook::HOOK,
            Arc::new(workflows::hook::WorkflowHook {
                metrics: metrics.workflows.clone(),
                records: workflow_records.clone(),
            }),
        )
        .with_blueprints(Arc::new(workflows::source::WorkflowBlueprints {
            records: workflow_records.clone(),
        }));
    let engine = Arc::new(engine::Engine::new(
        store.clone(),
        Arc::new(registry),
        Arc::new(cfg.engine()),
        metrics.engine.clone(),
        hooks,
    ));
    let dispatcher = Arc::new(engine::dispatch::Dispatcher::new(
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
    let readiness: Arc<engine::readiness::Readiness> = Default::default();
    let workflows = Arc::new(workflows::WorkflowsFace {
        engine: engine.clone(),
        records: workflow_records,
        yaml,
        signer: workflows::auth::Signer::new(&workflows_cfg.secret_key),
        cfg: workflows_cfg,
        metrics: metrics.workflows.clone(),
        readiness: readiness.clone(),
        shutdown: shutdown.clone(),
        started: std::time::Instant::now(),
        active_requests: Default::default(),
        compiled: Default::default(),
        saved_blueprints: Default::default(),
        schedules_changed: Default::default(),
    });
    let runtime = Arc::new(runtime::App {
        engine,
        auth,
        dispatcher,
        hub: Arc::new(runtime::ws::Hub::default()),
        cfg: Arc::new(runtime_cfg),
        registry: metrics.registry.clone(),
        shutdown,
        openapi: Default::default(),
        readiness,
        skills: Default::default(),
    });
    let faces = Arc::new(Faces::new(vec![
        runtime.clone() as Arc<dyn Face>,
        pipelines.clone(),
        workflows.clone(),
        Arc::new(baton_ui::Ui),
    ]));
    runtime.openapi.set_base(faces.openapi());
    Ok(Server {
        cfg,
        metrics,
        runtime,
        pipelines,
        workflows,
        faces,
    })
}

/// Every face's routes, wrapped with the readiness gate, rejections, the protocol header
/// and the request metrics.
pub fn routes(server: &Server) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone {
    let gate = baton_http::Gate {
        readiness: server.runtime.readiness.clone(),
        store_kind: server.runtime.engine.store.kind(),
    };
    let routes = runtime::routes(server.runtime.clone())
        .or(pipelines::routes(server.pipelines.clone()))
        .unify()
        .or(workflows::routes(server.workflows.clone()))
        .unify()
        .or(baton_ui::routes())
        .unify();
    baton_http::serve_faces(
        routes,
        server.faces.clone(),
        server.metrics.http.clone(),
        gate,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime::{CREATE_JOBS_ROUTE, CREATE_JOB_ROUTE};
    use warp::http::StatusCode;

    /// A request path for a template: every parameter `x`.
    pub(crate) fn sample_path(template: &str) -> String {
        if template == CREATE_JOB_ROUTE {
            return "/api/v1/jobs/x".into();
        }
        if template == CREATE_JOBS_ROUTE {
            return "/api/v1/jobs/x/batch".into();
        }
        baton_http::routes::sample_path(template)
    }

    /// Every route of every face.
    pub(crate) fn all_routes() -> Vec<(&'static str, &'static str)> {
        runtime::ROUTES
            .iter()
            .chain(pipelines::ROUTES)
            .chain(workflows::ROUTES)
            .chain(baton_ui::ROUTES)
            .copied()
            .collect()
    }

    fn server(cfg: Config) -> Server {
        let stores = Stores::memory(cfg.history_limit);
        build(cfg, stores, Registry::default()).expect("server builds")
    }

    #[test]
    fn every_route_is_its_own_label() {
        let server = server(Config::default());
        for (method, template) in all_routes() {
            let path = sample_path(template);
            let label = server.faces.label(method, &path);
            assert_eq!(label.template, template, "{method} {path}");
        }
        assert_eq!(
            server.faces.label("POST", "/api/v1/jobs/echo").template,
            CREATE_JOB_ROUTE
        );
        assert_eq!(
            server.faces.label("GET", "/projects/3").face,
            Some(1),
            "a pipelines route is the pipelines face's"
        );
        let workflows = server.faces.label("GET", "/v1/workflows/w1");
        assert_eq!(workflows.template, "/v1/workflows/{workflow_id}");
        assert_eq!(
            workflows.face,
            Some(2),
            "a /v1 route is the workflow face's"
        );
        assert_eq!(server.faces.label("GET", "/v2/anything").template, "other");
    }

    /// Catches a route listed that no filter serves (the reverse, a filter missing
    /// from the list, shows as its requests labelled `other` and its route undocumented).
    #[tokio::test]
    async fn every_listed_route_is_served() {
        let server = server(Config {
            client_token: Some("c".into()),
            worker_token: Some("w".into()),
            // Debug routes exist only when enabled.
            enable_debug_endpoints: true,
            ..Config::default()
        });
        server.runtime.readiness.mark_ready();
        let filter = routes(&server);
        for (method, template) in all_routes() {
            let path = sample_path(template);
            let resp = warp::test::request()
                .method(method)
                .path(&path)
                .reply(&filter)
                .await;
            let body = String::from_utf8_lossy(resp.body());
            assert!(
                !body.contains("no such route") && resp.status() != StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} is not served: {} {body}",
                resp.status()
            );
        }
    }
}
