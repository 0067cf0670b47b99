//! The store conformance suite, run against the embedded store and against Redis.

use baton_orchestrator::store::conformance;
use baton_orchestrator::store::memory::MemoryStore;
use baton_orchestrator::store::redis::RedisStore;
use baton_orchestrator::store::Store;
use baton_tests::{shared_redis, unique_prefix};
use std::sync::Arc;

async fn redis_store(case: &str) -> Arc<dyn Store> {
    let url = shared_redis().url();
    Arc::new(
        RedisStore::connect(&url, &unique_prefix(case), 4, 200)
            .await
            .expect("redis store"),
    )
}

fn memory_store() -> Arc<dyn Store> {
    Arc::new(MemoryStore::new(200))
}

macro_rules! suite {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test] async fn $case() { baton_orchestrator::store::conformance::$case(super::memory_store()).await })*
        }
        mod redis {
            $(#[tokio::test] async fn $case() { baton_orchestrator::store::conformance::$case(super::redis_store(stringify!($case)).await).await })*
        }
        #[test]
        fn every_case_runs_on_both_backends() {
            let listed: Vec<&str> = conformance::CASES.iter().map(|(n, _)| *n).collect();
            let here: Vec<&str> = vec![$(stringify!($case)),*];
            assert_eq!(listed, here, "a conformance case is missing from this file");
        }
    };
}

suite!(
    commit_is_compare_and_set,
    claim_takes_priority_then_fifo,
    a_claim_can_take_several_tasks,
    claim_leases_and_updates_the_job,
    claim_skips_tasks_the_job_no_longer_has,
    leases_expire_unless_heartbeats_extend_them,
    due_items_are_claimed_once,
    workers_register_heartbeat_and_expire,
    cancels_reach_heartbeats_and_subscribers,
    enqueue_publishes_task_ready,
    history_is_bounded_and_progress_needs_an_active_task,
    ended_jobs_expire,
    queue_depths_and_counts,
);
