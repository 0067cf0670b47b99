//! CodeMachine import and policies end to end on both stores: a `.codemachine`
//! workspace written by the test imported inline and as a `codemachine_import` job run by
//! a pipeline worker; a bad workspace is 400; a loop policy that makes a failed QA run the
//! step again (a fake `codex` answers FAIL, then PASS) until the run completes, and one
//! that hits `maxIterations` and blocks the run; `retry_latest` counting `retries`; and
//! auto-QA on CI success.

use baton_orchestrator::config::Config;
use baton_tests::backend::{start, Backend};
use baton_tests::codemachine::{
    deps, event_kinds, pipeline_worker, planned_repo, tmp, wait_for, wait_status,
};
use baton_tests::orchestrator::test_config;
use baton_tests::pipelines::Api;
use baton_worker_examples::pipeline::git;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;

baton_tests::on_both_stores!(
    workspaces_are_imported_inline_and_as_jobs,
    a_loop_policy_reruns_a_failed_step_until_qa_passes,
    a_loop_past_its_limit_blocks_and_retry_latest_counts,
    ci_success_with_auto_qa_enqueues_qa,
    an_imported_run_executes_and_its_trigger_runs_the_target,
);

/// A CodeMachine workspace: agents `plan`, `build` (module `fix`: a loop) and `review`.
fn workspace(root: &Path) -> PathBuf {
    let ws = root.join("ws");
    let config = ws.join(".codemachine/config");
    std::fs::create_dir_all(&config).expect("dirs");
    std::fs::write(
        config.join("main.agents.js"),
        "export default [\n  {id: 'plan', name: 'Plan', description: 'Plan the work', promptPath: 'prompts/plan.md'},\n  {id: 'build', moduleId: 'fix', engineId: 'codex', model: 'gpt-x'}, // loops\n  {id: 'review', description: 'Review'},\n];\n",
    )
    .expect("agents");
    std::fs::write(
        config.join("modules.js"),
        "module.exports = [{id: 'fix', behavior: {type: 'loop', action: 'stepBack', stepBack: 1, maxIterations: 3, skip: [0]}}];",
    )
    .expect("modules");
    std::fs::write(config.join("placeholders.js"), "const p = {user: 'x'};").expect("ph");
    std::fs::write(
        ws.join(".codemachine/template.json"),
        r#"{"name": "demo-template"}"#,
    )
    .expect("template");
    ws
}

fn check_imported_steps(steps: &Value) {
    let steps = steps.as_array().expect("steps");
    let names: Vec<&str> = steps
        .iter()
        .filter_map(|s| s["step_name"].as_str())
        .collect();
    assert_eq!(names, ["00-plan", "01-build", "02-review"]);
    assert_eq!(steps[0]["summary"], "Plan the work");
    assert_eq!(steps[1]["engine_id"], "codex");
    assert_eq!(steps[1]["model"], "gpt-x");
    assert_eq!(steps[1]["policy"][0]["type"], "loop");
    assert_eq!(steps[1]["policy"][0]["module_id"], "fix");
    assert_eq!(steps[1]["policy"][0]["maxIterations"], 3);
    assert_eq!(steps[0]["policy"], json!([]));
    assert!(steps.iter().all(|s| s["status"] == "pending"));
}

async fn workspaces_are_imported_inline_and_as_jobs(backend: Backend) {
    let root = tmp("import", backend);
    let ws = workspace(&root);
    let (orch, _, _) = start(backend, test_config(), "cm-import").await;
    let api = Api::new(&orch);
    let project = api.project("app").await;
    let path = format!("/projects/{project}/codemachine/import");

    let inline = api
        .ok(&path, json!({"protocol_name": "0001-cm", "workspace_path": ws.to_str(), "description": "from cm"}))
        .await;
    assert_eq!(inline["job"], Value::Null, "{inline}");
    let run = &inline["protocol_run"];
    assert_eq!(run["status"], "planned", "{run}");
    assert_eq!(run["base_branch"], "main");
    assert_eq!(run["template_config"]["template"]["name"], "demo-template");
    assert_eq!(
        run["template_config"]["protocol_spec"]["steps"][0]["qa"]["policy"],
        "skip"
    );
    assert_eq!(
        run["template_source"]["workspace_path"],
        ws.to_str().expect("utf-8")
    );
    assert!(run["spec_hash"].is_string());
    let run_id = run["id"].as_u64().expect("run id");
    check_imported_steps(&api.get(&format!("/protocols/{run_id}/steps")).await.body);
    assert!(event_kinds(&api, run_id)
        .await
        .contains(&"codemachine_imported".to_string()));

    // A bad workspace: 400 naming the file, nothing created.
    let runs_before = api
        .get(&format!("/projects/{project}/protocols"))
        .await
        .body;
    let missing = api
        .post(
            &path,
            json!({"protocol_name": "0002-x", "workspace_path": root.join("nope").to_str()}),
        )
        .await;
    assert_eq!(missing.status, 400, "{}", missing.text);
    assert!(
        missing.text.contains("no such directory"),
        "{}",
        missing.text
    );
    let bad = root.join("bad");
    std::fs::create_dir_all(bad.join(".codemachine/config")).expect("dirs");
    std::fs::write(
        bad.join(".codemachine/config/main.agents.js"),
        "export default function () {}",
    )
    .expect("w");
    let broken = api
        .post(
            &path,
            json!({"protocol_name": "0002-x", "workspace_path": bad.to_str()}),
        )
        .await;
    assert_eq!(broken.status, 400, "{}", broken.text);
    assert!(broken.text.contains("main.agents.js"), "{}", broken.text);
    assert_eq!(
        api.get(&format!("/projects/{project}/protocols"))
            .await
            .body,
        runs_before
    );
    let no_project = api
        .post(
            "/projects/999999/codemachine/import",
            json!({"protocol_name": "x", "workspace_path": ws.to_str()}),
        )
        .await;
    assert_eq!(no_project.status, 404, "{}", no_project.text);
    assert_eq!(
        api.post(&path, json!({"workspace_path": "x"})).await.status,
        400
    );

    // As a job: the worker reads the workspace, the steps appear when the job ends.
    let worker = pipeline_worker(&orch.base_url, Arc::new(deps(&root)));
    let queued = api
        .ok(
            &path,
            json!({"protocol_name": "0003-cm", "workspace_path": ws.to_str(), "enqueue": true}),
        )
        .await;
    assert_eq!(
        queued["job"]["job_type"], "codemachine_import_job",
        "{queued}"
    );
    assert!(queued["job"]["job_id"].is_string());
    assert_eq!(queued["protocol_run"]["status"], "planning");
    let job_run = queued["protocol_run"]["id"].as_u64().expect("run id");
    let planned = wait_status(&api, &format!("/protocols/{job_run}"), "planned").await;
    assert_eq!(
        planned["template_config"]["template"]["name"],
        "demo-template"
    );
    check_imported_steps(&api.get(&format!("/protocols/{job_run}/steps")).await.body);

    // A job on a workspace the worker cannot read blocks its run.
    let failing = api
        .ok(
            &path,
            json!({"protocol_name": "0004-cm", "workspace_path": bad.to_str(), "enqueue": true}),
        )
        .await;
    let failing_run = failing["protocol_run"]["id"].as_u64().expect("run id");
    wait_status(&api, &format!("/protocols/{failing_run}"), "blocked").await;
    assert!(event_kinds(&api, failing_run)
        .await
        .contains(&"codemachine_import_failed".to_string()));

    worker.shutdown().await.expect("clean shutdown");
    orch.stop().await;
    let _ = std::fs::remove_dir_all(&root);
}

/// A run `name` on a fresh repo with one step `01-build.md` carrying `policy`.
async fn looping_run(api: &Api, root: &Path, name: &str, policy: Value) -> (u64, u64) {
    let origin = planned_repo(root, name).await;
    let project = api.project_on(&origin).await;
    let run = api.run(project, name, "planned").await;
    let step = api
        .ok(
            &format!("/protocols/{run}/steps"),
            json!({"step_index": 1, "step_name": "01-build.md", "step_type": "work", "policy": policy}),
        )
        .await["id"]
        .as_u64()
        .expect("step");
    (run, step)
}

async fn a_loop_policy_reruns_a_failed_step_until_qa_passes(backend: Backend) {
    let root = tmp("loop", backend);
    let (orch, _, _) = start(backend, test_config(), "cm-loop").await;
    let api = Api::new(&orch);
    let policy = json!([{"type": "loop", "module_id": "fix", "stepBack": 0, "maxIterations": 2}]);
    let (run, step) = looping_run(&api, &root, "0001-loop", policy).await;
    std::fs::write(root.join("qa_fails"), "1").expect("qa fails once");
    let worker = pipeline_worker(&orch.base_url, Arc::new(deps(&root)));
    let step_path = format!("/steps/{step}");

    api.ok(
        &format!("/protocols/{run}/actions/run_next_step"),
        json!({}),
    )
    .await;
    wait_status(&api, &step_path, "needs_qa").await;
    api.ok(&format!("{step_path}/actions/run_qa"), json!({}))
        .await;
    // QA FAIL: the loop sends the step back and runs it again by itself.
    wait_for(
        &api,
        &format!("/protocols/{run}/events"),
        "a loop decision",
        |b| {
            b.as_array()
                .is_some_and(|e| e.iter().any(|e| e["event_type"] == "loop_decision"))
        },
    )
    .await;
    let again = wait_for(&api, &step_path, "executed again", |s| {
        s["status"] == "needs_qa" && s["runtime_state"]["loop_counts"]["fix"] == 1
    })
    .await;
    assert_eq!(again["runtime_state"]["last_decision"]["type"], "loop");
    assert_ne!(api.status_of(&format!("/protocols/{run}")).await, "blocked");
    api.ok(&format!("{step_path}/actions/run_qa"), json!({}))
        .await;
    let done = wait_status(&api, &step_path, "completed").await;
    assert_eq!(done["runtime_state"]["loop_counts"]["fix"], 1);
    assert!(
        done["summary"]
            .as_str()
            .is_some_and(|s| s.starts_with("QA PASS")),
        "{done}"
    );
    wait_status(&api, &format!("/protocols/{run}"), "completed").await;
    let kinds = event_kinds(&api, run).await;
    for kind in [
        "qa_failed",
        "loop_decision",
        "qa_passed",
        "protocol_completed",
    ] {
        assert!(kinds.contains(&kind.to_string()), "{kind} in {kinds:?}");
    }
    assert!(
        !kinds.contains(&"protocol_blocked".to_string()),
        "{kinds:?}"
    );
    worker.shutdown().await.expect("clean shutdown");
    orch.stop().await;
    let _ = std::fs::remove_dir_all(&root);
}

async fn a_loop_past_its_limit_blocks_and_retry_latest_counts(backend: Backend) {
    let root = tmp("limit", backend);
    let (orch, _, _) = start(backend, test_config(), "cm-limit").await;
    let api = Api::new(&orch);
    let policy = json!({"type": "loop", "module_id": "fix", "stepBack": 0, "maxIterations": 1});
    let (run, step) = looping_run(&api, &root, "0001-limit", policy).await;
    std::fs::write(root.join("qa_fails"), "100").expect("qa always fails");
    let worker = pipeline_worker(&orch.base_url, Arc::new(deps(&root)));
    let step_path = format!("/steps/{step}");

    api.ok(
        &format!("/protocols/{run}/actions/run_next_step"),
        json!({}),
    )
    .await;
    wait_status(&api, &step_path, "needs_qa").await;
    api.ok(&format!("{step_path}/actions/run_qa"), json!({}))
        .await;
    wait_for(&api, &step_path, "looped once", |s| {
        s["status"] == "needs_qa" && s["runtime_state"]["loop_counts"]["fix"] == 1
    })
    .await;
    api.ok(&format!("{step_path}/actions/run_qa"), json!({}))
        .await;
    let failed = wait_status(&api, &step_path, "failed").await;
    assert_eq!(
        failed["runtime_state"]["last_decision"]["type"],
        "loop_limit_reached"
    );
    assert_eq!(failed["retries"], 0);
    wait_status(&api, &format!("/protocols/{run}"), "blocked").await;
    let kinds = event_kinds(&api, run).await;
    for kind in ["loop_decision", "loop_limit_reached", "protocol_blocked"] {
        assert!(kinds.contains(&kind.to_string()), "{kind} in {kinds:?}");
    }

    let retried = api
        .ok(&format!("/protocols/{run}/actions/retry_latest"), json!({}))
        .await;
    assert_eq!(retried["job"]["job_type"], "execute_step_job", "{retried}");
    let after = api.get(&step_path).await.body;
    assert_eq!(after["retries"], 1, "{after}");
    wait_status(&api, &step_path, "needs_qa").await;
    worker.shutdown().await.expect("clean shutdown");
    orch.stop().await;
    let _ = std::fs::remove_dir_all(&root);
}

async fn ci_success_with_auto_qa_enqueues_qa(backend: Backend) {
    const HOOK_TOKEN: &str = "hook-token";
    let cfg = Config {
        ci_webhook_token: Some(HOOK_TOKEN.into()),
        auto_qa_on_ci: true,
        ..test_config()
    };
    let (orch, _, _) = start(backend, cfg, "cm-autoqa").await;
    let api = Api::new(&orch);
    let project = api.project("app").await;
    let run = api.run(project, "0009-autoqa", "running").await;
    let step = api.step(run, 1, "running").await;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/ci/report.sh");
    let out = tokio::process::Command::new("bash")
        .arg(script)
        .arg("success")
        .env("BATON_API_BASE", &orch.base_url)
        .env("BATON_WEBHOOK_TOKEN", HOOK_TOKEN)
        .env("BATON_BRANCH", "0009-autoqa")
        .env_remove("BATON_API_TOKEN")
        .env_remove("BATON_PROTOCOL_RUN_ID")
        .env_remove("GITLAB_CI")
        .output()
        .await
        .expect("bash runs");
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("step sent to QA"),
        "{out:?}"
    );
    assert_eq!(
        api.status_of(&format!("/steps/{step}")).await,
        "needs_qa",
        "not completed"
    );
    let events = api.get(&format!("/protocols/{run}/events")).await.body;
    let enqueued = events
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["event_type"] == "qa_enqueued")
        .cloned()
        .expect("a qa_enqueued event");
    let job = enqueued["metadata"]["job_id"].as_str().expect("job id");
    let record = orch
        .store
        .get_job(job)
        .await
        .expect("store")
        .expect("the QA job");
    assert!(record.doc.contains("run_quality"), "{}", record.doc);
    assert!(
        record.doc.contains(&format!("\"step_run_id\":{step}")),
        "{}",
        record.doc
    );
    assert_eq!(api.status_of(&format!("/protocols/{run}")).await, "running");
    orch.stop().await;
}

/// An imported run executes from its agents' prompts (no plan files in the branch), its
/// steps skip QA, and `build`'s trigger runs `review` by itself.
async fn an_imported_run_executes_and_its_trigger_runs_the_target(backend: Backend) {
    let root = tmp("trigger", backend);
    let origin = planned_repo(&root, "").await;
    let ws = root.join("ws");
    std::fs::create_dir_all(ws.join(".codemachine/config")).expect("dirs");
    std::fs::create_dir_all(ws.join("prompts")).expect("dirs");
    std::fs::write(ws.join("prompts/build.md"), "Build the thing.").expect("prompt");
    std::fs::write(ws.join("prompts/review.md"), "Check the thing.").expect("prompt");
    std::fs::write(
        ws.join(".codemachine/config/main.agents.js"),
        "export default [{id: 'build', moduleId: 'then-review', promptPath: 'prompts/build.md'}, {id: 'review', promptPath: 'prompts/review.md'}]",
    )
    .expect("agents");
    std::fs::write(
        ws.join(".codemachine/config/modules.js"),
        "export default [{id: 'then-review', behavior: {type: 'trigger', targetAgentId: 'review'}}]",
    )
    .expect("modules");
    let (orch, _, _) = start(backend, test_config(), "cm-trigger").await;
    let api = Api::new(&orch);
    let project = api.project_on(&origin).await;
    let imported = api
        .ok(
            &format!("/projects/{project}/codemachine/import"),
            json!({"protocol_name": "0001-cm", "workspace_path": ws.to_str()}),
        )
        .await;
    let run = imported["protocol_run"]["id"].as_u64().expect("run id");
    assert_eq!(
        imported["protocol_run"]["template_config"]["protocol_spec"]["steps"][0]["prompt"],
        "Build the thing."
    );
    let worker = pipeline_worker(&orch.base_url, Arc::new(deps(&root)));
    let ran = api
        .ok(
            &format!("/protocols/{run}/actions/run_next_step"),
            json!({}),
        )
        .await;
    assert_eq!(ran["job"]["job_type"], "execute_step_job", "{ran}");
    wait_status(&api, &format!("/protocols/{run}"), "completed").await;
    let steps = api.get(&format!("/protocols/{run}/steps")).await.body;
    assert_eq!(steps[0]["status"], "completed");
    assert_eq!(
        steps[0]["runtime_state"]["last_decision"]["type"],
        "trigger"
    );
    assert_eq!(steps[1]["status"], "completed");
    assert_eq!(steps[1]["runtime_state"]["inline_trigger_depth"], 1);
    assert_eq!(steps[1]["summary"], "did it");
    let kinds = event_kinds(&api, run).await;
    for kind in [
        "codemachine_imported",
        "step_executed",
        "trigger_decision",
        "protocol_completed",
    ] {
        assert!(kinds.contains(&kind.to_string()), "{kind} in {kinds:?}");
    }
    assert!(
        !kinds.contains(&"qa_passed".to_string()),
        "QA is skipped: {kinds:?}"
    );
    let log = git::git(&origin, &["log", "--format=%s", "0001-cm"])
        .await
        .expect("log");
    assert_eq!(
        log.lines().collect::<Vec<_>>(),
        ["0001-cm: 01-review", "0001-cm: 00-build", "first"]
    );
    worker.shutdown().await.expect("clean shutdown");
    orch.stop().await;
    let _ = std::fs::remove_dir_all(&root);
}
