//! The store conformance suite: behaviour every [`Store`] must have.
//!
//! Each case takes a fresh, empty store and panics on a violation. The `baton-tests`
//! crate runs every case against the memory store and against Redis (a throwaway
//! `redis-server`, one key prefix per case). [`CASES`] lists them so a backend cannot
//! skip one silently.

mod listing;
mod views;
mod workers;

use super::*;
use baton_protocol::clock::now_ms;
pub use listing::*;
use std::sync::Arc;
pub use views::*;
pub use workers::*;

pub type Case =
    fn(Arc<dyn Store>) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        /// Every case, by name.
        pub const CASES: &[(&str, Case)] = &[$((stringify!($name), |s| Box::pin($name(s)))),*];
    };
}

cases!(
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

fn doc(n: u32) -> String {
    format!("{{\"n\":{n}}}")
}

fn blob(job_id: &str, rto: i64) -> TaskBlob {
    TaskBlob {
        job_id: job_id.into(),
        result_timeout_ms: rto,
        enqueued_ms: now_ms(),
        payload: format!("{{\"job_id\":\"{job_id}\"}}"),
    }
}

/// A new job with one queued task of `skill`; returns the queue member.
async fn job_with_task(
    store: &Arc<dyn Store>,
    job_id: &str,
    task_id: &str,
    skill: &str,
    priority: f64,
) -> String {
    let member = queue_member(baton_protocol::clock::now_us(), task_id);
    let mut c = Commit::new(job_id, Expect::New, "pending", doc(0));
    c.origin = "instance-a".into();
    c.set_slots.push((
        task_id.into(),
        TaskSlot::Queued {
            skill: skill.into(),
            member: member.clone(),
        },
    ));
    c.store_tasks.push((task_id.into(), blob(job_id, 60_000)));
    c.enqueue.push(Enqueue {
        skill: skill.into(),
        member: member.clone(),
        priority,
    });
    c.timers_add
        .push((format!("d|{job_id}|{task_id}"), now_ms() + 600_000));
    assert_eq!(
        store.commit(&c).await.unwrap(),
        CommitOutcome::Committed { version: 1 }
    );
    member
}

fn claim_req(worker: &str, skills: &[&str]) -> ClaimRequest {
    let now = now_ms();
    ClaimRequest {
        worker_id: worker.into(),
        skills: skills.iter().map(|s| s.to_string()).collect(),
        now_ms: now,
        lease_deadline_ms: now + 60_000,
        max: 1,
    }
}

/// The first notice `pick` accepts, within 5 s.
async fn next_notice<T>(
    rx: &mut broadcast::Receiver<Notice>,
    pick: impl Fn(Notice) -> Option<T>,
) -> T {
    let wait = async {
        loop {
            if let Some(found) = rx.recv().await.ok().and_then(&pick) {
                return found;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), wait)
        .await
        .expect("the notice arrives")
}

/// Claims at most one task.
async fn claim_one(store: &Arc<dyn Store>, req: &ClaimRequest) -> Option<ClaimedTask> {
    let mut tasks = store.claim(req).await.unwrap();
    assert!(tasks.len() <= 1, "asked for one task, got {}", tasks.len());
    tasks.pop()
}

fn worker_update(id: &str, ttl_ms: u64) -> WorkerUpdate {
    let now = now_ms();
    WorkerUpdate {
        worker_id: id.into(),
        now_ms: now,
        ttl: Duration::from_millis(ttl_ms),
        status: "idle".into(),
        info: Some("{\"worker_type\":\"t\"}".into()),
        skills: Some(vec!["echo".into()]),
        current_tasks: None,
        incarnation: None,
        lease_deadline_ms: now + 60_000,
    }
}

pub async fn commit_is_compare_and_set(store: Arc<dyn Store>) {
    let c = Commit::new("j1", Expect::New, "pending", doc(1));
    assert_eq!(
        store.commit(&c).await.unwrap(),
        CommitOutcome::Committed { version: 1 }
    );
    assert_eq!(
        store.commit(&c).await.unwrap(),
        CommitOutcome::Conflict,
        "a job is created once"
    );
    let c2 = Commit::new("j1", Expect::Version(1), "running", doc(2));
    assert_eq!(
        store.commit(&c2).await.unwrap(),
        CommitOutcome::Committed { version: 2 }
    );
    let stale = Commit::new("j1", Expect::Version(1), "failed", doc(3));
    assert_eq!(
        store.commit(&stale).await.unwrap(),
        CommitOutcome::Conflict,
        "stale version refused"
    );
    let job = store.get_job("j1").await.unwrap().expect("job exists");
    assert_eq!(
        (job.version, job.status.as_str(), job.doc.as_str()),
        (2, "running", doc(2).as_str())
    );
    assert!(store.get_job("nope").await.unwrap().is_none());
    let counts = store.job_counts().await.unwrap();
    assert_eq!(counts.get("running"), Some(&1));
    assert_eq!(counts.get("pending").copied().unwrap_or(0), 0);
}

pub async fn commits_in_a_batch_apply_each_on_its_own(store: Arc<dyn Store>) {
    assert_eq!(store.commit_many(&[]).await.unwrap(), Vec::new());
    let taken = Commit::new("b2", Expect::New, "pending", doc(0));
    store.commit(&taken).await.unwrap();
    let batch: Vec<Commit> = (1..=3)
        .map(|n| Commit::new(&format!("b{n}"), Expect::New, "pending", doc(n)))
        .collect();
    assert_eq!(
        store.commit_many(&batch).await.unwrap(),
        vec![
            CommitOutcome::Committed { version: 1 },
            CommitOutcome::Conflict,
            CommitOutcome::Committed { version: 1 },
        ],
        "in order; the taken id conflicts alone"
    );
    for (id, want) in [("b1", doc(1)), ("b2", doc(0)), ("b3", doc(3))] {
        let job = store.get_job(id).await.unwrap().expect("job exists");
        assert_eq!(job.doc, want, "{id}");
    }
    assert_eq!(store.job_counts().await.unwrap().get("pending"), Some(&3));
}

pub async fn claim_takes_priority_then_fifo(store: Arc<dyn Store>) {
    job_with_task(&store, "ja", "ta", "echo", 0.0).await;
    job_with_task(&store, "jb", "tb", "other", 5.0).await;
    job_with_task(&store, "jc", "tc", "echo", 0.0).await;
    job_with_task(&store, "jd", "td", "echo", 9.0).await;
    // One skill (a plain pop) and several skills (a comparison of queue heads) agree.
    let first = claim_one(&store, &claim_req("w1", &["echo"]))
        .await
        .expect("a task");
    assert_eq!(first.task_id, "td", "the highest priority first");
    let mut order = Vec::new();
    while let Some(t) = claim_one(&store, &claim_req("w1", &["echo", "other"])).await {
        order.push(t.task_id);
    }
    assert_eq!(
        order,
        vec!["tb", "ta", "tc"],
        "priority first, then first in first out"
    );
    assert!(claim_one(&store, &claim_req("w1", &["echo"]))
        .await
        .is_none());
    assert!(claim_one(&store, &claim_req("w1", &[])).await.is_none());
}

pub async fn a_claim_can_take_several_tasks(store: Arc<dyn Store>) {
    job_with_task(&store, "ja", "ta", "echo", 0.0).await;
    job_with_task(&store, "jb", "tb", "other", 5.0).await;
    job_with_task(&store, "jc", "tc", "echo", 0.0).await;
    let mut req = claim_req("w1", &["echo", "other"]);
    req.max = 2;
    let tasks = store.claim(&req).await.unwrap();
    let ids: Vec<&str> = tasks.iter().map(|t| t.task_id.as_str()).collect();
    assert_eq!(ids, vec!["tb", "ta"], "the best two, in order");
    assert_eq!(tasks[1].remaining, 1, "one echo task left");
    for (job, task) in [("jb", "tb"), ("ja", "ta")] {
        let job = store.get_job(job).await.unwrap().unwrap();
        assert!(matches!(&job.tasks[task], TaskSlot::Leased { worker, .. } if worker == "w1"));
    }
    req.max = 10;
    let rest = store.claim(&req).await.unwrap();
    assert_eq!(
        rest.iter().map(|t| t.task_id.as_str()).collect::<Vec<_>>(),
        vec!["tc"]
    );
    assert!(store.claim(&req).await.unwrap().is_empty());
}

pub async fn claim_leases_and_updates_the_job(store: Arc<dyn Store>) {
    job_with_task(&store, "j1", "t1", "echo", 0.0).await;
    job_with_task(&store, "j2", "t2", "echo", 0.0).await;
    assert!(claim_one(&store, &claim_req("w1", &["nothing"]))
        .await
        .is_none());
    let req = claim_req("w1", &["echo"]);
    let t = claim_one(&store, &req).await.expect("a task");
    assert_eq!(
        (t.job_id.as_str(), t.task_id.as_str(), t.skill.as_str()),
        ("j1", "t1", "echo")
    );
    assert_eq!(t.payload, "{\"job_id\":\"j1\"}");
    assert_eq!(t.result_timeout_ms, 60_000);
    assert_eq!(t.remaining, 1);
    let job = store.get_job("j1").await.unwrap().unwrap();
    assert_eq!(job.version, 2, "a claim bumps the version");
    assert_eq!(job.status, "running");
    assert_eq!(
        job.tasks["t1"],
        TaskSlot::Leased {
            skill: "echo".into(),
            worker: "w1".into(),
            claimed_ms: req.now_ms
        }
    );
    let hist = store.history("j1").await.unwrap();
    assert!(
        hist.last()
            .is_some_and(|h| h.contains("task_dispatched") && h.contains("\"w1\"")),
        "{hist:?}"
    );
    // The dispatch timer went with the claim; a result timer came.
    let due = store
        .claim_due_timers(now_ms() + 3_600_000, 100, Duration::from_secs(30))
        .await
        .unwrap();
    assert!(due.contains(&"r|j1|t1".to_string()), "{due:?}");
    assert!(!due.contains(&"d|j1|t1".to_string()), "{due:?}");
    assert!(due.contains(&"d|j2|t2".to_string()), "{due:?}");
    assert_eq!(
        store.task_blob("t1").await.unwrap().map(|b| b.job_id),
        Some("j1".into())
    );
}

pub async fn claim_skips_tasks_the_job_no_longer_has(store: Arc<dyn Store>) {
    job_with_task(&store, "j1", "t1", "echo", 0.0).await;
    job_with_task(&store, "j2", "t2", "echo", 0.0).await;
    // j1 moves on without taking its task out of the queue.
    let mut c = Commit::new("j1", Expect::Version(1), "cancelled", doc(1));
    c.del_slots.push("t1".into());
    assert!(matches!(
        store.commit(&c).await.unwrap(),
        CommitOutcome::Committed { .. }
    ));
    let t = claim_one(&store, &claim_req("w1", &["echo"]))
        .await
        .expect("the live task");
    assert_eq!(t.task_id, "t2");
    assert!(
        store.task_blob("t1").await.unwrap().is_none(),
        "the orphan was dropped"
    );
}

pub async fn due_items_are_claimed_once(store: Arc<dyn Store>) {
    let now = now_ms();
    let mut c = Commit::new("j1", Expect::New, "pending", doc(0));
    c.timers_add.push(("e|j1|a".into(), now - 10));
    c.timers_add.push(("e|j1|b".into(), now + 60_000));
    store.commit(&c).await.unwrap();
    let vis = Duration::from_millis(200);
    assert_eq!(
        store.claim_due_timers(now, 10, vis).await.unwrap(),
        vec!["e|j1|a".to_string()]
    );
    assert!(
        store
            .claim_due_timers(now, 10, vis)
            .await
            .unwrap()
            .is_empty(),
        "hidden while being handled"
    );
    // Not removed by its handler (crash): it comes back after the visibility window.
    assert_eq!(
        store.claim_due_timers(now + 300, 10, vis).await.unwrap(),
        vec!["e|j1|a".to_string()]
    );
    store
        .replace_timer("e|j1|a", Some(("w|j1|2", now)))
        .await
        .unwrap();
    assert_eq!(
        store.claim_due_timers(now + 1_000, 10, vis).await.unwrap(),
        vec!["w|j1|2".to_string()]
    );
    store.replace_timer("w|j1|2", None).await.unwrap();
    assert!(store
        .claim_due_timers(now + 1_000, 10, vis)
        .await
        .unwrap()
        .is_empty());

    // One timer alone (fired at once by its committer): taken only if due, and then
    // neither a second single claim nor a reaper's pass takes it too.
    store
        .replace_timer("none", Some(("p|j1|1", now)))
        .await
        .unwrap();
    assert!(
        !store.claim_timer("p|j1|1", now - 1, vis).await.unwrap(),
        "not due yet"
    );
    assert!(
        !store.claim_timer("p|nope|1", now, vis).await.unwrap(),
        "no such timer"
    );
    assert!(store.claim_timer("p|j1|1", now, vis).await.unwrap());
    assert!(!store.claim_timer("p|j1|1", now, vis).await.unwrap());
    assert!(store
        .claim_due_timers(now, 10, vis)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.claim_due_timers(now + 300, 10, vis).await.unwrap(),
        vec!["p|j1|1".to_string()],
        "back after the window when its handler died"
    );
}

pub async fn enqueue_publishes_task_ready(store: Arc<dyn Store>) {
    let mut notices = store.subscribe();
    job_with_task(&store, "j1", "t1", "resize", 0.0).await;
    let skill = next_notice(&mut notices, |n| match n {
        Notice::TaskReady { skill, origin } => Some((skill, origin)),
        _ => None,
    })
    .await;
    assert_eq!(
        skill,
        ("resize".to_string(), "instance-a".to_string()),
        "skill and origin"
    );
}

/// The orchestrator that ended a job woke its own waiters already: the notice names it so
/// that it skips its echo, and every other orchestrator wakes theirs.
pub async fn a_job_end_publishes_job_done_with_its_origin(store: Arc<dyn Store>) {
    let mut notices = store.subscribe();
    let mut c = Commit::new("j1", Expect::New, "running", doc(0));
    c.origin = "instance-a".into();
    store.commit(&c).await.unwrap();
    let mut end = Commit::new("j1", Expect::Version(1), "finished", doc(1));
    end.origin = "instance-b".into();
    end.expire_after = Some(Duration::from_secs(60));
    store.commit(&end).await.unwrap();
    let done = next_notice(&mut notices, |n| match n {
        Notice::JobDone { job_id, origin } => Some((job_id, origin)),
        _ => None,
    })
    .await;
    assert_eq!(done, ("j1".to_string(), "instance-b".to_string()));
}

pub async fn history_is_bounded_and_progress_needs_an_active_task(store: Arc<dyn Store>) {
    job_with_task(&store, "j1", "t1", "echo", 0.0).await;
    let mut c = Commit::new("j1", Expect::Version(1), "pending", doc(1));
    c.history = (0..500).map(|i| format!("{{\"i\":{i}}}")).collect();
    store.commit(&c).await.unwrap();
    let hist = store.history("j1").await.unwrap();
    assert!(hist.len() <= 200, "bounded, got {}", hist.len());
    assert_eq!(
        hist.last().map(String::as_str),
        Some("{\"i\":499}"),
        "newest kept"
    );
    assert!(store
        .set_progress("j1", "t1", "{\"progress\":0.5}")
        .await
        .unwrap());
    assert!(!store
        .set_progress("j1", "t-other", "{\"progress\":0.9}")
        .await
        .unwrap());
    assert!(!store.set_progress("nope", "t1", "{}").await.unwrap());
    let job = store.get_job("j1").await.unwrap().unwrap();
    assert_eq!(job.progress.as_deref(), Some("{\"progress\":0.5}"));
    assert_eq!(job.version, 2, "progress does not bump the version");
}

pub async fn ended_jobs_expire(store: Arc<dyn Store>) {
    let mut c = Commit::new("j1", Expect::New, "finished", doc(1));
    c.history.push("{}".into());
    c.expire_after = Some(Duration::from_millis(150));
    store.commit(&c).await.unwrap();
    assert!(store.get_job("j1").await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(store.get_job("j1").await.unwrap().is_none(), "expired");
    assert!(
        store.history("j1").await.unwrap().is_empty(),
        "history expired with it"
    );
    store
        .prune(now_ms(), Duration::from_secs(60))
        .await
        .unwrap();
    assert!(store.get_job("j1").await.unwrap().is_none());
}

/// A job that ended and runs again (a retry, a resume from a checkpoint) must not expire
/// under its new run, and every orchestrator must hear that its end is void.
pub async fn a_revived_job_no_longer_expires_and_is_announced(store: Arc<dyn Store>) {
    let mut c = Commit::new("j1", Expect::New, "failed", doc(1));
    c.history.push("{}".into());
    c.expire_after = Some(Duration::from_millis(200));
    store.commit(&c).await.unwrap();
    let mut notices = store.subscribe();
    let mut again = Commit::new("j1", Expect::Version(1), "pending", doc(2));
    again.origin = "instance-b".into();
    again.revived = true;
    again.history.push("{}".into());
    store.commit(&again).await.unwrap();
    let done = next_notice(&mut notices, |n| match n {
        Notice::JobDone { job_id, origin } => Some((job_id, origin)),
        _ => None,
    })
    .await;
    assert_eq!(done, ("j1".to_string(), "instance-b".to_string()));
    tokio::time::sleep(Duration::from_millis(450)).await;
    let job = store.get_job("j1").await.unwrap().expect("kept");
    assert_eq!(job.status, "pending");
    assert_eq!(store.history("j1").await.unwrap().len(), 2, "history kept");
}

pub async fn queue_depths_and_counts(store: Arc<dyn Store>) {
    job_with_task(&store, "j1", "t1", "echo", 0.0).await;
    job_with_task(&store, "j2", "t2", "echo", 0.0).await;
    job_with_task(&store, "j3", "t3", "resize", 0.0).await;
    let depth =
        |stats: &BTreeMap<String, QueueStats>, skill: &str| stats.get(skill).map(|q| q.depth);
    let stats = store.queue_stats().await.unwrap();
    assert_eq!(depth(&stats, "echo"), Some(2));
    assert_eq!(depth(&stats, "resize"), Some(1));
    claim_one(&store, &claim_req("w", &["resize"])).await;
    let stats = store.queue_stats().await.unwrap();
    assert_eq!(
        stats.get("resize"),
        Some(&QueueStats {
            depth: 0,
            oldest_enqueued_ms: None
        })
    );
    let counts = store.job_counts().await.unwrap();
    assert_eq!(
        (counts.get("pending"), counts.get("running")),
        (Some(&2), Some(&1))
    );
}
