//! The `project_setup` skill on a real bare origin: a user's checkout used as is, an
//! engine that cannot start skipping discovery, the offline engine labelled, a missing
//! base branch asked about.

use super::*;
use crate::pipeline::budget::{Budget, BudgetMode};
use crate::pipeline::codex::CodexEngine;
use crate::pipeline::engine::Engines;
use crate::pipeline::git::Identity;
use crate::pipeline::offline::{OfflineEngine, BANNER};
use crate::pipeline::pr::PrConfig;
use std::sync::Arc;
use std::time::Duration;

/// A root with a bare origin (one commit on `main`) and a checkout of it.
async fn world(name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let root = std::env::temp_dir().join(format!("baton-setup-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let seed = root.join("seed");
    std::fs::create_dir_all(&seed).unwrap();
    let origin = root.join("origin.git");
    let o = origin.to_str().unwrap();
    git::git(&root, &["init", "--quiet", "--bare", "-b", "main", o])
        .await
        .unwrap();
    git::git(&seed, &["init", "--quiet", "-b", "main"])
        .await
        .unwrap();
    std::fs::write(seed.join("README.md"), "app\n").unwrap();
    git::commit_all(&seed, "first", &Identity::default())
        .await
        .unwrap();
    git::git(&seed, &["remote", "add", "origin", o])
        .await
        .unwrap();
    git::git(&seed, &["push", "--quiet", "origin", "main"])
        .await
        .unwrap();
    (root, origin, seed)
}

fn deps(root: &Path, engines: Engines) -> Deps {
    Deps {
        engines,
        projects_root: root.join("projects"),
        default_model: "m".into(),
        timeout: Duration::from_secs(20),
        budget: Budget {
            mode: BudgetMode::Off,
            per_step: None,
            per_protocol: None,
        },
        identity: Identity::default(),
        pr: PrConfig::default(),
    }
}

fn stage_of<'a>(out: &'a Value, name: &str) -> &'a Value {
    out["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap()
}

#[tokio::test]
async fn a_checkout_is_used_and_an_engine_that_cannot_start_skips_discovery() {
    let (root, origin, seed) = world("skip").await;
    let missing = CodexEngine {
        binary: root.join("no-codex"),
        ..CodexEngine::default()
    };
    let d = deps(&root, Engines::new().with(Arc::new(missing)));
    let params = json!({
        "project_id": 3, "git_url": origin.to_str().unwrap(),
        "local_path": seed.to_str().unwrap(), "base_branch": "trunk",
    });
    let out = project_setup(&d, &params).await.unwrap();
    assert_eq!(out["cloned"], false);
    assert_eq!(out["workspace_path"], seed.to_str().unwrap());
    assert_eq!(stage_of(&out, "resolve")["status"], "completed");
    let discovery = stage_of(&out, "discovery");
    assert_eq!(discovery["status"], "skipped", "{out}");
    assert!(discovery["message"]
        .as_str()
        .unwrap()
        .contains("cannot run here"));
    assert_eq!(stage_of(&out, "assets")["status"], "completed");
    assert_eq!(stage_of(&out, "git")["status"], "warning");
    let keys: Vec<&str> = out["clarifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["key"].as_str())
        .collect();
    assert_eq!(keys, ["base_branch", "ci_provider"]);
    assert_eq!(out["clarifications"][0]["blocking"], true);
    assert!(!root.join("projects").exists(), "nothing cloned");
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test]
async fn a_clone_gets_offline_discovery_notes_labelled_as_placeholders() {
    let (root, origin, _) = world("offline").await;
    let d = deps(&root, Engines::new().with(Arc::new(OfflineEngine)));
    let params =
        json!({"project_id": 4, "git_url": origin.to_str().unwrap(), "ci_provider": "github"});
    let out = project_setup(&d, &params).await.unwrap();
    assert_eq!(out["cloned"], true);
    let repo = root.join("projects/4/origin");
    assert_eq!(out["workspace_path"], repo.to_str().unwrap());
    let discovery = stage_of(&out, "discovery");
    assert_eq!(discovery["status"], "warning");
    assert!(discovery["message"]
        .as_str()
        .unwrap()
        .contains("offline engine"));
    assert_eq!(out["discovery"].as_array().map(Vec::len), Some(4));
    let notes =
        std::fs::read_to_string(root.join("projects/4/origin.discovery/ci_notes.md")).unwrap();
    assert!(notes.starts_with(BANNER));
    assert_eq!(stage_of(&out, "git")["status"], "completed");
    assert_eq!(
        out["clarifications"],
        json!([]),
        "CI provider known, base branch there"
    );
    let email = git::git(&repo, &["config", "user.email"]).await.unwrap();
    assert_eq!(email.trim(), "baton@localhost");
    let bad = project_setup(&d, &json!({"git_url": 1})).await.unwrap_err();
    assert_eq!(bad.code, "INVALID_INPUT_ERROR");
    let _ = std::fs::remove_dir_all(&root);
}
