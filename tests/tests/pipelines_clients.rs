//! The coding-pipelines API as its real clients use it, on both stores: each scenario
//! sends what an upstream client (the TasksGodzilla CLI and Textual TUI, the DeksdenFlow
//! CLI, the web console) or its tests send, and reads what they read, in the public
//! repository `ilyafedotov-ops/dev-pipeline` (commit 233b0fc; the DeksdenFlow code is the
//! parent of 8a270d0). The comment over each request names the file and function it
//! comes from; reading a key the way Python does (`d["key"]`) is [`key`], which fails
//! where the client would raise `KeyError`.
//!
//! CI webhooks are in `pipelines_clients_ci.rs`.

use baton_tests::backend::{start, Backend};
use baton_tests::git_world::{stage, world};
use baton_tests::orchestrator::test_config;
use baton_tests::pipelines::Api;
use serde_json::{json, Value};

baton_tests::on_both_stores!(
    queue_jobs_and_stats_read_as_the_clis_and_the_tui_read_them,
    job_types_are_the_upstream_names,
    actions_answer_the_record_and_events_carry_upstream_names,
    onboarding_summary_has_a_hint_the_last_event_and_stage_times,
    enterprise_compliance_asks_data_classification_and_findings_show_it,
    codemachine_policies_carry_behavior,
);

/// `d[name]` as the clients read it: the key must be there.
fn key<'a>(d: &'a Value, name: &str) -> &'a Value {
    d.get(name)
        .unwrap_or_else(|| panic!("a client reading [{name:?}] raises KeyError on {d}"))
}

fn items(v: &Value) -> &Vec<Value> {
    v.as_array().unwrap_or_else(|| panic!("a list: {v}"))
}

/// A POST without a body, as `APIClient.post(path)` sends the actions; the answer.
async fn post(api: &Api, path: &str) -> Value {
    let a = api.call(reqwest::Method::POST, path, None).await;
    assert_eq!(a.status, 200, "POST {path}: {}", a.text);
    a.body
}

fn now_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

async fn queue_jobs_and_stats_read_as_the_clis_and_the_tui_read_them(backend: Backend) {
    let (orch, _, _) = start(backend, test_config(), "pl-cli-queues").await;
    let api = Api::new(&orch);
    let project = api.project("demo").await; // enqueues its project_setup_job
    let run = api.run(project, "0001-demo", "pending").await;
    post(&api, &format!("/protocols/{run}/actions/start")).await;

    // tasksgodzilla/cli/main.py::handle_queues, `queues jobs [--status queued]` (and
    // deksdenflow/cli/main.py::handle_queues, the same table): rows of j["job_id"],
    // j["job_type"], j["status"], j["queue"].
    for path in ["/queues/jobs", "/queues/jobs?status=queued"] {
        let jobs = api.get(path).await;
        assert_eq!(jobs.status, 200, "{}", jobs.text);
        let mut types = Vec::new();
        for j in items(&jobs.body) {
            assert!(key(j, "job_id").is_string(), "{j}");
            types.push(key(j, "job_type").as_str().unwrap_or_default().to_string());
            assert_eq!(key(j, "status"), "queued");
            assert_eq!(key(j, "queue"), "default");
            // Upstream's epoch-second floats, beside the RFC 3339 times.
            let created = key(j, "created_at_epoch").as_f64().expect("a number");
            assert!((now_s() - created).abs() < 600.0, "{j}");
            assert!(key(j, "created_at")
                .as_str()
                .is_some_and(|t| t.contains('T')));
            assert_eq!(key(j, "attempts"), 1);
        }
        assert_eq!(types, ["plan_protocol_job", "project_setup_job"], "{path}");
    }

    // tasksgodzilla/cli/main.py::handle_queues, `queues stats`, prints the object, in
    // which tests/test_cli.py::test_cli_project_and_protocol_flow looks for "backend";
    // tasksgodzilla/cli/tui.py::TuiDashboard._render_queue calls .items() on it, and
    // tasksgodzilla/api/frontend/console.js::renderQueue takes `{backend, ...queues}` and
    // reads data.queued, .started, .finished, .failed of each queue.
    let stats = api.get("/queues").await;
    assert_eq!(stats.status, 200, "{}", stats.text);
    let map = stats
        .body
        .as_object()
        .expect("an object: the TUI calls .items()");
    assert!(stats.text.contains("backend"));
    assert!(map["backend"]
        .as_str()
        .is_some_and(|b| b.starts_with("baton-")));
    for (name, data) in map.iter().filter(|(k, _)| *k != "backend") {
        for count in ["queued", "started", "finished", "failed"] {
            assert!(key(data, count).is_u64(), "queue {name}: {data}");
        }
    }
    assert_eq!(map["default"]["queued"], 2, "{}", stats.text);
    assert_eq!(
        map["default"]["job_types"]["plan_protocol_job"]["queued"],
        1
    );
    orch.stop().await;
}

async fn job_types_are_the_upstream_names(backend: Backend) {
    let (orch, _, _) = start(backend, test_config(), "pl-cli-jobtypes").await;
    let api = Api::new(&orch);
    let project = api.project("demo").await;
    let run = api.run(project, "0001-demo", "planning").await;
    let step = api
        .ok(
            &format!("/protocols/{run}/steps"),
            json!({"step_index": 0, "step_name": "00-setup", "step_type": "setup", "status": "pending"}),
        )
        .await["id"]
        .as_u64()
        .expect("step id");
    // tests/test_api_endpoints.py::test_api_projects_protocols_steps_end_to_end:
    // run_action["job"]["job_type"] == "execute_step_job".
    let ran = post(&api, &format!("/steps/{step}/actions/run")).await;
    assert_eq!(key(key(&ran, "job"), "job_type"), "execute_step_job");
    // tests/test_api_endpoints.py::test_run_step_qa_uses_orchestrator.
    let qa = post(&api, &format!("/steps/{step}/actions/run_qa")).await;
    assert_eq!(qa["job"]["job_type"], "run_quality_job");
    // tests/test_api_endpoints.py::test_open_pr_action_enqueues_job.
    let pr = post(&api, &format!("/protocols/{run}/actions/open_pr")).await;
    assert_eq!(pr["job"]["job_type"], "open_pr_job");
    // tasksgodzilla/cli/main.py::handle_protocols, `create-and-start`: POST the run, then
    // start; prints start_resp["job"]["job_id"].
    let other = api
        .ok(
            &format!("/projects/{project}/protocols"),
            json!({"protocol_name": "0002-demo", "status": "pending", "base_branch": "main",
                   "worktree_path": null, "protocol_root": null, "description": null}),
        )
        .await;
    let id = other["id"].as_u64().expect("id");
    let started = post(&api, &format!("/protocols/{id}/actions/start")).await;
    assert!(started["job"]["job_id"].is_string());
    assert_eq!(started["job"]["job_type"], "plan_protocol_job");
    // tasksgodzilla/cli/main.py::handle_projects, `onboarding-start`: job.get("job_id").
    let setup = api
        .ok(
            &format!("/projects/{project}/onboarding/actions/start"),
            json!({}),
        )
        .await;
    assert_eq!(setup["job"]["job_type"], "project_setup_job");
    assert!(setup["job"]["job_id"].is_string());
    // tasksgodzilla/cli/main.py::handle_codemachine, `codemachine import --enqueue`.
    let cm = api
        .ok(
            &format!("/projects/{project}/codemachine/import"),
            json!({"protocol_name": "0003-cm", "workspace_path": "/elsewhere", "base_branch": "main",
                   "description": null, "enqueue": true}),
        )
        .await;
    assert_eq!(cm["job"]["job_type"], "codemachine_import_job");
    assert!(cm["protocol_run"]["protocol_name"].is_string());

    // Runs in flight carry the same names; a filter takes either form.
    for filter in ["execute_step_job", "execute_step"] {
        let runs = api.get(&format!("/codex/runs?job_type={filter}")).await;
        assert_eq!(runs.status, 200, "{}", runs.text);
        let types: Vec<&Value> = items(&runs.body).iter().map(|r| &r["job_type"]).collect();
        assert_eq!(
            types,
            [&json!("execute_step_job")],
            "{filter}: {}",
            runs.text
        );
    }
    orch.stop().await;
}

/// The run's event types, newest first.
async fn event_types(api: &Api, run: u64) -> Vec<Value> {
    let events = api.get(&format!("/protocols/{run}/events")).await.body;
    items(&events).clone()
}

fn find<'a>(events: &'a [Value], kind: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["event_type"] == kind)
        .unwrap_or_else(|| panic!("{kind} in {events:?}"))
}

async fn actions_answer_the_record_and_events_carry_upstream_names(backend: Backend) {
    let (orch, _, _) = start(backend, test_config(), "pl-cli-actions").await;
    let api = Api::new(&orch);
    let project = api.project("demo").await;
    // tests/test_api_endpoints.py::test_api_projects_protocols_steps_end_to_end: a run
    // in `planning`, a step, run it, approve it, then pause, resume and cancel the run
    // reading resp.json()["status"] of each, and events filtered by `manual_approval`.
    let run = api.run(project, "0001-demo", "planning").await;
    let step = api.step(run, 0, "pending").await;
    let later = api.step(run, 1, "pending").await;
    let ran = post(&api, &format!("/steps/{step}/actions/run")).await;
    let approved = post(&api, &format!("/steps/{step}/actions/approve")).await;
    assert_eq!(key(&approved, "status"), "completed", "{approved}");
    assert_eq!(key(&approved, "id"), step);
    assert!(key(&approved, "message").is_string());
    assert_eq!(key(&approved, "job"), &Value::Null);
    for (action, status) in [
        ("pause", "paused"),
        ("resume", "running"),
        ("cancel", "cancelled"),
    ] {
        let resp = api
            .call(
                reqwest::Method::POST,
                &format!("/protocols/{run}/actions/{action}"),
                None,
            )
            .await;
        assert_eq!(resp.status, 200, "{}", resp.text);
        assert_eq!(key(&resp.body, "status"), status, "{action}: {}", resp.text);
        assert_eq!(resp.body["id"], run);
        // tasksgodzilla/cli/main.py::handle_protocols prints resp["message"].
        assert!(key(&resp.body, "message").is_string());
        assert_eq!(key(&resp.body, "job"), &Value::Null);
    }
    assert_eq!(api.status_of(&format!("/steps/{later}")).await, "cancelled");
    let events = event_types(&api, run).await;
    assert_eq!(
        find(&events, "manual_approval")["metadata"]["baton_event"],
        "step_approved"
    );
    let enqueued = find(&events, "step_enqueued");
    assert_eq!(enqueued["metadata"]["job_id"], ran["job"]["job_id"]);
    assert_eq!(enqueued["metadata"]["from"], "pending");
    for (kind, baton) in [
        ("paused", "protocol_paused"),
        ("resumed", "protocol_resumed"),
        ("cancelled", "protocol_cancelled"),
    ] {
        assert_eq!(find(&events, kind)["metadata"]["baton_event"], baton);
    }

    // The enqueueing actions, under upstream's names (tasksgodzilla/api/app.py writes
    // them; tests/test_api_webhooks.py looks for `qa_enqueued`).
    let other = api.run(project, "0002-demo", "pending").await;
    post(&api, &format!("/protocols/{other}/actions/start")).await;
    let working = api.run(project, "0003-demo", "running").await;
    let failed = api.step(working, 0, "failed").await;
    let qa = api.step(working, 1, "pending").await;
    post(&api, &format!("/protocols/{working}/actions/retry_latest")).await;
    post(&api, &format!("/steps/{qa}/actions/run_qa")).await;
    post(&api, &format!("/protocols/{working}/actions/open_pr")).await;
    let mut events = event_types(&api, other).await;
    events.extend(event_types(&api, working).await);
    for kind in [
        "planning_enqueued",
        "step_retry_enqueued",
        "qa_enqueued",
        "open_pr_enqueued",
    ] {
        assert!(
            find(&events, kind)["metadata"]["job_id"].is_string(),
            "{kind}"
        );
    }
    assert_eq!(find(&events, "step_retry_enqueued")["step_run_id"], failed);
    assert_eq!(
        find(&events, "step_retry_enqueued")["metadata"]["retries"],
        1
    );
    orch.stop().await;
}

async fn onboarding_summary_has_a_hint_the_last_event_and_stage_times(backend: Backend) {
    let w = world("cli-onboarding", backend).await;
    let (orch, _, _) = start(backend, w.config(), "pl-cli-onboarding").await;
    let api = Api::new(&orch);
    // tasksgodzilla/cli/main.py::handle_projects, `projects create` then `projects
    // onboarding <id>`: summary["project_id"], summary["status"], summary.get("hint"),
    // last_event["event_type"] and .get("created_at"), and per stage .get("name"),
    // .get("status"), .get("created_at") (`At`), .get("message");
    // tests/test_cli.py::test_cli_project_and_protocol_flow expects "Setup job is queued
    // but not running" while no worker runs.
    let created = api
        .ok(
            "/projects",
            json!({"name": "demo", "git_url": w.url(), "base_branch": "main",
                   "ci_provider": null, "default_models": null}),
        )
        .await;
    let id = key(&created, "id").as_u64().expect("id");
    let path = format!("/projects/{id}/onboarding");
    let queued = api.get(&path).await.body;
    assert_eq!(key(&queued, "project_id"), id);
    assert_eq!(key(&queued, "status"), "pending");
    assert!(
        queued["hint"]
            .as_str()
            .is_some_and(|h| h.starts_with("Setup job is queued but not running")),
        "{queued}"
    );
    let last = key(&queued, "last_event");
    assert_eq!(key(last, "event_type"), "setup_enqueued");
    assert!(last["created_at"].as_str().is_some_and(|t| t.contains('T')));
    for st in items(key(&queued, "stages")) {
        assert!(st["name"].is_string() && st["status"] == "pending", "{st}");
        assert_eq!(st["key"], st["name"]);
        assert_eq!(st["created_at"], Value::Null, "no event set it yet");
    }

    // tasksgodzilla/cli/tui.py::TuiDashboard._render_onboarding reads the same after an
    // inline setup (tests/test_api_endpoints.py::test_onboarding_start_endpoint_enqueues_setup
    // starts one): every stage set by an event has its time.
    api.ok(
        &format!("/projects/{id}/onboarding/actions/start"),
        json!({"inline": true}),
    )
    .await;
    let done = api.get(&path).await.body;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["last_event"]["event_type"], "setup_completed");
    for name in ["resolve", "discovery", "git", "clarifications"] {
        let st = stage(&done, name);
        assert!(
            st["created_at"].as_str().is_some_and(|t| t.contains('T')),
            "{st}"
        );
        assert!(st["event_type"]
            .as_str()
            .is_some_and(|t| t.starts_with("setup_")));
    }
    assert_eq!(
        stage(&done, "discovery")["event_type"],
        "setup_discovery_skipped"
    );
    // Inline setups skip discovery: the hint says how to get it.
    assert!(
        done["hint"]
            .as_str()
            .is_some_and(|h| h.contains("Discovery was skipped")),
        "{done}"
    );
    orch.stop().await;
}

async fn enterprise_compliance_asks_data_classification_and_findings_show_it(backend: Backend) {
    let w = world("cli-compliance", backend).await;
    let (orch, _, _) = start(backend, w.config(), "pl-cli-compliance").await;
    let api = Api::new(&orch);
    // tests/test_clarifications_api.py::test_project_clarifications_are_persisted_and_answerable:
    // an enterprise-compliance project, inline onboarding, then the open clarifications.
    let proj = api
        .ok(
            "/projects",
            json!({"name": "demo", "git_url": w.url(), "base_branch": "main",
                   "project_classification": "enterprise-compliance"}),
        )
        .await;
    let id = proj["id"].as_u64().expect("id");
    let resp = api
        .ok(
            &format!("/projects/{id}/onboarding/actions/start"),
            json!({"inline": true}),
        )
        .await;
    assert!(resp.get("message").is_some());
    let open_path = format!("/projects/{id}/clarifications?status=open");
    let open = api.get(&open_path).await.body;
    let asked = items(&open)
        .iter()
        .find(|c| c["key"] == "data_classification")
        .unwrap_or_else(|| panic!("data_classification in {open}"));
    assert_eq!(
        (&asked["blocking"], &asked["applies_to"]),
        (&json!(true), &json!("onboarding"))
    );

    // tasksgodzilla/cli/tui.py::TuiDashboard._load_policy_findings and
    // _render_policy_findings: blocking = severity "error", f["code"] of each.
    let findings_path = format!("/projects/{id}/policy/findings");
    let findings = api.get(&findings_path).await;
    assert_eq!(findings.status, 200, "{}", findings.text);
    let blocking: Vec<&Value> = items(&findings.body)
        .iter()
        .filter(|f| f["severity"] == "error")
        .collect();
    assert!(
        blocking
            .iter()
            .any(|f| key(f, "code") == "policy.clarification.blocking_open"
                && f["metadata"]["key"] == "data_classification"),
        "{}",
        findings.text
    );

    let answered = api
        .ok(
            &format!("/projects/{id}/clarifications/data_classification"),
            json!({"answer": {"value": "internal"}, "answered_by": "tester"}),
        )
        .await;
    assert_eq!(answered["key"], "data_classification");
    assert_eq!(answered["status"], "answered");
    assert_eq!(answered["answered_by"], "tester");
    let open = api.get(&open_path).await.body;
    assert!(!items(&open)
        .iter()
        .any(|c| c["key"] == "data_classification"));
    let findings = api.get(&findings_path).await.body;
    assert!(
        !items(&findings)
            .iter()
            .any(|f| f["metadata"]["key"] == "data_classification"),
        "{findings}"
    );
    // A project without a pack: a warning, nothing blocking.
    let plain = api.project("plain").await;
    let f = api
        .get(&format!("/projects/{plain}/policy/findings"))
        .await
        .body;
    assert_eq!(f[0]["code"], "policy.pack.defaulted", "{f}");
    assert_eq!(f[0]["severity"], "warning");
    assert_eq!(api.get("/projects/999/policy/findings").await.status, 404);
    orch.stop().await;
}

async fn codemachine_policies_carry_behavior(backend: Backend) {
    let (orch, _, _) = start(backend, test_config(), "pl-cli-codemachine").await;
    let api = Api::new(&orch);
    let ws = std::env::temp_dir().join(format!("baton-cli-cm-{backend:?}-{}", std::process::id()));
    let config = ws.join(".codemachine/config");
    std::fs::create_dir_all(&config).expect("workspace");
    std::fs::write(
        config.join("main.agents.js"),
        "export default [{id: 'plan', engineId: 'codex', moduleId: 'checker'}, {id: 'build'}];",
    )
    .expect("agents");
    std::fs::write(
        config.join("modules.js"),
        "export default [{id: 'checker', behavior: {type: 'loop', maxIterations: 2, stepBack: 1}}];",
    )
    .expect("modules");
    std::fs::write(
        ws.join(".codemachine/template.json"),
        r#"{"template": "t1"}"#,
    )
    .expect("template");
    let project = api.project("demo").await;
    // tests/test_codemachine_api_import.py::test_codemachine_import_inline_creates_steps_and_template:
    // import inline, then steps[0]["policy"][0]["behavior"] == "loop".
    let resp = api
        .ok(
            &format!("/projects/{project}/codemachine/import"),
            json!({"protocol_name": "9999-demo", "workspace_path": ws.to_str(), "enqueue": false}),
        )
        .await;
    let run = key(&resp, "protocol_run");
    assert_eq!(run["template_config"]["template"]["template"], "t1");
    let steps = api
        .get(&format!("/protocols/{}/steps", run["id"]))
        .await
        .body;
    let policy = &steps[0]["policy"][0];
    assert_eq!(key(policy, "behavior"), "loop", "{steps}");
    assert_eq!(policy["type"], "loop", "Baton's name stays");
    assert_eq!(
        (&policy["max_iterations"], &policy["step_back"]),
        (&json!(2), &json!(1))
    );
    assert_eq!(steps[0]["engine_id"], "codex");
    let _ = std::fs::remove_dir_all(&ws);
    orch.stop().await;
}
