//! The blueprint engine's state kinds end to end, with the shipped example blueprints
//! and Rust SDK workers, on the embedded store and on Redis: branching, parallel maps with
//! aggregation, fail-fast parallel lists, sub-jobs, worker events that move a job, the
//! loop guard, and the history they leave.

use baton_tests::backend::Backend;
use baton_tests::orchestrator::blueprint_test_config;
use baton_tests::{workers, Client, Orchestrator};
use serde_json::{json, Value};
use std::time::Duration;

async fn start(backend: Backend, name: &str) -> (Orchestrator, Client) {
    let (orch, client, _) =
        baton_tests::backend::start(backend, blueprint_test_config(), name).await;
    (orch, client)
}

baton_tests::on_both_stores!(
    branch_takes_the_first_matching_case_or_the_default,
    parallel_map_aggregates_and_collects_errors,
    fail_fast_parallel_stops_the_other_branches,
    sub_job_runs_a_child_and_continues_with_its_result,
    failed_sub_job_takes_the_failure_transition,
    worker_event_drives_a_declared_transition,
    loop_guard_fails_a_cycling_job,
);

const T: Duration = Duration::from_secs(15);

fn events<'h>(history: &'h [Value], kind: &str) -> Vec<&'h Value> {
    history.iter().filter(|e| e["event_type"] == kind).collect()
}

async fn branch_takes_the_first_matching_case_or_the_default(backend: Backend) {
    let (orch, client) = start(backend, "branch").await;
    let worker = workers::echo(&orch.base_url, "w-branch");
    let cases = [
        (
            json!({"order_id": 1, "amount": 5000, "tier": "vip"}),
            "manual_review",
        ),
        (
            json!({"order_id": 2, "amount": 10, "tier": "vip"}),
            "express",
        ),
        (
            json!({"order_id": 3, "amount": 10, "tags": ["gift", "express"]}),
            "express",
        ),
        (json!({"order_id": 4, "amount": 1000}), "standard"),
        (json!({"order_id": 5}), "standard"),
    ];
    let mut ids = Vec::new();
    for (input, _) in &cases {
        ids.push(
            client
                .create("/api/v1/jobs/route_order", json!({"initial_data": input}))
                .await,
        );
    }
    for ((input, route), id) in cases.iter().zip(&ids) {
        let job = client.wait_status(id, "finished", T).await;
        assert_eq!(job["result"]["route"], *route, "{input} -> {job:#}");
        assert_eq!(job["result"]["order_id"], input["order_id"]);
        let history = client.history(id).await;
        let taken = events(&history, "branch_taken");
        assert_eq!(taken.len(), 1, "{history:#?}");
        assert_eq!(taken[0]["next"], *route);
        assert_eq!(taken[0]["state"], "route");
    }
    worker.shutdown().await.expect("clean shutdown");
    orch.stop().await;
}

async fn parallel_map_aggregates_and_collects_errors(backend: Backend) {
    let (orch, client) = start(backend, "map").await;
    let w1 = workers::echo(&orch.base_url, "w-map-1");
    let w2 = workers::echo(&orch.base_url, "w-map-2");
    let items: Vec<Value> = (1..=6)
        .map(|v| json!({"value": v, "sleep_ms": 100}))
        .chain([json!({"value": 100, "fail": "invalid_input"})])
        .collect();
    let id = client
        .create(
            "/api/v1/jobs/sum_items",
            json!({"initial_data": {"items": items}}),
        )
        .await;
    let waiting = client
        .wait_status(&id, "waiting_for_parallel_tasks", T)
        .await;
    assert_eq!(waiting["parallel"]["total"], 7, "{waiting:#}");
    let running = waiting["parallel"]["running"].as_u64().unwrap_or(99);
    assert!(running <= 4, "max_concurrency 4, saw {running} running");
    let job = client.wait_status(&id, "finished", T).await;
    // 1+..+6 = 21; the failed branch has no data and is listed as an error.
    assert_eq!(job["result"]["sum"], 21.0, "{job:#}");
    assert_eq!(job["result"]["counted"], 6);
    let errors = job["result"]["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{job:#}");
    assert_eq!(errors[0]["key"], "6");
    assert_eq!(errors[0]["error"]["code"], "INVALID_INPUT_ERROR");
    let history = client.history(&id).await;
    assert_eq!(events(&history, "branch_finished").len(), 7);
    assert_eq!(
        events(&history, "task_dispatched").len(),
        8,
        "7 branches + sum"
    );
    let finished = events(&history, "parallel_finished");
    assert_eq!(finished[0]["failed"], 1);
    // Both workers took branches: each branch is its own task.
    let by: std::collections::BTreeSet<&str> = events(&history, "task_finished")
        .iter()
        .filter_map(|e| e["worker_id"].as_str())
        .collect();
    assert_eq!(by.len(), 2, "{by:?}");
    w1.shutdown().await.expect("clean shutdown");
    w2.shutdown().await.expect("clean shutdown");
    orch.stop().await;
}

async fn fail_fast_parallel_stops_the_other_branches(backend: Backend) {
    let (orch, client) = start(backend, "failfast").await;
    let worker = workers::echo(&orch.base_url, "w-failfast");
    let input = json!({
        "lint": {"ok": true},
        "test": {"fail": "permanent", "sleep_ms": 200},
        "slow": {"sleep_ms": 60000},
    });
    let id = client
        .create("/api/v1/jobs/checks", json!({"initial_data": input}))
        .await;
    let job = client.wait_status(&id, "failed", T).await;
    assert_eq!(job["error"]["code"], "BRANCH_FAILED", "{job:#}");
    assert_eq!(job["error"]["branch"], "test");
    assert_eq!(job["error"]["error"]["code"], "PERMANENT_ERROR");
    assert_eq!(
        job["state"], "failed",
        "the failure transition was followed"
    );
    let history = client.history(&id).await;
    let finished = events(&history, "branch_finished");
    assert_eq!(
        finished.len(),
        2,
        "lint and test finished, slow was stopped: {history:#?}"
    );
    // The slow branch's worker was told to stop and is free again soon.
    workers::wait_all_idle(&client, Duration::from_secs(5)).await;
    worker.shutdown().await.expect("clean shutdown");
    orch.stop().await;
}

async fn sub_job_runs_a_child_and_continues_with_its_result(backend: Backend) {
    let (orch, client) = start(backend, "subjob").await;
    let worker = workers::echo(&orch.base_url, "w-subjob");
    let id = client
        .create(
            "/api/v1/jobs/with_child",
            json!({"initial_data": {"order_id": 9, "child": {"msg": "from the child"}}}),
        )
        .await;
    let job = client.wait_status(&id, "finished", T).await;
    assert_eq!(job["result"]["prepared"]["stage"], "prepare", "{job:#}");
    assert_eq!(job["result"]["prepared"]["order_id"], 9);
    assert_eq!(job["result"]["child"], json!({"msg": "from the child"}));
    let history = client.history(&id).await;
    let started = events(&history, "sub_job_started");
    assert_eq!(started.len(), 1, "{history:#?}");
    let child_id = started[0]["sub_job_id"].as_str().expect("child id");
    let ended = events(&history, "sub_job_finished");
    assert_eq!(ended[0]["result_status"], "finished");
    // The child is a job of its own, of the same client, pointing at its parent.
    let child = client.job(child_id).await;
    assert_eq!(child["status"], "finished");
    assert_eq!(child["blueprint_name"], "echo");
    assert_eq!(child["parent_job_id"], id.as_str());
    worker.shutdown().await.expect("clean shutdown");
    orch.stop().await;
}

async fn failed_sub_job_takes_the_failure_transition(backend: Backend) {
    let (orch, client) = start(backend, "subfail").await;
    let worker = workers::echo(&orch.base_url, "w-subfail");
    let id = client
        .create(
            "/api/v1/jobs/with_child",
            json!({"initial_data": {"child": {"fail": "invalid_input"}}}),
        )
        .await;
    let job = client.wait_status(&id, "failed", T).await;
    assert_eq!(job["state"], "child_failed", "{job:#}");
    assert_eq!(job["error"]["code"], "SUB_JOB_FAILED");
    assert_eq!(job["error"]["error"]["code"], "INVALID_INPUT_ERROR");
    let child = client
        .job(job["error"]["sub_job_id"].as_str().expect("child id"))
        .await;
    assert_eq!(child["status"], "failed");
    worker.shutdown().await.expect("clean shutdown");
    orch.stop().await;
}

async fn worker_event_drives_a_declared_transition(backend: Backend) {
    let (orch, client) = start(backend, "event").await;
    let worker = workers::echo(&orch.base_url, "w-event");
    // The worker announces `needs_review`, then would sleep a minute: the event ends the
    // task early and the job follows `on_event`.
    let flagged = client
        .create(
            "/api/v1/jobs/on_event",
            json!({"initial_data": {"event": "needs_review", "sleep_ms": 60000, "why": "odd"}}),
        )
        .await;
    // An event the state does not declare changes nothing.
    let plain = client
        .create(
            "/api/v1/jobs/on_event",
            json!({"initial_data": {"event": "something_else", "v": 1}}),
        )
        .await;
    let job = client.wait_status(&flagged, "finished", T).await;
    assert_eq!(job["result"]["flagged"], true, "{job:#}");
    assert_eq!(job["result"]["by"], "w-event");
    assert_eq!(job["result"]["payload"]["why"], "odd");
    let history = client.history(&flagged).await;
    let moved = events(&history, "worker_event");
    assert_eq!(moved.len(), 1, "{history:#?}");
    assert_eq!(moved[0]["worker_event_type"], "needs_review");
    let job = client.wait_status(&plain, "finished", T).await;
    assert_eq!(job["result"]["v"], 1, "{job:#}");
    assert!(job["result"].get("flagged").is_none());
    worker.shutdown().await.expect("clean shutdown");
    orch.stop().await;
}

async fn loop_guard_fails_a_cycling_job(backend: Backend) {
    let (orch, client) = start(backend, "loop").await;
    let worker = workers::echo(&orch.base_url, "w-loop");
    let cycling = client
        .create(
            "/api/v1/jobs/loop",
            json!({"initial_data": {"stop": false}}),
        )
        .await;
    let stops = client
        .create("/api/v1/jobs/loop", json!({"initial_data": {"stop": true}}))
        .await;
    let job = client.wait_status(&cycling, "failed", T).await;
    assert_eq!(job["error"]["code"], "LOOP_GUARD", "{job:#}");
    assert_eq!(
        job["step"], 11,
        "max_transitions 10, the 11th state is refused"
    );
    let history = client.history(&cycling).await;
    assert_eq!(
        events(&history, "task_dispatched").len(),
        5,
        "ping, check x5"
    );
    client.wait_status(&stops, "finished", T).await;
    // History entries carry timestamps, states and durations.
    let history = client.history(&stops).await;
    let kinds: Vec<&str> = history
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "job_created",
            "state_started",
            "task_queued",
            "task_dispatched",
            "task_finished",
            "state_finished",
            "state_started",
            "branch_taken",
            "state_finished",
            "state_started",
            "job_finished"
        ],
        "{history:#?}"
    );
    for e in &history {
        assert!(
            e["timestamp"].is_string() && e["timestamp_ms"].is_i64(),
            "{e}"
        );
    }
    let task_finished = events(&history, "task_finished")[0];
    assert_eq!(task_finished["worker_id"], "w-loop");
    assert!(task_finished["duration_ms"]
        .as_i64()
        .is_some_and(|d| d >= 0));
    assert!(events(&history, "state_finished")[0]["duration_ms"].is_i64());
    worker.shutdown().await.expect("clean shutdown");
    orch.stop().await;
}
