//! Onboarding, branches, clarification gates and policy packs of the coding pipelines,
//! end to end on both stores, against a real bare git origin made by the test: the
//! `project_setup` job run by a pipeline worker (a fake `codex` on disk answers the
//! discovery passes), inline onboarding without any worker, the branch routes (git in
//! the orchestrator process), blocking clarifications holding planning, execution and QA
//! back until answered, and `project_classification` packs (a `startup-fast` project's
//! executed step completes without QA).

use baton_orchestrator::config::Config;
use baton_orchestrator::pipelines::{AppliesTo, ClarificationScope, NewClarification};
use baton_tests::backend::{start, Backend};
use baton_tests::orchestrator::test_config;
use baton_tests::pipelines::Api;
use baton_tests::workers;
use baton_worker::{TaskContext, TaskError, Worker};
use baton_worker_examples::pipeline::budget::{Budget, BudgetMode};
use baton_worker_examples::pipeline::codex::CodexEngine;
use baton_worker_examples::pipeline::engine::Engines;
use baton_worker_examples::pipeline::git::{self, Identity};
use baton_worker_examples::pipeline::pr::PrConfig;
use baton_worker_examples::pipeline::setup;
use baton_worker_examples::pipeline::skills::{self, Deps};
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

baton_tests::on_both_stores!(
    a_setup_job_onboards_the_project_and_its_branches_are_managed,
    inline_onboarding_needs_no_worker_and_reports_failures,
    blocking_clarifications_gate_planning_execution_and_qa,
    a_startup_fast_project_skips_qa,
);

/// The fake model: notes for discovery prompts, the plan JSON for plan prompts, else a
/// file written (a step's work).
const FAKE_CODEX: &str = r##"#!/bin/sh
input=$(cat)
case "$input" in
  *'You are onboarding'*) echo '# Notes'; echo 'A small app.' ;;
  *'Answer with a JSON object'*)
    echo '{"plan_md": "# Plan", "context_md": "", "log_md": "", "step_files": [{"filename": "01-greet.md", "content": "Add hello.txt"}]}' ;;
  *'Review it'*) echo 'VERDICT: PASS' ;;
  *) echo "step done" >> work.txt; echo 'did it' ;;
esac
"##;

struct World {
    root: PathBuf,
    origin: PathBuf,
}

impl World {
    fn url(&self) -> String {
        self.origin.to_string_lossy().into_owned()
    }

    /// Config whose orchestrator clones under this world's root.
    fn config(&self) -> Config {
        Config {
            projects_root: self.root.join("orch-projects"),
            ..test_config()
        }
    }

    async fn origin_branches(&self) -> Vec<String> {
        let out = git::git(&self.origin, &["branch", "--format=%(refname:short)"])
            .await
            .expect("branches of origin");
        let mut names: Vec<String> = out.lines().map(str::to_string).collect();
        names.sort();
        names
    }
}

/// A bare origin with `main` (a README) and `feature/x`.
async fn world(name: &str, backend: Backend) -> World {
    let root = std::env::temp_dir().join(format!(
        "baton-onb-{name}-{backend:?}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&root);
    let seed = root.join("seed");
    std::fs::create_dir_all(&seed).expect("dirs");
    let origin = root.join("origin.git");
    let o = origin.to_str().expect("utf-8 path");
    git::git(&root, &["init", "--quiet", "--bare", "-b", "main", o])
        .await
        .expect("bare origin");
    git::git(&seed, &["init", "--quiet", "-b", "main"])
        .await
        .expect("seed repo");
    std::fs::write(seed.join("README.md"), "app\n").expect("write");
    git::commit_all(&seed, "first", &Identity::default())
        .await
        .expect("commit");
    git::git(&seed, &["push", "--quiet", o, "main", "main:feature/x"])
        .await
        .expect("push");
    World { root, origin }
}

fn deps(root: &Path) -> Deps {
    let codex = root.join("codex");
    std::fs::write(&codex, FAKE_CODEX).expect("write codex");
    std::fs::set_permissions(&codex, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    Deps {
        engines: Engines::new().with(Arc::new(CodexEngine {
            binary: codex,
            ..CodexEngine::default()
        })),
        projects_root: root.join("projects"),
        default_model: "m".into(),
        timeout: Duration::from_secs(30),
        budget: Budget {
            mode: BudgetMode::Warn,
            per_step: None,
            per_protocol: None,
        },
        identity: Identity::default(),
        pr: PrConfig::default(),
    }
}

fn pipeline_worker(base_url: &str, deps: Arc<Deps>) -> baton_worker::WorkerHandle {
    let mut builder = Worker::builder(workers::config(base_url, "w-onboard"));
    macro_rules! skill {
        ($name:literal, $f:path) => {{
            let deps = deps.clone();
            builder = builder.skill($name, move |params: Value, _ctx: TaskContext| {
                let deps = deps.clone();
                async move {
                    $f(&deps, &params)
                        .await
                        .map_err(|e| TaskError::new(e.code, e.message))
                }
            });
        }};
    }
    skill!("project_setup", setup::project_setup);
    skill!("plan_protocol", skills::plan_protocol);
    skill!("execute_step", skills::execute_step);
    workers::spawn(builder)
}

async fn wait_for(api: &Api, path: &str, want: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = api.get(path).await;
        assert_eq!(got.status, 200, "{path}: {}", got.text);
        if got.body["status"] == want {
            return got.body;
        }
        assert!(
            Instant::now() < deadline,
            "{path} is not {want}: {}",
            got.text
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn stage<'a>(summary: &'a Value, name: &str) -> &'a Value {
    summary["stages"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == name))
        .unwrap_or(&Value::Null)
}

/// The summary's event types, oldest first.
fn kinds(summary: &Value) -> Vec<String> {
    let mut k: Vec<String> = summary["events"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["event_type"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    k.reverse();
    k
}

async fn a_setup_job_onboards_the_project_and_its_branches_are_managed(backend: Backend) {
    let w = world("job", backend).await;
    let (orch, _, _) = start(backend, w.config(), "pl-onboard-job").await;
    let worker = pipeline_worker(&orch.base_url, Arc::new(deps(&w.root)));
    let api = Api::new(&orch);
    let created = api
        .post(
            "/projects",
            json!({"name": "app", "git_url": w.url(), "secrets": {"github_token": "tok-s3cret"}}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert!(!created.text.contains("tok-s3cret"));
    let id = created.body["id"].as_u64().expect("id");
    let path = format!("/projects/{id}/onboarding");
    let summary = wait_for(&api, &path, "completed").await;
    assert!(!summary.to_string().contains("tok-s3cret"));
    assert_eq!(
        kinds(&summary),
        [
            "setup_enqueued",
            "setup_started",
            "setup_cloned",
            "setup_discovery_started",
            "setup_discovery_completed",
            "setup_clarifications",
            "setup_completed"
        ]
    );
    let workspace = w.root.join(format!("projects/{id}/origin"));
    assert_eq!(
        summary["workspace_path"],
        workspace.to_str().expect("utf-8")
    );
    for (name, status) in [
        ("resolve", "completed"),
        ("discovery", "completed"),
        ("assets", "completed"),
        ("git", "completed"),
        ("clarifications", "completed"),
    ] {
        assert_eq!(stage(&summary, name)["status"], status, "{name}: {summary}");
    }
    assert!(stage(&summary, "resolve")["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("cloned into")));
    assert_eq!(summary["job"]["job_type"], "project_setup");
    assert_eq!(summary["job"]["status"], "finished");
    let notes = std::fs::read_to_string(
        w.root
            .join(format!("projects/{id}/origin.discovery/inventory.md")),
    )
    .expect("discovery notes");
    assert!(notes.contains("A small app."));
    // The clone is now the project's local_path; no CI was found, so that was asked.
    let project = api.get(&format!("/projects/{id}")).await.body;
    assert_eq!(project["local_path"], workspace.to_str().expect("utf-8"));
    let asked = api
        .get(&format!("/projects/{id}/clarifications"))
        .await
        .body;
    assert_eq!(asked[0]["key"], "ci_provider");
    assert_eq!(asked[0]["blocking"], false);
    assert_eq!(asked[0]["applies_to"], "onboarding");
    // The setup run is one of the project's runs.
    let runs = api.get(&format!("/projects/{id}/protocols")).await.body;
    assert_eq!(runs[0]["protocol_name"], format!("setup-{id}"));
    assert_eq!(runs[0]["status"], "completed");

    // Branches: listed from origin through the checkout the setup made.
    let listed = api.get(&format!("/projects/{id}/branches")).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.body, json!({"branches": ["feature/x", "main"]}));
    let del = format!("/projects/{id}/branches/feature/x/delete");
    let no_confirm = api.post(&del, json!({})).await;
    assert_eq!(no_confirm.status, 400, "{}", no_confirm.text);
    assert_eq!(api.post(&del, json!({"confirm": false})).await.status, 400);
    assert_eq!(api.get(&del).await.status, 405);
    assert_eq!(
        w.origin_branches().await,
        ["feature/x", "main"],
        "nothing deleted yet"
    );
    let base = api
        .post(
            &format!("/projects/{id}/branches/main/delete"),
            json!({"confirm": true}),
        )
        .await;
    assert_eq!(base.status, 409, "{}", base.text);
    let deleted = api.post(&del, json!({"confirm": true})).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert_eq!(deleted.body["job"], Value::Null);
    assert_eq!(w.origin_branches().await, ["main"]);
    let again = api.post(&del, json!({"confirm": true})).await;
    assert_eq!(again.status, 404, "{}", again.text);
    let listed = api.get(&format!("/projects/{id}/branches")).await.body;
    assert_eq!(listed, json!({"branches": ["main"]}));
    let events = api
        .get(&format!("/events?project_id={id}&limit=3"))
        .await
        .body;
    let recent: Vec<&str> = events
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    assert_eq!(
        recent,
        ["branches_listed", "branch_deleted", "branches_listed"]
    );

    worker.shutdown().await.expect("clean shutdown");
    orch.stop().await;
    let _ = std::fs::remove_dir_all(&w.root);
}

async fn inline_onboarding_needs_no_worker_and_reports_failures(backend: Backend) {
    let w = world("inline", backend).await;
    let (orch, _, _) = start(backend, w.config(), "pl-onboard-inline").await;
    let api = Api::new(&orch);
    let id = api
        .ok("/projects", json!({"name": "app", "git_url": w.url()}))
        .await["id"]
        .as_u64()
        .expect("id");
    // No worker: the setup job stays queued.
    let queued = api.get(&format!("/projects/{id}/onboarding")).await.body;
    assert_eq!(queued["status"], "pending");
    let job_status = queued["job"]["status"].as_str().unwrap_or_default();
    assert!(
        ["pending", "waiting_for_worker"].contains(&job_status),
        "{queued}"
    );
    assert!(queued["stages"]
        .as_array()
        .is_some_and(|s| s.len() == 5 && s.iter().all(|s| s["status"] == "pending")));

    // The seed's curl: a raw JSON body with its content type.
    let resp = api
        .http
        .post(format!(
            "{}/projects/{id}/onboarding/actions/start",
            api.base
        ))
        .header("Content-Type", "application/json")
        .body(r#"{"inline": true}"#)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 200);
    let answer: Value = resp.json().await.expect("json");
    assert_eq!(answer["job"], Value::Null);
    assert!(
        answer["message"]
            .as_str()
            .is_some_and(|m| m.contains("completed")),
        "{answer}"
    );
    let summary = api.get(&format!("/projects/{id}/onboarding")).await.body;
    assert_eq!(summary["status"], "completed", "{summary}");
    let workspace = w.root.join(format!("orch-projects/{id}/origin"));
    assert_eq!(
        summary["workspace_path"],
        workspace.to_str().expect("utf-8")
    );
    assert_eq!(stage(&summary, "discovery")["status"], "skipped");
    assert_eq!(stage(&summary, "git")["status"], "completed");
    let k = kinds(&summary);
    assert_eq!(
        k[k.len() - 5..],
        [
            "setup_started",
            "setup_cloned",
            "setup_discovery_skipped",
            "setup_clarifications",
            "setup_completed"
        ]
    );
    // Not inline: a job, named in the answer.
    let enqueued = api
        .ok(
            &format!("/projects/{id}/onboarding/actions/start"),
            json!({}),
        )
        .await;
    assert_eq!(enqueued["job"]["job_type"], "project_setup", "{enqueued}");
    let no_body = api
        .http
        .post(format!(
            "{}/projects/{id}/onboarding/actions/start",
            api.base
        ))
        .send()
        .await
        .expect("request");
    assert_eq!(no_body.status().as_u16(), 200, "the body is optional");
    let bad = api
        .post(
            &format!("/projects/{id}/onboarding/actions/start"),
            json!({"inline": "yes"}),
        )
        .await;
    assert_eq!(bad.status, 400);

    // A repository that is nowhere: the setup fails, and the branches are not available.
    let gone = api
        .ok(
            "/projects",
            json!({"name": "gone", "git_url": w.root.join("nope.git")}),
        )
        .await["id"]
        .as_u64()
        .expect("id");
    let answer = api
        .ok(
            &format!("/projects/{gone}/onboarding/actions/start"),
            json!({"inline": true}),
        )
        .await;
    assert!(
        answer["message"]
            .as_str()
            .is_some_and(|m| m.contains("failed")),
        "{answer}"
    );
    let summary = api.get(&format!("/projects/{gone}/onboarding")).await.body;
    assert_eq!(summary["status"], "failed");
    assert_eq!(stage(&summary, "resolve")["status"], "failed");
    assert_eq!(
        kinds(&summary).last().map(String::as_str),
        Some("setup_failed")
    );
    let del = api
        .post(
            &format!("/projects/{gone}/branches/feature/x/delete"),
            json!({"confirm": true}),
        )
        .await;
    assert_eq!(del.status, 409, "{}", del.text);
    assert_eq!(
        api.get(&format!("/projects/{gone}/branches")).await.status,
        409
    );
    assert_eq!(api.get("/projects/999/onboarding").await.status, 404);
    orch.stop().await;
    let _ = std::fs::remove_dir_all(&w.root);
}

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
    assert_eq!(stage(&summary, "clarifications")["status"], "blocked");

    let run = api.run(id, "0001-corp", "pending").await;
    let records = orch.store.pipeline_records().expect("records");
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
    assert_eq!(started["job"]["job_type"], "plan_protocol");

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
    assert_eq!(ran["job"]["job_type"], "execute_step");

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
    assert_eq!(qa["job"]["job_type"], "run_quality");
    orch.stop().await;
    let _ = std::fs::remove_dir_all(&w.root);
}

async fn a_startup_fast_project_skips_qa(backend: Backend) {
    let w = world("fast", backend).await;
    let (orch, _, _) = start(backend, w.config(), "pl-onboard-fast").await;
    let worker = pipeline_worker(&orch.base_url, Arc::new(deps(&w.root)));
    let api = Api::new(&orch);
    let project = api
        .ok(
            "/projects",
            json!({"name": "fast", "git_url": w.url(), "project_classification": "startup-fast"}),
        )
        .await;
    assert_eq!(
        project["default_models"],
        json!({"exec": "gpt-5-codex-mini"})
    );
    let id = project["id"].as_u64().expect("id");
    wait_for(&api, &format!("/projects/{id}/onboarding"), "completed").await;
    let run = api.run(id, "0001-fast", "pending").await;
    api.ok(&format!("/protocols/{run}/actions/start"), json!({}))
        .await;
    wait_for(&api, &format!("/protocols/{run}"), "planned").await;
    api.ok(
        &format!("/protocols/{run}/actions/run_next_step"),
        json!({}),
    )
    .await;
    // No run_quality skill on the worker, no run_qa call: QA is skipped by the pack.
    wait_for(&api, &format!("/protocols/{run}"), "completed").await;
    worker.shutdown().await.expect("clean shutdown");
    orch.stop().await;
    let _ = std::fs::remove_dir_all(&w.root);
}
