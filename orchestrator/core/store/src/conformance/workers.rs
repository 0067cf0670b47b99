//! Conformance cases about workers: registration, heartbeats, leases, cancels.

use super::*;

pub async fn leases_expire_unless_heartbeats_extend_them(store: Arc<dyn Store>) {
    store
        .register_worker(&worker_update("w1", 60_000))
        .await
        .unwrap();
    job_with_task(&store, "j1", "t1", "echo", 0.0).await;
    let mut req = claim_req("w1", &["echo"]);
    req.lease_deadline_ms = req.now_ms + 1_000;
    claim_one(&store, &req).await.expect("claimed");
    let vis = Duration::from_secs(30);
    assert!(store
        .claim_expired_leases(req.now_ms, 10, vis)
        .await
        .unwrap()
        .is_empty());
    // A heartbeat pushes the deadline past now + 5 s.
    let mut hb = worker_update("w1", 60_000);
    hb.lease_deadline_ms = req.now_ms + 5_000;
    assert_eq!(store.heartbeat(&hb).await.unwrap(), Some(vec![]));
    assert!(
        store
            .claim_expired_leases(req.now_ms + 2_000, 10, vis)
            .await
            .unwrap()
            .is_empty(),
        "extended"
    );
    let expired = store
        .claim_expired_leases(req.now_ms + 6_000, 10, vis)
        .await
        .unwrap();
    assert_eq!(expired, vec!["t1".to_string()]);
    assert!(
        store
            .claim_expired_leases(req.now_ms + 6_000, 10, vis)
            .await
            .unwrap()
            .is_empty(),
        "hidden once claimed"
    );
    store.forget_lease("t1").await.unwrap();
    assert!(store
        .claim_expired_leases(req.now_ms + 600_000, 10, vis)
        .await
        .unwrap()
        .is_empty());
    // Releasing through a commit ends the lease too.
    job_with_task(&store, "j2", "t2", "echo", 0.0).await;
    claim_one(&store, &req).await.expect("claimed");
    let job = store.get_job("j2").await.unwrap().unwrap();
    let mut c = Commit::new("j2", Expect::Version(job.version), "finished", doc(9));
    c.release.push(("t2".into(), "w1".into()));
    c.del_slots.push("t2".into());
    store.commit(&c).await.unwrap();
    assert!(store
        .claim_expired_leases(req.now_ms + 600_000, 10, vis)
        .await
        .unwrap()
        .is_empty());
}

/// Expired leases at `at`, in deadline order.
async fn expired_at(store: &Arc<dyn Store>, at: i64) -> Vec<String> {
    store
        .claim_expired_leases(at, 10, Duration::from_secs(30))
        .await
        .unwrap()
}

pub async fn heartbeats_extend_only_the_tasks_they_list(store: Arc<dyn Store>) {
    for w in ["w1", "w2"] {
        store
            .register_worker(&worker_update(w, 60_000))
            .await
            .unwrap();
    }
    for (job, task) in [("j1", "t1"), ("j2", "t2"), ("j3", "t3")] {
        job_with_task(&store, job, task, "echo", 0.0).await;
    }
    let mut req = claim_req("w1", &["echo"]);
    req.lease_deadline_ms = req.now_ms + 1_000;
    req.max = 2;
    assert_eq!(store.claim(&req).await.unwrap().len(), 2, "t1 and t2");
    let mut other = claim_req("w2", &["echo"]);
    other.lease_deadline_ms = req.lease_deadline_ms;
    claim_one(&store, &other).await.expect("t3");
    // w1 runs only t2 now; t3 is w2's, whatever w1 says.
    let mut hb = worker_update("w1", 60_000);
    hb.current_tasks = Some(vec!["t2".into(), "t3".into()]);
    hb.lease_deadline_ms = req.now_ms + 5_000;
    assert_eq!(store.heartbeat(&hb).await.unwrap(), Some(vec![]));
    // A ping (no list) extends every lease of its worker.
    let mut ping = worker_update("w2", 60_000);
    ping.lease_deadline_ms = req.now_ms + 8_000;
    assert_eq!(store.heartbeat(&ping).await.unwrap(), Some(vec![]));
    let now = req.now_ms;
    assert_eq!(
        expired_at(&store, now + 2_000).await,
        vec!["t1"],
        "not listed"
    );
    assert_eq!(expired_at(&store, now + 6_000).await, vec!["t2"], "listed");
    assert_eq!(expired_at(&store, now + 9_000).await, vec!["t3"], "pinged");
}

pub async fn a_registration_takes_back_the_previous_process_leases(store: Arc<dyn Store>) {
    let mut first = worker_update("w1", 60_000);
    first.incarnation = Some("proc-a".into());
    assert!(store.register_worker(&first).await.unwrap().is_empty());
    job_with_task(&store, "j1", "t1", "echo", 0.0).await;
    job_with_task(&store, "j2", "t2", "echo", 0.0).await;
    let mut req = claim_req("w1", &["echo"]);
    req.max = 2;
    assert_eq!(store.claim(&req).await.unwrap().len(), 2);
    let tasks = |store: Arc<dyn Store>| async move {
        let w = store.get_worker("w1").await.unwrap().expect("registered");
        w.tasks
    };
    // The same process registering again keeps its leases.
    assert!(store.register_worker(&first).await.unwrap().is_empty());
    assert_eq!(tasks(store.clone()).await, vec!["t1", "t2"]);
    // A new process under the same id: both are taken back, with the given deadline.
    let mut second = worker_update("w1", 60_000);
    second.incarnation = Some("proc-b".into());
    second.lease_deadline_ms = req.now_ms + 5_000;
    assert_eq!(
        store.register_worker(&second).await.unwrap(),
        vec!["t1", "t2"]
    );
    assert!(
        tasks(store.clone()).await.is_empty(),
        "no longer the worker's"
    );
    let mut ping = worker_update("w1", 60_000);
    ping.lease_deadline_ms = req.now_ms + 600_000;
    store.heartbeat(&ping).await.unwrap();
    let now = req.now_ms;
    assert!(
        expired_at(&store, now + 4_000).await.is_empty(),
        "hidden from reapers until the deadline"
    );
    assert_eq!(
        expired_at(&store, now + 6_000).await,
        vec!["t1", "t2"],
        "then a reaper takes them (the new process's heartbeats do not extend them)"
    );
    // Without an incarnation (the Python SDK), every registration takes back.
    job_with_task(&store, "j3", "t3", "echo", 0.0).await;
    claim_one(&store, &claim_req("w1", &["echo"]))
        .await
        .expect("t3");
    let python = worker_update("w1", 300);
    assert_eq!(store.register_worker(&python).await.unwrap(), vec!["t3"]);
    assert!(store.register_worker(&python).await.unwrap().is_empty());
    // Nor does an incarnation keep anything once its registration expired.
    let mut short = worker_update("w1", 300);
    short.incarnation = Some("proc-c".into());
    store.register_worker(&short).await.unwrap();
    job_with_task(&store, "j4", "t4", "echo", 0.0).await;
    claim_one(&store, &claim_req("w1", &["echo"]))
        .await
        .expect("t4");
    tokio::time::sleep(Duration::from_millis(400)).await;
    short.now_ms = now_ms();
    assert_eq!(store.register_worker(&short).await.unwrap(), vec!["t4"]);
}

pub async fn workers_register_heartbeat_and_expire(store: Arc<dyn Store>) {
    assert_eq!(
        store
            .heartbeat(&worker_update("ghost", 1_000))
            .await
            .unwrap(),
        None,
        "unknown worker"
    );
    store
        .register_worker(&worker_update("w1", 300))
        .await
        .unwrap();
    store
        .register_worker(&worker_update("w2", 60_000))
        .await
        .unwrap();
    store.set_worker_websocket("w2", true).await.unwrap();
    let w2 = store.get_worker("w2").await.unwrap().expect("registered");
    assert!(w2.websocket);
    assert_eq!(w2.skills, vec!["echo".to_string()]);
    assert_eq!(w2.info, "{\"worker_type\":\"t\"}");
    let listed: Vec<String> = store
        .list_workers(now_ms(), Duration::from_secs(60))
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.worker_id)
        .collect();
    assert_eq!(listed, vec!["w1", "w2"]);
    assert_eq!(
        store
            .active_workers(now_ms(), Duration::from_secs(60))
            .await
            .unwrap(),
        2
    );
    let mut hb = worker_update("w2", 60_000);
    hb.status = "busy".into();
    hb.info = None;
    assert!(store.heartbeat(&hb).await.unwrap().is_some());
    assert_eq!(
        store.get_worker("w2").await.unwrap().unwrap().status,
        "busy"
    );
    // A WebSocket that connects before the registration is remembered, not listed.
    store.set_worker_websocket("w3", true).await.unwrap();
    assert!(
        store.get_worker("w3").await.unwrap().is_none(),
        "not registered yet"
    );
    assert_eq!(
        store.heartbeat(&worker_update("w3", 60_000)).await.unwrap(),
        None
    );
    store
        .register_worker(&worker_update("w3", 60_000))
        .await
        .unwrap();
    assert!(
        store
            .get_worker("w3")
            .await
            .unwrap()
            .is_some_and(|w| w.websocket),
        "flag kept"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        store.heartbeat(&worker_update("w1", 300)).await.unwrap(),
        None,
        "registration expired"
    );
    assert!(store.get_worker("w1").await.unwrap().is_none());
    let listed: Vec<String> = store
        .list_workers(now_ms(), Duration::from_secs(60))
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.worker_id)
        .collect();
    assert_eq!(
        listed,
        vec!["w2", "w3"],
        "an expired registration is not listed"
    );
}

pub async fn cancels_reach_heartbeats_and_subscribers(store: Arc<dyn Store>) {
    let mut notices = store.subscribe();
    store
        .register_worker(&worker_update("w1", 60_000))
        .await
        .unwrap();
    job_with_task(&store, "j1", "t1", "echo", 0.0).await;
    claim_one(&store, &claim_req("w1", &["echo"]))
        .await
        .expect("claimed");
    let job = store.get_job("j1").await.unwrap().unwrap();
    let mut c = Commit::new("j1", Expect::Version(job.version), "cancelled", doc(1));
    c.release.push(("t1".into(), "w1".into()));
    c.cancel.push(CancelNotice {
        worker_id: "w1".into(),
        task_id: "t1".into(),
        job_id: "j1".into(),
    });
    store.commit(&c).await.unwrap();
    let command = next_notice(&mut notices, |n| match n {
        Notice::Command { worker_id, payload } => Some((worker_id, payload)),
        _ => None,
    })
    .await;
    assert_eq!(command.0, "w1");
    assert!(
        command.1.contains("cancel_task") && command.1.contains("t1"),
        "{}",
        command.1
    );
    let mut hb = worker_update("w1", 60_000);
    hb.current_tasks = Some(vec!["t1".into(), "t9".into()]);
    assert_eq!(
        store.heartbeat(&hb).await.unwrap(),
        Some(vec!["t1".to_string()])
    );
    hb.current_tasks = None;
    assert_eq!(
        store.heartbeat(&hb).await.unwrap(),
        Some(vec![]),
        "a ping gets no list"
    );
    store.ack_cancel("w1", "t1").await.unwrap();
    hb.current_tasks = Some(vec!["t1".into()]);
    assert_eq!(store.heartbeat(&hb).await.unwrap(), Some(vec![]));
}
