//! CI webhooks of the coding pipelines on both stores: `scripts/ci/report.sh` run against
//! the orchestrator completes or fails the step in work, a bad signature is refused, a
//! merged PR completes the run, and the webhooks need no API bearer token.

use baton_orchestrator::config::Config;
use baton_tests::backend::{start, Backend};
use baton_tests::orchestrator::test_config;
use baton_tests::pipelines::Api;
use serde_json::json;
use std::path::PathBuf;

baton_tests::on_both_stores!(ci_results_move_the_step_in_work_and_merges_complete_runs);

const HOOK_TOKEN: &str = "hook-s3cret";

async fn report(
    base: &str,
    branch: &str,
    result: &str,
    token: &str,
    gitlab: bool,
) -> std::process::Output {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/ci/report.sh");
    let mut cmd = tokio::process::Command::new("bash");
    cmd.arg(script)
        .arg(result)
        .env("BATON_API_BASE", base)
        .env("BATON_WEBHOOK_TOKEN", token)
        .env("BATON_BRANCH", branch)
        .env_remove("BATON_API_TOKEN")
        .env_remove("BATON_PROTOCOL_RUN_ID");
    if gitlab {
        cmd.env("GITLAB_CI", "true");
    } else {
        cmd.env_remove("GITLAB_CI");
    }
    cmd.output().await.expect("bash runs")
}

async fn ci_results_move_the_step_in_work_and_merges_complete_runs(backend: Backend) {
    let cfg = Config {
        ci_webhook_token: Some(HOOK_TOKEN.into()),
        // The API wants a bearer token; webhooks must not.
        api_token: Some("api-secret".into()),
        ..test_config()
    };
    let (orch, _, _) = start(backend, cfg, "pl-hooks").await;
    let mut api = Api::new(&orch);
    api.bearer = Some("api-secret".into());
    let project = api.project("app").await;
    let run = api.run(project, "0007-ci", "running").await;
    let first = api.step(run, 1, "needs_qa").await;
    let second = api.step(run, 2, "running").await;

    // A forged report changes nothing.
    let forged = report(&orch.base_url, "0007-ci", "success", "wrong", false).await;
    assert!(!forged.status.success());
    assert!(
        String::from_utf8_lossy(&forged.stdout).contains("unauthorized"),
        "{forged:?}"
    );
    assert_eq!(api.status_of(&format!("/steps/{second}")).await, "running");

    // CI passes on the step updated last (the second), then on the first: the run completes.
    let ok = report(&orch.base_url, "0007-ci", "success", HOOK_TOKEN, false).await;
    assert!(
        ok.status.success(),
        "{}{}",
        String::from_utf8_lossy(&ok.stdout),
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("step completed"));
    assert_eq!(
        api.status_of(&format!("/steps/{second}")).await,
        "completed"
    );
    assert_eq!(api.status_of(&format!("/protocols/{run}")).await, "running");
    let ok = report(&orch.base_url, "0007-ci", "success", HOOK_TOKEN, true).await;
    assert!(ok.status.success(), "{ok:?}");
    assert_eq!(api.status_of(&format!("/steps/{first}")).await, "completed");
    assert_eq!(
        api.status_of(&format!("/protocols/{run}")).await,
        "completed"
    );

    // A failure blocks another run; an unknown branch is a 404.
    let other = api.run(project, "0008-ci", "running").await;
    let step = api.step(other, 1, "running").await;
    let failed = report(&orch.base_url, "0008-ci", "failure", HOOK_TOKEN, false).await;
    assert!(failed.status.success(), "{failed:?}");
    assert_eq!(api.status_of(&format!("/steps/{step}")).await, "failed");
    assert_eq!(
        api.status_of(&format!("/protocols/{other}")).await,
        "blocked"
    );
    let unknown = report(&orch.base_url, "nope", "success", HOOK_TOKEN, false).await;
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stdout).contains("no protocol run for branch"));

    // A merged PR (GitLab merge request, by id) completes the blocked run.
    let body = json!({"object_kind": "merge_request", "object_attributes": {"state": "merged", "action": "merge", "source_branch": "0008-ci"}});
    let resp = reqwest::Client::new()
        .post(format!(
            "{}/webhooks/gitlab?protocol_run_id={other}",
            orch.base_url
        ))
        .header("X-Gitlab-Token", HOOK_TOKEN)
        .json(&body)
        .send()
        .await
        .expect("hook");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        api.status_of(&format!("/protocols/{other}")).await,
        "completed"
    );
    let events = api.get(&format!("/protocols/{other}/events")).await.body;
    let kinds: Vec<&str> = events
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    assert!(
        kinds.contains(&"ci_failure") && kinds.contains(&"protocol_completed"),
        "{kinds:?}"
    );
    orch.stop().await;
}
