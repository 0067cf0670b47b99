//! Waiting states end to end on both stores: human approval (proofs, decisions, the
//! webhook that hands out the secret, timeouts), cancel in every waiting status, and a
//! parallel branch whose worker dies.

use baton_tests::backend::Backend;
use baton_tests::orchestrator::{blueprint_test_config, CLIENT_TOKEN};
use baton_tests::webhook_sink::WebhookSink;
use baton_tests::{workers, Client, Orchestrator};
use serde_json::{json, Value};
use std::time::Duration;

async fn start(backend: Backend, name: &str) -> (Orchestrator, Client) {
    let (orch, client, _) =
        baton_tests::backend::start(backend, blueprint_test_config(), name).await;
    (orch, client)
}

baton_tests::on_both_stores!(
    approval_needs_proof_and_an_offered_decision,
    approval_secret_arrives_by_webhook_and_rejection_fails_the_job,
    approval_times_out_through_its_transition,
    cancel_works_in_every_waiting_status,
    parallel_branch_of_a_dead_worker_is_redispatched,
);

const T: Duration = Duration::from_secs(15);

/// `POST /_public/webhooks/approval/{id}` with optional client token and secret header.
async fn decide(
    orch: &Orchestrator,
    id: &str,
    body: Value,
    token: Option<&str>,
    secret: Option<&str>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{}/_public/webhooks/approval/{id}", orch.base_url))
        .json(&body);
    if let Some(t) = token {
        req = req.header("X-Client-Token", t);
    }
    if let Some(s) = secret {
        req = req.header("X-Approval-Secret", s);
    }
    let resp = req.send().await.expect("approval request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn approval_needs_proof_and_an_offered_decision(backend: Backend) {
    let (orch, client) = start(backend, "approve").await;
    let worker = workers::echo(&orch.base_url, "w-approve");
    let by_secret = client
        .create(
            "/api/v1/jobs/approval",
            json!({"initial_data": {"title": "A"}}),
        )
        .await;
    let by_token = client
        .create(
            "/api/v1/jobs/approval",
            json!({"initial_data": {"title": "B"}}),
        )
        .await;
    let waiting = client.wait_status(&by_secret, "waiting_for_human", T).await;
    assert_eq!(
        waiting["approval"]["message"], "Publish \"A\"?",
        "{waiting:#}"
    );
    assert_eq!(
        waiting["approval"]["decisions"],
        json!(["approved", "rejected"])
    );
    assert!(waiting["approval"]["expires_at"].is_string());
    let secret = waiting["approval"]["secret"]
        .as_str()
        .expect("secret")
        .to_string();
    let approve = json!({"decision": "approved"});

    // No proof, a wrong secret, an unknown token: refused, nothing changes.
    assert_eq!(
        decide(&orch, &by_secret, approve.clone(), None, None)
            .await
            .0,
        401
    );
    let (status, body) = decide(&orch, &by_secret, approve.clone(), None, Some("guess")).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        decide(&orch, &by_secret, approve.clone(), Some("nope"), None)
            .await
            .0,
        401
    );
    // Another wait's secret does not open this one.
    let other = client.wait_status(&by_token, "waiting_for_human", T).await;
    let other_secret = other["approval"]["secret"].as_str().expect("secret");
    assert_ne!(other_secret, secret);
    assert_eq!(
        decide(&orch, &by_secret, approve.clone(), None, Some(other_secret))
            .await
            .0,
        403
    );
    // Unknown job, a decision the state does not offer, a body without a decision.
    assert_eq!(
        decide(&orch, "no-such-job", approve.clone(), None, Some(&secret))
            .await
            .0,
        404
    );
    let (status, body) = decide(
        &orch,
        &by_secret,
        json!({"decision": "maybe"}),
        None,
        Some(&secret),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|m| m.contains("approved, rejected")),
        "{body}"
    );
    assert_eq!(
        decide(&orch, &by_secret, json!({}), None, Some(&secret))
            .await
            .0,
        400
    );
    assert_eq!(client.job(&by_secret).await["status"], "waiting_for_human");

    // The secret in the body works; a second decision is a conflict.
    let body = json!({"decision": "approved", "secret": secret, "comment": "ship it"});
    let (status, answer) = decide(&orch, &by_secret, body.clone(), None, None).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "approval_received");
    assert_eq!(answer["job_id"], by_secret.as_str());
    assert_eq!(decide(&orch, &by_secret, body, None, None).await.0, 409);
    let job = client.wait_status(&by_secret, "finished", T).await;
    assert_eq!(job["result"]["approval"]["decision"], "approved", "{job:#}");
    assert_eq!(job["result"]["approval"]["decided_by"], "secret");
    assert_eq!(job["result"]["approval"]["comment"], "ship it");
    assert_eq!(job["result"]["draft"]["title"], "A");
    assert!(job.get("approval").is_none(), "the wait is over: {job:#}");

    // The owner's token is proof enough.
    let (status, _) = decide(&orch, &by_token, approve, Some(CLIENT_TOKEN), None).await;
    assert_eq!(status, 200);
    let job = client.wait_status(&by_token, "finished", T).await;
    assert_eq!(job["result"]["approval"]["decided_by"], "client");
    let history = client.history(&by_token).await;
    let received: Vec<&Value> = history
        .iter()
        .filter(|e| e["event_type"] == "approval_received")
        .collect();
    assert_eq!(received.len(), 1, "{history:#?}");
    assert_eq!(received[0]["decision"], "approved");
    assert_eq!(received[0]["state"], "review");
    worker.shutdown().await.expect("clean shutdown");
    orch.stop().await;
}

async fn approval_secret_arrives_by_webhook_and_rejection_fails_the_job(backend: Backend) {
    let (orch, client) = start(backend, "approvehook").await;
    let worker = workers::echo(&orch.base_url, "w-approvehook");
    let sink = WebhookSink::start(1).await; // the first delivery fails and is retried
    let id = client
        .create(
            "/api/v1/jobs/approval",
            json!({"initial_data": {"title": "C"}, "webhook_url": sink.url}),
        )
        .await;
    let hooks = sink.wait_for(1, T).await;
    let request = &hooks[0];
    assert_eq!(request["event"], "approval_requested", "{request}");
    assert_eq!(request["job_id"], id.as_str());
    assert_eq!(request["decisions"], json!(["approved", "rejected"]));
    assert_eq!(
        request["approval_url"],
        format!("/_public/webhooks/approval/{id}")
    );
    let secret = request["secret"].as_str().expect("secret");
    let (status, _) = decide(
        &orch,
        &id,
        json!({"decision": "rejected"}),
        None,
        Some(secret),
    )
    .await;
    assert_eq!(status, 200);
    let job = client.wait_status(&id, "failed", T).await;
    assert_eq!(job["state"], "rejected", "{job:#}");
    let hooks = sink.wait_for(2, T).await;
    assert_eq!(hooks[1]["event"], "job_failed", "{hooks:#?}");
    worker.shutdown().await.expect("clean shutdown");
    orch.stop().await;
}

async fn approval_times_out_through_its_transition(backend: Backend) {
    let (orch, client) = start(backend, "approvetimeout").await;
    let id = client
        .create("/api/v1/jobs/quick_approval", json!({"initial_data": {}}))
        .await;
    let job = client.wait_status(&id, "failed", T).await;
    assert_eq!(job["state"], "expired", "{job:#}");
    let history = client.history(&id).await;
    assert!(
        history
            .iter()
            .any(|e| e["event_type"] == "approval_timed_out"),
        "{history:#?}"
    );
    let (status, _) = decide(
        &orch,
        &id,
        json!({"decision": "approved"}),
        Some(CLIENT_TOKEN),
        None,
    )
    .await;
    assert_eq!(status, 409, "too late");
    orch.stop().await;
}

async fn cancel_works_in_every_waiting_status(backend: Backend) {
    let (orch, client) = start(backend, "cancelwaits").await;
    let worker = workers::echo(&orch.base_url, "w-cancelwaits");
    // waiting_for_human
    let human = client
        .create("/api/v1/jobs/quick_approval", json!({"initial_data": {}}))
        .await;
    client.wait_status(&human, "waiting_for_human", T).await;
    assert_eq!(client.cancel(&human).await.0, 200);
    // waiting_for_parallel_tasks, with a branch running and others queued
    let items: Vec<Value> = (0..6)
        .map(|v| json!({"value": v, "sleep_ms": 60000}))
        .collect();
    let parallel = client
        .create(
            "/api/v1/jobs/sum_items",
            json!({"initial_data": {"items": items}}),
        )
        .await;
    client
        .wait_job(&parallel, T, |j| {
            j["status"] == "waiting_for_parallel_tasks"
                && j["parallel"]["running"].as_u64() > Some(0)
                && j["tasks"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t["state"] == "running"))
        })
        .await;
    assert_eq!(client.cancel(&parallel).await.0, 200);
    // waiting_for_sub_job, the child's task running
    let parent = client
        .create(
            "/api/v1/jobs/with_child",
            json!({"initial_data": {"child": {"sleep_ms": 60000}}}),
        )
        .await;
    let waiting = client.wait_status(&parent, "waiting_for_sub_job", T).await;
    let child = waiting["sub_job_id"]
        .as_str()
        .expect("child id")
        .to_string();
    // The child is created just after the parent starts waiting (by the `s` timer).
    let deadline = std::time::Instant::now() + T;
    while client.get(&format!("/api/v1/jobs/{child}")).await.1["status"] != "running" {
        assert!(std::time::Instant::now() < deadline, "child never ran");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(client.cancel(&parent).await.0, 200);

    for id in [&human, &parallel, &parent] {
        let job = client.job(id).await;
        assert_eq!(job["status"], "cancelled", "{job:#}");
        assert_eq!(job["tasks"], json!([]), "no task left behind: {job:#}");
    }
    // The child is cancelled in turn, and every running task's worker let go.
    client.wait_status(&child, "cancelled", T).await;
    workers::wait_all_idle(&client, Duration::from_secs(5)).await;
    // Nothing comes back to life: no late timer, result or child end moves them.
    tokio::time::sleep(Duration::from_millis(800)).await;
    for id in [&human, &parallel, &parent, &child] {
        assert_eq!(client.job(id).await["status"], "cancelled");
    }
    let (_, dash) = client.get("/api/v1/dashboard").await;
    assert_eq!(dash["jobs"]["cancelled"], 4, "{dash}");
    worker.shutdown().await.expect("clean shutdown");
    orch.stop().await;
}

async fn parallel_branch_of_a_dead_worker_is_redispatched(backend: Backend) {
    let (orch, client) = start(backend, "branchlost").await;
    let doomed = workers::echo(&orch.base_url, "w-doomed-branch");
    let items = json!([{"value": 1, "sleep_ms": 1500}, {"value": 2, "sleep_ms": 1500}]);
    let id = client
        .create(
            "/api/v1/jobs/sum_items",
            json!({"initial_data": {"items": items}}),
        )
        .await;
    client
        .wait_job(&id, T, |j| {
            j["tasks"].as_array().is_some_and(|t| {
                t.len() == 2 && t.iter().all(|t| t["worker_id"] == "w-doomed-branch")
            })
        })
        .await;
    doomed.kill();
    let rescuer = workers::echo(&orch.base_url, "w-rescuer-branch");
    let job = client
        .wait_status(&id, "finished", Duration::from_secs(30))
        .await;
    assert_eq!(job["result"]["sum"], 3.0, "{job:#}");
    assert_eq!(job["result"]["errors"], json!([]));
    let history = client.history(&id).await;
    let expired = history
        .iter()
        .filter(|e| e["event_type"] == "lease_expired")
        .count();
    assert_eq!(expired, 2, "{history:#?}");
    let finished: Vec<&Value> = history
        .iter()
        .filter(|e| e["event_type"] == "branch_finished")
        .collect();
    assert_eq!(finished.len(), 2, "each branch finished once: {history:#?}");
    for f in finished {
        assert_eq!(f["worker_id"], "w-rescuer-branch");
        assert_eq!(f["attempts"], 2);
    }
    rescuer.shutdown().await.expect("clean shutdown");
    orch.stop().await;
}
