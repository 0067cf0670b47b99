//! A git world for the coding-pipeline tests (`tests/tests/pipelines_onboarding.rs`,
//! `pipelines_gates.rs`): a bare origin on disk with `main` and `feature/x`, a fake
//! `codex` executable playing the model, a pipeline worker (all skills, see [`crate::pipeline_worker`]),
//! and helpers reading the onboarding summary.

use crate::backend::Backend;
use crate::orchestrator::test_config;
use crate::pipeline_worker;
use crate::pipelines::Api;
use baton_orchestrator::config::Config;
use baton_worker_examples::pipeline::git::{self};
use baton_worker_examples::pipeline::skills::Deps;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const FAKE_CODEX: &str = r##"#!/bin/sh
input=$(cat)
case "$input" in
  *'You are onboarding'*) echo '# Notes'; echo 'A small app.' ;;
  *'Answer with a JSON object'*)
    echo '{"plan_md": "# Plan", "context_md": "", "log_md": "", "step_files": [{"filename": "01-greet.md", "content": "Add hello.txt"}]}' ;;
  *'Review it'*) echo 'VERDICT: PASS' ;;
  *) echo "step done" >> work.txt; echo 'did it' ;;
esac
"##;

pub struct World {
    pub root: PathBuf,
    pub origin: PathBuf,
}

impl World {
    pub fn url(&self) -> String {
        self.origin.to_string_lossy().into_owned()
    }

    /// Config whose orchestrator clones under this world's root.
    pub fn config(&self) -> Config {
        Config {
            projects_root: self.root.join("orch-projects"),
            ..test_config()
        }
    }

    pub async fn origin_branches(&self) -> Vec<String> {
        let out = git::git(&self.origin, &["branch", "--format=%(refname:short)"])
            .await
            .expect("branches of origin");
        let mut names: Vec<String> = out.lines().map(str::to_string).collect();
        names.sort();
        names
    }
}

/// A bare origin with `main` (a README) and `feature/x`.
pub async fn world(name: &str, backend: Backend) -> World {
    let root = std::env::temp_dir().join(format!(
        "baton-onb-{name}-{backend:?}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("dirs");
    let origin = root.join("origin.git");
    pipeline_worker::bare_origin(&origin, &["feature/x"]).await;
    World { root, origin }
}

pub fn deps(root: &Path) -> Deps {
    pipeline_worker::deps(root, pipeline_worker::fake_codex(root, FAKE_CODEX))
}

pub fn pipeline_worker(base_url: &str, deps: Arc<Deps>) -> baton_worker::WorkerHandle {
    pipeline_worker::spawn(base_url, "w-onboard", deps)
}

pub async fn wait_for(api: &Api, path: &str, want: &str) -> Value {
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

pub fn stage<'a>(summary: &'a Value, name: &str) -> &'a Value {
    summary["stages"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == name))
        .unwrap_or(&Value::Null)
}

/// The summary's event types, oldest first.
pub fn kinds(summary: &Value) -> Vec<String> {
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
