//! Several orchestrators on one Redis behave like one; Redis outages are survived.

use baton_tests::orchestrator::{blueprint_test_config, test_config, CLIENT_TOKEN};
use baton_tests::raw_worker::RawWorker;
use baton_tests::webhook_sink::WebhookSink;
use baton_tests::{
    init_tracing, shared_redis, unique_prefix, workers, Client, Orchestrator, RedisServer,
};
use baton_worker::{TaskContext, TaskError, Worker};
use serde_json::{json, Value};
use std::time::Duration;

const T: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_on_one_orchestrator_client_on_another() {
    init_tracing();
    let url = shared_redis().url();
    let prefix = unique_prefix("two");
    let a = Orchestrator::redis(test_config(), &url, &prefix).await;
    let b = Orchestrator::redis(test_config(), &url, &prefix).await;
    let client = Client::new(&b.base_url);

    // The worker long-polls A; its heartbeats are too rare to carry a cancel, so a cancel
    // sent to B can only arrive over A's WebSocket.
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let (started_tx, mut started_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let config = workers::config(&a.base_url, "w-on-a").heartbeat_interval(Duration::from_secs(30));
    let worker = workers::spawn(Worker::builder(config).skill(
        "echo",
        move |params: Value, ctx: TaskContext| {
            let seen = seen_tx.clone();
            let started = started_tx.clone();
            async move {
                if params["hang"] == json!(true) {
                    let _ = started.send(());
                    ctx.cancelled().await;
                    let _ = seen.send(ctx.task_id().to_string());
                    return Err(TaskError::transient("cancelled"));
                }
                Ok(params)
            }
        },
    ));
    workers::wait_registered(&client, "w-on-a").await;

    let sink = WebhookSink::start(0).await;
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(
            client
                .create(
                    "/api/v1/jobs/echo",
                    json!({"initial_data": {"i": i}, "webhook_url": sink.url}),
                )
                .await,
        );
    }
    for (i, id) in ids.iter().enumerate() {
        let job = client.wait_status(id, "finished", T).await;
        assert_eq!(job["result"], json!({"i": i}));
        // The other orchestrator sees the same job.
        assert_eq!(Client::new(&a.base_url).job(id).await["status"], "finished");
    }
    // Both reapers ran; every webhook was sent once.
    sink.wait_for(10, T).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut hooked: Vec<String> = sink
        .received()
        .iter()
        .map(|h| h["job_id"].as_str().unwrap_or_default().to_string())
        .collect();
    hooked.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(hooked, expected, "one webhook per job");

    // Waiting for the end works on either orchestrator (the end is announced to both).
    for waiter in [&client, &Client::new(&a.base_url)] {
        let id = client.create_echo(json!({"waited": true})).await;
        let (status, job) = waiter.get(&format!("/api/v1/jobs/{id}?wait=10")).await;
        assert_eq!(
            (status, job["status"].as_str()),
            (200, Some("finished")),
            "{job}"
        );
        assert_eq!(job["result"]["waited"], true);
    }

    let hanging = client.create_echo(json!({"hang": true})).await;
    let running = client.wait_status(&hanging, "running", T).await;
    let task_id = running["tasks"][0]["task_id"]
        .as_str()
        .expect("task")
        .to_string();
    // Once the handler runs: a cancel overtaking the task would stop it before that.
    tokio::time::timeout(T, started_rx.recv())
        .await
        .expect("handler started");
    let (status, body) = client.cancel(&hanging).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("cancellation_request_sent")),
        "{body}"
    );
    let seen = tokio::time::timeout(Duration::from_secs(5), seen_rx.recv())
        .await
        .expect("cancel crossed orchestrators");
    assert_eq!(seen.as_deref(), Some(task_id.as_str()));

    worker.shutdown().await.expect("clean shutdown");
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_is_survived() {
    init_tracing();
    let mut redis = RedisServer::start();
    let orch = Orchestrator::redis(test_config(), &redis.url(), "restart").await;
    let client = Client::new(&orch.base_url);
    let worker = workers::echo(&orch.base_url, "w-restart");
    let id = client.create_echo(json!({"before": true})).await;
    client.wait_status(&id, "finished", T).await;

    redis.stop();
    let (status, body) = client
        .post("/api/v1/jobs/echo", json!({"initial_data": {}}))
        .await;
    assert_eq!(status, 503, "an outage is reported, not hidden: {body}");
    assert_eq!(body["code"], "store_unavailable");
    let (status, body) = client.get("/_public/status").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("store_unavailable")),
        "{body}"
    );

    // Redis comes back empty (it keeps nothing on disk): the worker registers again on
    // its next heartbeat and new jobs run.
    redis.restart();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let id = loop {
        let (status, body) = client
            .post(
                "/api/v1/jobs/echo",
                json!({"initial_data": {"after": true}}),
            )
            .await;
        if status == 202 {
            break body["job_id"].as_str().expect("job id").to_string();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "store never came back: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let job = client
        .wait_status(&id, "finished", Duration::from_secs(40))
        .await;
    assert_eq!(job["result"], json!({"after": true}));
    worker.shutdown().await.expect("clean shutdown");
    orch.stop().await;
}

/// An orchestrator started while Redis is down serves anyway: not ready (503) until Redis
/// answers, then jobs run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orchestrator_started_before_redis_serves_once_it_is_up() {
    init_tracing();
    let mut redis = RedisServer::start();
    redis.stop();
    let mut cfg = test_config();
    cfg.redis_url = Some(redis.url());
    cfg.key_prefix = unique_prefix("late");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base_url = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(baton_orchestrator::run(listener, cfg, async {
        let _ = stopped.await;
    }));
    let client = Client::new(&base_url);
    let (status, body) = client.get("/_public/status").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("store_unavailable")),
        "{body}"
    );
    assert_eq!(body["code"], "store_unavailable");
    let (status, body) = client.post("/api/v1/jobs/echo", json!({})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("store_unavailable")),
        "{body}"
    );
    assert!(body["error"].is_string(), "{body}");
    let worker = RawWorker::new(&base_url, "w-late");
    let (status, body) = worker.register(&["echo"]).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("store_unavailable")),
        "{body}"
    );
    let resp = client
        .http
        .get(format!("{base_url}/projects"))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 503);
    assert!(
        resp.headers().contains_key("x-request-id"),
        "the pipelines face's header"
    );
    assert_eq!(
        client.get("/_public/openapi.json").await.0,
        200,
        "documents are served"
    );
    assert!(!server.is_finished(), "still running, not exited");

    redis.restart();
    let deadline = std::time::Instant::now() + T;
    while client.get("/_public/status").await.0 != 200 {
        assert!(std::time::Instant::now() < deadline, "never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let id = client.create_echo(json!({"late": true})).await;
    assert_eq!(worker.register(&["echo"]).await.0, 200);
    let (status, task) = worker.poll("echo", 5).await;
    assert_eq!(status, 200, "{task}");
    worker
        .result(worker.success(&task, json!({"late": true})))
        .await;
    let job = client.wait_status(&id, "finished", T).await;
    assert_eq!(job["result"], json!({"late": true}));
    let _ = stop.send(());
    let ended = tokio::time::timeout(T, server).await.expect("stops");
    assert!(matches!(ended, Ok(Ok(()))), "{ended:?}");
}

/// Sub-jobs and approvals span two jobs or two requests: any orchestrator may pick up the
/// next step. The client talks to B, the worker to A, the approver to A.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blueprint_waits_span_orchestrators() {
    init_tracing();
    let url = shared_redis().url();
    let prefix = unique_prefix("waits");
    let a = Orchestrator::redis(blueprint_test_config(), &url, &prefix).await;
    let b = Orchestrator::redis(blueprint_test_config(), &url, &prefix).await;
    let client = Client::new(&b.base_url);
    let worker = workers::echo(&a.base_url, "w-waits-a");
    workers::wait_registered(&client, "w-waits-a").await;

    let parent = client
        .create(
            "/api/v1/jobs/with_child",
            json!({"initial_data": {"order_id": 3, "child": {"n": 1}}}),
        )
        .await;
    let job = client.wait_status(&parent, "finished", T).await;
    assert_eq!(job["result"]["child"], json!({"n": 1}), "{job:#}");

    let approval = client
        .create(
            "/api/v1/jobs/approval",
            json!({"initial_data": {"title": "x"}}),
        )
        .await;
    client.wait_status(&approval, "waiting_for_human", T).await;
    let resp = reqwest::Client::new()
        .post(format!(
            "{}/_public/webhooks/approval/{approval}",
            a.base_url
        ))
        .header("X-Client-Token", CLIENT_TOKEN)
        .json(&json!({"decision": "approved"}))
        .send()
        .await
        .expect("approval request");
    assert_eq!(resp.status().as_u16(), 200);
    let job = client.wait_status(&approval, "finished", T).await;
    assert_eq!(job["result"]["approval"]["decision"], "approved");

    let items: Vec<Value> = (1..=5).map(|v| json!({"value": v})).collect();
    let sum = client
        .create(
            "/api/v1/jobs/sum_items",
            json!({"initial_data": {"items": items}}),
        )
        .await;
    let job = client.wait_status(&sum, "finished", T).await;
    assert_eq!(job["result"]["sum"], 15.0, "{job:#}");
    worker.shutdown().await.expect("clean shutdown");
    a.stop().await;
    b.stop().await;
}
