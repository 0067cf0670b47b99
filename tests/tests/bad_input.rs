//! Bad input gets a clear 4xx in the API's error shape and changes nothing.

use baton_tests::orchestrator::test_config;
use baton_tests::raw_worker::{now_secs, RawWorker};
use baton_tests::{init_tracing, Client, Orchestrator};
use reqwest::Method;
use serde_json::{json, Value};

async fn setup() -> (Orchestrator, Client) {
    init_tracing();
    let mut cfg = test_config();
    cfg.max_body_bytes = 2048;
    let dir = std::env::temp_dir().join(format!("baton-bad-input-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let tokens = dir.join("workers.yaml");
    std::fs::write(&tokens, "own-worker: own-secret\n").expect("tokens file");
    cfg.worker_tokens_file = Some(tokens);
    let orch = Orchestrator::memory(cfg).await;
    let client = Client::new(&orch.base_url);
    (orch, client)
}

/// A 4xx with `{"error": "...", "code": "..."}` whose message mentions `needle`.
fn assert_error(got: (u16, Value), status: u16, needle: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    let msg = got.1["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message in {}", got.1));
    assert!(got.1["code"].is_string(), "{}", got.1);
    assert!(
        msg.to_lowercase().contains(&needle.to_lowercase()),
        "`{msg}` should mention `{needle}`"
    );
}

async fn raw_post(client: &Client, path: &str, token: Option<&str>, body: &str) -> (u16, Value) {
    let mut req = client
        .http
        .post(format!("{}{path}", client.base_url))
        .body(body.to_string());
    if let Some(t) = token {
        req = req.header("X-Client-Token", t);
    }
    let resp = req.send().await.expect("sent");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn job_count(client: &Client) -> i64 {
    let (_, dash) = client.get("/api/v1/dashboard").await;
    dash["jobs"]
        .as_object()
        .map(|m| m.values().filter_map(Value::as_i64).sum())
        .unwrap_or(0)
}

#[tokio::test]
async fn client_api_rejects_bad_requests_without_creating_jobs() {
    let (orch, client) = setup().await;
    let tok = Some("client-token");
    assert_error(
        raw_post(&client, "/api/v1/jobs/echo", tok, "{not json").await,
        400,
        "malformed JSON",
    );
    assert_error(
        raw_post(&client, "/api/v1/jobs/echo", tok, "[1,2]").await,
        400,
        "JSON object",
    );
    assert_error(
        client
            .post("/api/v1/jobs/echo", json!({"initial_data": "text"}))
            .await,
        400,
        "initial_data",
    );
    assert_error(
        client
            .post("/api/v1/jobs/echo", json!({"inital_data": {}}))
            .await,
        400,
        "unknown field",
    );
    assert_error(
        client
            .post("/api/v1/jobs/echo", json!({"webhook_url": "not a url"}))
            .await,
        400,
        "webhook_url",
    );
    assert_error(
        client
            .post("/api/v1/jobs/echo", json!({"dispatch_timeout": "soon"}))
            .await,
        400,
        "dispatch_timeout",
    );
    assert_error(
        client.post("/api/v1/jobs/nope", json!({})).await,
        404,
        "no blueprint",
    );
    assert_error(
        client.post("/api/v2/jobs/echo", json!({})).await,
        404,
        "no blueprint",
    );
    assert_error(
        raw_post(&client, "/api/v1/jobs/echo", None, "{}").await,
        401,
        "X-Client-Token",
    );
    assert_error(
        raw_post(&client, "/api/v1/jobs/echo", Some("wrong"), "{}").await,
        401,
        "invalid client token",
    );
    let big = json!({"initial_data": {"blob": "x".repeat(4096)}}).to_string();
    assert_error(
        raw_post(&client, "/api/v1/jobs/echo", tok, &big).await,
        413,
        "exceeds 2048 bytes",
    );
    assert_error(
        Client::with_token(&orch.base_url, "wrong")
            .get("/api/v1/workers")
            .await,
        401,
        "invalid",
    );
    assert_error(client.get("/nothing-here").await, 404, "no such route");
    // Any POST under /api may be a blueprint endpoint, so other methods there are 405.
    assert_error(
        client.get("/api/v1/nothing-here").await,
        405,
        "method not allowed",
    );
    assert_eq!(job_count(&client).await, 0, "no job was created");
    // An empty body is a job with no input.
    let (status, _) = raw_post(&client, "/api/v1/jobs/echo", tok, "").await;
    assert_eq!(status, 202);
    orch.stop().await;
}

#[tokio::test]
async fn worker_api_rejects_bad_tokens_signatures_and_bodies() {
    let (orch, client) = setup().await;
    let worker = RawWorker::new(&orch.base_url, "w1");
    assert_eq!(worker.register(&["echo"]).await.0, 200);
    let id = client.create_echo(json!({})).await;
    let (_, task) = worker.poll("echo", 5).await;

    let mut intruder = RawWorker::new(&orch.base_url, "w1");
    intruder.token = "wrong".into();
    assert_error(
        intruder.result(intruder.success(&task, json!({}))).await,
        403,
        "invalid worker token",
    );
    intruder.token = String::new();
    assert_error(intruder.poll("echo", 1).await, 403, "X-Worker-Token");

    // A signature made with another secret, a tampered body, a stale timestamp.
    let mut forged = worker.success(&task, json!({"x": 1}));
    forged["security"]["signature"] = json!("00".repeat(32));
    assert_error(worker.result(forged).await, 403, "signature");
    let mut tampered = worker.success(&task, json!({"x": 1}));
    tampered["data"] = json!({"x": 2});
    assert_error(worker.result(tampered).await, 403, "signature");
    let mut stale =
        json!({"job_id": id, "task_id": task["task_id"], "worker_id": "w1", "data": {}});
    stale["timestamp"] = json!(now_secs() - 3600);
    let sig = baton_protocol::signing::sign(&stale, &worker.token, &[]);
    stale["security"] = json!({"signature": sig, "signer_id": "w1"});
    assert_error(worker.result(stale).await, 403, "timestamp");
    let mut wrong_signer = worker.success(&task, json!({}));
    wrong_signer["security"]["signer_id"] = json!("w2");
    assert_error(worker.result(wrong_signer).await, 403, "signer");

    // An individual token acts only for its own worker.
    let mut own = RawWorker::new(&orch.base_url, "own-worker");
    own.token = "own-secret".into();
    assert_eq!(own.register(&["echo"]).await.0, 200);
    let mut impostor = RawWorker::new(&orch.base_url, "w1");
    impostor.token = "own-secret".into();
    assert_error(
        impostor.result(impostor.success(&task, json!({}))).await,
        403,
        "cannot act as",
    );

    // Malformed bodies.
    let post = |body: &str| {
        worker.send(
            Method::POST,
            "/_worker/tasks/result",
            Some(body.to_string()),
        )
    };
    assert_error(post("{oops").await, 400, "malformed JSON");
    assert_error(post("{\"job_id\": 5}").await, 400, "invalid task result");
    assert_error(
        post(&json!({"job_id": "", "task_id": "", "worker_id": "w1"}).to_string()).await,
        400,
        "job_id and task_id",
    );
    assert_error(
        post(&format!("{{\"pad\":\"{}\"}}", "y".repeat(4096))).await,
        413,
        "exceeds",
    );
    let bad_id = RawWorker::new(&orch.base_url, "bad id!");
    assert_error(bad_id.register(&["echo"]).await, 400, "worker_id");
    assert_error(worker.register(&["no spaces allowed"]).await, 400, "skill");
    let odd = worker
        .sign(json!({"worker_id": "w1", "supported_tasks": ["echo"], "incarnation": "not an id!"}));
    assert_error(
        worker
            .send(
                Method::POST,
                "/_worker/workers/register",
                Some(odd.to_string()),
            )
            .await,
        400,
        "incarnation",
    );
    let heartbeat = worker.sign(json!({"worker_id": "someone-else", "status": "idle"}));
    assert_error(
        worker.heartbeat(Some(heartbeat)).await,
        400,
        "does not match",
    );
    assert_error(
        worker
            .send(
                Method::GET,
                "/_worker/workers/w1/tasks/next?timeout=soon",
                None,
            )
            .await,
        400,
        "timeout",
    );

    // None of it touched the job.
    let job = client.job(&id).await;
    assert_eq!(job["status"], "running", "{job}");
    assert_eq!(job["tasks"][0]["worker_id"], "w1");
    assert_eq!(
        worker
            .result(worker.success(&task, json!({"ok": 1})))
            .await
            .1["status"],
        "accepted"
    );
    orch.stop().await;
}

/// Seconds in queries are checked before anything converts them: a huge or odd value is
/// a 400 naming the parameter (it used to panic the request and drop the connection).
#[tokio::test]
async fn huge_or_odd_seconds_in_queries_get_a_400_naming_the_parameter() {
    let (orch, client) = setup().await;
    let id = client.create_echo(json!({})).await;
    let worker = RawWorker::new(&orch.base_url, "w1");
    assert_eq!(worker.register(&["echo"]).await.0, 200);
    for bad in ["1e20", "1000000001", "-1", "NaN", "inf", "soon"] {
        assert_error(
            client.get(&format!("/api/v1/jobs/{id}?wait={bad}")).await,
            400,
            "wait",
        );
        for route in ["next", "batch"] {
            let path = format!(
                "/_worker/workers/w1/tasks/{route}?timeout={bad}&available_skills=echo&max=2"
            );
            assert_error(worker.send(Method::GET, &path, None).await, 400, "timeout");
        }
    }
    for field in ["dispatch_timeout", "result_timeout"] {
        assert_error(
            client.post("/api/v1/jobs/echo", json!({field: 1e20})).await,
            400,
            field,
        );
    }
    let (status, job) = client.get(&format!("/api/v1/jobs/{id}?wait=0.1")).await;
    assert_eq!(
        (status, job["status"].as_str()),
        (200, Some("pending")),
        "{job}"
    );
    assert_eq!(job_count(&client).await, 1, "no other job was created");
    // Nothing was taken: the next good poll gets the task.
    let (status, task) = worker.poll("echo", 1).await;
    assert_eq!((status, task["job_id"].as_str()), (200, Some(id.as_str())));
    orch.stop().await;
}

#[tokio::test]
async fn signatures_can_be_required() {
    init_tracing();
    let mut cfg = test_config();
    cfg.require_signatures = true;
    let orch = Orchestrator::memory(cfg).await;
    let worker = RawWorker::new(&orch.base_url, "w1");
    let unsigned = json!({"worker_id": "w1", "supported_tasks": ["echo"]});
    assert_error(
        worker
            .send(
                Method::POST,
                "/_worker/workers/register",
                Some(unsigned.to_string()),
            )
            .await,
        403,
        "requires signed",
    );
    assert_eq!(
        worker.register(&["echo"]).await.0,
        200,
        "signed registration accepted"
    );
    orch.stop().await;
}

#[tokio::test]
async fn jobs_are_visible_only_to_the_client_that_created_them() {
    init_tracing();
    let dir = std::env::temp_dir().join(format!("baton-clients-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("clients.yaml");
    std::fs::write(
        &file,
        "clients:\n  - {name: alice, token: alice-token}\n  - {name: bob, token: bob-token}\n",
    )
    .expect("file");
    let mut cfg = test_config();
    cfg.client_token = None;
    cfg.clients_file = Some(file);
    let orch = Orchestrator::memory(cfg).await;
    let alice = Client::with_token(&orch.base_url, "alice-token");
    let bob = Client::with_token(&orch.base_url, "bob-token");
    let id = alice.create_echo(json!({"secret": 1})).await;
    assert_eq!(alice.job(&id).await["status"], "pending");
    assert_error(
        bob.get(&format!("/api/v1/jobs/{id}")).await,
        403,
        "another client",
    );
    assert_error(
        bob.get(&format!("/api/v1/jobs/{id}/history")).await,
        403,
        "another client",
    );
    assert_error(bob.cancel(&id).await, 403, "another client");
    assert_eq!(
        alice.job(&id).await["status"],
        "pending",
        "bob's cancel changed nothing"
    );
    assert_eq!(alice.cancel(&id).await.0, 200);
    orch.stop().await;
}
