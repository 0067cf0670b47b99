//! Running one scenario on each store: [`Backend`], [`start`] and the
//! [`on_both_stores!`](crate::on_both_stores) macro that makes a `memory` and a `redis`
//! test of each scenario function.

use crate::{init_tracing, shared_redis, unique_prefix, Client, Orchestrator};
use baton_orchestrator::config::Config;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Memory,
    Redis,
}

/// An orchestrator with `cfg` on `backend` (Redis: the shared throwaway server under a
/// new key prefix, returned too) and a client of it.
pub async fn start(backend: Backend, cfg: Config, name: &str) -> (Orchestrator, Client, String) {
    init_tracing();
    let prefix = unique_prefix(name);
    let orch = match backend {
        Backend::Memory => Orchestrator::memory(cfg).await,
        Backend::Redis => Orchestrator::redis(cfg, &shared_redis().url(), &prefix).await,
    };
    let client = Client::new(&orch.base_url);
    (orch, client, prefix)
}

/// `on_both_stores!(scenario, ...)`: for each `async fn scenario(Backend)`, a module with
/// a `memory` and a `redis` test.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn memory() { super::$name($crate::backend::Backend::Memory).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn redis() { super::$name($crate::backend::Backend::Redis).await }
        }
    )*};
}
