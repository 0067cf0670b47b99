//! The steps that run other steps, end to end on both stores with the workflow worker:
//! a `parallel` step's steps at the same time (its output gathering theirs), a `fan_out`
//! over a list from the inputs (one task per item, failed items collected, an empty list,
//! a condition that does not hold), `fan_in` joining and summing up by AI, `map_reduce`,
//! `fail_fast`, and definitions refused naming the field.

use baton_tests::backend::{start, Backend};
use baton_tests::on_both_stores;
use baton_tests::workflows::{config, envelope, logged_in, workflow_worker, Api};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Creates `wf`, executes it with `variables` and polls it to its end.
async fn run(api: &Api, wf: Value, variables: Value) -> Value {
    let id = wf["id"].as_str().unwrap().to_string();
    let created = api.call("POST", "/v1/workflows", Some(wf)).await;
    assert_eq!(created.status, 200, "{}", created.body);
    let started = api
        .call(
            "POST",
            &format!("/v1/workflows/{id}/execute"),
            Some(json!({ "variables": variables })),
        )
        .await;
    assert_eq!(started.status, 200, "{}", started.body);
    let exec = started.body["execution_id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let a = api
            .call("GET", &format!("/v1/executions/{exec}"), None)
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        if ["completed", "failed", "cancelled"].contains(&a.body["status"].as_str().unwrap_or("")) {
            return a.body;
        }
        assert!(Instant::now() < deadline, "never ended: {}", a.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn step<'a>(execution: &'a Value, id: &str) -> &'a Value {
    execution["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["step_id"] == id))
        .unwrap_or_else(|| panic!("no step {id}: {execution}"))
}

async fn a_parallel_step_runs_its_steps_together(backend: Backend) {
    let (orch, _, _) = start(backend, config(), "wf-par").await;
    let workers = [
        workflow_worker(&orch.base_url, "wf-par-1"),
        workflow_worker(&orch.base_url, "wf-par-2"),
    ];
    let api = logged_in(&orch.base_url).await;
    // Each step waits for the other's mark: run one after the other, both would fail.
    let dir = std::env::temp_dir().join(format!("baton-par-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let meet = |me: &str, other: &str| {
        format!(
            "touch {d}/{me}; for i in $(seq 200); do test -f {d}/{other} && break; sleep 0.05; done; test -f {d}/{other} && echo {}",
            me.to_uppercase(),
            d = dir.display()
        )
    };
    let e = run(
        &api,
        json!({"id": "par", "name": "Par", "outputs": ["both", "a", "after"], "steps": [
            {"id": "p", "type": "parallel", "outputs": ["both"], "params": {"steps": [
                {"id": "a", "type": "shell", "params": {"command": meet("a", "b")}, "outputs": ["a"]},
                {"id": "b", "type": "shell", "params": {"command": meet("b", "a")}},
                {"id": "never", "type": "shell", "params": {"command": "echo no"},
                 "condition": {"field": "go", "operator": "equals", "value": true}}]}},
            {"id": "after", "type": "transform", "depends_on": ["p"],
             "params": {"template": "{{a}}+{{both.b}}"}, "outputs": ["after"]}]}),
        json!({"go": false}),
    )
    .await;
    assert_eq!(e["status"], "completed", "{e}");
    assert_eq!(
        e["outputs"],
        json!({"both": {"a": "A", "b": "B"}, "a": "A", "after": "A+B"}),
        "{e}"
    );
    assert_eq!(step(&e, "p")["status"], "completed");
    assert_eq!(step(&e, "never")["status"], "skipped");
    let ids: Vec<&str> = e["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["p", "a", "b", "never", "after"]);
    std::fs::remove_dir_all(&dir).ok();
    for w in workers {
        w.shutdown().await.ok();
    }
    orch.stop().await;
}

async fn a_fan_out_runs_one_task_per_item(backend: Backend) {
    let (orch, _, _) = start(backend, config(), "wf-fan").await;
    let worker = workflow_worker(&orch.base_url, "wf-fan-w");
    let api = logged_in(&orch.base_url).await;
    let wf = json!({"id": "fan", "name": "Fan", "outputs": ["reviews", "joined", "summary"], "steps": [
        {"id": "review", "type": "fan_out", "outputs": ["reviews"],
         "condition": {"field": "files", "operator": "not_empty"},
         "params": {"items": "${files}", "max_concurrent": 2,
                    "step_template": {"type": "ai-prompt", "params": {"prompt": "review ${item} (#${index})", "model": "m"}}}},
        {"id": "join", "type": "fan_in", "depends_on": ["review"], "outputs": ["joined"],
         "params": {"input": "${reviews}", "separator": " | "}},
        {"id": "sum", "type": "fan_in", "depends_on": ["review"], "outputs": ["summary"],
         "params": {"input": "${reviews}", "aggregation": "openai", "aggregate_prompt": "Sum up: ${items}", "model": "m"}}]});
    let e = run(&api, wf, json!({"files": ["a.rs", "b.rs", "c.rs"]})).await;
    assert_eq!(e["status"], "completed", "{e}");
    let reviews = json!([
        "[offline m] review a.rs (#0)",
        "[offline m] review b.rs (#1)",
        "[offline m] review c.rs (#2)"
    ]);
    assert_eq!(e["outputs"]["reviews"], reviews, "{e}");
    assert_eq!(
        e["outputs"]["joined"],
        "[offline m] review a.rs (#0) | [offline m] review b.rs (#1) | [offline m] review c.rs (#2)"
    );
    assert_eq!(
        e["outputs"]["summary"],
        "[offline m] Sum up: [offline m] review a.rs (#0)\n---\n[offline m] review b.rs (#1)\n---\n[offline m] review c.rs (#2)"
    );
    let review = step(&e, "review");
    assert_eq!(review["status"], "completed");
    assert!(review["tokens_used"].as_u64().unwrap() > 0, "{e}");
    let sum: u64 = ["review", "join", "sum"]
        .iter()
        .map(|s| step(&e, s)["tokens_used"].as_u64().unwrap())
        .sum();
    assert_eq!(e["metrics"]["total_tokens"], sum, "{e}");

    // No files: the condition does not hold, the step is skipped and nothing runs.
    let id = e["workflow_id"].as_str().unwrap();
    let started = api
        .call(
            "POST",
            &format!("/v1/workflows/{id}/execute"),
            Some(json!({"variables": {"files": []}})),
        )
        .await;
    let exec = started.body["execution_id"].as_str().unwrap().to_string();
    let e = poll(&api, &exec).await;
    assert_eq!(e["status"], "completed", "{e}");
    assert_eq!(step(&e, "review")["status"], "skipped", "{e}");
    assert_eq!(e["outputs"]["joined"], "", "{e}");
    worker.shutdown().await.ok();
    orch.stop().await;
}

async fn poll(api: &Api, exec: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let a = api
            .call("GET", &format!("/v1/executions/{exec}"), None)
            .await;
        if ["completed", "failed", "cancelled"].contains(&a.body["status"].as_str().unwrap_or("")) {
            return a.body;
        }
        assert!(Instant::now() < deadline, "never ended: {}", a.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn failed_items_are_collected_unless_fail_fast(backend: Backend) {
    let (orch, _, _) = start(backend, config(), "wf-fan-fail").await;
    let worker = workflow_worker(&orch.base_url, "wf-fan-fail-w");
    let api = logged_in(&orch.base_url).await;
    let fan = |id: &str, fail_fast: bool| {
        json!({"id": id, "name": id, "steps": [
            {"id": "check", "type": "fan_out", "outputs": ["ok"],
             "params": {"items": [1, 2, 3, 4], "fail_fast": fail_fast,
                        "step_template": {"type": "shell", "params": {"command": "test ${item} -ne 3 && echo ${item}"}}}},
            {"id": "count", "type": "fan_in", "depends_on": ["check"], "outputs": ["n"],
             "params": {"input": "${ok}", "separator": ","}}]})
    };
    let e = run(&api, fan("collect", false), json!({})).await;
    assert_eq!(e["status"], "completed", "{e}");
    assert_eq!(e["outputs"]["ok"], json!(["1", "2", "4"]), "{e}");
    assert_eq!(e["outputs"]["n"], "1,2,4");
    let check = step(&e, "check");
    assert!(
        check["error"]
            .as_str()
            .is_some_and(|m| m.starts_with("item 2: ")),
        "the failed item is named: {e}"
    );
    let e = run(&api, fan("fast", true), json!({})).await;
    assert_eq!(e["status"], "failed", "{e}");
    assert!(e["error"].as_str().unwrap().starts_with("item 2: "), "{e}");
    assert_eq!(step(&e, "check")["status"], "failed", "{e}");
    assert_eq!(step(&e, "count")["status"], "pending", "{e}");

    // Items that are not a list fail the step, saying so.
    let e = run(
        &api,
        json!({"id": "notalist", "name": "N", "steps": [
            {"id": "f", "type": "fan_out", "params": {"items": "${files}",
             "step_template": {"type": "transform", "params": {"template": "${item}"}}}}]}),
        json!({"files": "a.rs"}),
    )
    .await;
    assert_eq!(e["status"], "failed", "{e}");
    assert!(
        e["error"].as_str().unwrap().contains("must be a list"),
        "{e}"
    );
    worker.shutdown().await.ok();
    orch.stop().await;
}

async fn map_reduce_maps_then_reduces(backend: Backend) {
    let (orch, _, _) = start(backend, config(), "wf-mr").await;
    let worker = workflow_worker(&orch.base_url, "wf-mr-w");
    let api = logged_in(&orch.base_url).await;
    let e = run(
        &api,
        json!({"id": "mr", "name": "MR", "outputs": ["total", "story"], "steps": [
            {"id": "double", "type": "map_reduce", "outputs": ["total"],
             "params": {"items": "${numbers}", "max_concurrent": 3,
                        "map_step": {"type": "shell", "params": {"command": "echo $((${item} * 2))"}},
                        "reduce_step": {"type": "concat", "params": {"separator": "+"}}}},
            {"id": "tell", "type": "map_reduce", "outputs": ["story"],
             "params": {"items": ["x", "y"],
                        "map_step": {"type": "transform", "params": {"template": "<${item}>"}},
                        "reduce_step": {"type": "ai-prompt", "params": {"prompt": "Tell: ${map_results}", "model": "m"}}}}]}),
        json!({"numbers": [1, 2, 3, 4, 5]}),
    )
    .await;
    assert_eq!(e["status"], "completed", "{e}");
    assert_eq!(
        e["outputs"],
        json!({"total": "2+4+6+8+10", "story": "[offline m] Tell: <x>\n---\n<y>"}),
        "{e}"
    );
    assert_eq!(step(&e, "double")["status"], "completed");
    assert_eq!(e["steps"].as_array().unwrap().len(), 2, "{e}");
    assert!(step(&e, "tell")["tokens_used"].as_u64().unwrap() > 0);
    worker.shutdown().await.ok();
    orch.stop().await;
}

async fn bad_patterns_are_refused_naming_the_field(backend: Backend) {
    let (orch, _, _) = start(backend, config(), "wf-pat-bad").await;
    let api = logged_in(&orch.base_url).await;
    let cases = [
        (
            json!({"id": "p1", "type": "parallel", "params": {"steps": [{"id": "w", "type": "approval"}]}}),
            "steps[0].params.steps[0].type",
        ),
        (
            json!({"id": "p2", "type": "fan_out", "params": {"items": 7, "step_template": {"type": "transform", "params": {"merge": {}}}}}),
            "steps[0].params.items",
        ),
        (
            json!({"id": "p3", "type": "fan_out", "params": {"items": []}}),
            "steps[0].params.step_template",
        ),
        (
            json!({"id": "p4", "type": "map_reduce", "params": {"items": [], "map_step": {"type": "transform", "params": {"merge": {}}}, "reduce_step": {"type": "openai"}}}),
            "steps[0].params.reduce_step.params.prompt",
        ),
        (
            json!({"id": "p5", "type": "fan_in", "params": {}}),
            "steps[0].params.input",
        ),
    ];
    for (s, field) in cases {
        let a = api
            .call(
                "POST",
                "/v1/workflows",
                Some(json!({"id": "bad", "name": "Bad", "steps": [s]})),
            )
            .await;
        envelope(&a, 422, "VALIDATION");
        assert_eq!(a.body["error"]["details"]["field"], field, "{}", a.body);
    }
    let listed = api.call("GET", "/v1/workflows", None).await;
    assert_eq!(listed.body, json!([]), "nothing saved");
    orch.stop().await;
}

on_both_stores!(
    a_parallel_step_runs_its_steps_together,
    a_fan_out_runs_one_task_per_item,
    failed_items_are_collected_unless_fail_fast,
    map_reduce_maps_then_reduces,
    bad_patterns_are_refused_naming_the_field,
);
