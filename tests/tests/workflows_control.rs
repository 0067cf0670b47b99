//! Controlling executions while they run, on both stores: pause (the running step
//! finishes, the next one waits), resume (also after every orchestrator restarted), a
//! failed execution resumed from its last checkpoint, and the token budget.

use baton_tests::backend::{start, Backend};
use baton_tests::workflows::{config, envelope, logged_in, workflow_worker, Api};
use baton_tests::{on_both_stores, shared_redis, Orchestrator};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn execution(api: &Api, id: &str) -> Value {
    let a = api.call("GET", &format!("/v1/executions/{id}"), None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.body
}

/// Polls the execution until `done` holds (30 s at most).
async fn until(api: &Api, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let e = execution(api, id).await;
        if done(&e) {
            return e;
        }
        assert!(Instant::now() < deadline, "never {what}: {e}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn step<'a>(execution: &'a Value, id: &str) -> &'a Value {
    execution["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["step_id"] == id))
        .unwrap_or_else(|| panic!("no step {id}: {execution}"))
}

fn ended(e: &Value) -> bool {
    ["completed", "failed", "cancelled"].contains(&e["status"].as_str().unwrap_or(""))
}

async fn create(api: &Api, wf: Value) {
    let a = api.call("POST", "/v1/workflows", Some(wf)).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

async fn execute(api: &Api, wf: &str) -> String {
    let a = api
        .call("POST", &format!("/v1/workflows/{wf}/execute"), None)
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.body["execution_id"].as_str().unwrap().to_string()
}

async fn control(api: &Api, id: &str, action: &str) -> baton_tests::workflows::Answer {
    api.call("POST", &format!("/v1/executions/{id}/{action}"), None)
        .await
}

fn slow_then_quick() -> Value {
    json!({"id": "pausable", "name": "Pausable", "steps": [
        {"id": "slow", "type": "shell", "params": {"command": "sleep 1; echo slept"}, "outputs": ["slept"]},
        {"id": "next", "type": "transform", "depends_on": ["slow"], "params": {"pick": ["slept"]}, "outputs": ["picked"]}]})
}

/// Pauses while `slow` runs: `slow` finishes and is kept, `next` does not start.
async fn pause_while_running(api: &Api, id: &str) {
    until(api, id, "running", |e| {
        step(e, "slow")["status"] == "running"
    })
    .await;
    let p = control(api, id, "pause").await;
    assert_eq!(
        p.body,
        json!({"status": "success", "execution_id": id, "execution_status": "paused"})
    );
    envelope(&control(api, id, "pause").await, 409, "CONFLICT");
    let e = until(api, id, "done with slow", |e| {
        step(e, "slow")["status"] == "completed"
    })
    .await;
    assert_eq!(e["status"], "paused", "{e}");
    // Long enough for `next` (a transform: milliseconds) to have run were it started.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let e = execution(api, id).await;
    assert_eq!(e["status"], "paused", "{e}");
    assert_eq!(step(&e, "next")["status"], "pending", "{e}");
}

async fn a_paused_execution_finishes_its_step_and_waits(backend: Backend) {
    let (orch, _, _) = start(backend, config(), "wf-pause").await;
    let worker = workflow_worker(&orch.base_url, "wf-pause-w");
    let api = logged_in(&orch.base_url).await;
    create(&api, slow_then_quick()).await;
    let id = execute(&api, "pausable").await;
    pause_while_running(&api, &id).await;
    let listed = api.call("GET", "/v1/executions?status=paused", None).await;
    assert_eq!(listed.body["total"], 1, "{}", listed.body);
    let r = control(&api, &id, "resume").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["execution_status"], "pending", "{}", r.body);
    let e = until(&api, &id, "ended", ended).await;
    assert_eq!(e["status"], "completed", "{e}");
    assert_eq!(e["outputs"]["picked"], json!({"slept": "slept"}), "{e}");
    envelope(&control(&api, &id, "resume").await, 409, "CONFLICT");
    envelope(&control(&api, &id, "pause").await, 409, "CONFLICT");
    envelope(&control(&api, "nope", "pause").await, 404, "NOT_FOUND");
    worker.shutdown().await.ok();
    orch.stop().await;
}

/// A failed execution that passed a checkpoint resumes after it: the steps before are
/// not run again; one that failed before any checkpoint cannot be resumed.
async fn a_failed_execution_resumes_from_its_checkpoint(backend: Backend) {
    let (orch, _, _) = start(backend, config(), "wf-checkpoint").await;
    let worker = workflow_worker(&orch.base_url, "wf-cp-w");
    let api = logged_in(&orch.base_url).await;
    let flag = std::env::temp_dir().join(format!("baton-cp-{}", uuid::Uuid::new_v4()));
    let flag = flag.display().to_string();
    create(&api, json!({"id": "cp", "name": "Checkpointed", "steps": [
        {"id": "first", "type": "shell", "params": {"command": "date +%s%N"}, "outputs": ["stamp"]},
        {"id": "mark", "type": "checkpoint", "depends_on": ["first"], "params": {"message": "first done"}},
        {"id": "flaky", "type": "shell", "depends_on": ["mark"], "params": {"command": format!("test -f {flag} && echo ok")}, "outputs": ["flaky"]}]})).await;
    let id = execute(&api, "cp").await;
    let failed = until(&api, &id, "ended", ended).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(failed["checkpoint_id"].is_string(), "{failed}");
    std::fs::write(&flag, "").unwrap();
    let r = control(&api, &id, "resume").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let done = until(&api, &id, "ended", ended).await;
    std::fs::remove_file(&flag).ok();
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["outputs"]["flaky"], "ok", "{done}");
    assert_eq!(
        done["outputs"]["stamp"], failed["outputs"]["stamp"],
        "the step before the checkpoint did not run again"
    );
    assert_eq!(done["checkpoint_id"], failed["checkpoint_id"]);

    create(&api, json!({"id": "early", "name": "Fails early", "steps": [
        {"id": "boom", "type": "shell", "params": {"command": "exit 3"}},
        {"id": "mark", "type": "checkpoint", "depends_on": ["boom"], "params": {"message": "never"}}]})).await;
    let early = execute(&api, "early").await;
    assert_eq!(
        until(&api, &early, "ended", ended).await["status"],
        "failed"
    );
    let r = control(&api, &early, "resume").await;
    envelope(&r, 409, "CONFLICT");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("checkpoint"));
    worker.shutdown().await.ok();
    orch.stop().await;
}

/// The second AI step takes the tokens past the budget: the execution fails naming the
/// budget and the step after it never runs.
async fn the_token_budget_stops_an_execution(backend: Backend) {
    let (orch, _, _) = start(backend, config(), "wf-budget").await;
    let worker = workflow_worker(&orch.base_url, "wf-budget-w");
    let api = logged_in(&orch.base_url).await;
    let prompt = "x".repeat(100);
    create(
        &api,
        json!({"id": "budget", "name": "Budget", "token_budget": 80, "steps": [
        {"id": "one", "type": "ai-prompt", "params": {"prompt": prompt}},
        {"id": "two", "type": "ai-prompt", "depends_on": ["one"], "params": {"prompt": prompt}},
        {"id": "three", "type": "transform", "depends_on": ["two"], "params": {"merge": {}}}]}),
    )
    .await;
    let id = execute(&api, "budget").await;
    let e = until(&api, &id, "ended", ended).await;
    assert_eq!(e["status"], "failed", "{e}");
    let error = e["error"].as_str().unwrap_or_default();
    assert!(error.contains("token budget exceeded"), "{e}");
    assert!(error.contains("budget 80"), "{e}");
    assert_eq!(step(&e, "one")["status"], "completed");
    assert_eq!(step(&e, "two")["status"], "failed", "{e}");
    assert_eq!(step(&e, "three")["status"], "pending", "{e}");
    let tokens = e["metrics"]["total_tokens"].as_u64().unwrap();
    assert!(tokens > 80, "the step that went past is counted: {e}");
    worker.shutdown().await.ok();
    orch.stop().await;
}

on_both_stores!(
    a_paused_execution_finishes_its_step_and_waits,
    a_failed_execution_resumes_from_its_checkpoint,
    the_token_budget_stops_an_execution,
);

/// Paused, then every orchestrator stops; a new one (and a new worker) resumes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_execution_resumes_after_every_orchestrator_restarted() {
    baton_tests::init_tracing();
    let prefix = baton_tests::unique_prefix("wf-pause-restart");
    let url = shared_redis().url();
    let first = Orchestrator::redis(config(), &url, &prefix).await;
    let worker = workflow_worker(&first.base_url, "wf-restart-w1");
    let api = logged_in(&first.base_url).await;
    create(&api, slow_then_quick()).await;
    let id = execute(&api, "pausable").await;
    pause_while_running(&api, &id).await;
    worker.shutdown().await.ok();
    first.stop().await;

    let second = Orchestrator::redis(config(), &url, &prefix).await;
    let worker = workflow_worker(&second.base_url, "wf-restart-w2");
    let mut api = Api::new(&second.base_url);
    api.token = logged_in(&second.base_url).await.token;
    assert_eq!(execution(&api, &id).await["status"], "paused");
    assert_eq!(control(&api, &id, "resume").await.status, 200);
    let e = until(&api, &id, "ended", ended).await;
    assert_eq!(e["status"], "completed", "{e}");
    assert_eq!(e["outputs"]["picked"], json!({"slept": "slept"}), "{e}");
    worker.shutdown().await.ok();
    second.stop().await;
}
