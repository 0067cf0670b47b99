//! Conformance cases about read-side summaries and debugging aids: queue stats, the
//! quarantine index, flush.

use super::*;

/// A commit of `job_id` owned by `owner`.
fn owned(job_id: &str, expect: Expect, status: &str, owner: &str) -> Commit {
    let mut c = Commit::new(job_id, expect, status, doc(0));
    c.owner = owner.into();
    c
}

async fn committed(store: &Arc<dyn Store>, c: &Commit) -> u64 {
    match store.commit(c).await.unwrap() {
        CommitOutcome::Committed { version } => version,
        CommitOutcome::Conflict => panic!("commit of {} refused", c.job_id),
    }
}

async fn quarantined_ids(store: &Arc<dyn Store>, owner: &str, limit: usize) -> Vec<String> {
    store
        .quarantined_jobs(owner, limit)
        .await
        .unwrap()
        .into_iter()
        .map(|q| q.job.id)
        .collect()
}

fn enqueued_ms(member: &str) -> Option<i64> {
    member_enqueued_us(member).map(|us| us.div_euclid(1000))
}

/// Lets the clock move so that enqueue and quarantine times differ.
async fn tick() {
    tokio::time::sleep(Duration::from_millis(3)).await;
}

pub async fn queue_stats_find_the_oldest_task_across_priorities(store: Arc<dyn Store>) {
    // The oldest task has a low priority: it is not at the head of its queue.
    let oldest = job_with_task(&store, "j1", "t1", "echo", 0.0).await;
    tick().await;
    job_with_task(&store, "j2", "t2", "echo", 5.0).await;
    tick().await;
    let third = job_with_task(&store, "j3", "t3", "echo", 0.0).await;
    tick().await;
    job_with_task(&store, "j4", "t4", "echo", 9.0).await;
    job_with_task(&store, "j5", "t5", "echo", -2.0).await;
    let other = job_with_task(&store, "j6", "t6", "other", 1.0).await;
    let stats = store.queue_stats().await.unwrap();
    let expect = |depth, member: &str| QueueStats {
        depth,
        oldest_enqueued_ms: enqueued_ms(member),
    };
    assert_eq!(stats.get("echo"), Some(&expect(5, &oldest)), "{stats:?}");
    assert_eq!(stats.get("other"), Some(&expect(1, &other)));
    // Taking the head (highest priority) changes the depth only.
    let head = claim_one(&store, &claim_req("w", &["echo"])).await.unwrap();
    assert_eq!(head.task_id, "t4");
    assert_eq!(
        store.queue_stats().await.unwrap().get("echo"),
        Some(&expect(4, &oldest))
    );
    let mut req = claim_req("w", &["echo"]);
    req.max = 2;
    let taken: Vec<String> = store
        .claim(&req)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.task_id)
        .collect();
    assert_eq!(taken, vec!["t2", "t1"]);
    assert_eq!(
        store.queue_stats().await.unwrap().get("echo"),
        Some(&expect(2, &third)),
        "the next oldest"
    );
    req.max = 10;
    assert_eq!(store.claim(&req).await.unwrap().len(), 2);
    assert_eq!(
        store.queue_stats().await.unwrap().get("echo"),
        Some(&QueueStats {
            depth: 0,
            oldest_enqueued_ms: None
        })
    );
}

pub async fn quarantined_jobs_are_indexed_per_owner(store: Arc<dyn Store>) {
    let before = now_ms();
    committed(&store, &owned("q1", Expect::New, "pending", "alice")).await;
    assert!(quarantined_ids(&store, "alice", 10).await.is_empty());
    committed(
        &store,
        &owned("q1", Expect::Version(1), "quarantined", "alice"),
    )
    .await;
    tick().await;
    committed(&store, &owned("q2", Expect::New, "quarantined", "alice")).await;
    committed(&store, &owned("q3", Expect::New, "quarantined", "bob")).await;
    committed(&store, &owned("f1", Expect::New, "failed", "alice")).await;
    let after = now_ms();
    let alice = store.quarantined_jobs("alice", 100).await.unwrap();
    let ids: Vec<&str> = alice.iter().map(|q| q.job.id.as_str()).collect();
    assert_eq!(ids, vec!["q2", "q1"], "newest first, only alice's");
    for q in &alice {
        assert_eq!(q.job.status, "quarantined");
        assert!(
            (before..=after).contains(&q.quarantined_ms),
            "{} not in {before}..={after}",
            q.quarantined_ms
        );
    }
    assert!(alice[0].quarantined_ms > alice[1].quarantined_ms);
    assert_eq!(alice[1].job.version, 2);
    assert_eq!(alice[1].job.doc, doc(0));
    assert_eq!(quarantined_ids(&store, "alice", 1).await, vec!["q2"]);
    assert_eq!(quarantined_ids(&store, "bob", 100).await, vec!["q3"]);
    assert!(quarantined_ids(&store, "carol", 100).await.is_empty());
    // Another commit in quarantine keeps the time the job entered it.
    let entered = alice[1].quarantined_ms;
    tick().await;
    committed(
        &store,
        &owned("q1", Expect::Version(2), "quarantined", "alice"),
    )
    .await;
    let again = store.quarantined_jobs("alice", 100).await.unwrap();
    assert_eq!(
        again
            .iter()
            .map(|q| (q.job.id.as_str(), q.job.version))
            .collect::<Vec<_>>(),
        vec![("q2", 1), ("q1", 3)]
    );
    assert_eq!(again[1].quarantined_ms, entered);
    // Leaving quarantine takes the job out of the index.
    committed(&store, &owned("q1", Expect::Version(3), "pending", "alice")).await;
    assert_eq!(quarantined_ids(&store, "alice", 100).await, vec!["q2"]);
}

pub async fn quarantine_index_forgets_expired_jobs(store: Arc<dyn Store>) {
    let mut gone = owned("gone", Expect::New, "quarantined", "alice");
    gone.expire_after = Some(Duration::from_millis(150));
    committed(&store, &gone).await;
    tick().await;
    committed(&store, &owned("kept", Expect::New, "quarantined", "alice")).await;
    assert_eq!(
        quarantined_ids(&store, "alice", 10).await,
        vec!["kept", "gone"]
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        quarantined_ids(&store, "alice", 10).await,
        vec!["kept"],
        "an expired job is not listed, pruned or not"
    );
    assert_eq!(quarantined_ids(&store, "alice", 1).await, vec!["kept"]);
    store
        .prune(now_ms(), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(quarantined_ids(&store, "alice", 10).await, vec!["kept"]);
}

pub async fn flush_forgets_everything(store: Arc<dyn Store>) {
    job_with_task(&store, "j1", "t1", "echo", 0.0).await;
    committed(&store, &owned("q1", Expect::New, "quarantined", "alice")).await;
    store
        .register_worker(&worker_update("w1", 60_000))
        .await
        .unwrap();
    store.flush().await.unwrap();
    assert!(store.get_job("j1").await.unwrap().is_none());
    assert!(store.history("j1").await.unwrap().is_empty());
    assert!(store.task_blob("t1").await.unwrap().is_none());
    assert!(store
        .quarantined_jobs("alice", 10)
        .await
        .unwrap()
        .is_empty());
    assert!(
        store
            .queue_stats()
            .await
            .unwrap()
            .values()
            .all(|q| q.depth == 0),
        "no queued task"
    );
    assert!(store.job_counts().await.unwrap().values().all(|n| *n == 0));
    assert!(store.get_worker("w1").await.unwrap().is_none());
    assert!(store
        .list_workers(now_ms(), Duration::from_secs(60))
        .await
        .unwrap()
        .is_empty());
    assert!(claim_one(&store, &claim_req("w1", &["echo"]))
        .await
        .is_none());
    assert!(store
        .claim_due_timers(now_ms() + 3_600_000, 10, Duration::from_secs(30))
        .await
        .unwrap()
        .is_empty());
    // The store works as before: the same ids can be used again.
    job_with_task(&store, "j1", "t1", "echo", 0.0).await;
    assert_eq!(
        claim_one(&store, &claim_req("w1", &["echo"]))
            .await
            .map(|t| t.task_id),
        Some("t1".into())
    );
}
