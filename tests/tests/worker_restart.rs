//! A worker process restarted under the same worker id (the normal case with individual
//! worker tokens): the tasks the dead process held go to a live worker at once, instead of
//! staying leased until their result timeout.

use baton_tests::backend::{start, Backend};
use baton_tests::orchestrator::test_config;
use baton_tests::workers;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

baton_tests::on_both_stores!(a_restarted_worker_gets_its_dead_tasks_redispatched_at_once);

fn events<'a>(history: &'a [Value], kind: &str) -> Vec<&'a Value> {
    history.iter().filter(|e| e["event_type"] == kind).collect()
}

async fn a_restarted_worker_gets_its_dead_tasks_redispatched_at_once(backend: Backend) {
    let mut cfg = test_config();
    // Long enough that neither a heartbeat timeout nor the echo blueprint's 60 s result
    // timeout can explain a quick finish: only the restart's registration can.
    cfg.heartbeat_timeout = Duration::from_secs(30);
    let (orch, client, _) = start(backend, cfg, "restart").await;
    let first = workers::echo(&orch.base_url, "w-restart");
    let id = client
        .create(
            "/api/v1/jobs/echo",
            json!({"initial_data": {"sleep_ms": 1500, "v": 3}}),
        )
        .await;
    let running = client
        .wait_status(&id, "running", Duration::from_secs(10))
        .await;
    let dead_task = running["tasks"][0]["task_id"].clone();
    first.kill(); // the process dies holding the task: no result, no more heartbeats
    let restarted = Instant::now();
    let second = workers::echo(&orch.base_url, "w-restart");
    let job = client
        .wait_status(&id, "finished", Duration::from_secs(90))
        .await;
    let took = restarted.elapsed();
    eprintln!("{backend:?}: restart to finish took {took:?}");
    assert_eq!(job["result"]["v"], 3);
    let history = client.history(&id).await;
    assert!(
        took < Duration::from_secs(15),
        "the dead process's task waited {took:?} (heartbeat timeout 30 s, result timeout 60 s): {history:#?}"
    );
    assert_eq!(job["attempt"], 2, "one new attempt: {job}");
    let revoked = events(&history, "lease_revoked");
    assert_eq!(revoked.len(), 1, "{history:#?}");
    assert_eq!(revoked[0]["task_id"], dead_task);
    assert_eq!(revoked[0]["worker_id"], "w-restart");
    assert!(
        events(&history, "task_timed_out").is_empty(),
        "not freed by the result timeout: {history:#?}"
    );
    let dispatched: Vec<&Value> = events(&history, "task_dispatched")
        .into_iter()
        .map(|e| &e["worker_id"])
        .collect();
    assert_eq!(dispatched, vec!["w-restart", "w-restart"]);
    second.shutdown().await.expect("clean shutdown");
    orch.stop().await;
}
