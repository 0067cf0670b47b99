//! The coding pipeline walked end to end, on both stores, the way a team uses it: a
//! project with a bearer token and a project token is created on a git repository (a
//! bare origin on disk, reached by a `file://` URL named like a GitHub remote) and
//! onboarded by the worker; a protocol run is planned by an OpenAI-compatible engine (a
//! local fake server), its steps executed and reviewed by the `codex` CLI (a fake on
//! `PATH`); a QA failure takes the step's loop policy back a step instead of blocking
//! the run, the re-run passes; the PR is opened against a fake GitHub API, and GitHub's
//! signed `pull_request` webhook for the merge completes the run.
//!
//! The worker is the library assembly the `pipeline-worker` binary runs
//! (`pipeline::worker::with_skills`), with its engines configured as the binary's
//! environment would configure them.

use baton_orchestrator::config::Config;
use baton_tests::backend::{start, Backend};
use baton_tests::fakes::{FakeGithub, FakeOpenAi};
use baton_tests::orchestrator::test_config;
use baton_tests::pipeline_worker;
use baton_tests::pipelines::Api;
use baton_worker_examples::pipeline::codex::CodexEngine;
use baton_worker_examples::pipeline::engine::Engines;
use baton_worker_examples::pipeline::git;
use baton_worker_examples::pipeline::offline::OfflineEngine;
use baton_worker_examples::pipeline::openai::OpenAiEngine;
use baton_worker_examples::pipeline::pr::PrConfig;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

baton_tests::on_both_stores!(project_to_merged_pr);

const API_TOKEN: &str = "api-s3cret";
const PROJECT_TOKEN: &str = "project-s3cret";
const HOOK_TOKEN: &str = "hook-s3cret";
const OPENAI_KEY: &str = "sk-test";
const GITHUB_TOKEN: &str = "ghp-test";

/// The `codex` CLI's stand-in: reviews of `02-check.md` fail the first time (a counter
/// in the worktree's git dir, which is never committed) and pass after; other reviews
/// pass; anything else is a step's work, appended to `work.txt`.
const FAKE_CODEX: &str = r##"#!/bin/sh
input=$(cat)
case "$input" in
  *'Review it'*)
    case "$input" in
      *'02-check.md'*)
        f="$(git rev-parse --git-dir)/qa-02"
        n=$(cat "$f" 2>/dev/null || echo 0)
        echo $((n + 1)) > "$f"
        if [ "$n" -eq 0 ]; then echo 'The check has no test.'; echo 'VERDICT: FAIL'; else echo 'VERDICT: PASS'; fi ;;
      *) echo 'Looks right.'; echo 'VERDICT: PASS' ;;
    esac ;;
  *) echo "work" >> work.txt; echo 'did it' ;;
esac
"##;

/// What the planning model answers: three steps run by `codex`, the second with a loop
/// policy going one step back at most twice.
fn plan_json() -> String {
    json!({
        "plan_md": "# Plan\nBuild, check, document.",
        "context_md": "ctx",
        "log_md": "",
        "step_files": [
            {"filename": "01-build.md", "content": "Build it", "engine_id": "codex"},
            {"filename": "02-check.md", "content": "Check it", "engine_id": "codex",
             "policy": {"type": "loop", "module_id": "fix-loop", "stepBack": 1, "maxIterations": 2}},
            {"filename": "03-docs.md", "content": "Document it", "engine_id": "codex"},
        ]
    })
    .to_string()
}

/// The fake `codex` in a directory put first on this process's `PATH` (once: both
/// stores' tests share the process and the script).
fn codex_on_path() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("baton-walk-bin-{}", std::process::id()));
        pipeline_worker::fake_codex(&dir, FAKE_CODEX);
        let path = std::env::var("PATH").unwrap_or_default();
        std::env::set_var("PATH", format!("{}:{path}", dir.display()));
    });
}

fn signature(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(HOOK_TOKEN.as_bytes()).expect("hmac key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn github_hook(base: &str, event: &str, body: &Value, signed: bool) -> (u16, Value) {
    let raw = serde_json::to_vec(body).expect("json");
    let mut req = reqwest::Client::new()
        .post(format!("{base}/webhooks/github"))
        .header("X-GitHub-Event", event)
        .header("Content-Type", "application/json");
    if signed {
        req = req.header("X-Hub-Signature-256", signature(&raw));
    }
    let resp = req.body(raw).send().await.expect("webhook");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Waits until `path`'s `field` is `want`.
async fn wait(api: &Api, path: &str, field: &str, want: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let got = api.get(path).await;
        if got.body[field] == want {
            return got.body;
        }
        assert!(
            Instant::now() < deadline,
            "{path}: {field} is {}, not {want}; events: {}",
            got.body[field],
            api.get("/events?limit=30").await.text
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn event_types(events: &Value) -> Vec<String> {
    let mut kinds: Vec<String> = events
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["event_type"].as_str().map(str::to_string))
        .collect();
    kinds.reverse(); // oldest first
    kinds
}

async fn project_to_merged_pr(backend: Backend) {
    codex_on_path();
    let name = format!("{backend:?}").to_lowercase();
    let root = std::env::temp_dir().join(format!("baton-walk-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let origin = root.join("acme").join("app.git");
    std::fs::create_dir_all(origin.parent().expect("parent")).expect("dirs");
    pipeline_worker::bare_origin(&origin, &[]).await;
    let git_url = format!("file://{}", origin.display());

    let openai = FakeOpenAi::start(OPENAI_KEY, |prompt| {
        if prompt.contains("Answer with a JSON object") {
            plan_json()
        } else {
            "# Notes\nA small app with a README.".to_string()
        }
    })
    .await;
    let github = FakeGithub::start(GITHUB_TOKEN).await;
    let mut deps = pipeline_worker::deps(&root, PathBuf::from("unused"));
    deps.engines = Engines::new()
        .with(Arc::new(CodexEngine::default())) // `codex` from PATH
        .with(Arc::new(OpenAiEngine::new(
            &openai.base_url,
            Some(OPENAI_KEY.into()),
        )))
        .with(Arc::new(OfflineEngine))
        .with_default("openai");
    deps.pr = PrConfig {
        gh: None,
        glab: None,
        api_base: github.base_url.clone(),
        token: Some(GITHUB_TOKEN.into()),
    };

    let cfg = Config {
        api_token: Some(API_TOKEN.into()),
        ci_webhook_token: Some(HOOK_TOKEN.into()),
        projects_root: root.join("orch-projects"),
        ..test_config()
    };
    let (orch, _, _) = start(backend, cfg, "pl-walk").await;
    let worker = pipeline_worker::spawn(&orch.base_url, "w-walk", Arc::new(deps));
    let mut api = Api::new(&orch);

    // Tokens: none is 401; the bearer token alone is enough to create a project.
    let refused = api
        .post("/projects", json!({"name": "app", "git_url": git_url}))
        .await;
    assert_eq!(refused.status, 401, "{}", refused.text);
    api.bearer = Some(API_TOKEN.into());
    let created = api
        .post(
            "/projects",
            json!({
                "name": "app", "git_url": git_url, "base_branch": "main",
                "ci_provider": "github", "project_classification": "default",
                "default_models": {"planning": "plan-model"},
                "secrets": {"api_token": PROJECT_TOKEN, "github_token": "never-shown"},
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert!(
        !created.text.contains(PROJECT_TOKEN) && !created.text.contains("never-shown"),
        "secrets are write-only: {}",
        created.text
    );
    let project = created.body["id"].as_u64().expect("project id");

    // Onboarding: the project_setup job, run by the worker.
    let onboarding = format!("/projects/{project}/onboarding");
    assert_eq!(
        api.get(&onboarding).await.status,
        401,
        "project token needed"
    );
    api.project_token = Some(PROJECT_TOKEN.into());
    let summary = wait(&api, &onboarding, "status", "completed").await;
    let stages: Vec<(&str, &str)> = summary["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or(""),
                s["status"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(stages[0], ("resolve", "completed"), "{summary}");
    assert!(
        stages.contains(&("discovery", "completed")),
        "discovery through the OpenAI-compatible engine: {summary}"
    );

    // A protocol run, planned by the OpenAI-compatible engine with the project's model.
    let run = api
        .protocol(project, "0001-walk", "build, check, document")
        .await;
    api.ok(&format!("/protocols/{run}/actions/start"), json!({}))
        .await;
    let planned = wait(&api, &format!("/protocols/{run}"), "status", "planned").await;
    assert_eq!(
        planned["spec_hash"].as_str().map(str::len),
        Some(12),
        "{planned}"
    );
    let plan_request = openai
        .requests
        .lock()
        .expect("lock")
        .iter()
        .find(|r| r.to_string().contains("Answer with a JSON object"))
        .cloned()
        .expect("the plan was asked of the OpenAI-compatible server");
    assert_eq!(
        plan_request["model"], "plan-model",
        "step → project → worker"
    );
    let steps = api.get(&format!("/protocols/{run}/steps")).await.body;
    let ids: Vec<u64> = steps
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| s["id"].as_u64())
        .collect();
    assert_eq!(ids.len(), 3, "{steps}");
    assert_eq!(steps[1]["engine_id"], "codex");
    assert_eq!(steps[1]["policy"]["type"], "loop");

    // Step 1: executed by codex, reviewed, passed.
    let step = |i: usize| format!("/steps/{}", ids[i]);
    api.ok(
        &format!("/protocols/{run}/actions/run_next_step"),
        json!({}),
    )
    .await;
    wait(&api, &step(0), "status", "needs_qa").await;
    api.ok(&format!("{}/actions/run_qa", step(0)), json!({}))
        .await;
    wait(&api, &step(0), "status", "completed").await;

    // Step 2: its review fails; the loop policy sends steps 1 and 2 back (the run is not
    // blocked) and runs step 1 again at once.
    api.ok(
        &format!("/protocols/{run}/actions/run_next_step"),
        json!({}),
    )
    .await;
    wait(&api, &step(1), "status", "needs_qa").await;
    api.ok(&format!("{}/actions/run_qa", step(1)), json!({}))
        .await;
    let looped = wait(&api, &step(1), "status", "pending").await;
    assert_eq!(
        looped["runtime_state"]["loop_counts"]["fix-loop"], 1,
        "{looped}"
    );
    assert_ne!(api.status_of(&format!("/protocols/{run}")).await, "blocked");
    wait(&api, &step(0), "status", "needs_qa").await;
    api.ok(&format!("{}/actions/run_qa", step(0)), json!({}))
        .await;
    wait(&api, &step(0), "status", "completed").await;
    api.ok(
        &format!("/protocols/{run}/actions/run_next_step"),
        json!({}),
    )
    .await;
    wait(&api, &step(1), "status", "needs_qa").await;
    api.ok(&format!("{}/actions/run_qa", step(1)), json!({}))
        .await;
    wait(&api, &step(1), "status", "completed").await;

    // The PR, against the fake GitHub API: owner and repo from the remote.
    let opened = api
        .ok(&format!("/protocols/{run}/actions/open_pr"), json!({}))
        .await;
    assert_eq!(opened["job"]["job_type"], "open_pr_job", "{opened}");
    let deadline = Instant::now() + Duration::from_secs(40);
    let events_path = format!("/protocols/{run}/events?limit=200");
    while !event_types(&api.get(&events_path).await.body).contains(&"open_pr".to_string()) {
        assert!(Instant::now() < deadline, "no open_pr event");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let prs = github.prs();
    assert_eq!(prs.len(), 1, "{prs:?}");
    assert_eq!(
        (
            &prs[0]["owner"],
            &prs[0]["repo"],
            &prs[0]["head"],
            &prs[0]["base"]
        ),
        (
            &json!("acme"),
            &json!("app"),
            &json!("0001-walk"),
            &json!("main")
        )
    );

    // GitHub's merge webhook: refused unsigned, needs no bearer token, completes the run.
    let merged = json!({"action": "closed", "pull_request": {
        "merged": true, "head": {"ref": "0001-walk"}, "base": {"ref": "main"}}});
    let (status, _) = github_hook(&orch.base_url, "pull_request", &merged, false).await;
    assert_eq!(status, 401);
    assert_eq!(api.status_of(&format!("/protocols/{run}")).await, "running");
    let (status, answer) = github_hook(&orch.base_url, "pull_request", &merged, true).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["message"], "Webhook recorded");
    assert_eq!(
        api.status_of(&format!("/protocols/{run}")).await,
        "completed"
    );

    // What happened, in order, and where the work is.
    let kinds = event_types(&api.get(&events_path).await.body);
    let order = [
        "planning_enqueued",
        "plan_completed",
        "step_executed",
        "qa_passed",
        "qa_failed",
        "loop_decision",
        "qa_passed",
        "open_pr",
        "pr_merged",
        "protocol_completed",
    ];
    let mut at = 0;
    for kind in &kinds {
        if at < order.len() && kind == order[at] {
            at += 1;
        }
    }
    assert_eq!(at, order.len(), "events in order {order:?}: {kinds:?}");
    let log = git::git(&origin, &["log", "--format=%s", "0001-walk"])
        .await
        .expect("log");
    let subjects: Vec<&str> = log.lines().collect();
    assert_eq!(
        subjects,
        [
            "0001-walk: 02-check.md",
            "0001-walk: 01-build.md",
            "0001-walk: 02-check.md",
            "0001-walk: 01-build.md",
            "0001-walk: plan",
            "first"
        ]
    );

    // Each attempt is a run with its log; the failed review is one of them.
    let runs = api
        .get(&format!("/protocols/{run}/runs?limit=50"))
        .await
        .body;
    let kinds_of_runs: Vec<&str> = runs
        .as_array()
        .expect("runs")
        .iter()
        .filter_map(|r| r["run_kind"].as_str())
        .collect();
    assert_eq!(
        kinds_of_runs.iter().filter(|k| **k == "qa").count(),
        4,
        "{kinds_of_runs:?}"
    );
    let failed_qa = runs
        .as_array()
        .expect("runs")
        .iter()
        .find(|r| r["result"]["verdict"] == "FAIL")
        .expect("the failed review's run");
    let log = api
        .get(&format!(
            "/codex/runs/{}/logs",
            failed_qa["run_id"].as_str().expect("run id")
        ))
        .await;
    assert!(log.text.contains("VERDICT: FAIL"), "{}", log.text);
    let metrics = reqwest::get(format!("{}/metrics", orch.base_url))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for line in [
        "qa_verdict_total{verdict=\"FAIL\"} 1",
        "qa_verdict_total{verdict=\"PASS\"} 3",
        "webhooks_total{provider=\"github\",status=\"",
    ] {
        assert!(metrics.contains(line), "{line} in /metrics");
    }
    assert!(openai.calls() >= 2, "discovery and the plan");

    worker.shutdown().await.expect("clean shutdown");
    orch.stop().await;
    let _ = std::fs::remove_dir_all(&root);
}
