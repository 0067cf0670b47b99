//! Helpers of the CodeMachine end-to-end tests (`tests/tests/pipelines_codemachine.rs`):
//! a fake `codex` whose reviews fail as often as a file says, a pipeline worker with the
//! execute, QA and `codemachine_import` skills, a bare origin with or without a plan, and
//! waiting on the pipelines API.

use crate::backend::Backend;
use crate::pipelines::Api;
use crate::workers;
use baton_worker::{TaskContext, TaskError, Worker};
use baton_worker_examples::pipeline::budget::{Budget, BudgetMode};
use baton_worker_examples::pipeline::codemachine::codemachine_import;
use baton_worker_examples::pipeline::codex::CodexEngine;
use baton_worker_examples::pipeline::engine::Engines;
use baton_worker_examples::pipeline::git::{self, Identity};
use baton_worker_examples::pipeline::pr::PrConfig;
use baton_worker_examples::pipeline::skills::{self, Deps};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Plans are not asked for here: reviews answer FAIL while `qa_fails` holds a positive
/// number (counting it down), else PASS; anything else is a step's work.
pub const FAKE_CODEX: &str = r##"#!/bin/sh
input=$(cat)
dir=$(dirname "$0")
case "$input" in
  *'Review it'*)
    n=$(cat "$dir/qa_fails" 2>/dev/null || echo 0)
    if [ "$n" -gt 0 ]; then echo $((n - 1)) > "$dir/qa_fails"; echo 'VERDICT: FAIL'; else echo 'VERDICT: PASS'; fi ;;
  *) echo "step done" >> work.txt; echo 'did it' ;;
esac
"##;

pub fn tmp(name: &str, backend: Backend) -> PathBuf {
    let b = format!("{backend:?}").to_lowercase();
    let root = std::env::temp_dir().join(format!("baton-cm-{name}-{b}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("tmp dir");
    root
}

pub fn deps(root: &Path) -> Deps {
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
            mode: BudgetMode::Off,
            per_step: None,
            per_protocol: None,
        },
        identity: Identity::default(),
        pr: PrConfig::default(),
    }
}

pub fn pipeline_worker(base_url: &str, deps: Arc<Deps>) -> baton_worker::WorkerHandle {
    let mut builder = Worker::builder(workers::config(base_url, "w-cm"));
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
    skill!("execute_step", skills::execute_step);
    skill!("run_quality", skills::run_quality);
    skill!("codemachine_import", codemachine_import);
    workers::spawn(builder)
}

pub async fn wait_for(api: &Api, path: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = api.get(path).await;
        if got.status == 200 && ok(&got.body) {
            return got.body;
        }
        assert!(
            Instant::now() < deadline,
            "{path}: never {what}: {}; events: {}",
            got.text,
            api.get("/events?limit=50").await.text
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn wait_status(api: &Api, path: &str, want: &str) -> Value {
    wait_for(api, path, want, |b| b["status"] == want).await
}

pub async fn event_kinds(api: &Api, run: u64) -> Vec<String> {
    let events = api.get(&format!("/protocols/{run}/events")).await.body;
    events
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["event_type"].as_str().map(str::to_string))
        .collect()
}

/// A bare origin whose `main` holds the plan of run `name` (one step, `01-build.md`), as
/// a planned run would have it; or no plan at all (`name` empty).
pub async fn planned_repo(root: &Path, name: &str) -> PathBuf {
    let seed = root.join("seed");
    let plan = seed.join(".protocols").join(name);
    std::fs::create_dir_all(&plan).expect("dirs");
    std::fs::write(seed.join("README.md"), "app\n").expect("readme");
    let origin = root.join("origin.git");
    let o = origin.to_str().expect("utf-8");
    git::git(root, &["init", "--quiet", "--bare", "-b", "main", o])
        .await
        .expect("origin");
    git::git(&seed, &["init", "--quiet", "-b", "main"])
        .await
        .expect("seed");
    if !name.is_empty() {
        std::fs::write(plan.join("plan.md"), "# Plan\nBuild it.\n").expect("plan");
        std::fs::write(plan.join("01-build.md"), "Build the thing.\n").expect("step");
    }
    git::commit_all(&seed, "first", &Identity::default())
        .await
        .expect("commit");
    git::git(&seed, &["push", "--quiet", o, "main"])
        .await
        .expect("push");
    origin
}
