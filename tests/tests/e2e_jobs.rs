//! Jobs end to end with the Rust SDK, on the embedded store and on Redis.

use baton_orchestrator::config::Config;
use baton_tests::backend::Backend;
use baton_tests::orchestrator::test_config;
use baton_tests::webhook_sink::WebhookSink;
use baton_tests::{workers, Client, Orchestrator};
use baton_worker::{TaskContext, TaskError, Worker};
use serde_json::{json, Value};
use std::time::Duration;

async fn start(backend: Backend, cfg: Config, name: &str) -> (Orchestrator, Client) {
    let (orch, client, _) = baton_tests::backend::start(backend, cfg, name).await;
    (orch, client)
}

baton_tests::on_both_stores!(
    echo_job_finishes_with_the_workers_data,
    cancel_reaches_the_running_task,
    transient_failures_are_retried_then_quarantined,
    permanent_and_invalid_input_failures,
    killed_worker_task_is_redispatched_and_finishes_once,
    job_waits_for_a_worker_until_its_dispatch_timeout,
    progress_events_update_the_job,
    a_client_can_wait_for_the_end_of_a_job,
);

const T: Duration = Duration::from_secs(15);

fn events(history: &[Value], kind: &str) -> usize {
    history.iter().filter(|e| e["event_type"] == kind).count()
}

async fn echo_job_finishes_with_the_workers_data(backend: Backend) {
    let (orch, client) = start(backend, test_config(), "finish").await;
    let worker = workers::echo(&orch.base_url, "w-finish");
    let id = client
        .create_echo(json!({"message": "hello", "n": [1, 2]}))
        .await;
    let job = client.wait_status(&id, "finished", T).await;
    assert_eq!(job["result"], json!({"message": "hello", "n": [1, 2]}));
    assert_eq!(job["blueprint_name"], "echo");
    assert!(job["finished_at"].is_string());
    let history = client.history(&id).await;
    for kind in [
        "job_created",
        "task_queued",
        "task_dispatched",
        "task_finished",
        "job_finished",
    ] {
        assert_eq!(events(&history, kind), 1, "{kind} in {history:#?}");
    }
    let finished = history
        .iter()
        .find(|e| e["event_type"] == "task_finished")
        .expect("task_finished");
    assert_eq!(finished["worker_id"], "w-finish");
    assert!(finished["duration_ms"].is_i64());
    // Jobs are private to the client that created them.
    let other = Client::with_token(&orch.base_url, "someone-else");
    assert_eq!(other.get(&format!("/api/v1/jobs/{id}")).await.0, 401);
    assert_eq!(client.get("/api/v1/jobs/not-a-job").await.0, 404);
    let (_, dash) = client.get("/api/v1/dashboard").await;
    assert_eq!(dash["jobs"]["finished"], 1, "{dash}");
    assert_eq!(dash["workers"]["total"], 1, "{dash}");
    worker.shutdown().await.expect("clean shutdown");
    orch.stop().await;
}

async fn cancel_reaches_the_running_task(backend: Backend) {
    let (orch, client) = start(backend, test_config(), "cancel").await;
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let (started_tx, mut started_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let builder = Worker::builder(workers::config(&orch.base_url, "w-cancel")).skill(
        "echo",
        move |_: Value, ctx: TaskContext| {
            let seen = seen_tx.clone();
            let started = started_tx.clone();
            async move {
                let _ = started.send(());
                ctx.cancelled().await;
                let _ = seen.send(ctx.task_id().to_string());
                Err::<Value, _>(TaskError::transient("stopped"))
            }
        },
    );
    let worker = workers::spawn(builder);
    let id = client.create_echo(json!({})).await;
    let running = client.wait_status(&id, "running", T).await;
    let task_id = running["tasks"][0]["task_id"]
        .as_str()
        .expect("task id")
        .to_string();
    // Cancel the task once its handler runs: a cancel that overtakes the task on its way
    // to the worker stops it before the handler is called (the SDK's early cancel).
    tokio::time::timeout(T, started_rx.recv())
        .await
        .expect("handler started");
    workers::wait_websocket(&client, "w-cancel").await;
    let (status, body) = client.cancel(&id).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["status"], "cancellation_request_sent",
        "the worker has a WebSocket"
    );
    let job = client.job(&id).await;
    assert_eq!(job["status"], "cancelled");
    let cancelled = tokio::time::timeout(Duration::from_secs(5), seen_rx.recv())
        .await
        .expect("handler saw the cancel");
    assert_eq!(cancelled.as_deref(), Some(task_id.as_str()));
    // The worker's late answer does not revive the job; a second cancel is a conflict.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(client.job(&id).await["status"], "cancelled");
    assert_eq!(client.cancel(&id).await.0, 409);
    let history = client.history(&id).await;
    assert_eq!(events(&history, "job_cancelled"), 1);
    worker.shutdown().await.expect("clean shutdown");
    orch.stop().await;
}

async fn transient_failures_are_retried_then_quarantined(backend: Backend) {
    let (orch, client) = start(backend, test_config(), "transient").await;
    let worker = workers::echo(&orch.base_url, "w-transient");
    let doomed = client.create_echo(json!({"fail": "transient"})).await;
    let recovers = client.create_echo(json!({"fail_until_attempt": 3})).await;
    let job = client.wait_status(&doomed, "quarantined", T).await;
    assert_eq!(job["error"]["code"], "TRANSIENT_ERROR", "{job}");
    let history = client.history(&doomed).await;
    assert_eq!(
        events(&history, "task_dispatched"),
        4,
        "first try + 3 retries: {history:#?}"
    );
    assert_eq!(events(&history, "retry_scheduled"), 3);
    assert_eq!(events(&history, "job_quarantined"), 1);
    let job = client.wait_status(&recovers, "finished", T).await;
    assert_eq!(job["attempt"], 3);
    assert_eq!(job["result"]["fail_until_attempt"], 3);
    worker.shutdown().await.expect("clean shutdown");
    orch.stop().await;
}

async fn permanent_and_invalid_input_failures(backend: Backend) {
    let (orch, client) = start(backend, test_config(), "permanent").await;
    let worker = workers::echo(&orch.base_url, "w-permanent");
    let permanent = client.create_echo(json!({"fail": "permanent"})).await;
    let invalid = client.create_echo(json!({"fail": "invalid_input"})).await;
    let job = client.wait_status(&permanent, "quarantined", T).await;
    assert_eq!(job["error"]["code"], "PERMANENT_ERROR");
    assert_eq!(
        events(&client.history(&permanent).await, "task_dispatched"),
        1,
        "no retry"
    );
    let job = client.wait_status(&invalid, "failed", T).await;
    assert_eq!(job["error"]["code"], "INVALID_INPUT_ERROR");
    assert_eq!(
        events(&client.history(&invalid).await, "task_dispatched"),
        1,
        "no retry"
    );
    worker.shutdown().await.expect("clean shutdown");
    orch.stop().await;
}

async fn killed_worker_task_is_redispatched_and_finishes_once(backend: Backend) {
    let (orch, client) = start(backend, test_config(), "kill").await;
    let sink = WebhookSink::start(0).await;
    let doomed = workers::echo(&orch.base_url, "w-doomed");
    let id = client
        .create(
            "/api/v1/jobs/echo",
            json!({"initial_data": {"sleep_ms": 1500, "v": 7}, "webhook_url": sink.url}),
        )
        .await;
    let running = client.wait_status(&id, "running", T).await;
    assert_eq!(running["tasks"][0]["worker_id"], "w-doomed");
    let first_task = running["tasks"][0]["task_id"]
        .as_str()
        .expect("task")
        .to_string();
    doomed.kill(); // no result, no more heartbeats
    let rescuer = workers::echo(&orch.base_url, "w-rescuer");
    let job = client
        .wait_status(&id, "finished", Duration::from_secs(20))
        .await;
    assert_eq!(job["result"]["v"], 7);
    assert_eq!(job["attempt"], 2);
    let history = client.history(&id).await;
    let dispatched: Vec<&Value> = history
        .iter()
        .filter(|e| e["event_type"] == "task_dispatched")
        .map(|e| &e["worker_id"])
        .collect();
    assert_eq!(dispatched, vec!["w-doomed", "w-rescuer"], "{history:#?}");
    let expired: Vec<&Value> = history
        .iter()
        .filter(|e| e["event_type"] == "lease_expired")
        .collect();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0]["task_id"], first_task.as_str());
    assert_eq!(events(&history, "job_finished"), 1);
    let hooks = sink.wait_for(1, T).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.received().len(), 1, "finished exactly once: {hooks:?}");
    assert_eq!(hooks[0]["event"], "job_finished");
    assert_eq!(hooks[0]["job_id"], id.as_str());
    assert_eq!(hooks[0]["result"]["v"], 7);
    let (_, metrics) = client.get("/_public/metrics").await;
    let text = metrics.as_str().unwrap_or_default().to_string();
    assert!(text.contains("baton_lease_expiries_total 1"), "{text}");
    rescuer.shutdown().await.expect("clean shutdown");
    orch.stop().await;
}

async fn job_waits_for_a_worker_until_its_dispatch_timeout(backend: Backend) {
    let (orch, client) = start(backend, test_config(), "wait").await;
    let patient = client.create_echo(json!({"x": 1})).await;
    let hasty = client
        .create(
            "/api/v1/jobs/echo",
            json!({"initial_data": {}, "dispatch_timeout": 0.5}),
        )
        .await;
    let job = client.wait_status(&hasty, "failed", T).await;
    assert_eq!(job["error"]["code"], "DISPATCH_TIMEOUT", "{job}");
    // No worker has the skill yet: the other job waits instead of failing.
    assert_eq!(client.job(&patient).await["status"], "pending");
    let worker = workers::echo(&orch.base_url, "w-late");
    let job = client.wait_status(&patient, "finished", T).await;
    assert_eq!(job["result"], json!({"x": 1}));
    worker.shutdown().await.expect("clean shutdown");
    orch.stop().await;
}

async fn progress_events_update_the_job(backend: Backend) {
    let (orch, client) = start(backend, test_config(), "progress").await;
    let worker = workers::echo(&orch.base_url, "w-progress");
    let id = client
        .create_echo(json!({"progress": true, "sleep_ms": 3000}))
        .await;
    let job = client
        .wait_job(&id, T, |j| j["progress"] == json!(0.5))
        .await;
    assert_eq!(job["status"], "running");
    assert_eq!(job["progress_message"], "echo: halfway");
    client.wait_status(&id, "finished", T).await;
    worker.shutdown().await.expect("clean shutdown");
    orch.stop().await;
}

async fn a_client_can_wait_for_the_end_of_a_job(backend: Backend) {
    let (orch, client) = start(backend, test_config(), "wait-end").await;
    let worker = workers::echo(&orch.base_url, "w-wait");
    let id = client.create_echo(json!({"sleep_ms": 400, "w": 1})).await;
    let started = std::time::Instant::now();
    let (status, job) = client.get(&format!("/api/v1/jobs/{id}?wait=20")).await;
    assert_eq!(status, 200);
    assert_eq!(
        job["status"], "finished",
        "returned when the job ended: {job}"
    );
    assert_eq!(job["result"]["w"], 1);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "not held to the end of the wait"
    );
    // A wait on a job that does not end answers with its current state when the wait is over.
    let never = client
        .create(
            "/api/v1/jobs/echo",
            json!({"initial_data": {"sleep_ms": 60000}}),
        )
        .await;
    let (status, job) = client.get(&format!("/api/v1/jobs/{never}?wait=0.3")).await;
    assert_eq!(status, 200);
    assert!(
        job["status"] == "pending" || job["status"] == "running",
        "{job}"
    );
    assert_eq!(
        client.get(&format!("/api/v1/jobs/{id}?wait=soon")).await.0,
        400
    );
    worker.shutdown().await.expect("clean shutdown");
    orch.stop().await;
}
