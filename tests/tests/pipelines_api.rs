//! The coding-pipelines HTTP API (`/projects`, `/protocols`, `/steps`,
//! `/events`, `/health`) on the embedded store and on Redis: records, state changes
//! through the tables (409 on a wrong status), events newest first with names, the
//! bearer and per-project tokens, secrets never answered, `X-Request-ID` on every answer.

use baton_orchestrator::config::Config;
use baton_orchestrator::pipelines::{ClarificationScope, NewClarification};
use baton_tests::backend::{start, Backend};
use baton_tests::orchestrator::test_config;
use baton_tests::pipelines::Api;
use serde_json::{json, Value};

baton_tests::on_both_stores!(
    projects_are_created_listed_and_read_without_secrets,
    protocol_start_pause_resume_and_cancel,
    run_next_step_takes_the_first_runnable_step,
    approve_is_guarded_and_the_last_approval_completes_the_run,
    events_are_newest_first_with_names,
    clarifications_are_listed_and_answered,
    bearer_and_project_tokens_are_checked,
    health_answers_ok,
);

const API_TOKEN: &str = "api-secret";

async fn projects_are_created_listed_and_read_without_secrets(backend: Backend) {
    let (orch, _, _) = start(backend, test_config(), "pl-projects").await;
    let api = Api::new(&orch);
    let created = api
        .post(
            "/projects",
            json!({"name": "demo", "git_url": "https://example.com/demo.git",
                   "ci_provider": "github", "secrets": {"github_token": "s3cret-value"}}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert!(created.request_id.is_some(), "X-Request-ID on every answer");
    assert!(!created.text.contains("s3cret-value") && !created.text.contains("secrets"));
    assert_eq!(created.body["base_branch"], "main");
    assert!(created.body["created_at"]
        .as_str()
        .is_some_and(|t| t.contains('T')));
    let id = created.body["id"].as_u64().expect("id");

    let list = api.get("/projects").await;
    assert_eq!(list.status, 200);
    assert!(!list.text.contains("s3cret-value"), "{}", list.text);
    assert_eq!(list.body.as_array().map(Vec::len), Some(1));
    let one = api.get(&format!("/projects/{id}")).await;
    assert_eq!((one.status, &one.body["name"]), (200, &json!("demo")));
    assert!(!one.text.contains("s3cret-value"));

    // The caller's request id is echoed.
    let echoed = api
        .http
        .get(format!("{}/projects/{id}", api.base))
        .header("X-Request-ID", "req-42")
        .send()
        .await
        .expect("request");
    assert_eq!(echoed.headers()["x-request-id"], "req-42");

    let bad = api.get("/projects/abc").await;
    assert_eq!(
        (bad.status, &bad.body["code"]),
        (400, &json!("bad_request"))
    );
    assert!(bad.request_id.is_some());
    assert_eq!(api.get("/projects/999").await.status, 404);
    let no_name = api.post("/projects", json!({"git_url": "x"})).await;
    assert_eq!(no_name.status, 400, "{}", no_name.text);
    assert_eq!(api.get("/protocols/x1/steps").await.status, 400);
    orch.stop().await;
}

async fn protocol_start_pause_resume_and_cancel(backend: Backend) {
    let (orch, _, _) = start(backend, test_config(), "pl-actions").await;
    let api = Api::new(&orch);
    let project = api.project("p").await;
    let run = api.run(project, "0001-demo", "pending").await;
    let started = api
        .post(&format!("/protocols/{run}/actions/start"), json!({}))
        .await;
    assert_eq!(started.status, 200, "{}", started.text);
    // Start enqueues the plan job (no pipeline worker runs here: it waits).
    assert_eq!(
        started.body["job"]["job_type"], "plan_protocol_job",
        "{}",
        started.text
    );
    assert!(started.body["job"]["job_id"].is_string());
    assert_eq!(
        api.status_of(&format!("/protocols/{run}")).await,
        "planning"
    );
    let again = api
        .post(&format!("/protocols/{run}/actions/start"), json!({}))
        .await;
    assert_eq!(again.status, 409, "{}", again.text);
    assert!(again.body["error"]
        .as_str()
        .is_some_and(|m| m.contains("planning")));

    api.ok(&format!("/protocols/{run}/actions/pause"), json!({}))
        .await;
    assert_eq!(api.status_of(&format!("/protocols/{run}")).await, "paused");
    api.ok(&format!("/protocols/{run}/actions/resume"), json!({}))
        .await;
    assert_eq!(api.status_of(&format!("/protocols/{run}")).await, "running");
    let resume = api
        .post(&format!("/protocols/{run}/actions/resume"), json!({}))
        .await;
    assert_eq!(resume.status, 409);

    let done = api.step(run, 0, "completed").await;
    let open = api.step(run, 1, "pending").await;
    api.ok(&format!("/protocols/{run}/actions/cancel"), json!({}))
        .await;
    assert_eq!(
        api.status_of(&format!("/protocols/{run}")).await,
        "cancelled"
    );
    assert_eq!(api.status_of(&format!("/steps/{done}")).await, "completed");
    assert_eq!(api.status_of(&format!("/steps/{open}")).await, "cancelled");
    let twice = api
        .post(&format!("/protocols/{run}/actions/cancel"), json!({}))
        .await;
    assert_eq!(twice.status, 409, "{}", twice.text);
    assert_eq!(
        api.post(&format!("/protocols/{run}/actions/fly"), json!({}))
            .await
            .status,
        404
    );
    assert_eq!(
        api.post("/protocols/999/actions/start", json!({}))
            .await
            .status,
        404
    );

    let events = api.get(&format!("/protocols/{run}/events")).await.body;
    let types: Vec<&str> = events
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    assert_eq!(types[0], "cancelled", "{types:?}");
    assert_eq!(events[0]["metadata"]["baton_event"], "protocol_cancelled");
    for t in ["protocol_created", "planning_enqueued", "paused", "resumed"] {
        assert!(types.contains(&t), "{t} in {types:?}");
    }
    orch.stop().await;
}

async fn run_next_step_takes_the_first_runnable_step(backend: Backend) {
    let (orch, _, _) = start(backend, test_config(), "pl-next").await;
    let api = Api::new(&orch);
    let project = api.project("p").await;
    let run = api.run(project, "0002-next", "planned").await;
    let none = api
        .post(
            &format!("/protocols/{run}/actions/run_next_step"),
            json!({}),
        )
        .await;
    assert_eq!(none.status, 404, "no steps yet: {}", none.text);
    // Created out of index order: the first by index wins, not the first created.
    let third = api.step(run, 2, "pending").await;
    let first = api.step(run, 0, "completed").await;
    let second = api.step(run, 1, "pending").await;
    api.ok(
        &format!("/protocols/{run}/actions/run_next_step"),
        json!({}),
    )
    .await;
    assert_eq!(api.status_of(&format!("/steps/{second}")).await, "running");
    assert_eq!(api.status_of(&format!("/steps/{third}")).await, "pending");
    assert_eq!(api.status_of(&format!("/steps/{first}")).await, "completed");
    assert_eq!(api.status_of(&format!("/protocols/{run}")).await, "running");
    api.ok(
        &format!("/protocols/{run}/actions/run_next_step"),
        json!({}),
    )
    .await;
    assert_eq!(api.status_of(&format!("/steps/{third}")).await, "running");
    let none = api
        .post(
            &format!("/protocols/{run}/actions/run_next_step"),
            json!({}),
        )
        .await;
    assert_eq!(none.status, 404, "{}", none.text);
    // A duplicate index is a conflict.
    let dup = api
        .post(
            &format!("/protocols/{run}/steps"),
            json!({"step_index": 1, "step_name": "x"}),
        )
        .await;
    assert_eq!(dup.status, 409, "{}", dup.text);
    let listed = api.get(&format!("/protocols/{run}/steps")).await.body;
    let indexes: Vec<u64> = listed
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["step_index"].as_u64())
        .collect();
    assert_eq!(indexes, [0, 1, 2]);
    orch.stop().await;
}

async fn approve_is_guarded_and_the_last_approval_completes_the_run(backend: Backend) {
    let (orch, _, _) = start(backend, test_config(), "pl-approve").await;
    let api = Api::new(&orch);
    let project = api.project("p").await;
    let run = api.run(project, "0003-approve", "running").await;
    api.step(run, 0, "completed").await;
    let cancelled = api.step(run, 1, "cancelled").await;
    let qa = api.step(run, 2, "needs_qa").await;
    let refused = api
        .post(&format!("/steps/{cancelled}/actions/approve"), json!({}))
        .await;
    assert_eq!(refused.status, 409, "{}", refused.text);
    assert!(refused.body["error"]
        .as_str()
        .is_some_and(|m| m.contains("cancelled")));
    assert_eq!(api.status_of(&format!("/protocols/{run}")).await, "running");

    let ok = api
        .post(&format!("/steps/{qa}/actions/approve"), json!({}))
        .await;
    assert_eq!(
        (ok.status, &ok.body["job"]),
        (200, &Value::Null),
        "{}",
        ok.text
    );
    assert_eq!(api.status_of(&format!("/steps/{qa}")).await, "completed");
    assert_eq!(
        api.status_of(&format!("/protocols/{run}")).await,
        "completed"
    );
    let events = api.get(&format!("/protocols/{run}/events")).await.body;
    assert_eq!(events[0]["event_type"], "protocol_completed", "{events}");
    assert_eq!(events[1]["event_type"], "manual_approval", "{events}");
    assert_eq!(events[1]["metadata"]["baton_event"], "step_approved");
    assert_eq!(events[1]["step_run_id"], qa);

    // run and run_qa on another run, and nothing on a finished run's steps.
    let other = api.run(project, "0004-other", "running").await;
    let s = api.step(other, 0, "pending").await;
    api.ok(&format!("/steps/{s}/actions/run"), json!({})).await;
    assert_eq!(api.status_of(&format!("/steps/{s}")).await, "running");
    assert_eq!(
        api.post(&format!("/steps/{s}/actions/run"), json!({}))
            .await
            .status,
        409
    );
    api.ok(&format!("/steps/{s}/actions/run_qa"), json!({}))
        .await;
    assert_eq!(api.status_of(&format!("/steps/{s}")).await, "needs_qa");
    assert_eq!(
        api.post(&format!("/steps/{qa}/actions/run"), json!({}))
            .await
            .status,
        409
    );
    assert_eq!(
        api.post(&format!("/steps/{s}/actions/dance"), json!({}))
            .await
            .status,
        404
    );
    orch.stop().await;
}

async fn events_are_newest_first_with_names(backend: Backend) {
    let (orch, _, _) = start(backend, test_config(), "pl-events").await;
    let api = Api::new(&orch);
    let a = api.project("alpha").await;
    let b = api.project("beta").await;
    let ra = api.run(a, "0001-a", "pending").await;
    let rb = api.run(b, "0001-b", "pending").await;
    api.ok(&format!("/protocols/{ra}/actions/start"), json!({}))
        .await;
    api.ok(&format!("/protocols/{rb}/actions/pause"), json!({}))
        .await;

    let all = api.get("/events").await;
    assert_eq!(all.status, 200, "{}", all.text);
    let all = all.body.as_array().cloned().unwrap_or_default();
    // Each project's creation also wrote `setup_enqueued` on its setup run.
    assert_eq!(all.len(), 6, "{all:?}");
    assert_eq!(all[0]["event_type"], "paused");
    assert_eq!(all[0]["project_name"], "beta");
    assert_eq!(all[0]["protocol_name"], "0001-b");
    assert_eq!(all[0]["project_id"], b);
    assert!(all[0]["metadata"]["request_id"].is_string(), "{:?}", all[0]);
    let ids: Vec<u64> = all.iter().filter_map(|e| e["id"].as_u64()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");

    let only_a = api
        .get(&format!("/events?project_id={a}&limit=10"))
        .await
        .body;
    let only_a = only_a.as_array().cloned().unwrap_or_default();
    assert_eq!(only_a.len(), 3, "{only_a:?}");
    assert!(only_a.iter().all(|e| e["project_name"] == "alpha"));
    assert_eq!(only_a[0]["event_type"], "planning_enqueued");
    let one = api.get("/events?limit=0").await.body;
    assert_eq!(one.as_array().map(Vec::len), Some(1), "limit clamped to 1");
    assert_eq!(api.get("/events?limit=lots").await.status, 400);
    assert_eq!(api.get("/events?project_id=x").await.status, 400);
    assert_eq!(api.get("/events?project_id=999").await.status, 404);
    orch.stop().await;
}

async fn clarifications_are_listed_and_answered(backend: Backend) {
    let (orch, _, _) = start(backend, test_config(), "pl-clar").await;
    let api = Api::new(&orch);
    let project = api.project("p").await;
    let run = api.run(project, "0001-c", "pending").await;
    // Clarifications are asked by jobs (not in this slice): made through the store the
    // orchestrator uses.
    let records = orch.records.clone();
    for (scope, key) in [
        (ClarificationScope::Project(project), "ci"),
        (ClarificationScope::Project(project), "lang"),
        (ClarificationScope::ProtocolRun(run), "scope"),
    ] {
        records
            .upsert_clarification(
                scope,
                NewClarification {
                    key: key.into(),
                    question: format!("{key}?"),
                    blocking: true,
                    ..Default::default()
                },
            )
            .await
            .expect("upsert");
    }
    let open = api
        .get(&format!("/projects/{project}/clarifications?status=open"))
        .await;
    assert_eq!(open.body.as_array().map(Vec::len), Some(2), "{}", open.text);
    assert_eq!(open.body[0]["project_id"], project);
    let answered = api
        .post(
            &format!("/projects/{project}/clarifications/ci"),
            json!({"answer": "github", "answered_by": "ana"}),
        )
        .await;
    assert_eq!(answered.status, 200, "{}", answered.text);
    assert_eq!(answered.body["status"], "answered");
    assert_eq!(answered.body["answer"], "github");
    let list = api
        .get(&format!(
            "/projects/{project}/clarifications?status=answered"
        ))
        .await;
    assert_eq!(list.body.as_array().map(Vec::len), Some(1));
    assert_eq!(list.body[0]["key"], "ci");
    assert_eq!(
        api.get(&format!("/projects/{project}/clarifications?status=x"))
            .await
            .status,
        400
    );
    let unknown = api
        .post(
            &format!("/projects/{project}/clarifications/nope"),
            json!({"answer": 1}),
        )
        .await;
    assert_eq!(unknown.status, 404);
    let no_answer = api
        .post(
            &format!("/projects/{project}/clarifications/lang"),
            json!({}),
        )
        .await;
    assert_eq!(no_answer.status, 400);

    api.ok(
        &format!("/protocols/{run}/clarifications/scope"),
        json!({"answer": {"all": true}}),
    )
    .await;
    let run_list = api
        .get(&format!("/protocols/{run}/clarifications"))
        .await
        .body;
    assert_eq!(run_list[0]["answer"], json!({"all": true}));
    assert_eq!(run_list[0]["protocol_run_id"], run);
    let events = api.get(&format!("/protocols/{run}/events")).await.body;
    assert_eq!(events[0]["event_type"], "clarification_answered");
    orch.stop().await;
}

async fn bearer_and_project_tokens_are_checked(backend: Backend) {
    let cfg = Config {
        api_token: Some(API_TOKEN.into()),
        ..test_config()
    };
    let (orch, _, _) = start(backend, cfg, "pl-tokens").await;
    let mut api = Api::new(&orch);
    let none = api.get("/projects").await;
    assert_eq!(
        (none.status, &none.body["code"]),
        (401, &json!("unauthorized"))
    );
    assert!(none.request_id.is_some());
    api.bearer = Some("wrong".into());
    assert_eq!(api.get("/projects").await.status, 401);
    assert_eq!(
        api.post("/projects", json!({"name": "x", "git_url": "y"}))
            .await
            .status,
        401
    );
    api.bearer = Some(API_TOKEN.into());
    assert_eq!(api.get("/projects").await.status, 200);
    assert_eq!(api.get("/health").await.status, 200);

    let guarded = api
        .ok(
            "/projects",
            json!({"name": "guarded", "git_url": "g", "secrets": {"api_token": "proj-secret"}}),
        )
        .await;
    assert!(!guarded.to_string().contains("proj-secret"));
    let id = guarded["id"].as_u64().expect("id");
    let open = api.project("open").await;
    let run = api.run(open, "0001-open", "pending").await;
    api.ok(&format!("/protocols/{run}/actions/pause"), json!({}))
        .await;

    assert_eq!(api.get(&format!("/projects/{id}")).await.status, 401);
    let protected_run = api
        .post(
            &format!("/projects/{id}/protocols"),
            json!({"protocol_name": "z"}),
        )
        .await;
    assert_eq!(protected_run.status, 401);
    api.project_token = Some("nope".into());
    assert_eq!(api.get(&format!("/projects/{id}")).await.status, 401);
    api.project_token = Some("proj-secret".into());
    let read = api.get(&format!("/projects/{id}")).await;
    assert_eq!(read.status, 200);
    assert!(!read.text.contains("proj-secret"));
    let prun = api.run(id, "0001-guarded", "pending").await;
    api.ok(&format!("/protocols/{prun}/actions/start"), json!({}))
        .await;
    // Two projects' `setup_enqueued`, and two events of each run.
    assert_eq!(
        api.get("/events").await.body.as_array().map(Vec::len),
        Some(6)
    );

    // Without the project token: its run is refused and its events left out.
    api.project_token = None;
    assert_eq!(api.get(&format!("/protocols/{prun}")).await.status, 401);
    assert_eq!(
        api.get(&format!("/events?project_id={id}")).await.status,
        401
    );
    let visible = api.get("/events").await.body;
    let visible = visible.as_array().cloned().unwrap_or_default();
    assert_eq!(visible.len(), 3, "{visible:?}");
    assert!(visible.iter().all(|e| e["project_id"] == open));
    // The open project needs no project token.
    assert_eq!(api.get(&format!("/protocols/{run}")).await.status, 200);
    orch.stop().await;
}

async fn health_answers_ok(backend: Backend) {
    let (orch, _, _) = start(backend, test_config(), "pl-health").await;
    let api = Api::new(&orch);
    let h = api.get("/health").await;
    assert_eq!((h.status, &h.body["status"]), (200, &json!("ok")));
    assert!(
        h.body["timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{}",
        h.body
    );
    assert!(h.request_id.is_some());
    orch.stop().await;
}
