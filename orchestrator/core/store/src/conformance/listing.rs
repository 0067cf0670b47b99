//! Conformance cases of the job index ([`crate::listing`]): filters by status,
//! blueprint, client, time and id text; pages that continue exactly where they stopped
//! (ties in time included) and stop at a bounded scan; the timeline; expired jobs left
//! out and pruned.

use super::*;

fn job(id: &str, owner: &str, blueprint: &str, status: &str) -> Commit {
    let mut c = Commit::new(id, Expect::New, status, "{}".into());
    c.owner = owner.into();
    c.blueprint = blueprint.into();
    c
}

fn query(limit: usize) -> JobQuery {
    JobQuery {
        limit,
        scan_limit: 10_000,
        ..JobQuery::default()
    }
}

fn ids(page: &JobPage) -> Vec<&str> {
    page.jobs.iter().map(|j| j.id.as_str()).collect()
}

async fn move_to(store: &Arc<dyn Store>, id: &str, status: &str) {
    let job = store.get_job(id).await.unwrap().expect("the job");
    let mut c = Commit::new(id, Expect::Version(job.version), status, job.doc.clone());
    c.owner = "x".into();
    c.blueprint = "x".into();
    assert!(matches!(
        store.commit(&c).await.unwrap(),
        CommitOutcome::Committed { .. }
    ));
}

pub async fn jobs_are_listed_by_the_index(store: Arc<dyn Store>) {
    for (id, owner, bp) in [
        ("j1", "alice", "echo"),
        ("j2", "bob", "echo"),
        ("j3", "alice", "resize"),
        ("j4", "alice", "echo"),
    ] {
        store.commit(&job(id, owner, bp, "pending")).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    move_to(&store, "j2", "running").await;
    move_to(&store, "j4", "finished").await;
    let all = store.list_jobs(&query(10)).await.unwrap();
    assert_eq!(ids(&all), ["j4", "j3", "j2", "j1"], "newest first");
    assert_eq!(all.next, None, "nothing further");
    let j4 = &all.jobs[0];
    assert_eq!(
        (
            j4.status.as_str(),
            j4.blueprint.as_str(),
            j4.client.as_str()
        ),
        ("finished", "echo", "alice")
    );
    assert!(j4.updated_ms >= j4.created_ms);
    let q = |f: &dyn Fn(&mut JobQuery)| {
        let mut q = query(10);
        f(&mut q);
        q
    };
    let by = |q: JobQuery| {
        let store = store.clone();
        async move { store.list_jobs(&q).await.unwrap() }
    };
    assert_eq!(
        ids(&by(q(&|q| q.status = Some("pending".into()))).await),
        ["j3", "j1"]
    );
    assert_eq!(
        ids(&by(q(&|q| q.status = Some("running".into()))).await),
        ["j2"]
    );
    assert_eq!(
        ids(&by(q(&|q| q.blueprint = Some("echo".into()))).await),
        ["j4", "j2", "j1"]
    );
    assert_eq!(
        ids(&by(q(&|q| q.client = Some("alice".into()))).await),
        ["j4", "j3", "j1"]
    );
    let both = by(q(&|q| {
        q.client = Some("alice".into());
        q.blueprint = Some("echo".into());
        q.status = Some("pending".into());
    }))
    .await;
    assert_eq!(ids(&both), ["j1"]);
    assert_eq!(
        ids(&by(q(&|q| q.id_contains = Some("3".into()))).await),
        ["j3"]
    );
    let t3 = all.jobs[1].created_ms;
    let window = by(q(&|q| {
        q.from_ms = Some(t3);
        q.to_ms = Some(t3);
    }))
    .await;
    assert_eq!(ids(&window), ["j3"], "inclusive time bounds");
    assert!(by(q(&|q| q.status = Some("cancelled".into())))
        .await
        .jobs
        .is_empty());
}

pub async fn pages_go_on_exactly_where_they_stopped(store: Arc<dyn Store>) {
    // Twelve jobs, most created in the same millisecond: ties page by id.
    for i in 0..12 {
        let id = format!("p{i:02}");
        store
            .commit(&job(&id, "c", "echo", "pending"))
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut q = query(5);
    loop {
        let page = store.list_jobs(&q).await.unwrap();
        assert!(page.jobs.len() <= 5);
        seen.extend(page.jobs.iter().map(|j| j.id.clone()));
        match page.next {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 12, "each once: {seen:?}");
    assert_eq!(seen.len(), 12, "none twice: {seen:?}");
    // A bounded scan answers short with a cursor; a filter matching nothing goes on.
    let mut q = query(5);
    q.scan_limit = 3;
    q.id_contains = Some("p0".into());
    let page = store.list_jobs(&q).await.unwrap();
    assert!(page.jobs.len() <= 3);
    assert!(page.next.is_some(), "looked at 3 of 12: more to see");
}

pub async fn the_timeline_counts_by_bucket(store: Arc<dyn Store>) {
    let start = now_ms() - 1;
    store
        .commit(&job("t1", "c", "echo", "pending"))
        .await
        .unwrap();
    store
        .commit(&job("t2", "c", "echo", "pending"))
        .await
        .unwrap();
    store
        .commit(&job("t3", "c", "echo", "pending"))
        .await
        .unwrap();
    move_to(&store, "t1", "finished").await;
    move_to(&store, "t2", "failed").await;
    move_to(&store, "t3", "quarantined").await;
    let buckets = store.job_timeline(start, 60_000, 2).await.unwrap();
    assert_eq!(buckets.len(), 2);
    assert_eq!(
        (buckets[0].created, buckets[0].finished, buckets[0].failed),
        (3, 1, 2)
    );
    assert_eq!(buckets[1].start_ms, start + 60_000);
    assert_eq!((buckets[1].created, buckets[1].finished), (0, 0));
}

pub async fn expired_jobs_leave_the_index(store: Arc<dyn Store>) {
    let mut gone = job("gone", "c", "echo", "finished");
    gone.expire_after = Some(std::time::Duration::from_millis(50));
    store.commit(&gone).await.unwrap();
    store
        .commit(&job("kept", "c", "echo", "running"))
        .await
        .unwrap();
    assert_eq!(store.list_jobs(&query(10)).await.unwrap().jobs.len(), 2);
    tokio::time::sleep(std::time::Duration::from_millis(120)).await;
    let page = store.list_jobs(&query(10)).await.unwrap();
    assert_eq!(ids(&page), ["kept"], "an expired job is not listed");
    store
        .prune_job_index(now_ms(), std::time::Duration::from_millis(1))
        .await
        .unwrap();
    let mut finished = query(10);
    finished.status = Some("finished".into());
    assert!(store.list_jobs(&finished).await.unwrap().jobs.is_empty());
    let mut by_bp = query(10);
    by_bp.blueprint = Some("echo".into());
    assert_eq!(ids(&store.list_jobs(&by_bp).await.unwrap()), ["kept"]);
}
