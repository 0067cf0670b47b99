//! The worker protocol on the wire: what a hand-written RXON client sees.

use baton_tests::orchestrator::test_config;
use baton_tests::raw_worker::RawWorker;
use baton_tests::webhook_sink::WebhookSink;
use baton_tests::{init_tracing, Client, Orchestrator};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);

async fn setup() -> (Orchestrator, Client, RawWorker) {
    init_tracing();
    let orch = Orchestrator::memory(test_config()).await;
    let client = Client::new(&orch.base_url);
    let worker = RawWorker::new(&orch.base_url, "raw-1");
    assert_eq!(
        worker.register(&["echo"]).await,
        (200, json!({"status": "registered", "version": "1.0b15"}))
    );
    (orch, client, worker)
}

#[tokio::test]
async fn task_payload_has_integer_timestamps_and_the_params() {
    let (orch, client, worker) = setup().await;
    let id = client.create_echo(json!({"msg": "hi"})).await;
    let (status, task) = worker.poll("echo", 5).await;
    assert_eq!(status, 200, "{task}");
    assert_eq!(task["job_id"], id.as_str());
    assert_eq!(task["type"], "echo");
    assert_eq!(task["params"], json!({"msg": "hi"}));
    assert!(task["timestamp"].is_i64(), "integer timestamp: {task}");
    assert!(task["deadline"].is_i64(), "integer deadline: {task}");
    assert!(task["deadline"].as_i64() > task["timestamp"].as_i64());
    assert_eq!(task["attempt"], 1);
    let (status, ack) = worker
        .result(worker.success(&task, json!({"echo": 1})))
        .await;
    assert_eq!((status, ack["status"].as_str()), (200, Some("accepted")));
    assert_eq!(ack["transition"], "finished");
    assert_eq!(client.job(&id).await["result"], json!({"echo": 1}));
    orch.stop().await;
}

#[tokio::test]
async fn an_idle_poll_is_held_then_answered_204() {
    let (orch, _client, worker) = setup().await;
    let started = Instant::now();
    let (status, _) = worker.poll("echo", 1).await;
    let held = started.elapsed();
    assert_eq!(status, 204);
    assert!(
        held >= Duration::from_millis(900),
        "held for the requested timeout, was {held:?}"
    );
    assert!(
        held < Duration::from_secs(3),
        "not longer than asked, was {held:?}"
    );
    orch.stop().await;
}

#[tokio::test]
async fn a_waiting_poll_is_woken_by_a_new_job() {
    let (orch, client, worker) = setup().await;
    let poll = tokio::spawn(async move {
        let started = Instant::now();
        let (status, task) = worker.poll("echo", 20).await;
        (status, task, started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let id = client.create_echo(json!({})).await;
    let (status, task, waited) = poll.await.expect("poll task");
    assert_eq!(status, 200);
    assert_eq!(task["job_id"], id.as_str());
    assert!(
        waited < Duration::from_secs(2),
        "woken at once, not at the hold's end: {waited:?}"
    );
    orch.stop().await;
}

#[tokio::test]
async fn stale_and_misdirected_results_are_ignored_and_change_nothing() {
    let (orch, client, worker) = setup().await;
    let other = RawWorker::new(&orch.base_url, "raw-2");
    other.register(&["echo"]).await;
    let id = client.create_echo(json!({})).await;
    let (_, task) = worker.poll("echo", 5).await;
    let ignored = |v: &Value, reason: &str| v["status"] == "ignored" && v["reason"] == reason;
    // Another worker answering for the task.
    let (status, ack) = other.result(other.success(&task, json!({"x": 1}))).await;
    assert!(status == 200 && ignored(&ack, "worker_mismatch"), "{ack}");
    // Unknown job and unknown task.
    let mut bogus = task.clone();
    bogus["job_id"] = json!("no-such-job");
    assert!(ignored(
        &worker.result(worker.success(&bogus, json!({}))).await.1,
        "job_not_found"
    ));
    let mut bogus = task.clone();
    bogus["task_id"] = json!("no-such-task");
    assert!(ignored(
        &worker.result(worker.success(&bogus, json!({}))).await.1,
        "stale_task"
    ));
    assert_eq!(
        client.job(&id).await["status"],
        "running",
        "nothing changed"
    );
    // The real answer; then a duplicate of it.
    assert_eq!(
        worker
            .result(worker.success(&task, json!({"x": 2})))
            .await
            .1["status"],
        "accepted"
    );
    let (_, dup) = worker.result(worker.success(&task, json!({"x": 3}))).await;
    assert!(ignored(&dup, "job_already_terminated"), "{dup}");
    assert_eq!(client.job(&id).await["result"], json!({"x": 2}));
    orch.stop().await;
}

#[tokio::test]
async fn a_result_from_an_expired_lease_is_ignored() {
    init_tracing();
    let mut cfg = test_config();
    cfg.heartbeat_timeout = Duration::from_millis(600);
    let orch = Orchestrator::memory(cfg).await;
    let client = Client::new(&orch.base_url);
    let slow = RawWorker::new(&orch.base_url, "slow");
    slow.register(&["echo"]).await;
    let id = client.create_echo(json!({})).await;
    let (_, first) = slow.poll("echo", 5).await;
    // No heartbeat: the lease expires and the task is queued again as attempt 2.
    let fast = RawWorker::new(&orch.base_url, "fast");
    fast.register(&["echo"]).await;
    let (status, second) = fast.poll("echo", 5).await;
    assert_eq!(status, 200);
    assert_eq!(second["attempt"], 2);
    assert_ne!(
        second["task_id"], first["task_id"],
        "a new attempt has a new task id"
    );
    let (_, ack) = slow
        .result(slow.success(&first, json!({"from": "slow"})))
        .await;
    assert_eq!(
        (ack["status"].as_str(), ack["reason"].as_str()),
        (Some("ignored"), Some("stale_task"))
    );
    assert_eq!(
        fast.result(fast.success(&second, json!({"from": "fast"})))
            .await
            .1["status"],
        "accepted"
    );
    let job = client.wait_status(&id, "finished", T).await;
    assert_eq!(job["result"], json!({"from": "fast"}));
    orch.stop().await;
}

#[tokio::test]
async fn heartbeats_refresh_report_cancels_and_ask_unknown_workers_to_register() {
    let (orch, client, worker) = setup().await;
    assert_eq!(
        worker.heartbeat(None).await,
        (200, json!({"status": "ttl_refreshed"}))
    );
    let id = client.create_echo(json!({})).await;
    let (_, task) = worker.poll("echo", 5).await;
    let beat = |tasks: Value| {
        worker.sign(json!({"worker_id": "raw-1", "status": "busy", "current_tasks": tasks}))
    };
    assert_eq!(
        worker.heartbeat(Some(beat(json!([task["task_id"]])))).await,
        (200, json!({"status": "ok"}))
    );
    let (status, body) = client.cancel(&id).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["status"], "cancellation_request_accepted",
        "no WebSocket: the heartbeat carries it"
    );
    let (status, hb) = worker.heartbeat(Some(beat(json!([task["task_id"]])))).await;
    assert_eq!(status, 200);
    assert_eq!(hb["cancel_task_ids"], json!([task["task_id"]]));
    // The cancelled worker's result is ignored; after it, no more cancel ids.
    let cancelled = worker.sign(json!({"job_id": id, "task_id": task["task_id"], "worker_id": "raw-1", "status": "cancelled"}));
    assert_eq!(worker.result(cancelled).await.1["reason"], "job_cancelled");
    assert_eq!(
        worker
            .heartbeat(Some(beat(json!([task["task_id"]]))))
            .await
            .1,
        json!({"status": "ok"})
    );
    let ghost = RawWorker::new(&orch.base_url, "ghost");
    let (status, body) = ghost.heartbeat(None).await;
    assert_eq!(status, 404);
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("not found"),
        "the SDK re-registers on this: {body}"
    );
    orch.stop().await;
}

/// `current_tasks` is what the worker runs: a task it no longer lists is not kept alive by
/// its heartbeats (the lease expires and the task goes to another worker).
#[tokio::test]
async fn heartbeats_keep_alive_only_the_tasks_they_list() {
    init_tracing();
    let mut cfg = test_config();
    cfg.heartbeat_timeout = Duration::from_millis(800);
    let orch = Orchestrator::memory(cfg).await;
    let client = Client::new(&orch.base_url);
    let worker = RawWorker::new(&orch.base_url, "lister");
    worker.register(&["echo"]).await;
    let kept = client.create_echo(json!({"k": 1})).await;
    let (_, kept_task) = worker.poll("echo", 5).await;
    let dropped = client.create_echo(json!({"k": 2})).await;
    let (_, dropped_task) = worker.poll("echo", 5).await;
    // The worker beats on, listing only the first task.
    let beater = RawWorker::new(&orch.base_url, "lister");
    let listed = kept_task["task_id"].clone();
    let beats = tokio::spawn(async move {
        loop {
            let beat = beater
                .sign(json!({"worker_id": "lister", "status": "busy", "current_tasks": [listed]}));
            assert_eq!(beater.heartbeat(Some(beat)).await.0, 200);
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    });
    tokio::time::sleep(Duration::from_secs(2)).await; // over twice the timeout
    let rescuer = RawWorker::new(&orch.base_url, "rescuer");
    rescuer.register(&["echo"]).await;
    let (status, again) = rescuer.poll("echo", 1).await;
    assert_eq!(status, 200, "the unlisted task was re-dispatched: {again}");
    assert_eq!(again["job_id"], dropped.as_str());
    assert_eq!(again["attempt"], 2);
    let expired: Vec<Value> = client
        .history(&dropped)
        .await
        .into_iter()
        .filter(|e| e["event_type"] == "lease_expired")
        .collect();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0]["task_id"], dropped_task["task_id"]);
    // The listed task kept its lease: its result is accepted.
    let (_, ack) = worker
        .result(worker.success(&kept_task, json!({"k": 1})))
        .await;
    beats.abort();
    assert_eq!(ack["status"], "accepted", "{ack}");
    assert_eq!(client.job(&kept).await["attempt"], 1);
    orch.stop().await;
}

/// A registration comes from a process that starts: the tasks held under its worker id
/// (by a process that is gone) are queued again at once, as a new attempt. Only the same
/// `incarnation` registering again keeps them.
#[tokio::test]
async fn a_registration_takes_back_the_tasks_of_the_previous_process() {
    let (orch, client, worker) = setup().await;
    let id = client.create_echo(json!({})).await;
    let (_, first) = worker.poll("echo", 5).await;
    // Restarted under the same id; no incarnation, as the Python SDK registers.
    assert_eq!(worker.register(&["echo"]).await.0, 200);
    let (status, second) = worker.poll("echo", 1).await;
    assert_eq!(status, 200, "queued again at once: {second}");
    assert_eq!(
        (second["job_id"].as_str(), second["attempt"].as_i64()),
        (Some(id.as_str()), Some(2))
    );
    let revoked: Vec<Value> = client
        .history(&id)
        .await
        .into_iter()
        .filter(|e| e["event_type"] == "lease_revoked")
        .collect();
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    assert_eq!(revoked[0]["task_id"], first["task_id"]);
    assert_eq!(revoked[0]["worker_id"], "raw-1");
    let (_, late) = worker
        .result(worker.success(&first, json!({"old": 1})))
        .await;
    assert_eq!(
        late["reason"], "stale_task",
        "the dead process's result: {late}"
    );
    let (_, ack) = worker
        .result(worker.success(&second, json!({"new": 1})))
        .await;
    assert_eq!(ack["status"], "accepted");

    // With an incarnation: the same one again keeps the task, another takes it back.
    let register = |incarnation: &str| {
        let body = worker.sign(
            json!({"worker_id": "raw-1", "supported_tasks": ["echo"], "incarnation": incarnation}),
        );
        worker.send(
            Method::POST,
            "/_worker/workers/register",
            Some(body.to_string()),
        )
    };
    assert_eq!(register("proc-1").await.0, 200);
    let id = client.create_echo(json!({})).await;
    let (_, task) = worker.poll("echo", 5).await;
    assert_eq!(register("proc-1").await.0, 200);
    assert_eq!(
        worker.poll("echo", 1).await.0,
        204,
        "kept: nothing queued again"
    );
    assert_eq!(
        client.job(&id).await["tasks"][0]["task_id"],
        task["task_id"]
    );
    assert_eq!(register("proc-2").await.0, 200);
    let (status, again) = worker.poll("echo", 1).await;
    assert_eq!(
        (status, again["attempt"].as_i64()),
        (200, Some(2)),
        "{again}"
    );
    orch.stop().await;
}

#[tokio::test]
async fn the_seeds_nested_result_form_and_progress_events_are_accepted() {
    let (orch, client, worker) = setup().await;
    let id = client.create_echo(json!({})).await;
    let (_, task) = worker.poll("echo", 5).await;
    let event = worker.sign_without(
        json!({
            "event_id": "e1", "worker_id": "raw-1", "event_type": "progress",
            "payload": {"progress": 0.25, "message": "quarter"}, "origin_task_id": task["task_id"],
            "target_job_id": id, "bubbling_chain": ["ignored-by-signature"]
        }),
        baton_protocol::signing::EVENT_UNSIGNED_FIELDS,
    );
    let (status, body) = worker
        .send(Method::POST, "/_worker/events", Some(event.to_string()))
        .await;
    assert_eq!((status, body), (200, json!({"status": "event_accepted"})));
    let job = client.job(&id).await;
    assert_eq!(
        (job["progress"].clone(), job["progress_message"].clone()),
        (json!(0.25), json!("quarter"))
    );
    let nested = json!({"job_id": id, "task_id": task["task_id"], "worker_id": "raw-1",
                        "result": {"status": "success", "data": {"output": "done"}, "error": null}});
    assert_eq!(worker.result(nested).await.1["status"], "accepted");
    assert_eq!(
        client.wait_status(&id, "finished", T).await["result"],
        json!({"output": "done"})
    );
    orch.stop().await;
}

#[tokio::test]
async fn unhandled_custom_status_fails_the_job_with_a_reason() {
    let (orch, client, worker) = setup().await;
    let id = client.create_echo(json!({})).await;
    let (_, task) = worker.poll("echo", 5).await;
    let body = worker.sign(json!({"job_id": id, "task_id": task["task_id"], "worker_id": "raw-1", "status": "needs_review", "data": {}}));
    assert_eq!(worker.result(body).await.1["status"], "accepted");
    let job = client.wait_status(&id, "failed", T).await;
    assert_eq!(job["error"]["code"], "UNHANDLED_STATUS", "{job}");
    orch.stop().await;
}

#[tokio::test]
async fn webhooks_are_retried_until_delivered() {
    let (orch, client, worker) = setup().await;
    let sink = WebhookSink::start(2).await;
    let id = client
        .create(
            "/api/v1/jobs/echo",
            json!({"initial_data": {}, "webhook_url": sink.url, "metadata": {"trace": "t1"}}),
        )
        .await;
    let (_, task) = worker.poll("echo", 5).await;
    worker
        .result(worker.success(&task, json!({"ok": true})))
        .await;
    let hooks = sink.wait_for(1, Duration::from_secs(15)).await;
    assert_eq!(sink.attempts(), 3, "two failures, then delivered");
    let hook = &hooks[0];
    assert_eq!(hook["event"], "job_finished");
    assert_eq!(hook["job_id"], id.as_str());
    assert_eq!(hook["status"], "finished");
    assert_eq!(hook["result"], json!({"ok": true}));
    assert_eq!(hook["metadata"], json!({"trace": "t1"}));
    assert!(hook["timestamp"].is_i64());
    orch.stop().await;
}

#[tokio::test]
async fn metrics_and_status_are_public() {
    let (orch, client, worker) = setup().await;
    let id = client.create_echo(json!({})).await;
    let (_, task) = worker.poll("echo", 5).await;
    worker.result(worker.success(&task, json!({}))).await;
    client.wait_status(&id, "finished", T).await;
    let anonymous = Client::with_token(&orch.base_url, "");
    let (status, body) = anonymous.get("/_public/status").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    let (status, text) = anonymous.get("/_public/metrics").await;
    assert_eq!(status, 200);
    let text = text.as_str().unwrap_or_default();
    for series in [
        "baton_jobs{status=\"finished\"} 1",
        "baton_tasks_dispatched_total{skill=\"echo\"} 1",
        "baton_queue_depth{skill=\"echo\"} 0",
        "baton_schedule_to_start_seconds_count{skill=\"echo\"} 1",
        "baton_active_workers 1",
        "baton_lease_expiries_total 0",
        "baton_lease_revocations_total 0",
        "baton_http_requests_total{method=\"POST\",route=\"/_worker/tasks/result\",status=\"200\"} 1",
    ] {
        assert!(text.contains(series), "missing `{series}` in:\n{text}");
    }
    orch.stop().await;
}

#[tokio::test]
async fn batch_routes_take_several_tasks_and_results_at_once() {
    let (orch, client, worker) = setup().await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(client.create_echo(json!({"i": i})).await);
    }
    let path = "/_worker/workers/raw-1/tasks/batch?timeout=5&available_skills=echo&max=2";
    let (status, body) = worker.send(Method::GET, path, None).await;
    assert_eq!(status, 200, "{body}");
    let tasks = body["tasks"].as_array().cloned().unwrap_or_default();
    assert_eq!(tasks.len(), 2, "at most `max`: {body}");
    assert_eq!(tasks[0]["job_id"], ids[0].as_str(), "oldest first");
    assert_eq!(tasks[1]["job_id"], ids[1].as_str());
    assert!(tasks.iter().all(|t| t["deadline"].is_i64()));
    let (_, third) = worker.send(Method::GET, path, None).await;
    assert_eq!(third["tasks"].as_array().map(Vec::len), Some(1));

    // One batch of results: two good ones and a forged one, answered in order.
    let mut forged = worker.success(&third["tasks"][0], json!({"x": 9}));
    forged["security"]["signature"] = json!("00".repeat(32));
    let batch = json!({"results": [
        worker.success(&tasks[0], json!({"r": 0})),
        worker.success(&tasks[1], json!({"r": 1})),
        forged,
    ]});
    let (status, answer) = worker
        .send(
            Method::POST,
            "/_worker/tasks/results",
            Some(batch.to_string()),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let answers = answer["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(answers.len(), 3);
    assert_eq!(answers[0]["status"], "accepted");
    assert_eq!(answers[1]["status"], "accepted");
    assert_eq!(answers[2]["status"], "error");
    assert_eq!(answers[2]["code"], "forbidden");
    assert_eq!(client.job(&ids[0]).await["result"], json!({"r": 0}));
    assert_eq!(client.job(&ids[1]).await["result"], json!({"r": 1}));
    assert_eq!(
        client.job(&ids[2]).await["status"],
        "running",
        "the forged result changed nothing"
    );

    let bad = "/_worker/workers/raw-1/tasks/batch?timeout=1&available_skills=echo&max=0";
    assert_eq!(worker.send(Method::GET, bad, None).await.0, 400);
    let (status, _) = worker
        .send(
            Method::POST,
            "/_worker/tasks/results",
            Some("{\"results\": 5}".into()),
        )
        .await;
    assert_eq!(status, 400);
    orch.stop().await;
}

/// The Rust SDK with a token this orchestrator does not know, and with none at all (the
/// SDK's default): its run ends at once with an error naming the orchestrator's URL and
/// `WORKER_TOKEN`, instead of retrying a 403 forever.
#[tokio::test]
async fn an_sdk_worker_with_a_wrong_or_missing_token_stops_with_a_clear_error() {
    init_tracing();
    let orch = Orchestrator::memory(test_config()).await;
    let client = Client::new(&orch.base_url);
    for (token, default_token) in [(Some("not-the-worker-token"), false), (None, true)] {
        let mut config = baton_worker::WorkerConfig::new(orch.base_url.clone())
            .worker_id("refused-1")
            .enable_websockets(false);
        if let Some(token) = token {
            config = config.token(token);
        }
        let worker = baton_worker_examples::example_skills(baton_worker::Worker::builder(config))
            .build()
            .expect("worker builds");
        let ended = tokio::time::timeout(T, worker.run(std::future::pending::<()>()))
            .await
            .expect("the worker stops by itself");
        let err = ended.expect_err("the registration is refused");
        match &err {
            baton_worker::WorkerError::Unauthorized {
                url,
                status,
                message,
                default_token: sent_default,
            } => {
                assert_eq!((url.as_str(), *status), (orch.base_url.as_str(), 403));
                assert!(
                    message.contains("token"),
                    "the orchestrator's words: {message}"
                );
                assert_eq!(*sent_default, default_token);
            }
            other => panic!("expected Unauthorized, got {other:?}"),
        }
        let text = err.to_string();
        assert!(text.contains(&orch.base_url), "{text}");
        assert!(text.contains("WORKER_TOKEN"), "{text}");
    }
    let (_, workers) = client.get("/api/v1/workers").await;
    assert_eq!(workers, json!([]), "no worker was registered");
    orch.stop().await;
}

/// The blueprints shipped for the README's and the SDK's example workers (`hello`,
/// `resize`, `py_echo`) create a job at their endpoint whose one task asks for the
/// worker's skill with the job's `initial_data` as params, and whose result is the
/// worker's data. Nothing else takes those skills, so `baton dev`'s own workers leave
/// these jobs to the examples.
#[tokio::test]
async fn the_example_workers_blueprints_hand_their_skill_the_initial_data() {
    let (orch, client, worker) = setup().await;
    assert_eq!(
        worker.register(&["hello", "resize", "py_echo"]).await.0,
        200
    );
    for (skill, initial_data, data) in [
        (
            "hello",
            json!({"name": "Ada", "delay_ms": 500}),
            json!({"greeting": "Hello, Ada!"}),
        ),
        (
            "resize",
            json!({"url": "https://example.com/cat.png", "width": 320}),
            json!({"url": "https://example.com/cat.png?w=320"}),
        ),
        (
            "py_echo",
            json!({"message": "hi"}),
            json!({"message": "hi"}),
        ),
    ] {
        let id = client
            .create(
                &format!("/api/v1/jobs/{skill}"),
                json!({"initial_data": initial_data}),
            )
            .await;
        let (status, task) = worker.poll(skill, 5).await;
        assert_eq!(status, 200, "{skill}: {task}");
        assert_eq!(
            (task["job_id"].as_str(), task["type"].as_str()),
            (Some(id.as_str()), Some(skill))
        );
        assert_eq!(task["params"], initial_data, "{skill}");
        let (status, ack) = worker.result(worker.success(&task, data.clone())).await;
        assert_eq!((status, ack["status"].as_str()), (200, Some("accepted")));
        let job = client.job(&id).await;
        assert_eq!(
            (job["status"].as_str(), &job["result"]),
            (Some("finished"), &data)
        );
    }
    orch.stop().await;
}
