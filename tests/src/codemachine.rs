//! Helpers of the CodeMachine end-to-end tests (`tests/tests/pipelines_codemachine.rs`):
//! a fake `codex` whose reviews fail as often as a file says, a pipeline worker (all skills, see
//! [`crate::pipeline_worker`]), a bare origin with or without a plan, and
//! waiting on the pipelines API.

use crate::backend::Backend;
use crate::pipeline_worker;
use crate::pipelines::Api;
use baton_worker_examples::pipeline::budget::BudgetMode;
use baton_worker_examples::pipeline::git::{self, Identity};
use baton_worker_examples::pipeline::skills::Deps;
use serde_json::Value;
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
    let mut deps = pipeline_worker::deps(root, pipeline_worker::fake_codex(root, FAKE_CODEX));
    deps.budget.mode = BudgetMode::Off;
    deps
}

pub fn pipeline_worker(base_url: &str, deps: Arc<Deps>) -> baton_worker::WorkerHandle {
    pipeline_worker::spawn(base_url, "w-cm", deps)
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
