//! An orchestrator for a test: port 0, a chosen store, short timeouts.

use baton_orchestrator::blueprint::{load_dir, Registry};
use baton_orchestrator::config::Config;
use baton_orchestrator::pipelines::RecordStore;
use baton_orchestrator::store::redis::RedisStore;
use baton_orchestrator::store::Store;
use baton_orchestrator::Stores;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

pub const CLIENT_TOKEN: &str = "client-token";
pub const WORKER_TOKEN: &str = "worker-token";

/// The repository's `blueprints/` directory.
pub fn repo_blueprints() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../blueprints")
}

/// A directory holding the shipped blueprints and the test-only ones of
/// `tests/blueprints` (short timeouts, cycles), made once per test process.
pub fn all_blueprints() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir =
            std::env::temp_dir().join(format!("baton-test-blueprints-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("blueprint dir");
        let test_only = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("blueprints");
        for src in [repo_blueprints(), test_only] {
            for entry in std::fs::read_dir(&src).expect("read blueprints") {
                let path = entry.expect("dir entry").path();
                if path.extension().is_some_and(|e| e == "yaml") {
                    let name = path.file_name().expect("file name");
                    std::fs::copy(&path, dir.join(name)).expect("copy blueprint");
                }
            }
        }
        dir
    })
    .clone()
}

/// [`test_config`] with [`all_blueprints`].
pub fn blueprint_test_config() -> Config {
    Config {
        blueprints_dir: all_blueprints(),
        ..test_config()
    }
}

/// Test defaults: fixed tokens, quick long-polls, timeouts and retries.
pub fn test_config() -> Config {
    Config {
        client_token: Some(CLIENT_TOKEN.into()),
        worker_token: Some(WORKER_TOKEN.into()),
        blueprints_dir: repo_blueprints(),
        poll_hold: Duration::from_secs(2),
        heartbeat_timeout: Duration::from_secs(3),
        retry_backoff: Duration::from_millis(100),
        retry_backoff_max: Duration::from_millis(400),
        reaper_interval: Duration::from_millis(50),
        shutdown_timeout: Duration::from_secs(2),
        ..Config::default()
    }
}

pub struct Orchestrator {
    pub addr: SocketAddr,
    pub base_url: String,
    pub store: Arc<dyn Store>,
    /// The coding pipelines' records beside the store.
    pub records: Arc<dyn RecordStore>,
    shutdown: Option<oneshot::Sender<()>>,
    join: Option<tokio::task::JoinHandle<()>>,
}

impl Orchestrator {
    /// Starts with `stores` and the blueprints of `cfg.blueprints_dir`.
    pub async fn start(cfg: Config, stores: Stores) -> Orchestrator {
        let registry = Registry::new(load_dir(&cfg.blueprints_dir).expect("blueprints load"))
            .expect("registry");
        Self::start_with(cfg, stores, registry).await
    }

    pub async fn start_with(cfg: Config, stores: Stores, registry: Registry) -> Orchestrator {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        let (store, records) = (stores.store.clone(), stores.records.clone());
        let join = tokio::spawn(async move {
            let shutdown = async {
                let _ = rx.await;
            };
            if let Err(e) =
                baton_orchestrator::run_with(listener, cfg, stores, registry, shutdown).await
            {
                panic!("orchestrator failed: {e}");
            }
        });
        Orchestrator {
            addr,
            base_url: format!("http://{addr}"),
            store,
            records,
            shutdown: Some(tx),
            join: Some(join),
        }
    }

    pub async fn memory(cfg: Config) -> Orchestrator {
        let stores = Stores::memory(cfg.history_limit);
        Self::start(cfg, stores).await
    }

    pub async fn redis(cfg: Config, url: &str, prefix: &str) -> Orchestrator {
        let store = RedisStore::connect(url, prefix, 8, cfg.history_limit)
            .await
            .expect("redis store");
        Self::start(cfg, Stores::redis(store)).await
    }

    /// Graceful stop; waits until the server has shut down.
    pub async fn stop(mut self) {
        self.stop_inner().await;
    }

    async fn stop_inner(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(join) = self.join.take() {
            let _ = tokio::time::timeout(Duration::from_secs(15), join).await;
        }
    }
}

impl Drop for Orchestrator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
