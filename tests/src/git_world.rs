//! A git world for the coding-pipeline tests (`tests/tests/pipelines_onboarding.rs`,
//! `pipelines_gates.rs`): a bare origin on disk with `main` and `feature/x`, a fake
//! `codex` executable playing the model, a pipeline worker with the onboarding, plan and
//! execute skills, and helpers reading the onboarding summary.

use crate::backend::Backend;
use crate::orchestrator::test_config;
use crate::pipelines::Api;
use crate::workers;
use baton_orchestrator::config::Config;
use baton_worker::{TaskContext, TaskError, Worker};
use baton_worker_examples::pipeline::budget::{Budget, BudgetMode};
use baton_worker_examples::pipeline::codex::CodexEngine;
use baton_worker_examples::pipeline::engine::Engines;
use baton_worker_examples::pipeline::git::{self, Identity};
use baton_worker_examples::pipeline::pr::PrConfig;
use baton_worker_examples::pipeline::skills::{self, Deps};
use baton_worker_examples::pipeline::{qa_policy, setup};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
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
            mode: BudgetMode::Warn,
            per_step: None,
            per_protocol: None,
        },
        identity: Identity::default(),
        pr: PrConfig::default(),
    }
}

pub fn pipeline_worker(base_url: &str, deps: Arc<Deps>) -> baton_worker::WorkerHandle {
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
    skill!("execute_step", qa_policy::execute_step);
    workers::spawn(builder)
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
