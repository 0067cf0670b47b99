//! The coding pipeline end to end on both stores: a project on a real git repository (a
//! bare origin on disk), a protocol run started through the API, the plan, execute and QA
//! jobs run by a pipeline worker (the SDK with the pipeline skills; a fake `codex` on
//! disk plays the model), and their outcomes moving the records to `completed`.

use baton_tests::backend::{start, Backend};
use baton_tests::orchestrator::test_config;
use baton_tests::pipeline_worker;
use baton_tests::pipelines::Api;
use baton_worker_examples::pipeline::git::{self};
use baton_worker_examples::pipeline::skills::Deps;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

baton_tests::on_both_stores!(a_protocol_is_planned_executed_reviewed_and_completed);

/// The fake model: the plan JSON for plan prompts, a PASS for reviews, else a file.
const FAKE_CODEX: &str = r##"#!/bin/sh
input=$(cat)
case "$input" in
  *'Answer with a JSON object'*)
    echo '{"plan_md": "# Plan", "context_md": "", "log_md": "", "step_files": [{"filename": "01-greet.md", "content": "Add hello.txt"}, {"filename": "02-sign.md", "content": "Sign it"}]}' ;;
  *'Review it'*) echo 'fine'; echo 'VERDICT: PASS' ;;
  *) echo "step done" >> work.txt; echo 'did it' ;;
esac
"##;

async fn setup(root: &Path) -> (PathBuf, Deps) {
    let _ = std::fs::remove_dir_all(root);
    let origin = root.join("origin.git");
    pipeline_worker::bare_origin(&origin, &[]).await;
    let codex = pipeline_worker::fake_codex(root, FAKE_CODEX);
    (origin, pipeline_worker::deps(root, codex))
}

fn pipeline_worker(base_url: &str, deps: Arc<Deps>) -> baton_worker::WorkerHandle {
    pipeline_worker::spawn(base_url, "w-pipeline", deps)
}

async fn wait_status(api: &Api, path: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = api.status_of(path).await;
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{path} is {got}, not {want}; events: {}",
            api.get("/events?limit=50").await.text
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn a_protocol_is_planned_executed_reviewed_and_completed(backend: Backend) {
    let name = format!("{backend:?}").to_lowercase();
    let root = std::env::temp_dir().join(format!("baton-pl-e2e-{name}-{}", std::process::id()));
    let (origin, deps) = setup(&root).await;
    let (orch, _, _) = start(backend, test_config(), "pl-jobs").await;
    let worker = pipeline_worker(&orch.base_url, Arc::new(deps));
    let api = Api::new(&orch);
    let project = api.project_on(&origin).await;
    let run = api.protocol(project, "0001-demo", "say hello").await;

    let started = api
        .ok(&format!("/protocols/{run}/actions/start"), json!({}))
        .await;
    assert_eq!(started["job"]["job_type"], "plan_protocol_job");
    wait_status(&api, &format!("/protocols/{run}"), "planned").await;
    let steps = api.get(&format!("/protocols/{run}/steps")).await.body;
    let names: Vec<&str> = steps
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| s["step_name"].as_str())
        .collect();
    assert_eq!(names, ["01-greet.md", "02-sign.md"]);

    for (i, step) in steps.as_array().expect("steps").iter().enumerate() {
        let id = step["id"].as_u64().expect("step id");
        let ran = api
            .ok(
                &format!("/protocols/{run}/actions/run_next_step"),
                json!({}),
            )
            .await;
        assert_eq!(
            ran["job"]["job_type"], "execute_step_job",
            "step {i}: {ran}"
        );
        wait_status(&api, &format!("/steps/{id}"), "needs_qa").await;
        let qa = api
            .ok(&format!("/steps/{id}/actions/run_qa"), json!({}))
            .await;
        assert_eq!(qa["job"]["job_type"], "run_quality_job");
        wait_status(&api, &format!("/steps/{id}"), "completed").await;
    }
    wait_status(&api, &format!("/protocols/{run}"), "completed").await;

    // The work is on the branch at the origin: the plan and both steps' changes.
    let log = git::git(&origin, &["log", "--format=%s", "0001-demo"])
        .await
        .expect("log");
    let subjects: Vec<&str> = log.lines().collect();
    assert_eq!(
        subjects,
        [
            "0001-demo: 02-sign.md",
            "0001-demo: 01-greet.md",
            "0001-demo: plan",
            "first"
        ]
    );
    let events = api.get(&format!("/protocols/{run}/events")).await.body;
    let kinds: Vec<&str> = events
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    for kind in [
        "plan_completed",
        "step_executed",
        "qa_passed",
        "protocol_completed",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    worker.shutdown().await.expect("clean shutdown");
    orch.stop().await;
    let _ = std::fs::remove_dir_all(&root);
}
