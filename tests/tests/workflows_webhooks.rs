//! Inbound webhooks end to end on both stores: managed with a login token (the secret
//! shown once, redacted after, kept on an update without one, regenerated), deliveries
//! signed with HMAC-SHA256 (with and without the `sha256=` prefix, with a signed
//! timestamp, GitHub's header), refused without a valid signature (401), for an unknown
//! (404) or disabled (400) webhook, their payload mapped to variables (dot paths, list
//! indexes, defaults), a delivery id seen twice starting one execution, a slow execution
//! answered 202 with its id; history rows; and the rate limit shared by two
//! orchestrators.

use baton_tests::backend::{start, Backend};
use baton_tests::workflows::{config, envelope, logged_in, workflow_worker, Answer, Api};
use baton_tests::{on_both_stores, shared_redis, unique_prefix, Orchestrator};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::time::Duration;

fn sign(secret: &str, data: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(data);
    hex::encode(mac.finalize().into_bytes())
}

/// Delivers `body` to `/hooks/{id}` with `headers`.
async fn deliver(base: &str, id: &str, body: &str, headers: &[(&str, String)]) -> Answer {
    let mut req = reqwest::Client::new()
        .post(format!("{base}/hooks/{id}"))
        .header("Content-Type", "application/json")
        .body(body.to_string());
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        headers,
        body,
    }
}

async fn ok(api: &Api, method: &str, path: &str, body: Option<Value>) -> Value {
    let a = api.call(method, path, body).await;
    assert_eq!(a.status, 200, "{method} {path}: {}", a.body);
    a.body
}

fn push_workflow() -> Value {
    json!({"id": "on-push", "name": "On push", "outputs": ["summary"], "steps": [
        {"id": "s", "type": "transform", "outputs": ["summary"],
         "params": {"template": "${repo} ${second} ${email} ${notify}"}}]})
}

fn push_hook() -> Value {
    json!({"id": "github-push", "name": "GitHub push", "workflow_id": "on-push",
        "static_variables": {"notify": true, "repo": "static"},
        "payload_mappings": [
            {"source_path": "repository.full_name", "target_variable": "repo"},
            {"source_path": "commits.1.id", "target_variable": "second"},
            {"source_path": "pusher.email", "target_variable": "email", "default": "nobody"}]})
}

const PAYLOAD: &str =
    r#"{"repository": {"full_name": "u/r"}, "commits": [{"id": "c1"}, {"id": "c2"}]}"#;

async fn webhooks_are_managed_and_deliveries_checked(backend: Backend) {
    let (orch, _, _) = start(backend, config(), "wf-hooks").await;
    let worker = workflow_worker(&orch.base_url, "wf-hooks-w");
    let api = logged_in(&orch.base_url).await;
    let base = orch.base_url.clone();
    ok(&api, "POST", "/v1/workflows", Some(push_workflow())).await;
    let created = ok(&api, "POST", "/v1/webhooks", Some(push_hook())).await;
    assert_eq!(created["trigger_url"], "/hooks/github-push");
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.len() >= 32, "{created}");
    envelope(
        &api.call("POST", "/v1/webhooks", Some(push_hook())).await,
        409,
        "CONFLICT",
    );
    let mut bad = push_hook();
    bad["id"] = "bad".into();
    bad["workflow_id"] = "ghost".into();
    let a = api.call("POST", "/v1/webhooks", Some(bad.clone())).await;
    envelope(&a, 400, "VALIDATION");
    assert_eq!(a.body["error"]["details"]["field"], "workflow_id");
    bad["workflow_id"] = "on-push".into();
    bad["payload_mappings"] = json!([{"source_path": "", "target_variable": "x"}]);
    let a = api.call("POST", "/v1/webhooks", Some(bad)).await;
    assert_eq!(
        a.body["error"]["details"]["field"],
        "payload_mappings[0].source_path"
    );
    let one = ok(&api, "GET", "/v1/webhooks/github-push", None).await;
    assert_eq!(one["secret"], "***REDACTED***");
    assert!(
        !one.to_string().contains(&secret),
        "the secret is never read back"
    );

    // A good delivery, with the prefix: the mappings fill the variables.
    let sig = format!("sha256={}", sign(&secret, PAYLOAD.as_bytes()));
    let r = deliver(
        &base,
        "github-push",
        PAYLOAD,
        &[("X-Webhook-Signature", sig.clone())],
    )
    .await;
    let (status, body) = (r.status, r.body);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "success");
    assert_eq!(body["result"]["summary"], "u/r c2 nobody true", "{body}");
    assert_eq!(body["duplicate"], false);
    // Without the prefix, and GitHub's own header.
    let bare = sign(&secret, PAYLOAD.as_bytes());
    assert_eq!(
        deliver(
            &base,
            "github-push",
            PAYLOAD,
            &[("X-Webhook-Signature", bare.clone())]
        )
        .await
        .status,
        200
    );
    assert_eq!(
        deliver(
            &base,
            "github-push",
            PAYLOAD,
            &[("X-Hub-Signature-256", sig.clone())]
        )
        .await
        .status,
        200
    );

    // Refusals, in the envelope, starting nothing.
    let before = ok(&api, "GET", "/v1/executions", None).await["total"].clone();
    let wrong = format!("sha256={}", sign("not-the-secret", PAYLOAD.as_bytes()));
    let r = deliver(
        &base,
        "github-push",
        PAYLOAD,
        &[("X-Webhook-Signature", wrong)],
    )
    .await;
    envelope(&r, 401, "AUTH_FAILED");
    let r = deliver(&base, "github-push", PAYLOAD, &[]).await;
    envelope(&r, 401, "AUTH_FAILED");
    let r = deliver(
        &base,
        "github-push",
        r#"{"changed": 1}"#,
        &[("X-Webhook-Signature", sig.clone())],
    )
    .await;
    envelope(&r, 401, "AUTH_FAILED");
    let r = deliver(
        &base,
        "ghost",
        PAYLOAD,
        &[("X-Webhook-Signature", sig.clone())],
    )
    .await;
    envelope(&r, 404, "NOT_FOUND");
    let stale_ts = (baton_protocol::clock::now_ms() / 1000 - 1000).to_string();
    let stale = sign(&secret, format!("{stale_ts}.{PAYLOAD}").as_bytes());
    let r = deliver(
        &base,
        "github-push",
        PAYLOAD,
        &[
            ("X-Webhook-Signature", stale),
            ("X-Webhook-Timestamp", stale_ts),
        ],
    )
    .await;
    envelope(&r, 401, "AUTH_FAILED");
    assert_eq!(
        ok(&api, "GET", "/v1/executions", None).await["total"],
        before,
        "nothing started"
    );
    // A fresh signed timestamp is taken.
    let ts = (baton_protocol::clock::now_ms() / 1000).to_string();
    let stamped = sign(&secret, format!("{ts}.{PAYLOAD}").as_bytes());
    assert_eq!(
        deliver(
            &base,
            "github-push",
            PAYLOAD,
            &[
                ("X-Webhook-Signature", stamped),
                ("X-Webhook-Timestamp", ts)
            ]
        )
        .await
        .status,
        200
    );

    // The same delivery id twice: one execution.
    let first = deliver(
        &base,
        "github-push",
        PAYLOAD,
        &[
            ("X-Webhook-Signature", sig.clone()),
            ("X-GitHub-Delivery", "d-1".into()),
        ],
    )
    .await;
    let again = deliver(
        &base,
        "github-push",
        PAYLOAD,
        &[
            ("X-Webhook-Signature", sig.clone()),
            ("X-GitHub-Delivery", "d-1".into()),
        ],
    )
    .await;
    assert_eq!((first.status, again.status), (200, 200));
    assert_eq!(first.body["execution_id"], again.body["execution_id"]);
    assert_eq!(
        (
            first.body["duplicate"].as_bool(),
            again.body["duplicate"].as_bool()
        ),
        (Some(false), Some(true))
    );

    // History and counts: five deliveries started executions.
    let rows = ok(
        &api,
        "GET",
        "/v1/webhooks/github-push/history?limit=50",
        None,
    )
    .await;
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 5, "{rows:?}");
    let d1 = rows.iter().find(|r| r["delivery_id"] == "d-1").unwrap();
    assert_eq!(d1["status"], "success");
    assert_eq!(d1["source_ip"], "127.0.0.1");
    assert_eq!(d1["payload_size"], PAYLOAD.len());
    assert!(d1["duration_seconds"].as_f64().is_some(), "{d1}");
    let listed = ok(&api, "GET", "/v1/webhooks", None).await;
    assert_eq!(listed[0]["trigger_count"], 5, "{listed}");
    assert!(listed[0]["last_triggered"].is_string());

    // An update without a secret keeps it; disabled refuses deliveries (400).
    let mut disabled = push_hook();
    disabled["status"] = "disabled".into();
    ok(&api, "PUT", "/v1/webhooks/github-push", Some(disabled)).await;
    let r = deliver(
        &base,
        "github-push",
        PAYLOAD,
        &[("X-Webhook-Signature", sig.clone())],
    )
    .await;
    envelope(&r, 400, "VALIDATION");
    ok(&api, "PUT", "/v1/webhooks/github-push", Some(push_hook())).await;
    assert_eq!(
        deliver(
            &base,
            "github-push",
            PAYLOAD,
            &[("X-Webhook-Signature", sig.clone())]
        )
        .await
        .status,
        200,
        "the secret was kept"
    );
    // A new secret: the old one no longer signs.
    let fresh = ok(
        &api,
        "POST",
        "/v1/webhooks/github-push/regenerate-secret",
        None,
    )
    .await;
    let new_secret = fresh["secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    assert_eq!(
        deliver(
            &base,
            "github-push",
            PAYLOAD,
            &[("X-Webhook-Signature", sig)]
        )
        .await
        .status,
        401
    );
    let new_sig = sign(new_secret, PAYLOAD.as_bytes());
    assert_eq!(
        deliver(
            &base,
            "github-push",
            PAYLOAD,
            &[("X-Webhook-Signature", new_sig)]
        )
        .await
        .status,
        200
    );

    for (method, path) in [
        ("GET", "/v1/webhooks/ghost"),
        ("DELETE", "/v1/webhooks/ghost"),
        ("POST", "/v1/webhooks/ghost/regenerate-secret"),
        ("GET", "/v1/webhooks/ghost/history"),
    ] {
        envelope(&api.call(method, path, None).await, 404, "NOT_FOUND");
    }
    envelope(
        &Api::new(&base).call("GET", "/v1/webhooks", None).await,
        401,
        "AUTH_FAILED",
    );
    ok(&api, "DELETE", "/v1/webhooks/github-push", None).await;
    let r = deliver(&base, "github-push", PAYLOAD, &[]).await;
    envelope(&r, 404, "NOT_FOUND");
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"baton_workflows_hook_deliveries_total{status="duplicate"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"baton_workflows_hook_deliveries_total{status="unauthorized"} 5"#),
        "{metrics}"
    );
    worker.shutdown().await.ok();
    orch.stop().await;
}

/// An execution longer than the answer's bound: 202 with its id, and it goes on.
async fn a_slow_execution_is_answered_running(backend: Backend) {
    let mut cfg = config();
    cfg.workflows.hook_wait = Duration::from_millis(300);
    let (orch, _, _) = start(backend, cfg, "wf-hooks-slow").await;
    let worker = workflow_worker(&orch.base_url, "wf-hooks-slow-w");
    let api = logged_in(&orch.base_url).await;
    ok(&api, "POST", "/v1/workflows", Some(json!({"id": "slow", "name": "Slow", "steps": [
        {"id": "nap", "type": "shell", "params": {"command": "sleep 1; echo up"}, "outputs": ["up"]}]}))).await;
    let mut hook = push_hook();
    hook["workflow_id"] = "slow".into();
    hook["secret"] = "a-secret-of-my-own-choosing".into();
    ok(&api, "POST", "/v1/webhooks", Some(hook)).await;
    let sig = sign("a-secret-of-my-own-choosing", b"{}");
    let r = deliver(
        &orch.base_url,
        "github-push",
        "{}",
        &[("X-Webhook-Signature", sig)],
    )
    .await;
    let (status, body) = (r.status, r.body);
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "running");
    let exec = body["execution_id"].as_str().unwrap();
    assert_eq!(body["poll_url"], format!("/v1/executions/{exec}"));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let e = ok(&api, "GET", &format!("/v1/executions/{exec}"), None).await;
        if e["status"] == "completed" {
            assert_eq!(e["outputs"]["up"], "up");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{e}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    worker.shutdown().await.ok();
    orch.stop().await;
}

on_both_stores!(
    webhooks_are_managed_and_deliveries_checked,
    a_slow_execution_is_answered_running,
);

/// The per-IP limit of deliveries counts on every orchestrator of one Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_delivery_rate_limit_is_shared_by_two_orchestrators() {
    baton_tests::init_tracing();
    let prefix = unique_prefix("wf-hooks-rate");
    let url = shared_redis().url();
    let mut cfg = config();
    cfg.workflows.rate_limits.hooks = 3;
    let a = Orchestrator::redis(cfg.clone(), &url, &prefix).await;
    let b = Orchestrator::redis(cfg, &url, &prefix).await;
    let worker = workflow_worker(&a.base_url, "wf-hooks-rate-w");
    let api = logged_in(&a.base_url).await;
    ok(&api, "POST", "/v1/workflows", Some(push_workflow())).await;
    let created = ok(&api, "POST", "/v1/webhooks", Some(push_hook())).await;
    let sig = sign(created["secret"].as_str().unwrap(), PAYLOAD.as_bytes());
    let headers = [("X-Webhook-Signature", sig)];
    let mut codes = Vec::new();
    for base in [&a.base_url, &b.base_url, &a.base_url, &b.base_url] {
        codes.push(deliver(base, "github-push", PAYLOAD, &headers).await);
    }
    let statuses: Vec<u16> = codes.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [200, 200, 200, 429]);
    envelope(&codes[3], 429, "RATE_LIMITED");
    worker.shutdown().await.ok();
    a.stop().await;
    b.stop().await;
}
