//! AI steps against an OpenAI-compatible endpoint (a fake on loopback), on both stores:
//! the request the workflow worker sends (model, system and user messages, the key),
//! tokens from the endpoint's `usage` and their cost from the worker's price table; the
//! endpoint failing opens the worker's circuit breaker, after which AI steps fail at once
//! without calling, and `/health/full` shows the engine's circuit as last reported.

use baton_tests::backend::{start, Backend};
use baton_tests::fakes::FakeOpenAi;
use baton_tests::on_both_stores;
use baton_tests::workers::{config as worker_config, spawn};
use baton_tests::workflows::{config, logged_in, Api};
use baton_worker::Worker;
use baton_worker_examples::workflow::{
    workflow_skills, AiEngine, CircuitSettings, WorkflowSettings,
};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

async fn run(api: &Api, wf: &str) -> Value {
    let started = api
        .call("POST", &format!("/v1/workflows/{wf}/execute"), None)
        .await;
    assert_eq!(started.status, 200, "{}", started.body);
    let id = started.body["execution_id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let a = api.call("GET", &format!("/v1/executions/{id}"), None).await;
        if ["completed", "failed"].contains(&a.body["status"].as_str().unwrap_or("")) {
            return a.body;
        }
        assert!(Instant::now() < deadline, "never ended: {}", a.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn circuit(api: &Api) -> Value {
    let full = api.call("GET", "/health/full", None).await;
    assert_eq!(full.status, 200, "{}", full.body);
    full.body["circuit_breakers"]["openai"].clone()
}

async fn ai_steps_call_the_endpoint_behind_a_circuit_breaker(backend: Backend) {
    let fake = FakeOpenAi::start("sk-test", |prompt| format!("ANSWER to {prompt}")).await;
    let (orch, _, _) = start(backend, config(), "wf-ai").await;
    let settings = WorkflowSettings {
        ai: AiEngine::OpenAi {
            base_url: fake.base_url.clone(),
            api_key: Some("sk-test".into()),
        },
        prices: vec![("m1".into(), 2.0)],
        circuit: CircuitSettings {
            failures: 2,
            cool_down: Duration::from_secs(600),
        },
        ..WorkflowSettings::default()
    };
    let worker = spawn(workflow_skills(
        Worker::builder(worker_config(&orch.base_url, "wf-ai-w")),
        settings,
    ));
    let api = logged_in(&orch.base_url).await;
    let wf = json!({"id": "ask", "name": "Ask", "variables": {"topic": "leases"}, "steps": [
        {"id": "q", "type": "ai-prompt", "outputs": ["answer"],
         "params": {"prompt": "Explain {{topic}}", "system": "Be brief", "model": "m1"}}]});
    assert_eq!(
        api.call("POST", "/v1/workflows", Some(wf)).await.status,
        200
    );
    let e = run(&api, "ask").await;
    assert_eq!(e["status"], "completed", "{e}");
    assert_eq!(e["outputs"]["answer"], "ANSWER to Explain leases");
    let sent = fake.requests.lock().unwrap()[0].clone();
    assert_eq!(
        sent,
        json!({"model": "m1", "messages": [
            {"role": "system", "content": "Be brief"},
            {"role": "user", "content": "Explain leases"}]})
    );
    // The fake counts (prompt + answer) / 4 tokens; the price is 2 cents per 1000.
    let tokens = ("Explain leases".len() + "ANSWER to Explain leases".len()) / 4;
    assert_eq!(e["metrics"]["total_tokens"], tokens, "{e}");
    let cost = e["metrics"]["total_cost_cents"].as_f64().unwrap();
    assert!((cost - tokens as f64 * 2.0 / 1000.0).abs() < 1e-9, "{e}");
    let c = circuit(&api).await;
    assert_eq!(
        (c["state"].as_str(), c["failure_count"].as_u64()),
        (Some("closed"), Some(0)),
        "{c}"
    );
    assert_eq!(c["endpoint"], fake.base_url.as_str());
    assert_eq!(c["worker_id"], "wf-ai-w");

    // Down: two failures open the circuit; the next step fails without calling.
    fake.down.store(true, Ordering::SeqCst);
    for _ in 0..2 {
        let e = run(&api, "ask").await;
        assert_eq!(e["status"], "failed", "{e}");
        assert!(
            e["error"].as_str().unwrap().contains("503"),
            "the endpoint's answer is named: {e}"
        );
    }
    let c = circuit(&api).await;
    assert_eq!(
        (c["state"].as_str(), c["failure_count"].as_u64()),
        (Some("open"), Some(2)),
        "{c}"
    );
    let calls = fake.calls();
    fake.down.store(false, Ordering::SeqCst);
    let e = run(&api, "ask").await;
    assert_eq!(e["status"], "failed", "{e}");
    assert!(
        e["error"].as_str().unwrap().contains("circuit is open"),
        "{e}"
    );
    assert_eq!(fake.calls(), calls, "no call while the circuit is open");
    worker.shutdown().await.ok();
    orch.stop().await;
}

on_both_stores!(ai_steps_call_the_endpoint_behind_a_circuit_breaker);
