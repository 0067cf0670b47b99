//! The workflow face's record-store conformance suite, on the embedded store and on Redis.

use baton_orchestrator::store::redis::RedisStore;
use baton_tests::{shared_redis, unique_prefix};
use baton_workflows::conformance;
use baton_workflows::memory::MemoryWorkflows;
use baton_workflows::redis::RedisWorkflows;

async fn redis_store(case: &str) -> RedisWorkflows {
    let store = RedisStore::connect(&shared_redis().url(), &unique_prefix(case), 4, 200)
        .await
        .expect("redis store");
    let shared = store.shared();
    RedisWorkflows::with_pool(shared.pool, shared.keys)
}

#[tokio::test]
async fn memory() {
    conformance::run_all(&MemoryWorkflows::new()).await;
}

#[tokio::test]
async fn redis() {
    conformance::run_all(&redis_store("wf-store").await).await;
}
