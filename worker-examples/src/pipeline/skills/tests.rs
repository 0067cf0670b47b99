//! Tests of the skills on a bare origin with a fake `codex` and `gh`.
use super::*;
use crate::pipeline::budget::BudgetMode;
use crate::pipeline::codex::CodexEngine;
use crate::pipeline::offline::{OfflineEngine, BANNER};
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

struct World {
    root: PathBuf,
    origin: PathBuf,
    deps: Deps,
}

/// A bare origin with one commit, a fake `codex` (QA prompts pass, others write a
/// file) and a fake `gh`.
async fn world(name: &str) -> World {
    let root = std::env::temp_dir().join(format!("baton-skills-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let seed = root.join("seed");
    std::fs::create_dir_all(&seed).unwrap();
    let origin = root.join("origin.git");
    git::git(
        &root,
        &[
            "init",
            "--quiet",
            "--bare",
            "-b",
            "main",
            origin.to_str().unwrap(),
        ],
    )
    .await
    .unwrap();
    git::git(&seed, &["init", "--quiet", "-b", "main"])
        .await
        .unwrap();
    std::fs::write(seed.join("README.md"), "app\n").unwrap();
    git::commit_all(&seed, "first", &Identity::default())
        .await
        .unwrap();
    git::git(
        &seed,
        &["push", "--quiet", origin.to_str().unwrap(), "main"],
    )
    .await
    .unwrap();
    let script = |file: &str, body: &str| {
        let path = root.join(file);
        std::fs::write(&path, body).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    };
    let codex = script("codex", "#!/bin/sh\ninput=$(cat)\ncase \"$input\" in *'Review it'*) echo 'looks right'; echo 'VERDICT: PASS';; *) echo done > work.txt; echo 'did the step';; esac\n");
    let gh = script(
        "gh",
        "#!/bin/sh\necho https://github.test/acme/app/pull/3\n",
    );
    let deps = Deps {
        engines: Engines::new()
            .with(Arc::new(OfflineEngine))
            .with(Arc::new(CodexEngine {
                binary: codex,
                ..CodexEngine::default()
            })),
        projects_root: root.join("projects"),
        default_model: "m".into(),
        timeout: Duration::from_secs(20),
        budget: Budget {
            mode: BudgetMode::Warn,
            per_step: Some(1_000_000),
            per_protocol: None,
        },
        identity: Identity::default(),
        pr: PrConfig {
            gh: Some(gh),
            ..PrConfig::default()
        },
    };
    World { root, origin, deps }
}

fn params(w: &World, engine: &str, step: Option<&str>) -> Value {
    json!({
        "project_id": 1, "git_url": w.origin.to_str().unwrap(), "protocol_name": "0001-demo",
        "base_branch": "main", "engine_id": engine, "step_name": step, "description": "demo",
    })
}

#[tokio::test]
async fn offline_plan_is_written_committed_pushed_and_its_qa_fails() {
    let w = world("offline").await;
    let out = plan_protocol(&w.deps, &params(&w, "offline", None))
        .await
        .unwrap();
    assert_eq!(out["step_files"][0]["filename"], "01-placeholder.md");
    assert_eq!(out["run"]["engine_id"], "offline");
    assert_eq!(
        out["run"]["prompt_version"].as_str().map(str::len),
        Some(12)
    );
    let dir = PathBuf::from(out["protocol_root"].as_str().unwrap());
    let step = std::fs::read_to_string(dir.join("01-placeholder.md")).unwrap();
    assert!(step.starts_with(BANNER), "labelled: {step}");
    let pushed = git::git(&w.origin, &["log", "--format=%s", "0001-demo"])
        .await
        .unwrap();
    assert!(pushed.starts_with("0001-demo: plan"), "{pushed}");
    let qa = run_quality(&w.deps, &params(&w, "offline", Some("01-placeholder.md")))
        .await
        .unwrap();
    assert_eq!(qa["verdict"], "FAIL", "an offline review approves nothing");
    let _ = std::fs::remove_dir_all(&w.root);
}

#[tokio::test]
async fn codex_executes_a_step_and_its_qa_passes_then_a_pr_opens() {
    let w = world("codex").await;
    plan_protocol(&w.deps, &params(&w, "offline", None))
        .await
        .unwrap();
    let exec = execute_step(&w.deps, &params(&w, "codex", Some("01-placeholder.md")))
        .await
        .unwrap();
    assert_eq!(exec["success"], true, "{exec}");
    assert!(exec["output"].as_str().unwrap().contains("did the step"));
    // The run report: the engine's output in the log, the output as an artifact.
    let log = exec["run"]["log"].as_str().unwrap();
    assert!(log.contains("--- engine stdout ---\ndid the step"), "{log}");
    assert!(log.contains("step committed"), "{log}");
    assert_eq!(
        exec["run"]["artifacts"][0]["name"],
        "01-placeholder.output.md"
    );
    assert_eq!(exec["run"]["artifacts"][0]["kind"], "output");
    let sha = exec["commit"].as_str().expect("a commit").to_string();
    let on_origin = git::git(&w.origin, &["rev-parse", "0001-demo"])
        .await
        .unwrap();
    assert_eq!(on_origin.trim(), sha);
    let qa = run_quality(&w.deps, &params(&w, "codex", Some("01-placeholder.md")))
        .await
        .unwrap();
    assert_eq!(qa["verdict"], "PASS", "{qa}");
    let pr = open_pull_request(&w.deps, &params(&w, "codex", None))
        .await
        .unwrap();
    assert_eq!(pr["pr_url"], "https://github.test/acme/app/pull/3");
    let missing = execute_step(&w.deps, &params(&w, "codex", Some("09-nope.md")))
        .await
        .unwrap_err();
    assert_eq!(missing.code, "INVALID_INPUT_ERROR");
    let report = missing.run.expect("a failure reports its run too");
    assert!(report["log"]
        .as_str()
        .unwrap()
        .contains("failed: INVALID_INPUT_ERROR: 09-nope.md"));
    let _ = std::fs::remove_dir_all(&w.root);
}

#[tokio::test]
async fn a_strict_budget_refuses_before_any_engine_runs() {
    let mut w = world("budget").await;
    w.deps.budget = Budget {
        mode: BudgetMode::Strict,
        per_step: Some(10),
        per_protocol: None,
    };
    let err = plan_protocol(&w.deps, &params(&w, "codex", None))
        .await
        .unwrap_err();
    assert_eq!(err.code, "PERMANENT_ERROR");
    assert!(err.message.contains("step budget 10"), "{}", err.message);
    let err = plan_protocol(&w.deps, &json!({"project_id": "x"}))
        .await
        .unwrap_err();
    assert_eq!(err.code, "INVALID_INPUT_ERROR");
    let _ = std::fs::remove_dir_all(&w.root);
}

#[test]
fn plan_json_is_found_in_fences() {
    assert_eq!(json_in("```json\n{\"a\": 1}\n```"), Some(json!({"a": 1})));
    assert_eq!(json_in(" {\"a\": 2} "), Some(json!({"a": 2})));
    assert_eq!(json_in("no json here"), None);
    assert_eq!(tail("abcdef", 3), "def");
}
