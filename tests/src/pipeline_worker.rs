//! The coding-pipeline worker as the end-to-end tests run it: a bare git origin on disk,
//! a fake `codex` executable (a shell script playing the model), the worker's [`Deps`]
//! with that `codex` (plus the offline engine), and a worker with every pipeline skill,
//! registered exactly as the `pipeline-worker` binary registers them
//! ([`baton_worker_examples::pipeline::worker::with_skills`]).

use crate::workers;
use baton_worker::{Worker, WorkerHandle};
use baton_worker_examples::pipeline::budget::{Budget, BudgetMode};
use baton_worker_examples::pipeline::codex::CodexEngine;
use baton_worker_examples::pipeline::engine::Engines;
use baton_worker_examples::pipeline::git::{self, Identity};
use baton_worker_examples::pipeline::offline::OfflineEngine;
use baton_worker_examples::pipeline::pr::PrConfig;
use baton_worker_examples::pipeline::skills::Deps;
use baton_worker_examples::pipeline::worker::with_skills;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Writes `script` as the executable `<dir>/codex`; its path.
pub fn fake_codex(dir: &Path, script: &str) -> PathBuf {
    std::fs::create_dir_all(dir).expect("codex dir");
    let codex = dir.join("codex");
    std::fs::write(&codex, script).expect("write codex");
    std::fs::set_permissions(&codex, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    codex
}

/// A bare repository at `origin` whose `main` holds one commit (a README), also pushed
/// as each of `branches`.
pub async fn bare_origin(origin: &Path, branches: &[&str]) {
    let root = origin.parent().expect("origin has a parent");
    let seed = root.join(format!(
        "seed-{}",
        origin
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("repo")
    ));
    std::fs::create_dir_all(&seed).expect("dirs");
    let o = origin.to_str().expect("utf-8 path");
    git::git(root, &["init", "--quiet", "--bare", "-b", "main", o])
        .await
        .expect("bare origin");
    git::git(&seed, &["init", "--quiet", "-b", "main"])
        .await
        .expect("seed repo");
    std::fs::write(seed.join("README.md"), "app\n").expect("write");
    git::commit_all(&seed, "first", &Identity::default())
        .await
        .expect("commit");
    let mut push = vec!["push", "--quiet", o, "main"];
    let refspecs: Vec<String> = branches.iter().map(|b| format!("main:{b}")).collect();
    push.extend(refspecs.iter().map(String::as_str));
    git::git(&seed, &push).await.expect("push");
}

/// Dependencies with `codex` as the default engine (and `offline`), repositories cloned
/// under `<root>/projects`, budgets warning only, no way to open PRs.
pub fn deps(root: &Path, codex: PathBuf) -> Deps {
    Deps {
        engines: Engines::new()
            .with(Arc::new(CodexEngine {
                binary: codex,
                ..CodexEngine::default()
            }))
            .with(Arc::new(OfflineEngine)),
        projects_root: root.join("projects"),
        default_model: "fake-model".into(),
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

/// A worker `worker_id` with every pipeline skill, running against `base_url`.
pub fn spawn(base_url: &str, worker_id: &str, deps: Arc<Deps>) -> WorkerHandle {
    let builder = Worker::builder(workers::config(base_url, worker_id));
    workers::spawn(with_skills(builder, deps))
}
