//! The workflow face end to end, on both stores: login and tokens, workflow definitions
//! (JSON and YAML), the error envelope on every error, the rate limits (shared by two
//! orchestrators on one Redis), the probes.

use baton_orchestrator::store::redis::RedisStore;
use baton_orchestrator::Stores;
use baton_tests::backend::{start, Backend};
use baton_tests::workflows::{config, envelope, Api, SECRET};
use baton_tests::{on_both_stores, shared_redis, Orchestrator, RedisServer};
use baton_workflows::auth::Signer;
use serde_json::{json, Value};

fn pipeline() -> Value {
    json!({
        "id": "brief", "name": "Brief", "description": "two drafts, one merge",
        "variables": {"tone": "dry"},
        "steps": [
            {"id": "draft-a", "type": "ai-prompt", "params": {"prompt": "{{topic}} ({{tone}})"}, "outputs": ["a"]},
            {"id": "draft-b", "type": "shell", "params": {"command": "echo b"}, "outputs": ["b"]},
            {"id": "merge", "type": "transform", "depends_on": ["draft-a", "draft-b"],
             "params": {"template": "{{a}} / {{b}}"}, "outputs": ["brief"]},
        ],
    })
}

async fn logins_issue_tokens_every_route_checks(backend: Backend) {
    let (orch, _, _) = start(backend, config(), "wf-login").await;
    let mut api = Api::new(&orch.base_url);
    let refused = api.login("admin", "wrong").await;
    envelope(&refused, 401, "AUTH_FAILED");
    assert_eq!(refused.body["error"]["message"], "Invalid credentials");
    envelope(
        &api.call("GET", "/v1/workflows", None).await,
        401,
        "AUTH_FAILED",
    );
    let ok = api.login("admin", "demo").await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["token_type"], "bearer");
    let token = ok.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(token.split('.').count(), 3, "a JWT");
    assert_eq!(api.call("GET", "/v1/workflows", None).await.status, 200);
    // Forged (signed with another key) and expired tokens are refused.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for bad in [
        Signer::new("another-key-another-key-another-key").issue("admin", now, 600),
        Signer::new(SECRET).issue("admin", now - 7200, 60),
        format!("{token}x"),
        "garbage".to_string(),
    ] {
        let mut forged = Api::new(&orch.base_url);
        forged.token = Some(bad);
        envelope(
            &forged.call("GET", "/v1/workflows", None).await,
            401,
            "AUTH_FAILED",
        );
    }
    // A token made with the same key by another process is accepted: nothing is stored.
    let mut other = Api::new(&orch.base_url);
    other.token = Some(Signer::new(SECRET).issue("ops", now, 600));
    assert_eq!(other.call("GET", "/v1/workflows", None).await.status, 200);
    orch.stop().await;
}

async fn workflows_are_validated_saved_replaced_and_deleted(backend: Backend) {
    let (orch, _, _) = start(backend, config(), "wf-crud").await;
    let mut api = Api::new(&orch.base_url);
    api.login("admin", "demo").await;
    let created = api.call("POST", "/v1/workflows", Some(pipeline())).await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert_eq!(
        created.body,
        json!({"status": "success", "workflow_id": "brief"})
    );
    envelope(
        &api.call("POST", "/v1/workflows", Some(pipeline())).await,
        409,
        "CONFLICT",
    );
    let got = api.call("GET", "/v1/workflows/brief", None).await;
    assert_eq!(got.status, 200);
    assert_eq!(
        got.body["steps"][2]["depends_on"],
        json!(["draft-a", "draft-b"])
    );
    assert_eq!(got.body["variables"], json!({"tone": "dry"}));
    assert!(got.body["created_at"].as_str().unwrap().ends_with('Z'));

    // Bad definitions: 422 naming the step and field, and nothing saved.
    let mut cyclic = pipeline();
    cyclic["id"] = json!("cyclic");
    cyclic["steps"][0]["depends_on"] = json!(["merge"]);
    let a = api.call("POST", "/v1/workflows", Some(cyclic)).await;
    envelope(&a, 422, "VALIDATION");
    assert!(
        a.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cycle"),
        "{}",
        a.body
    );
    let mut missing = pipeline();
    missing["id"] = json!("missing");
    missing["steps"][2]["depends_on"] = json!(["draft-a", "ghost"]);
    let a = api.call("POST", "/v1/workflows", Some(missing)).await;
    envelope(&a, 422, "VALIDATION");
    assert_eq!(a.body["error"]["details"]["step_id"], "merge");
    assert_eq!(a.body["error"]["details"]["field"], "steps[2].depends_on");
    let mut unknown = pipeline();
    unknown["id"] = json!("unknown");
    unknown["steps"][1]["type"] = json!("teleport");
    envelope(
        &api.call("POST", "/v1/workflows", Some(unknown)).await,
        422,
        "VALIDATION",
    );
    let raw = api
        .send(
            api.http
                .post(format!("{}/v1/workflows", orch.base_url))
                .header("content-type", "application/json")
                .body("{not json"),
        )
        .await;
    envelope(&raw, 400, "VALIDATION");
    let listed = api.call("GET", "/v1/workflows", None).await;
    assert_eq!(
        listed.body,
        json!([{"id": "brief", "name": "Brief", "description": "two drafts, one merge", "version": "1.0"}]),
        "only the valid workflow was saved"
    );

    // Replace: the path names the workflow; a body naming another is refused.
    let mut v2 = pipeline();
    v2["name"] = json!("Brief v2");
    assert_eq!(
        api.call("PUT", "/v1/workflows/brief", Some(v2.clone()))
            .await
            .status,
        200
    );
    assert_eq!(
        api.call("GET", "/v1/workflows/brief", None).await.body["name"],
        "Brief v2"
    );
    v2["id"] = json!("other");
    envelope(
        &api.call("PUT", "/v1/workflows/brief", Some(v2)).await,
        422,
        "VALIDATION",
    );
    envelope(
        &api.call("PUT", "/v1/workflows/nope", Some(pipeline()))
            .await,
        404,
        "NOT_FOUND",
    );
    // A YAML workflow's id is taken.
    let mut clash = pipeline();
    clash["id"] = json!("decision-support");
    envelope(
        &api.call("POST", "/v1/workflows", Some(clash)).await,
        409,
        "CONFLICT",
    );

    assert_eq!(
        api.call("DELETE", "/v1/workflows/brief", None).await.body,
        json!({"status": "success"})
    );
    envelope(
        &api.call("DELETE", "/v1/workflows/brief", None).await,
        404,
        "NOT_FOUND",
    );
    envelope(
        &api.call("GET", "/v1/workflows/brief", None).await,
        404,
        "NOT_FOUND",
    );
    orch.stop().await;
}

async fn yaml_workflows_are_served_from_the_directory(backend: Backend) {
    let (orch, _, _) = start(backend, config(), "wf-yaml").await;
    let mut api = Api::new(&orch.base_url);
    api.login("admin", "demo").await;
    let list = api.call("GET", "/v1/yaml-workflows", None).await;
    let ids: Vec<&str> = list.body["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["decision-support", "release-check"]);
    let one = api
        .call("GET", "/v1/yaml-workflows/decision-support", None)
        .await;
    assert_eq!(one.body["name"], "Decision Support");
    assert_eq!(one.body["inputs"]["question"]["required"], true);
    assert_eq!(one.body["outputs"], json!(["recommendation"]));
    assert!(one.body["path"]
        .as_str()
        .unwrap()
        .ends_with("decision-support.yaml"));
    envelope(
        &api.call("GET", "/v1/yaml-workflows/nope", None).await,
        404,
        "NOT_FOUND",
    );
    orch.stop().await;
}

async fn every_error_is_the_envelope_with_the_request_id(backend: Backend) {
    let mut cfg = config();
    cfg.max_body_bytes = 2048;
    let (orch, _, _) = start(backend, cfg, "wf-envelope").await;
    let mut api = Api::new(&orch.base_url);
    api.login("admin", "demo").await;
    envelope(
        &api.call("GET", "/v1/no-such-route", None).await,
        404,
        "NOT_FOUND",
    );
    envelope(
        &api.call("PATCH", "/v1/workflows", None).await,
        405,
        "METHOD_NOT_ALLOWED",
    );
    envelope(
        &api.call("GET", "/health/nope", None).await,
        404,
        "NOT_FOUND",
    );
    let big = json!({"id": "big", "name": "x".repeat(4096), "steps": []});
    envelope(
        &api.call("POST", "/v1/workflows", Some(big)).await,
        413,
        "PAYLOAD_TOO_LARGE",
    );
    // The caller's request id is echoed, on errors and on answers.
    let a = api
        .send(
            api.http
                .get(format!("{}/v1/workflows/nope", orch.base_url))
                .header("X-Request-ID", "trace-42"),
        )
        .await;
    assert_eq!(a.body["error"]["request_id"], "trace-42");
    assert_eq!(a.headers["x-request-id"], "trace-42");
    let ok = api.call("GET", "/v1/workflows", None).await;
    assert!(ok.headers.contains_key("x-request-id"));
    // The other faces keep their own shape.
    let other = reqwest::get(format!("{}/api/v1/jobs/x", orch.base_url))
        .await
        .unwrap();
    let body: Value = other.json().await.unwrap();
    assert!(body["error"].is_string(), "{body}");
    orch.stop().await;
}

async fn probes_answer_without_a_token(backend: Backend) {
    let (orch, _, _) = start(backend, config(), "wf-health").await;
    let api = Api::new(&orch.base_url);
    assert_eq!(
        api.call("GET", "/health/live", None).await.body,
        json!({"status": "alive"})
    );
    assert_eq!(
        api.call("GET", "/health/ready", None).await.body,
        json!({"status": "ready"})
    );
    let db = api.call("GET", "/health/db", None).await;
    assert_eq!(db.status, 200);
    assert_eq!(db.body["database"], "connected");
    let kind = match backend {
        Backend::Memory => "memory",
        Backend::Redis => "redis",
    };
    assert_eq!(db.body["backend"], kind);
    assert_eq!(db.body["migrations"]["pending"], json!([]));
    let full = api.call("GET", "/health/full", None).await;
    assert_eq!(full.body["status"], "healthy");
    assert_eq!(full.body["application"]["ready"], true);
    assert!(full.body["uptime_seconds"].is_u64());
    let root = api.call("GET", "/", None).await;
    assert_eq!(root.body["app"], "Baton");
    assert_eq!(root.body["status"], "running");
    // `/health` stays the coding pipelines' answer, with a timestamp.
    let health = api.call("GET", "/health", None).await;
    assert_eq!(health.body["status"], "ok");
    assert!(health.body["timestamp"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    orch.stop().await;
}

async fn login_is_rate_limited_per_ip_and_route(backend: Backend) {
    let mut cfg = config();
    cfg.workflows.rate_limits.login = 3;
    let (orch, _, _) = start(backend, cfg, "wf-rate").await;
    let mut api = Api::new(&orch.base_url);
    for _ in 0..3 {
        assert_eq!(api.login("admin", "demo").await.status, 200);
    }
    // Other routes do not use the login allowance, and are not limited by it.
    for _ in 0..10 {
        assert_eq!(api.call("GET", "/health/live", None).await.status, 200);
        assert_eq!(api.call("GET", "/v1/workflows", None).await.status, 200);
    }
    let limited = api.login("admin", "demo").await;
    envelope(&limited, 429, "RATE_LIMITED");
    let retry: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(limited.body["retry_after"], retry);
    assert_eq!(limited.body["error"]["details"]["limit"], "3/minute");
    orch.stop().await;
}

on_both_stores!(
    logins_issue_tokens_every_route_checks,
    workflows_are_validated_saved_replaced_and_deleted,
    yaml_workflows_are_served_from_the_directory,
    every_error_is_the_envelope_with_the_request_id,
    probes_answer_without_a_token,
    login_is_rate_limited_per_ip_and_route,
);

/// Two orchestrators on one Redis: a token from one works on the other, a workflow made
/// on one is served by the other, and they count one rate limit together.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_orchestrators_on_one_redis_act_as_one() {
    baton_tests::init_tracing();
    let prefix = baton_tests::unique_prefix("wf-two");
    let url = shared_redis().url();
    let mut cfg = config();
    cfg.workflows.rate_limits.login = 4;
    let a = Orchestrator::redis(cfg.clone(), &url, &prefix).await;
    let b = Orchestrator::redis(cfg, &url, &prefix).await;
    let mut on_a = Api::new(&a.base_url);
    let mut on_b = Api::new(&b.base_url);
    assert_eq!(on_a.login("admin", "demo").await.status, 200);
    on_b.token = on_a.token.clone();
    assert_eq!(
        on_a.call("POST", "/v1/workflows", Some(pipeline()))
            .await
            .status,
        200
    );
    assert_eq!(
        on_b.call("GET", "/v1/workflows/brief", None).await.body["name"],
        "Brief"
    );
    for _ in 0..3 {
        assert_eq!(on_b.login("admin", "demo").await.status, 200);
    }
    envelope(&on_a.login("admin", "demo").await, 429, "RATE_LIMITED");
    envelope(&on_b.login("admin", "demo").await, 429, "RATE_LIMITED");
    a.stop().await;
    b.stop().await;
}

/// Started while Redis is down: the probes say not ready, the routes answer 503 in the
/// envelope; once Redis is up, they serve.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_the_store_answers_the_routes_say_so_in_the_envelope() {
    baton_tests::init_tracing();
    let mut redis = RedisServer::start();
    let url = redis.url();
    redis.stop();
    let store = RedisStore::open(&url, &baton_tests::unique_prefix("wf-down"), 4, 200)
        .expect("the URL parses");
    let orch = Orchestrator::start(config(), Stores::redis(store)).await;
    let mut api = Api::new(&orch.base_url);
    let ready = api.call("GET", "/health/ready", None).await;
    assert_eq!(ready.status, 503);
    assert_eq!(ready.body["status"], "not_ready");
    assert_eq!(
        api.call("GET", "/health/db", None).await.body["database"],
        "disconnected"
    );
    envelope(
        &api.login("admin", "demo").await,
        503,
        "SERVICE_UNAVAILABLE",
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    api.token = Some(Signer::new(SECRET).issue("admin", now, 600));
    let down = api.call("GET", "/v1/workflows", None).await;
    envelope(&down, 503, "SERVICE_UNAVAILABLE");
    assert!(
        !down.body.to_string().contains("127.0.0.1"),
        "no internals: {}",
        down.body
    );
    redis.restart();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while api.call("GET", "/health/ready", None).await.status != 200 {
        assert!(std::time::Instant::now() < deadline, "never ready");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(api.call("GET", "/v1/workflows", None).await.status, 200);
    orch.stop().await;
}
