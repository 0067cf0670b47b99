//! Clarification gates and policy packs of the coding pipelines, end to end on both
//! stores (`baton_tests::git_world`): blocking clarifications hold planning, execution
//! and QA back until answered; `project_classification` selects a pack (unknown: 400),
//! whose models fill the phases a request left out and whose QA policy matters (a
//! `startup-fast` project's executed step completes without QA, a `team-standard` one's
//! is reviewed inline).

use baton_orchestrator::pipelines::{AppliesTo, ClarificationScope, NewClarification};
use baton_tests::backend::{start, Backend};
use baton_tests::git_world::{deps, kinds};
use baton_tests::git_world::{pipeline_worker, stage, wait_for, world};
use baton_tests::pipelines::Api;
use baton_tests::raw_worker::RawWorker;
use serde_json::json;
use std::sync::Arc;

baton_tests::on_both_stores!(
    blocking_clarifications_gate_planning_execution_and_qa,
    a_startup_fast_project_skips_qa,
    a_team_standard_project_reviews_inline,
    a_taken_setup_runs_and_its_blocking_question_gates_planning,
);

async fn blocking_clarifications_gate_planning_execution_and_qa(backend: Backend) {
    let w = world("gates", backend).await;
    let (orch, _, _) = start(backend, w.config(), "pl-onboard-gates").await;
    let api = Api::new(&orch);
    let unknown = api
        .post(
            "/projects",
            json!({"name": "x", "git_url": w.url(), "project_classification": "huge-corp"}),
        )
        .await;
    assert_eq!(unknown.status, 400);
    assert!(
        unknown.text.contains("enterprise-compliance"),
        "{}",
        unknown.text
    );
    assert_eq!(
        api.get("/projects").await.body,
        json!([]),
        "nothing created"
    );

    let project = api
        .ok(
            "/projects",
            json!({"name": "corp", "git_url": w.url(), "project_classification": "enterprise-compliance",
                   "default_models": {"exec": "mine"}}),
        )
        .await;
    assert_eq!(
        project["default_models"],
        json!({"exec": "mine", "qa": "gpt-5"})
    );
    let id = project["id"].as_u64().expect("id");
    let answer = api
        .ok(
            &format!("/projects/{id}/onboarding/actions/start"),
            json!({"inline": true}),
        )
        .await;
    assert!(
        answer["message"]
            .as_str()
            .is_some_and(|m| m.contains("blocked")),
        "{answer}"
    );
    let summary = api.get(&format!("/projects/{id}/onboarding")).await.body;
    assert_eq!(summary["status"], "blocked");
    assert_eq!(
        summary["policy"],
        json!({"name": "enterprise-compliance", "qa_policy": "full"})
    );
    assert_eq!(stage(&summary, "clarifications")["status"], "blocked");
    // The pack's onboarding question (upstream's key, with its options) holds every phase.
    let open = api
        .get(&format!("/projects/{id}/clarifications?status=open"))
        .await
        .body;
    let classification = open
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["key"] == "data_classification")
        .unwrap_or_else(|| panic!("data_classification in {open}"));
    assert_eq!(
        (&classification["applies_to"], &classification["blocking"]),
        (&json!("onboarding"), &json!(true))
    );
    assert_eq!(classification["recommended"], "internal");
    api.ok(
        &format!("/projects/{id}/clarifications/data_classification"),
        json!({"answer": {"value": "internal"}}),
    )
    .await;

    let run = api.run(id, "0001-corp", "pending").await;
    let records = orch.records.clone();
    records
        .upsert_clarification(
            ClarificationScope::ProtocolRun(run),
            NewClarification {
                key: "scope".into(),
                question: "Which modules?".into(),
                applies_to: AppliesTo::Planning,
                blocking: true,
                ..Default::default()
            },
        )
        .await
        .expect("upsert");
    let start_path = format!("/protocols/{run}/actions/start");
    let gated = api.post(&start_path, json!({})).await;
    assert_eq!(gated.status, 409, "{}", gated.text);
    assert!(gated.text.contains("protocol:scope"), "{}", gated.text);
    assert_eq!(
        api.status_of(&format!("/protocols/{run}")).await,
        "pending",
        "nothing changed"
    );
    api.ok(
        &format!("/protocols/{run}/clarifications/scope"),
        json!({"answer": "all"}),
    )
    .await;
    let started = api.ok(&start_path, json!({})).await;
    assert_eq!(started["job"]["job_type"], "plan_protocol_job");

    // Execution: the pack's blocking question.
    let step = api.step(run, 0, "pending").await;
    let gated = api
        .post(&format!("/steps/{step}/actions/run"), json!({}))
        .await;
    assert_eq!(gated.status, 409, "{}", gated.text);
    assert!(
        gated.text.contains("project:compliance_reviewer"),
        "{}",
        gated.text
    );
    let next = api
        .post(
            &format!("/protocols/{run}/actions/run_next_step"),
            json!({}),
        )
        .await;
    assert_eq!(next.status, 409, "{}", next.text);
    api.ok(
        &format!("/projects/{id}/clarifications/compliance_reviewer"),
        json!({"answer": "ana"}),
    )
    .await;
    let ran = api
        .ok(&format!("/steps/{step}/actions/run"), json!({}))
        .await;
    assert_eq!(ran["job"]["job_type"], "execute_step_job");

    // QA.
    records
        .upsert_clarification(
            ClarificationScope::ProtocolRun(run),
            NewClarification {
                key: "qa_bar".into(),
                question: "What must pass?".into(),
                applies_to: AppliesTo::Qa,
                blocking: true,
                ..Default::default()
            },
        )
        .await
        .expect("upsert");
    let gated = api
        .post(&format!("/steps/{step}/actions/run_qa"), json!({}))
        .await;
    assert_eq!(gated.status, 409, "{}", gated.text);
    assert!(gated.text.contains("protocol:qa_bar"));
    api.ok(
        &format!("/protocols/{run}/clarifications/qa_bar"),
        json!({"answer": "tests"}),
    )
    .await;
    let qa = api
        .ok(&format!("/steps/{step}/actions/run_qa"), json!({}))
        .await;
    assert_eq!(qa["job"]["job_type"], "run_quality_job");
    orch.stop().await;
    let _ = std::fs::remove_dir_all(&w.root);
}

/// A project of `classification` through plan and one executed step (no `run_qa`
/// call, no `run_quality` skill on the worker) to `completed`; the run's event types.
async fn one_step_under(backend: Backend, classification: &str, qa_policy: &str) -> Vec<String> {
    let w = world(classification, backend).await;
    let (orch, _, _) = start(backend, w.config(), "pl-onboard-pack").await;
    let worker = pipeline_worker(&orch.base_url, Arc::new(deps(&w.root)));
    let api = Api::new(&orch);
    let project = api
        .ok(
            "/projects",
            json!({"name": "app", "git_url": w.url(), "project_classification": classification}),
        )
        .await;
    let id = project["id"].as_u64().expect("id");
    let onboarded = wait_for(&api, &format!("/projects/{id}/onboarding"), "completed").await;
    assert_eq!(onboarded["policy"]["qa_policy"], qa_policy);
    let run = api.run(id, "0001-app", "pending").await;
    api.ok(&format!("/protocols/{run}/actions/start"), json!({}))
        .await;
    wait_for(&api, &format!("/protocols/{run}"), "planned").await;
    api.ok(
        &format!("/protocols/{run}/actions/run_next_step"),
        json!({}),
    )
    .await;
    wait_for(&api, &format!("/protocols/{run}"), "completed").await;
    let events = api.get(&format!("/protocols/{run}/events")).await.body;
    worker.shutdown().await.expect("clean shutdown");
    orch.stop().await;
    let _ = std::fs::remove_dir_all(&w.root);
    events
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["event_type"].as_str().map(str::to_string))
        .collect()
}

/// `skip`: the executed step completes without any review.
async fn a_startup_fast_project_skips_qa(backend: Backend) {
    let kinds = one_step_under(backend, "startup-fast", "skip").await;
    assert!(kinds.iter().any(|k| k == "step_executed"), "{kinds:?}");
    assert!(!kinds.iter().any(|k| k.starts_with("qa_")), "{kinds:?}");
}

/// `light`: the worker that executed the step reviews it in the same job.
async fn a_team_standard_project_reviews_inline(backend: Backend) {
    let kinds = one_step_under(backend, "team-standard", "light").await;
    assert!(kinds.iter().any(|k| k == "qa_passed"), "{kinds:?}");
}

/// A worker on another machine: it takes the setup task (the onboarding shows running)
/// and answers an outcome whose base branch is missing; the blocking question it asks
/// holds planning back until answered.
async fn a_taken_setup_runs_and_its_blocking_question_gates_planning(backend: Backend) {
    let w = world("remote", backend).await;
    let (orch, _, _) = start(backend, w.config(), "pl-onboard-remote").await;
    let api = Api::new(&orch);
    let id = api
        .ok(
            "/projects",
            json!({"name": "app", "git_url": w.url(), "base_branch": "trunk"}),
        )
        .await["id"]
        .as_u64()
        .expect("id");
    let worker = RawWorker::new(&orch.base_url, "w-remote");
    assert_eq!(worker.register(&["project_setup"]).await.0, 200);
    let (status, task) = worker.poll("project_setup", 5).await;
    assert_eq!(status, 200, "{task}");
    assert_eq!(task["params"]["project_id"], id, "{task}");
    assert_eq!(task["params"]["base_branch"], "trunk");
    let path = format!("/projects/{id}/onboarding");
    let running = wait_for(&api, &path, "running").await;
    assert_eq!(stage(&running, "resolve")["status"], "running");

    let outcome = json!({
        "workspace_path": "/elsewhere/app", "cloned": true,
        "stages": [
            {"name": "resolve", "status": "completed", "message": "cloned"},
            {"name": "discovery", "status": "skipped", "message": "no engine"},
            {"name": "assets", "status": "completed", "message": "found: readme"},
            {"name": "git", "status": "warning", "message": "no branch `trunk` on origin"},
        ],
        "clarifications": [{"key": "base_branch", "question": "Which branch?",
                            "applies_to": "planning", "blocking": true}],
    });
    let (status, answer) = worker.result(worker.success(&task, outcome)).await;
    assert_eq!(status, 200, "{answer}");
    let blocked = wait_for(&api, &path, "blocked").await;
    assert_eq!(stage(&blocked, "git")["status"], "warning");
    assert_eq!(stage(&blocked, "clarifications")["status"], "blocked");
    assert_eq!(
        kinds(&blocked).last().map(String::as_str),
        Some("setup_blocked")
    );
    assert_eq!(blocked["workspace_path"], "/elsewhere/app");

    let run = api.run(id, "0001-app", "pending").await;
    let gated = api
        .post(&format!("/protocols/{run}/actions/start"), json!({}))
        .await;
    assert_eq!(gated.status, 409, "{}", gated.text);
    assert!(gated.text.contains("project:base_branch"), "{}", gated.text);
    api.ok(
        &format!("/projects/{id}/clarifications/base_branch"),
        json!({"answer": "main"}),
    )
    .await;
    api.ok(&format!("/protocols/{run}/actions/start"), json!({}))
        .await;
    orch.stop().await;
    let _ = std::fs::remove_dir_all(&w.root);
}
