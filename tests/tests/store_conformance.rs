//! The store conformance suite, run against the embedded store and against Redis.

use baton_orchestrator::store::conformance;
use baton_orchestrator::store::memory::MemoryStore;
use baton_orchestrator::store::redis::RedisStore;
use baton_orchestrator::store::Store;
use baton_tests::{shared_redis, unique_prefix};
use std::sync::Arc;

/// A Redis store whose notice subscription is up, so a case that waits for a notice
/// does not race the subscription.
async fn redis_store(case: &str) -> Arc<dyn Store> {
    let url = shared_redis().url();
    let store = RedisStore::connect(&url, &unique_prefix(case), 4, 200)
        .await
        .expect("redis store");
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        store.notices_subscribed(),
    )
    .await
    .expect("the notice subscription comes up");
    Arc::new(store)
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
    commits_in_a_batch_apply_each_on_its_own,
    claim_takes_priority_then_fifo,
    a_claim_can_take_several_tasks,
    claim_leases_and_updates_the_job,
    claim_skips_tasks_the_job_no_longer_has,
    leases_expire_unless_heartbeats_extend_them,
    heartbeats_extend_only_the_tasks_they_list,
    a_registration_takes_back_the_previous_process_leases,
    due_items_are_claimed_once,
    workers_register_heartbeat_and_expire,
    cancels_reach_heartbeats_and_subscribers,
    enqueue_publishes_task_ready,
    a_job_end_publishes_job_done_with_its_origin,
    history_is_bounded_and_progress_needs_an_active_task,
    ended_jobs_expire,
    a_revived_job_no_longer_expires_and_is_announced,
    queue_depths_and_counts,
    queue_stats_find_the_oldest_task_across_priorities,
    quarantined_jobs_are_indexed_per_owner,
    quarantine_index_forgets_expired_jobs,
    flush_forgets_everything,
    jobs_are_listed_by_the_index,
    pages_go_on_exactly_where_they_stopped,
    the_timeline_counts_by_bucket,
    expired_jobs_leave_the_index,
);

/// What only Redis can get wrong: keys outside the store's prefix.
mod redis_keys {
    use super::*;
    use ::redis::AsyncCommands;
    use baton_orchestrator::store::{Commit, Expect};
    use std::time::Duration;

    async fn store(prefix: &str) -> Arc<dyn Store> {
        Arc::new(
            RedisStore::connect(&shared_redis().url(), prefix, 4, 200)
                .await
                .expect("redis store"),
        )
    }

    async fn create(store: &Arc<dyn Store>, job_id: &str, status: &str) {
        let mut c = Commit::new(job_id, Expect::New, status, "{}".into());
        c.owner = "alice".into();
        c.expire_after = (status == "quarantined").then(|| Duration::from_millis(100));
        store.commit(&c).await.expect("commit");
    }

    #[tokio::test]
    async fn flush_deletes_only_keys_under_its_prefix() {
        let prefix = unique_prefix("flush");
        // `{p}:*` must not match `{p-b}:...` (a prefix that starts the same).
        let (mine, theirs) = (store(&prefix).await, store(&format!("{prefix}-b")).await);
        create(&mine, "j1", "pending").await;
        create(&theirs, "j1", "pending").await;
        let mut conn = shared_redis().connection().await;
        let foreign = format!("foreign:{prefix}");
        let _: () = conn.set(&foreign, "keep me").await.expect("set");
        mine.flush().await.expect("flush");
        assert!(mine.get_job("j1").await.expect("read").is_none());
        assert!(theirs.get_job("j1").await.expect("read").is_some());
        let kept: Option<String> = conn.get(&foreign).await.expect("get");
        assert_eq!(kept.as_deref(), Some("keep me"));
        let left: Vec<String> = conn.keys(format!("{{{prefix}}}:*")).await.expect("keys");
        assert!(left.is_empty(), "{left:?}");
    }

    #[tokio::test]
    async fn prune_drops_index_entries_of_expired_jobs() {
        let prefix = unique_prefix("prune-q");
        let store = store(&prefix).await;
        create(&store, "gone", "quarantined").await;
        let mut conn = shared_redis().connection().await;
        let index = format!("{{{prefix}}}:quarantine:alice");
        let owners = format!("{{{prefix}}}:quarantine_owners");
        assert_eq!(conn.zcard::<_, u64>(&index).await.expect("zcard"), 1);
        tokio::time::sleep(Duration::from_millis(300)).await;
        store
            .prune(baton_orchestrator::clock::now_ms(), Duration::from_secs(60))
            .await
            .expect("prune");
        assert_eq!(conn.zcard::<_, u64>(&index).await.expect("zcard"), 0);
        assert!(
            !conn
                .sismember::<_, _, bool>(&owners, "alice")
                .await
                .expect("sismember"),
            "an owner without entries is forgotten"
        );
    }
}
