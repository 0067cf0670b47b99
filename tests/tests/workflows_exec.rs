//! Executing workflows end to end, on both stores, with the workflow worker (shell
//! allowed, the offline AI engine): a DAG with a parallel pair and a conditional step,
//! each `on_failure` mode, the synchronous routes and their bound, YAML workflows, bad
//! input, and an execution seen from another orchestrator.

use baton_tests::backend::{start, Backend};
use baton_tests::workflows::{config, envelope, logged_in, workflow_worker, Api};
use baton_tests::{on_both_stores, shared_redis, Orchestrator};
use serde_json::{json, Value};
use std::time::Duration;

/// Polls an execution until it ends.
async fn ended(api: &Api, id: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let a = api.call("GET", &format!("/v1/executions/{id}"), None).await;
        assert_eq!(a.status, 200, "{}", a.body);
        if ["completed", "failed", "cancelled"].contains(&a.body["status"].as_str().unwrap_or("")) {
            return a.body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never ended: {}",
            a.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn step<'a>(execution: &'a Value, id: &str) -> &'a Value {
    execution["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["step_id"] == id))
        .unwrap_or_else(|| panic!("no step {id}: {execution}"))
}

async fn a_dag_runs_its_parallel_pair_and_skips_a_false_condition(backend: Backend) {
    let (orch, _, _) = start(backend, config(), "wf-dag").await;
    let worker = workflow_worker(&orch.base_url, "wf-w1");
    let api = logged_in(&orch.base_url).await;
    let wf = json!({
        "id": "dag", "name": "DAG", "variables": {"tone": "dry"},
        "inputs": {"topic": {"type": "string", "required": true}, "deep": {"type": "boolean", "default": false}},
        "outputs": ["summary", "words"],
        "steps": [
            {"id": "seed", "type": "transform", "params": {"merge": {"n": 2}}, "outputs": ["seed"]},
            {"id": "ask", "type": "ai-prompt", "depends_on": ["seed"],
             "params": {"prompt": "Explain {{topic}} in a {{tone}} tone", "model": "m1"}, "outputs": ["answer"]},
            {"id": "count", "type": "shell", "depends_on": ["seed"],
             "params": {"command": "echo ${topic} | wc -c | tr -d ' '"}, "outputs": ["words"]},
            {"id": "deep-dive", "type": "shell", "depends_on": ["seed"],
             "condition": {"field": "deep", "operator": "equals", "value": true},
             "params": {"command": "echo never"}},
            {"id": "sum", "type": "transform", "depends_on": ["ask", "count", "deep-dive"],
             "params": {"template": "{{answer}} ({{words}} chars)"}, "outputs": ["summary"]},
        ],
    });
    assert_eq!(
        api.call("POST", "/v1/workflows", Some(wf)).await.status,
        200
    );
    let started = api
        .call(
            "POST",
            "/v1/workflows/dag/execute",
            Some(json!({"variables": {"topic": "rust"}})),
        )
        .await;
    assert_eq!(started.status, 200, "{}", started.body);
    assert_eq!(started.body["status"], "running");
    let id = started.body["execution_id"].as_str().unwrap().to_string();
    assert_eq!(started.body["poll_url"], format!("/v1/executions/{id}"));
    let e = ended(&api, &id).await;
    assert_eq!(e["status"], "completed", "{e}");
    assert_eq!(
        e["outputs"],
        json!({"summary": "[offline m1] Explain rust in a dry tone (5 chars)", "words": "5"})
    );
    assert_eq!(step(&e, "deep-dive")["status"], "skipped");
    for s in ["seed", "ask", "count", "sum"] {
        assert_eq!(step(&e, s)["status"], "completed", "{s}: {e}");
    }
    assert!(step(&e, "ask")["tokens_used"].as_u64().unwrap() > 0);
    assert_eq!(e["metrics"]["total_tokens"], step(&e, "ask")["tokens_used"]);
    assert_eq!(e["metrics"]["steps_completed"], 4);
    assert_eq!(e["progress"], 100);
    assert_eq!(e["variables"]["tone"], "dry");
    // The face's metrics, counted when the job ended (the engine's end-of-job hook).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = reqwest::get(format!("{}/metrics", orch.base_url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let has = |line: &str| text.lines().any(|l| l == line);
        if has(r#"baton_workflows_executions_ended_total{status="completed"} 1"#) {
            assert!(has("baton_workflows_executions_started_total 1"), "{text}");
            let tokens = text
                .lines()
                .find_map(|l| l.strip_prefix("baton_workflows_tokens_total "))
                .unwrap();
            assert_eq!(tokens, step(&e, "ask")["tokens_used"].to_string());
            assert!(text.contains(r#"baton_workflows_step_duration_seconds_count{status="skipped",type="shell"} 1"#), "{text}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never counted: {text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The same record is a job of the worker-pull runtime.
    let (orch_store, job) = (orch.store.clone(), orch.store.get_job(&id).await.unwrap());
    assert!(job.is_some_and(|j| j.status == "finished"));
    drop(orch_store);
    worker.shutdown().await.ok();
    orch.stop().await;
}

async fn failure_modes_skip_default_retry_or_abort(backend: Backend) {
    let (orch, _, _) = start(backend, config(), "wf-fail").await;
    let worker = workflow_worker(&orch.base_url, "wf-w2");
    let api = logged_in(&orch.base_url).await;
    let marker = std::env::temp_dir().join(format!("baton-retry-{}", uuid::Uuid::new_v4()));
    let wf = json!({
        "id": "modes", "name": "Modes",
        "steps": [
            {"id": "skipped", "type": "shell", "params": {"command": "exit 3"}, "on_failure": "skip"},
            {"id": "defaulted", "type": "shell", "params": {"command": "exit 4"},
             "on_failure": "continue_with_default", "default_output": "fallback", "outputs": ["d"]},
            // Fails the first time (no marker yet), passes the second.
            {"id": "retried", "type": "shell", "on_failure": "retry", "max_retries": 2,
             "params": {"command": format!("test -e {m} || {{ touch {m}; exit 1; }}; echo ok", m = marker.display())},
             "outputs": ["r"]},
            {"id": "after", "type": "transform", "depends_on": ["skipped", "defaulted", "retried"],
             "params": {"template": "{{d}}/{{r}}"}, "outputs": ["out"]},
        ],
    });
    assert_eq!(
        api.call("POST", "/v1/workflows", Some(wf)).await.status,
        200
    );
    let a = api
        .call(
            "POST",
            "/v1/workflows/execute",
            Some(json!({"workflow_id": "modes"})),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["status"], "completed", "{}", a.body);
    assert_eq!(a.body["outputs"]["out"], "fallback/ok");
    assert_eq!(a.body["errors"], json!([]));
    let e = ended(&api, a.body["execution_id"].as_str().unwrap()).await;
    assert_eq!(step(&e, "skipped")["status"], "skipped");
    assert!(step(&e, "skipped")["error"]
        .as_str()
        .unwrap()
        .contains("exit code 3"));
    assert_eq!(step(&e, "defaulted")["status"], "completed_with_default");
    assert_eq!(step(&e, "retried")["status"], "completed");

    let abort = json!({"id": "abort", "name": "Abort", "steps": [
        {"id": "boom", "type": "shell", "params": {"command": "echo bad >&2; exit 9"}},
        {"id": "never", "type": "transform", "depends_on": ["boom"], "params": {"merge": {}}},
    ]});
    assert_eq!(
        api.call("POST", "/v1/workflows", Some(abort)).await.status,
        200
    );
    let a = api
        .call(
            "POST",
            "/v1/workflows/execute",
            Some(json!({"workflow_id": "abort"})),
        )
        .await;
    assert_eq!(a.body["status"], "failed", "{}", a.body);
    assert!(
        a.body["errors"][0]
            .as_str()
            .unwrap()
            .contains("exit code 9"),
        "{}",
        a.body
    );
    let e = ended(&api, a.body["execution_id"].as_str().unwrap()).await;
    assert_eq!(step(&e, "never")["status"], "pending", "{e}");
    assert_eq!(e["metrics"]["steps_failed"], 1, "{e}");
    std::fs::remove_file(&marker).ok();
    worker.shutdown().await.ok();
    orch.stop().await;
}

async fn yaml_workflows_run_synchronously_step_by_step(backend: Backend) {
    let (orch, _, _) = start(backend, config(), "wf-yaml-run").await;
    let worker = workflow_worker(&orch.base_url, "wf-w3");
    let api = logged_in(&orch.base_url).await;
    let a = api
        .call(
            "POST",
            "/v1/yaml-workflows/execute",
            Some(json!({"workflow_id": "release-check", "inputs": {}})),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["status"], "completed", "{}", a.body);
    assert_eq!(a.body["workflow_name"], "Release Check");
    assert_eq!(
        a.body["outputs"]["report"],
        "lint: lint ok; tests: tests passed"
    );
    let steps: Vec<&str> = a.body["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step_id"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["lint", "test", "checkpoint", "report"]);
    assert!(a.body["total_duration_ms"].is_u64());
    // A required input missing: 422 naming it, and no execution.
    let missing = api
        .call(
            "POST",
            "/v1/yaml-workflows/execute",
            Some(json!({"workflow_id": "decision-support", "inputs": {}})),
        )
        .await;
    envelope(&missing, 422, "VALIDATION");
    assert_eq!(missing.body["error"]["details"]["field"], "inputs.question");
    envelope(
        &api.call(
            "POST",
            "/v1/yaml-workflows/execute",
            Some(json!({"workflow_id": "nope"})),
        )
        .await,
        404,
        "NOT_FOUND",
    );
    worker.shutdown().await.ok();
    orch.stop().await;
}

async fn bad_executions_change_nothing(backend: Backend) {
    let (orch, _, _) = start(backend, config(), "wf-bad-exec").await;
    let api = logged_in(&orch.base_url).await;
    envelope(
        &api.call("POST", "/v1/workflows/ghost/execute", None).await,
        404,
        "NOT_FOUND",
    );
    envelope(
        &api.call("GET", "/v1/executions/ghost", None).await,
        404,
        "NOT_FOUND",
    );
    // Saved, but its prompt template does not exist when it is executed.
    let wf = json!({"id": "mr", "name": "MR", "inputs": {"n": {"type": "integer"}}, "steps": [
        {"id": "m", "type": "ai-prompt", "params": {"prompt_id": "ghost-template"}}]});
    assert_eq!(
        api.call("POST", "/v1/workflows", Some(wf)).await.status,
        200
    );
    let a = api
        .call(
            "POST",
            "/v1/workflows/mr/execute",
            Some(json!({"variables": {}})),
        )
        .await;
    envelope(&a, 422, "VALIDATION");
    assert_eq!(a.body["error"]["details"]["step_id"], "m");
    let typed = api
        .call(
            "POST",
            "/v1/workflows/mr/execute",
            Some(json!({"variables": {"n": "x"}})),
        )
        .await;
    envelope(&typed, 422, "VALIDATION");
    assert_eq!(typed.body["error"]["details"]["field"], "inputs.n");
    envelope(
        &api.call(
            "POST",
            "/v1/workflows/mr/execute",
            Some(json!({"variabels": {}})),
        )
        .await,
        422,
        "VALIDATION",
    );
    let (_, counts) = baton_tests::Client::new(&orch.base_url)
        .get("/api/v1/dashboard")
        .await;
    assert_eq!(counts["jobs"], json!({}), "no job was created: {counts}");
    // An ordinary job is not an execution.
    let job = baton_tests::Client::new(&orch.base_url)
        .create_echo(json!({"m": 1}))
        .await;
    envelope(
        &api.call("GET", &format!("/v1/executions/{job}"), None)
            .await,
        404,
        "NOT_FOUND",
    );
    orch.stop().await;
}

async fn a_sync_execute_past_its_bound_answers_504_and_goes_on(backend: Backend) {
    let (orch, _, _) = start(backend, config(), "wf-bound").await;
    let worker = workflow_worker(&orch.base_url, "wf-w4");
    let api = logged_in(&orch.base_url).await;
    let wf = json!({"id": "slow", "name": "Slow", "timeout_seconds": 0.5, "steps": [
        {"id": "nap", "type": "shell", "params": {"command": "sleep 1.5; echo up"}, "outputs": ["o"]}]});
    assert_eq!(
        api.call("POST", "/v1/workflows", Some(wf)).await.status,
        200
    );
    let a = api
        .call(
            "POST",
            "/v1/workflows/execute",
            Some(json!({"workflow_id": "slow"})),
        )
        .await;
    envelope(&a, 504, "TIMEOUT");
    let id = a.body["error"]["details"]["execution_id"]
        .as_str()
        .unwrap()
        .to_string();
    let e = ended(&api, &id).await;
    assert_eq!(
        (e["status"].as_str(), e["outputs"]["o"].as_str()),
        (Some("completed"), Some("up"))
    );
    worker.shutdown().await.ok();
    orch.stop().await;
}

async fn executions_are_listed_logged_and_cancelled(backend: Backend) {
    let (orch, _, _) = start(backend, config(), "wf-list").await;
    let worker = workflow_worker(&orch.base_url, "wf-w5");
    let api = logged_in(&orch.base_url).await;
    let quick = json!({"id": "quick", "name": "Quick", "steps": [
        {"id": "q", "type": "transform", "params": {"merge": {"a": 1}}}]});
    let slow = json!({"id": "nap", "name": "Nap", "steps": [
        {"id": "zz", "type": "shell", "params": {"command": "sleep 20"}},
        {"id": "after", "type": "transform", "depends_on": ["zz"], "params": {"merge": {}}}]});
    for wf in [quick, slow] {
        assert_eq!(
            api.call("POST", "/v1/workflows", Some(wf)).await.status,
            200
        );
    }
    for _ in 0..2 {
        let a = api
            .call(
                "POST",
                "/v1/workflows/execute",
                Some(json!({"workflow_id": "quick"})),
            )
            .await;
        assert_eq!(a.body["status"], "completed", "{}", a.body);
    }
    let started = api.call("POST", "/v1/workflows/nap/execute", None).await;
    let nap = started.body["execution_id"].as_str().unwrap().to_string();
    // Running: the shell step is taken.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let e = api
            .call("GET", &format!("/v1/executions/{nap}"), None)
            .await
            .body;
        if step(&e, "zz")["status"] == "running" && e["current_step"] == "zz" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never running: {e}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let c = api
        .call("POST", &format!("/v1/executions/{nap}/cancel"), None)
        .await;
    assert_eq!(
        c.body,
        json!({"status": "success", "message": "Execution cancelled"})
    );
    let e = ended(&api, &nap).await;
    assert_eq!(e["status"], "cancelled");
    assert_eq!(step(&e, "after")["status"], "cancelled", "{e}");
    envelope(
        &api.call("POST", &format!("/v1/executions/{nap}/cancel"), None)
            .await,
        409,
        "CONFLICT",
    );

    let all = api.call("GET", "/v1/executions", None).await.body;
    assert_eq!(
        (all["total"].as_u64(), all["page"].as_u64()),
        (Some(3), Some(1)),
        "{all}"
    );
    assert_eq!(all["data"][0]["id"], nap.as_str(), "newest first");
    let done = api
        .call(
            "GET",
            "/v1/executions?status=completed&page_size=1&page=2",
            None,
        )
        .await
        .body;
    assert_eq!(
        (done["total"].as_u64(), done["total_pages"].as_u64()),
        (Some(2), Some(2)),
        "{done}"
    );
    assert_eq!(done["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(done["data"][0]["workflow_id"], "quick");
    let by_wf = api
        .call("GET", "/v1/executions?workflow_id=nap", None)
        .await
        .body;
    assert_eq!(by_wf["total"], 1);
    for bad in ["page_size=0", "page_size=101", "page=x", "status=sleeping"] {
        envelope(
            &api.call("GET", &format!("/v1/executions?{bad}"), None)
                .await,
            400,
            "VALIDATION",
        );
    }

    let logs = api
        .call("GET", &format!("/v1/executions/{nap}/logs"), None)
        .await
        .body;
    let messages: Vec<&str> = logs
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    assert!(
        messages.iter().any(|m| m.contains("step zz")),
        "{messages:?}"
    );
    assert!(logs
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["execution_id"] == nap.as_str()));
    let one = api
        .call("GET", &format!("/v1/executions/{nap}/logs?limit=1"), None)
        .await
        .body;
    assert_eq!(one.as_array().map(Vec::len), Some(1));
    let warnings = api
        .call(
            "GET",
            &format!("/v1/executions/{nap}/logs?level=warning"),
            None,
        )
        .await
        .body;
    assert!(
        warnings
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["level"] == "warning"),
        "{warnings}"
    );
    assert!(
        !warnings.as_array().unwrap().is_empty(),
        "the cancel is a warning: {logs}"
    );
    envelope(
        &api.call(
            "GET",
            &format!("/v1/executions/{nap}/logs?level=loud"),
            None,
        )
        .await,
        400,
        "VALIDATION",
    );
    envelope(
        &api.call("GET", "/v1/executions/ghost/logs", None).await,
        404,
        "NOT_FOUND",
    );
    worker.shutdown().await.ok();
    orch.stop().await;
}

async fn prompt_templates_are_kept_and_used_by_ai_steps(backend: Backend) {
    let (orch, _, _) = start(backend, config(), "wf-prompts").await;
    let worker = workflow_worker(&orch.base_url, "wf-w6");
    let api = logged_in(&orch.base_url).await;
    let prompt = json!({"id": "code-review", "name": "Code Review", "description": "Review code",
        "template": "Review the following code:\n{{code}}", "model": "reviewer"});
    let a = api.call("POST", "/v1/prompts", Some(prompt.clone())).await;
    assert_eq!(
        a.body,
        json!({"status": "success", "template_id": "code-review"})
    );
    envelope(
        &api.call("POST", "/v1/prompts", Some(prompt)).await,
        409,
        "CONFLICT",
    );
    envelope(
        &api.call(
            "POST",
            "/v1/prompts",
            Some(json!({"id": "x", "name": "X", "template": " "})),
        )
        .await,
        422,
        "VALIDATION",
    );
    let list = api.call("GET", "/v1/prompts", None).await.body;
    assert_eq!(
        list,
        json!([{"id": "code-review", "name": "Code Review", "description": "Review code"}])
    );
    let one = api.call("GET", "/v1/prompts/code-review", None).await.body;
    assert_eq!(one["template"], "Review the following code:\n{{code}}");
    let wf = json!({"id": "review", "name": "Review", "steps": [
        {"id": "r", "type": "ai-prompt", "outputs": ["review"],
         "params": {"prompt_id": "code-review", "variables": {"code": "fn {{name}}() {}"}}}]});
    assert_eq!(
        api.call("POST", "/v1/workflows", Some(wf)).await.status,
        200
    );
    let run = api
        .call(
            "POST",
            "/v1/workflows/execute",
            Some(json!({"workflow_id": "review", "variables": {"name": "main"}})),
        )
        .await;
    assert_eq!(
        run.body["outputs"]["review"],
        "[offline reviewer] Review the following code:\nfn main() {}",
        "{}",
        run.body
    );
    assert_eq!(
        api.call("DELETE", "/v1/prompts/code-review", None)
            .await
            .body,
        json!({"status": "success"})
    );
    envelope(
        &api.call("GET", "/v1/prompts/code-review", None).await,
        404,
        "NOT_FOUND",
    );
    // A step naming a template that is gone: 422 naming the step, nothing started.
    let gone = api.call("POST", "/v1/workflows/review/execute", None).await;
    envelope(&gone, 422, "VALIDATION");
    assert_eq!(gone.body["error"]["details"]["step_id"], "r");
    assert_eq!(
        api.call("GET", "/v1/executions", None).await.body["total"],
        1
    );
    worker.shutdown().await.ok();
    orch.stop().await;
}

async fn executions_are_jobs_too_and_are_deleted_and_cleaned_up(backend: Backend) {
    let (orch, _, _) = start(backend, config(), "wf-jobs").await;
    let worker = workflow_worker(&orch.base_url, "wf-w7");
    let api = logged_in(&orch.base_url).await;
    let wf = json!({"id": "j", "name": "J", "steps": [
        {"id": "s", "type": "transform", "params": {"merge": {"a": 1}}, "outputs": ["a"]}]});
    assert_eq!(
        api.call("POST", "/v1/workflows", Some(wf)).await.status,
        200
    );
    let sub = api
        .call(
            "POST",
            "/v1/jobs",
            Some(json!({"workflow_id": "j", "variables": {"v": 1}})),
        )
        .await;
    assert_eq!(sub.body["status"], "submitted", "{}", sub.body);
    let id = sub.body["job_id"].as_str().unwrap().to_string();
    assert_eq!(sub.body["poll_url"], format!("/v1/jobs/{id}"));
    let e = ended(&api, &id).await;
    assert_eq!(e["status"], "completed");
    let job = api.call("GET", &format!("/v1/jobs/{id}"), None).await.body;
    assert_eq!(
        job["result"],
        json!({"status": "completed", "outputs": {"a": {"a": 1}}}),
        "{job}"
    );
    assert_eq!(job["variables"], json!({"v": 1}));
    let second = api
        .call("POST", "/v1/jobs", Some(json!({"workflow_id": "j"})))
        .await;
    let second = second.body["job_id"].as_str().unwrap().to_string();
    ended(&api, &second).await;
    let stats = api.call("GET", "/v1/jobs/stats", None).await.body;
    assert_eq!(
        (stats["total"].as_u64(), stats["completed"].as_u64()),
        (Some(2), Some(2)),
        "{stats}"
    );
    let list = api
        .call("GET", "/v1/jobs?status=completed&limit=1", None)
        .await
        .body;
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert_eq!(list[0]["id"], second.as_str(), "newest first");
    envelope(
        &api.call("GET", "/v1/jobs?status=odd", None).await,
        400,
        "VALIDATION",
    );
    envelope(
        &api.call("POST", "/v1/jobs", Some(json!({"workflow_id": "ghost"})))
            .await,
        404,
        "NOT_FOUND",
    );
    envelope(
        &api.call("POST", &format!("/v1/jobs/{id}/cancel"), None)
            .await,
        409,
        "CONFLICT",
    );

    // Delete: ended only; then gone from every view.
    assert_eq!(
        api.call("DELETE", &format!("/v1/jobs/{id}"), None)
            .await
            .body,
        json!({"status": "success"})
    );
    envelope(
        &api.call("GET", &format!("/v1/executions/{id}"), None).await,
        404,
        "NOT_FOUND",
    );
    envelope(
        &api.call("DELETE", &format!("/v1/executions/{id}"), None)
            .await,
        404,
        "NOT_FOUND",
    );
    assert_eq!(
        api.call("GET", "/v1/jobs/stats", None).await.body["total"],
        1
    );
    let slow = json!({"id": "slow2", "name": "Slow", "steps": [
        {"id": "z", "type": "shell", "params": {"command": "sleep 20"}}]});
    assert_eq!(
        api.call("POST", "/v1/workflows", Some(slow)).await.status,
        200
    );
    let running = api.call("POST", "/v1/workflows/slow2/execute", None).await;
    let running = running.body["execution_id"].as_str().unwrap().to_string();
    envelope(
        &api.call("DELETE", &format!("/v1/executions/{running}"), None)
            .await,
        409,
        "CONFLICT",
    );
    // Cleanup: only ended ones older than the age; the running one stays.
    let none = api
        .call("POST", "/v1/executions/cleanup?max_age_hours=1", None)
        .await
        .body;
    assert_eq!(none, json!({"status": "success", "deleted": 0}));
    let all = api
        .call("POST", "/v1/jobs/cleanup?max_age_hours=0", None)
        .await
        .body;
    assert_eq!(
        all,
        json!({"status": "success", "deleted": 1}),
        "the second job"
    );
    envelope(
        &api.call("POST", "/v1/jobs/cleanup?max_age_hours=-1", None)
            .await,
        400,
        "VALIDATION",
    );
    let left = api.call("GET", "/v1/executions", None).await.body;
    assert_eq!(left["total"], 1);
    assert_eq!(left["data"][0]["id"], running.as_str());
    api.call("POST", &format!("/v1/executions/{running}/cancel"), None)
        .await;
    worker.shutdown().await.ok();
    orch.stop().await;
}

async fn versions_decide_what_runs(backend: Backend) {
    let (orch, _, _) = start(backend, config(), "wf-versions").await;
    let worker = workflow_worker(&orch.base_url, "wf-w8");
    let api = logged_in(&orch.base_url).await;
    let content = |word: &str| {
        format!(
        "name: Greeter\nsteps:\n  - id: say\n    type: transform\n    params: {{template: \"{word} {{{{who}}}}\"}}\n    outputs: [greeting]\n"
    )
    };
    let save = |v: &str, c: String, activate: bool| json!({"version": v, "content": c, "description": format!("v{v}"), "activate": activate});
    let a = api
        .call(
            "POST",
            "/v1/workflows/greeter/versions",
            Some(save("1.0.0", content("hello"), false)),
        )
        .await;
    assert_eq!(
        a.body,
        json!({"status": "success", "workflow_name": "greeter", "version": "1.0.0", "is_active": true}),
        "the first is active"
    );
    // Saving a version of a name with no workflow made the workflow.
    assert_eq!(
        api.call("GET", "/v1/workflows/greeter", None).await.body["name"],
        "Greeter"
    );
    let same = api
        .call(
            "POST",
            "/v1/workflows/greeter/versions",
            Some(save("1.0.1", content("hello"), false)),
        )
        .await;
    assert_eq!(
        same.body["version"], "1.0.0",
        "identical content is the existing version"
    );
    let v2 = api
        .call(
            "POST",
            "/v1/workflows/greeter/versions",
            Some(save("1.1.0", content("hi"), true)),
        )
        .await;
    assert_eq!(v2.body["is_active"], true);
    envelope(
        &api.call(
            "POST",
            "/v1/workflows/greeter/versions",
            Some(save("1.1.0", content("yo"), false)),
        )
        .await,
        409,
        "CONFLICT",
    );
    for bad in ["1.1", "v1.2.0", "1.02.0"] {
        envelope(
            &api.call(
                "POST",
                "/v1/workflows/greeter/versions",
                Some(save(bad, content("x"), false)),
            )
            .await,
            400,
            "VALIDATION",
        );
    }
    envelope(
        &api.call(
            "POST",
            "/v1/workflows/greeter/versions",
            Some(save("2.0.0", "name: X\nsteps: []\n".into(), false)),
        )
        .await,
        422,
        "VALIDATION",
    );
    let run = |who: &'static str| {
        let api = &api;
        async move {
            let a = api
                .call(
                    "POST",
                    "/v1/workflows/execute",
                    Some(json!({"workflow_id": "greeter", "variables": {"who": who}})),
                )
                .await;
            assert_eq!(a.body["status"], "completed", "{}", a.body);
            let e = api
                .call(
                    "GET",
                    &format!(
                        "/v1/executions/{}",
                        a.body["execution_id"].as_str().unwrap()
                    ),
                    None,
                )
                .await
                .body;
            (
                a.body["outputs"]["greeting"].as_str().unwrap().to_string(),
                e["workflow_version"].as_str().unwrap().to_string(),
            )
        }
    };
    assert_eq!(
        run("ann").await,
        ("hi ann".to_string(), "1.1.0".to_string()),
        "the active version runs"
    );
    let cmp = api
        .call(
            "GET",
            "/v1/workflows/greeter/versions/compare?from_version=1.0.0&to_version=1.1.0",
            None,
        )
        .await
        .body;
    assert_eq!(
        (
            cmp["has_changes"].as_bool(),
            cmp["added_lines"].as_u64(),
            cmp["removed_lines"].as_u64()
        ),
        (Some(true), Some(1), Some(1)),
        "{cmp}"
    );
    assert_eq!(cmp["changed_sections"], json!(["steps"]));
    assert!(
        cmp["unified_diff"]
            .as_str()
            .unwrap()
            .starts_with("--- 1.0.0\n+++ 1.1.0\n@@"),
        "{cmp}"
    );
    let rb = api
        .call("POST", "/v1/workflows/greeter/rollback", None)
        .await
        .body;
    assert_eq!(rb["rolled_back_to"], "1.0.0");
    assert_eq!(run("bob").await.0, "hello bob");
    envelope(
        &api.call("POST", "/v1/workflows/greeter/rollback", None)
            .await,
        409,
        "CONFLICT",
    );
    let act = api
        .call(
            "POST",
            "/v1/workflows/greeter/versions/1.1.0/activate",
            None,
        )
        .await
        .body;
    assert_eq!(act["active_version"], "1.1.0");
    assert_eq!(run("cy").await.0, "hi cy");
    envelope(
        &api.call("DELETE", "/v1/workflows/greeter/versions/1.1.0", None)
            .await,
        409,
        "CONFLICT",
    );
    assert_eq!(
        api.call("DELETE", "/v1/workflows/greeter/versions/1.0.0", None)
            .await
            .body,
        json!({"status": "success"})
    );
    envelope(
        &api.call("GET", "/v1/workflows/greeter/versions/1.0.0", None)
            .await,
        404,
        "NOT_FOUND",
    );
    let list = api
        .call("GET", "/v1/workflows/greeter/versions", None)
        .await
        .body;
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert_eq!(
        (
            list[0]["version_minor"].as_u64(),
            list[0]["is_active"].as_bool()
        ),
        (Some(1), Some(true))
    );
    assert_eq!(list[0]["content_hash"].as_str().map(str::len), Some(64));
    let all = api.call("GET", "/v1/workflow-versions", None).await.body;
    assert_eq!(
        all,
        json!([{"workflow_name": "greeter", "latest_version": "1.1.0", "active_version": "1.1.0", "total_versions": 1}])
    );
    worker.shutdown().await.ok();
    orch.stop().await;
}

on_both_stores!(
    versions_decide_what_runs,
    executions_are_jobs_too_and_are_deleted_and_cleaned_up,
    prompt_templates_are_kept_and_used_by_ai_steps,
    executions_are_listed_logged_and_cancelled,
    a_dag_runs_its_parallel_pair_and_skips_a_false_condition,
    failure_modes_skip_default_retry_or_abort,
    yaml_workflows_run_synchronously_step_by_step,
    bad_executions_change_nothing,
    a_sync_execute_past_its_bound_answers_504_and_goes_on,
);

/// Executed on one orchestrator, run by a worker of another, seen from a third view.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_execution_started_on_one_orchestrator_is_run_and_seen_through_another() {
    baton_tests::init_tracing();
    let prefix = baton_tests::unique_prefix("wf-two-exec");
    let url = shared_redis().url();
    let a = Orchestrator::redis(config(), &url, &prefix).await;
    let b = Orchestrator::redis(config(), &url, &prefix).await;
    let worker = workflow_worker(&b.base_url, "wf-on-b");
    let on_a = logged_in(&a.base_url).await;
    let mut on_b = Api::new(&b.base_url);
    on_b.token = on_a.token.clone();
    let wf = json!({"id": "two", "name": "Two", "steps": [
        {"id": "x", "type": "transform", "params": {"merge": {"k": "v"}}, "outputs": ["x"]},
        {"id": "y", "type": "transform", "depends_on": ["x"], "params": {"pick": ["x"]}, "outputs": ["y"]}]});
    assert_eq!(
        on_a.call("POST", "/v1/workflows", Some(wf)).await.status,
        200
    );
    let started = on_a.call("POST", "/v1/workflows/two/execute", None).await;
    let id = started.body["execution_id"].as_str().unwrap().to_string();
    let e = ended(&on_b, &id).await;
    assert_eq!(e["outputs"]["y"], json!({"x": {"k": "v"}}), "{e}");
    worker.shutdown().await.ok();
    a.stop().await;
    b.stop().await;
}
