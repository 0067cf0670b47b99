//! The pipeline record store conformance suite, on the embedded store and on Redis.

use baton_orchestrator::pipelines::conformance::{self, Store};
use baton_orchestrator::pipelines::memory::MemoryRecords;
use baton_orchestrator::pipelines::redis::RedisRecords;
use baton_tests::{shared_redis, unique_prefix};
use std::sync::Arc;

async fn redis_store(case: &str) -> Store {
    Arc::new(
        RedisRecords::connect(&shared_redis().url(), &unique_prefix(case), 4)
            .await
            .expect("redis record store"),
    )
}

fn memory_store() -> Store {
    Arc::new(MemoryRecords::new())
}

macro_rules! suite {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test] async fn $case() { super::conformance::$case(super::memory_store()).await })*
        }
        mod redis {
            $(#[tokio::test] async fn $case() { super::conformance::$case(super::redis_store(stringify!($case)).await).await })*
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
    ids_increase_and_lists_are_ordered,
    secrets_are_never_part_of_a_project,
    protocol_transitions_follow_the_table,
    step_transitions_follow_the_table,
    concurrent_transitions_have_one_winner,
    cancel_leaves_finished_steps_alone,
    step_index_is_unique_per_run,
    events_newest_first_and_limit_clamped,
    clarifications_upsert_then_answer,
    missing_records_are_not_found,
    step_fields_update_and_retries_add,
    step_changes_are_guarded_and_atomic,
    runs_upsert_with_logs_and_artifacts,
    queue_index_newest_first,
);

/// What only Redis can get wrong: keys outside the prefix and the job store's hash slot.
#[tokio::test]
async fn redis_keys_stay_under_the_prefix() {
    use ::redis::AsyncCommands;
    let prefix = unique_prefix("pl-keys");
    let store: Store = Arc::new(
        RedisRecords::connect(&shared_redis().url(), &prefix, 2)
            .await
            .expect("redis record store"),
    );
    conformance::cancel_leaves_finished_steps_alone(store.clone()).await;
    conformance::runs_upsert_with_logs_and_artifacts(store.clone()).await;
    conformance::queue_index_newest_first(store).await;
    let mut conn = shared_redis().connection().await;
    let keys: Vec<String> = conn.keys(format!("*{prefix}*")).await.expect("keys");
    assert!(!keys.is_empty());
    let tag = format!("{{{prefix}}}:pl:");
    assert!(keys.iter().all(|k| k.starts_with(&tag)), "{keys:?}");
}
