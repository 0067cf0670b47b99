//! Runs, logs, artifacts, queues and the seed's metrics, end to end on both stores: a
//! pipeline worker (the SDK with the real skills, a fake `codex` on disk) plans a
//! protocol (the first attempt fails and is retried), executes its step (with a log too
//! large to keep whole) and reviews it; the runs API then serves every attempt with the
//! log and files the worker sent.

use baton_tests::backend::{start, Backend};
use baton_tests::orchestrator::test_config;
use baton_tests::pipeline_worker;
use baton_tests::pipelines::Api;
use baton_tests::raw_worker::RawWorker;
use baton_worker_examples::pipeline::skills::Deps;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

baton_tests::on_both_stores!(
    runs_logs_artifacts_queues_and_metrics,
    an_attempt_lost_with_its_worker_is_a_failed_run
);

/// The fake model. Plan prompts: the first call fails (stderr, exit 1), later ones
/// answer a one-step plan. Reviews pass. Steps print 300 KB, more than a log keeps.
fn fake_codex(marker: &Path) -> String {
    format!(
        r##"#!/bin/sh
input=$(cat)
case "$input" in
  *'Answer with a JSON object'*)
    if [ ! -e '{marker}' ]; then
      touch '{marker}'
      echo 'model overloaded, try later' >&2
      exit 1
    fi
    echo '{{"plan_md": "# Plan", "context_md": "ctx", "log_md": "", "step_files": [{{"filename": "01-greet.md", "content": "Add hello.txt"}}]}}' ;;
  *'Review it'*) echo 'fine'; echo 'VERDICT: PASS' ;;
  *) echo "hello" > hello.txt; head -c 300000 /dev/zero | tr '\0' 'a'; echo; echo 'STEP DONE' ;;
esac
"##,
        marker = marker.display()
    )
}

async fn setup(root: &Path) -> (PathBuf, Deps) {
    let _ = std::fs::remove_dir_all(root);
    let origin = root.join("origin.git");
    pipeline_worker::bare_origin(&origin, &[]).await;
    let codex = pipeline_worker::fake_codex(root, &fake_codex(&root.join("plan-failed-once")));
    (origin, pipeline_worker::deps(root, codex))
}

fn pipeline_worker(base_url: &str, deps: Arc<Deps>) -> baton_worker::WorkerHandle {
    pipeline_worker::spawn(base_url, "w-runs", deps)
}

async fn wait_status(api: &Api, path: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = api.status_of(path).await;
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "{path} is {got}, not {want}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// GET that must answer 200; the body as JSON.
async fn ok(api: &Api, path: &str) -> Value {
    let a = api.get(path).await;
    assert_eq!(a.status, 200, "GET {path}: {}", a.text);
    assert!(a.request_id.is_some(), "GET {path}: X-Request-ID");
    a.body
}

fn field<'v>(list: &'v Value, key: &str) -> Vec<&'v str> {
    list.as_array()
        .expect("a list")
        .iter()
        .filter_map(|x| x[key].as_str())
        .collect()
}

async fn runs_logs_artifacts_queues_and_metrics(backend: Backend) {
    let name = format!("{backend:?}").to_lowercase();
    let root = std::env::temp_dir().join(format!("baton-pl-runs-{name}-{}", std::process::id()));
    let (origin, deps) = setup(&root).await;
    let (orch, _, _) = start(backend, test_config(), "pl-runs").await;
    let api = Api::new(&orch);
    let project = api.project_on(&origin).await;
    let run = api.protocol(project, "0001-demo", "say hello").await;

    // No worker yet: the attempt is in flight, queued.
    api.ok(&format!("/protocols/{run}/actions/start"), json!({}))
        .await;
    let waiting = ok(&api, &format!("/protocols/{run}/runs")).await;
    assert_eq!(field(&waiting, "status"), ["queued"], "{waiting}");
    assert_eq!(waiting[0]["run_kind"], "plan");
    // Newest first: the plan, then the project's onboarding job (enqueued on creation).
    let queued = ok(&api, "/queues/jobs?status=queued").await;
    assert_eq!(
        field(&queued, "job_type"),
        ["plan_protocol_job", "project_setup_job"],
        "{queued}"
    );
    assert_eq!(queued[0]["payload"]["protocol_run_id"], run);

    let worker = pipeline_worker(&orch.base_url, Arc::new(deps));
    wait_status(&api, &format!("/protocols/{run}"), "planned").await;
    let steps = ok(&api, &format!("/protocols/{run}/steps")).await;
    let step = steps[0]["id"].as_u64().expect("step id");
    api.ok(
        &format!("/protocols/{run}/actions/run_next_step"),
        json!({}),
    )
    .await;
    wait_status(&api, &format!("/steps/{step}"), "needs_qa").await;
    api.ok(&format!("/steps/{step}/actions/run_qa"), json!({}))
        .await;
    wait_status(&api, &format!("/steps/{step}"), "completed").await;

    // Every attempt, newest first: the failed plan attempt and its retry are two runs.
    let runs = ok(&api, &format!("/protocols/{run}/runs")).await;
    assert_eq!(
        field(&runs, "run_kind"),
        ["qa", "exec", "plan", "plan"],
        "{runs}"
    );
    assert_eq!(
        field(&runs, "status"),
        ["succeeded", "succeeded", "succeeded", "failed"]
    );
    let attempts: Vec<u64> = runs
        .as_array()
        .expect("runs")
        .iter()
        .filter_map(|r| r["attempt"].as_u64())
        .collect();
    assert_eq!(attempts, [1, 1, 2, 1]);
    assert_eq!(field(&runs, "worker_id"), ["w-runs"; 4]);
    assert!(runs.as_array().expect("runs").iter().all(|r| {
        r["protocol_run_id"] == run && r["project_id"] == project && r["started_at"].is_string()
    }));
    let id = |i: usize| runs[i]["run_id"].as_str().expect("run id").to_string();
    let (qa_run, exec_run, plan_run, failed_run) = (id(0), id(1), id(2), id(3));
    assert_eq!(
        runs[3]["job_id"], runs[2]["job_id"],
        "one job, two attempts"
    );
    assert_eq!(runs[2]["result"]["run"]["engine_id"], "codex");
    assert_eq!(runs[2]["result"]["run"]["model"], "fake-model");
    assert_eq!(
        runs[2]["result"]["run"]["prompt_version"]
            .as_str()
            .map(str::len),
        Some(12)
    );
    assert!(runs[2]["cost_tokens"].as_u64().is_some_and(|t| t > 0));
    assert!(
        runs[2]["result"]["run"].get("log").is_none(),
        "the log is apart"
    );
    assert_eq!(runs[3]["error"]["code"], "TRANSIENT_ERROR");

    let single = ok(&api, &format!("/codex/runs/{plan_run}")).await;
    assert_eq!(single["run_id"], plan_run.as_str());
    assert_eq!(single["log_path"], format!("/codex/runs/{plan_run}/logs"));

    // Logs: the engine's output and the skill's lines, also of the failed attempt.
    let log = api.get(&format!("/codex/runs/{plan_run}/logs")).await;
    assert_eq!(log.status, 200);
    assert!(log.text.contains("--- engine stdout ---"), "{}", log.text);
    assert!(log.text.contains("\"plan_md\": \"# Plan\""), "{}", log.text);
    assert!(log.text.contains("plan committed"), "{}", log.text);
    let failed_log = api
        .get(&format!("/codex/runs/{failed_run}/logs"))
        .await
        .text;
    assert!(
        failed_log.contains("model overloaded, try later"),
        "{failed_log}"
    );
    assert!(
        failed_log.contains("failed: TRANSIENT_ERROR"),
        "{failed_log}"
    );

    // Artifacts: metadata, then content with the sha256 and size announced.
    let arts = ok(&api, &format!("/codex/runs/{plan_run}/artifacts")).await;
    assert_eq!(
        field(&arts, "name"),
        ["plan.md", "context.md", "log.md", "01-greet.md"]
    );
    let plan_md = &arts[0];
    assert_eq!(plan_md["kind"], "plan");
    assert_eq!(plan_md["path"], ".protocols/0001-demo/plan.md");
    let sha = |s: &str| format!("{:x}", Sha256::digest(s.as_bytes()));
    assert_eq!(plan_md["sha256"], sha("# Plan"));
    assert_eq!(plan_md["bytes"], 6);
    let content_path =
        |run: &str, art: &Value| format!("/codex/runs/{run}/artifacts/{}/content", art["id"]);
    let content = api.get(&content_path(&plan_run, plan_md)).await;
    assert_eq!((content.status, content.text.as_str()), (200, "# Plan"));
    let steps_only = ok(&api, &format!("/codex/runs/{plan_run}/artifacts?kind=step")).await;
    assert_eq!(field(&steps_only, "name"), ["01-greet.md"]);
    let qa_arts = ok(&api, &format!("/codex/runs/{qa_run}/artifacts")).await;
    assert_eq!(field(&qa_arts, "name"), ["quality-report.md"]);
    let report = api.get(&content_path(&qa_run, &qa_arts[0])).await.text;
    assert_eq!(report, "fine\nVERDICT: PASS\n");
    assert_eq!(qa_arts[0]["sha256"], sha(&report));
    assert_eq!(qa_arts[0]["bytes"], report.len());
    // An artifact id of another run is not this run's.
    let other = api.get(&content_path(&qa_run, plan_md)).await;
    assert_eq!(other.status, 404, "{}", other.text);

    // Caps: the step printed 300 KB; its log keeps the tail within 256 KiB.
    let exec = ok(&api, &format!("/codex/runs/{exec_run}")).await;
    assert_eq!(exec["log_truncated"], true);
    let exec_log = api.get(&format!("/codex/runs/{exec_run}/logs")).await.text;
    assert!(exec_log.len() <= 256 * 1024, "{}", exec_log.len());
    assert!(exec_log.starts_with("[log truncated: first "));
    assert!(exec_log.contains("STEP DONE"));
    assert_eq!(exec["log_bytes"], exec_log.len());

    // Filters.
    let of_step = ok(&api, &format!("/steps/{step}/runs")).await;
    assert_eq!(field(&of_step, "run_kind"), ["qa", "exec"]);
    let qa_only = ok(&api, &format!("/steps/{step}/runs?run_kind=qa")).await;
    assert_eq!(field(&qa_only, "run_id"), [qa_run.as_str()]);
    let failed = ok(&api, "/codex/runs?job_type=plan_protocol_job&status=failed").await;
    assert_eq!(field(&failed, "run_id"), [failed_run.as_str()]);
    assert_eq!(failed[0]["job_type"], "plan_protocol_job");
    // The blueprint's own name filters too.
    let same = ok(&api, "/codex/runs?job_type=plan_protocol&status=failed").await;
    assert_eq!(field(&same, "run_id"), [failed_run.as_str()]);
    let one = ok(&api, &format!("/codex/runs?protocol_run_id={run}&limit=1")).await;
    assert_eq!(field(&one, "run_id"), [qa_run.as_str()]);
    let other_project = ok(&api, &format!("/codex/runs?step_run_id={}", step + 1000)).await;
    assert_eq!(other_project, json!([]));

    // The one queue, with its counts per job type: every job finished.
    let queues = ok(&api, "/queues").await;
    assert_eq!(queues["default"]["finished"], 4, "{queues}");
    assert_eq!(queues["default"]["queued"], 0, "{queues}");
    for job_type in [
        "project_setup_job",
        "plan_protocol_job",
        "execute_step_job",
        "run_quality_job",
    ] {
        let q = &queues["default"]["job_types"][job_type];
        assert_eq!(q["finished"], 1, "{job_type} in {queues}");
        assert_eq!(q["queued"], 0, "{q}");
    }
    let finished = ok(&api, "/queues/jobs?status=finished").await;
    assert_eq!(
        field(&finished, "job_type"),
        [
            "run_quality_job",
            "execute_step_job",
            "plan_protocol_job",
            "project_setup_job"
        ]
    );
    assert!(finished[2]["started_at"].is_string() && finished[2]["ended_at"].is_string());
    assert_eq!(finished[0]["result"]["verdict"], "PASS");
    assert_eq!(finished[0]["meta"]["pipeline"]["step_run_id"], step);
    assert_eq!(ok(&api, "/queues/jobs?status=queued").await, json!([]));

    // The seed's metrics.
    let hook = api
        .post(
            "/webhooks/github",
            json!({"ref": "refs/heads/no-such-branch"}),
        )
        .await;
    assert!(hook.status >= 400, "{}", hook.text);
    let metrics = api.get("/metrics").await;
    let hook_line = format!(
        "webhooks_total{{provider=\"github\",status=\"{}\"}} 1",
        hook.status
    );
    assert!(metrics.text.contains(&hook_line), "{hook_line}");
    assert_eq!(metrics.status, 200);
    for line in [
        "jobs_processed_total{job_type=\"plan_protocol_job\",status=\"failed\"} 1",
        "jobs_processed_total{job_type=\"plan_protocol_job\",status=\"succeeded\"} 1",
        "jobs_processed_total{job_type=\"run_quality_job\",status=\"succeeded\"} 1",
        "qa_verdict_total{verdict=\"PASS\"} 1",
        "jobs_duration_seconds_count{job_type=\"execute_step_job\"} 1",
        "codex_token_estimated_total{model=\"fake-model\",phase=\"plan\"}",
        "requests_total{method=\"GET\",path=\"/codex/runs/{run_id}\",status=\"200\"}",
    ] {
        assert!(metrics.text.contains(line), "{line} in:\n{}", metrics.text);
    }
    assert!(!metrics.text.contains(&plan_run), "no ids as labels");

    // Unknown ids are 404, bad values 400.
    for path in [
        "/codex/runs/nope".to_string(),
        "/codex/runs/nope/logs".into(),
        "/codex/runs/nope/artifacts".into(),
        format!("/codex/runs/{plan_run}/artifacts/999999/content"),
        "/protocols/999999/runs".into(),
        "/steps/999999/runs".into(),
    ] {
        assert_eq!(api.get(&path).await.status, 404, "{path}");
    }
    for path in [
        "/codex/runs?status=bogus".to_string(),
        "/codex/runs?run_kind=bogus".into(),
        "/codex/runs?limit=many".into(),
        "/codex/runs?project_id=x".into(),
        format!("/codex/runs/{plan_run}/artifacts/abc/content"),
        "/protocols/abc/runs".into(),
        "/queues/jobs?status=bogus".into(),
    ] {
        assert_eq!(api.get(&path).await.status, 400, "{path}");
    }

    worker.shutdown().await.expect("clean shutdown");
    orch.stop().await;
    let _ = std::fs::remove_dir_all(&root);
}

/// A worker takes the plan task and goes silent: its lease expires, another worker
/// plans; when the job ends, the lost attempt is a failed run of its own.
async fn an_attempt_lost_with_its_worker_is_a_failed_run(backend: Backend) {
    let name = format!("{backend:?}").to_lowercase();
    let root = std::env::temp_dir().join(format!("baton-pl-lost-{name}-{}", std::process::id()));
    let (origin, deps) = setup(&root).await;
    // The fake model's planning succeeds at once.
    std::fs::write(root.join("plan-failed-once"), "").expect("marker");
    let (orch, _, _) = start(backend, test_config(), "pl-lost").await;
    let api = Api::new(&orch);
    let project = api.project_on(&origin).await;
    let run = api
        .ok(
            &format!("/projects/{project}/protocols"),
            json!({"protocol_name": "0001-demo"}),
        )
        .await["id"]
        .as_u64()
        .expect("run id");
    api.ok(&format!("/protocols/{run}/actions/start"), json!({}))
        .await;
    let silent = RawWorker::new(&orch.base_url, "w-silent");
    silent.register(&["plan_protocol"]).await;
    let (status, task) = silent.poll("plan_protocol", 5).await;
    assert_eq!(status, 200, "{task}");
    let lost_id = task["task_id"].as_str().expect("task id").to_string();
    let running = ok(&api, &format!("/codex/runs/{lost_id}")).await;
    assert_eq!(
        (running["status"].as_str(), running["worker_id"].as_str()),
        (Some("running"), Some("w-silent"))
    );

    let worker = pipeline_worker(&orch.base_url, Arc::new(deps));
    wait_status(&api, &format!("/protocols/{run}"), "planned").await;
    // The job's end records the lost attempt (its timer may run just after the status).
    let deadline = Instant::now() + Duration::from_secs(10);
    let runs = loop {
        let runs = ok(&api, &format!("/protocols/{run}/runs")).await;
        if runs.as_array().is_some_and(|r| r.len() == 2) || Instant::now() > deadline {
            break runs;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(field(&runs, "status"), ["failed", "succeeded"], "{runs}");
    assert_eq!(field(&runs, "worker_id"), ["w-silent", "w-runs"]);
    assert_eq!(runs[0]["run_id"], lost_id.as_str());
    assert_eq!(runs[0]["attempt"], 1);
    assert_eq!(runs[1]["attempt"], 2);
    assert_eq!(runs[0]["error"]["code"], "WORKER_LOST");
    let log = api.get(&format!("/codex/runs/{lost_id}/logs")).await.text;
    assert!(log.contains("WORKER_LOST"), "{log}");
    worker.shutdown().await.expect("clean shutdown");
    orch.stop().await;
    let _ = std::fs::remove_dir_all(&root);
}
