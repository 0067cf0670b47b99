//! CI webhooks, a run's spec and its CI summary as the upstream clients and tests of
//! `ilyafedotov-ops/dev-pipeline` use them (commit 233b0fc; DeksdenFlow: the parent of
//! 8a270d0), on both stores: the GitLab token headers the seeds name, CI results on a
//! run whose latest step is still pending, a GitLab `ref` at the top level, the
//! `pr_merged` / `mr_merged` events, and the TUI's spec and CI panels. The comment over
//! each request names the upstream file and function it comes from.

use baton_orchestrator::config::Config;
use baton_tests::backend::{start, Backend};
use baton_tests::orchestrator::test_config;
use baton_tests::pipelines::Api;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

baton_tests::on_both_stores!(
    gitlab_takes_every_token_header_the_clients_send,
    ci_results_apply_to_a_pending_latest_step_and_merges_are_named,
    spec_and_ci_summary_answer_the_tui,
);

const TOKEN: &str = "hook-s3cret";

fn hooked() -> Config {
    Config {
        ci_webhook_token: Some(TOKEN.into()),
        ..test_config()
    }
}

/// POSTs a GitLab hook with `headers`; status and answer.
async fn gitlab(api: &Api, headers: &[(&str, &str)], body: &Value) -> (u16, Value) {
    let mut req = api
        .http
        .post(format!("{}/webhooks/gitlab", api.base))
        .header("X-Gitlab-Event", "Pipeline Hook")
        .json(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("hook");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// POSTs a GitHub event signed with the webhook token; status and answer.
async fn github(api: &Api, event: &str, body: &Value) -> (u16, Value) {
    let raw = body.to_string();
    let mut mac = Hmac::<Sha256>::new_from_slice(TOKEN.as_bytes()).expect("any key length");
    mac.update(raw.as_bytes());
    let sig = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let resp = api
        .http
        .post(format!("{}/webhooks/github", api.base))
        .header("X-GitHub-Event", event)
        .header("X-Hub-Signature-256", sig)
        .header("Content-Type", "application/json")
        .body(raw)
        .send()
        .await
        .expect("hook");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// A `running` run named `branch` with one pending step, as upstream's webhook tests
/// make them (`POST /projects/{id}/protocols` with `status: running`, then a step).
async fn run_with_pending_step(api: &Api, project: u64, branch: &str) -> (u64, u64) {
    let run = api.run(project, branch, "running").await;
    let step = api
        .ok(
            &format!("/protocols/{run}/steps"),
            json!({"step_index": 0, "step_name": "00-setup", "step_type": "setup"}),
        )
        .await["id"]
        .as_u64()
        .expect("step id");
    (run, step)
}

async fn event_types(api: &Api, run: u64) -> Vec<String> {
    let events = api.get(&format!("/protocols/{run}/events")).await.body;
    events
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["event_type"].as_str().map(str::to_string))
        .collect()
}

async fn gitlab_takes_every_token_header_the_clients_send(backend: Backend) {
    let (orch, _, _) = start(backend, hooked(), "pl-cli-gl-token").await;
    let api = Api::new(&orch);
    let project = api.project("demo").await;
    // The token header of tasksgodzilla/api/app.py::gitlab_webhook
    // (X-TasksGodzilla-Webhook-Token), of deksdenflow/api/app.py::gitlab_webhook
    // (X-Deksdenflow-Webhook-Token), and GitLab's own.
    for (i, name) in [
        "X-Gitlab-Token",
        "X-TasksGodzilla-Webhook-Token",
        "X-Deksdenflow-Webhook-Token",
    ]
    .into_iter()
    .enumerate()
    {
        let branch = format!("000{i}-token");
        let (run, step) = run_with_pending_step(&api, project, &branch).await;
        let body = json!({"object_kind": "pipeline", "object_attributes": {"status": "success", "ref": branch}});
        let (status, answer) = gitlab(&api, &[(name, "wrong")], &body).await;
        assert_eq!(status, 401, "{name}: {answer}");
        let (status, answer) = gitlab(&api, &[(name, TOKEN)], &body).await;
        assert_eq!(status, 200, "{name}: {answer}");
        assert_eq!(answer["message"], "Webhook recorded");
        assert_eq!(api.status_of(&format!("/steps/{step}")).await, "completed");
        assert_eq!(
            api.status_of(&format!("/protocols/{run}")).await,
            "completed"
        );
    }
    let body = json!({"object_kind": "pipeline", "object_attributes": {"status": "success", "ref": "0000-token"}});
    let (status, answer) = gitlab(&api, &[], &body).await;
    assert_eq!(status, 401);
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|m| m.contains("X-TasksGodzilla-Webhook-Token")),
        "{answer}"
    );
    orch.stop().await;
}

async fn ci_results_apply_to_a_pending_latest_step_and_merges_are_named(backend: Backend) {
    let (orch, _, _) = start(backend, hooked(), "pl-cli-ci").await;
    let api = Api::new(&orch);
    let project = api.project("demo").await;
    let token = [("X-Gitlab-Token", TOKEN)];

    // tests/test_api_webhooks.py::test_github_webhook_updates_step_and_protocol: a
    // workflow_run failure on the branch fails the (pending) step.
    let (run, step) = run_with_pending_step(&api, project, "0001-demo").await;
    let body = json!({"workflow_run": {"conclusion": "failure", "head_branch": "0001-demo"}, "action": "completed"});
    let (status, answer) = github(&api, "workflow_run", &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(api.status_of(&format!("/steps/{step}")).await, "failed");
    assert_eq!(api.status_of(&format!("/protocols/{run}")).await, "blocked");

    // tests/test_api_webhooks.py::test_gitlab_webhook_updates_step: `ref` at the top level.
    let (_, step) = run_with_pending_step(&api, project, "0002-demo").await;
    let body = json!({"object_attributes": {"status": "success"}, "ref": "0002-demo"});
    let (status, answer) = gitlab(&api, &token, &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(api.status_of(&format!("/steps/{step}")).await, "completed");

    // tests/test_api_webhooks.py::test_gitlab_webhook_failure_blocks_and_records_event:
    // the step failed, the run blocked, an event whose message says so.
    let (run, step) = run_with_pending_step(&api, project, "0002b-demo").await;
    let body = json!({"object_kind": "pipeline", "object_attributes": {"status": "failed"}, "ref": "0002b-demo"});
    let (status, _) = gitlab(&api, &token, &body).await;
    assert_eq!(status, 200);
    assert_eq!(api.status_of(&format!("/steps/{step}")).await, "failed");
    assert_eq!(api.status_of(&format!("/protocols/{run}")).await, "blocked");
    let events = api.get(&format!("/protocols/{run}/events")).await.body;
    assert!(
        events.as_array().into_iter().flatten().any(|e| e["message"]
            .as_str()
            .is_some_and(|m| m.to_lowercase().contains("blocked"))),
        "{events}"
    );
    // A finished latest step is not reopened: recorded, nothing changes.
    let body = json!({"object_kind": "pipeline", "object_attributes": {"status": "success"}, "ref": "0002b-demo"});
    let (_, answer) = gitlab(&api, &token, &body).await;
    assert_eq!(answer["change"], "no step to apply it to", "{answer}");
    assert_eq!(api.status_of(&format!("/steps/{step}")).await, "failed");

    // tests/test_api_webhooks.py::test_github_pr_merge_completes_protocol: `pr_merged`.
    let run = api.run(project, "0003-demo", "running").await;
    let body = json!({"action": "closed", "pull_request": {"head": {"ref": "0003-demo", "sha": "abc123"},
        "number": 7, "state": "closed", "merged": true}});
    let (status, _) = github(&api, "pull_request", &body).await;
    assert_eq!(status, 200);
    assert_eq!(
        api.status_of(&format!("/protocols/{run}")).await,
        "completed"
    );
    let kinds = event_types(&api, run).await;
    assert!(kinds.contains(&"pr_merged".to_string()), "{kinds:?}");
    assert!(
        kinds.contains(&"protocol_completed".to_string()),
        "Baton's name too"
    );

    // tests/test_api_webhooks.py::test_gitlab_merge_request_updates_protocol: `mr_merged`.
    let run = api.run(project, "0004-demo", "running").await;
    let body = json!({"object_kind": "merge_request", "object_attributes": {"state": "merged",
        "source_branch": "0004-demo", "iid": 11}});
    let (status, _) = gitlab(&api, &token, &body).await;
    assert_eq!(status, 200);
    assert_eq!(
        api.status_of(&format!("/protocols/{run}")).await,
        "completed"
    );
    assert!(event_types(&api, run)
        .await
        .contains(&"mr_merged".to_string()));

    // No branch anywhere is still a 400.
    let (status, _) = gitlab(
        &api,
        &token,
        &json!({"object_attributes": {"status": "success"}}),
    )
    .await;
    assert_eq!(status, 400);
    orch.stop().await;
}

async fn spec_and_ci_summary_answer_the_tui(backend: Backend) {
    let (orch, _, _) = start(backend, hooked(), "pl-cli-spec").await;
    let api = Api::new(&orch);
    let project = api
        .ok(
            "/projects",
            json!({"name": "app", "git_url": "git@github.com:acme/app.git", "base_branch": "main"}),
        )
        .await["id"]
        .as_u64()
        .expect("id");
    // tests/test_api_endpoints.py::test_protocol_spec_endpoint_exposes_hash_and_spec: a
    // run with a protocol_spec, then GET /protocols/{id}/spec.
    let spec = json!({"steps": [{"id": "00-step", "name": "00-step.md", "engine_id": "codex",
        "prompt_ref": "00-step.md", "qa": {"policy": "skip"}}]});
    let run = api
        .ok(
            &format!("/projects/{project}/protocols"),
            json!({"protocol_name": "0001-spec", "status": "planned", "base_branch": "main",
                   "worktree_path": "/tmp/work", "protocol_root": "/tmp/work/.protocols/0001-spec",
                   "description": "spec", "template_config": {"protocol_spec": spec}}),
        )
        .await;
    let id = run["id"].as_u64().expect("id");
    // tasksgodzilla/cli/tui.py::TuiDashboard._load_protocol_spec and _render_protocol_spec:
    // .get of validation_status, spec_hash, validated_at, validation_errors, spec.
    let got = api.get(&format!("/protocols/{id}/spec")).await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(got.body["spec"], spec);
    assert_eq!(got.body["spec_hash"], run["spec_hash"]);
    assert!(got.body["spec_hash"].is_string());
    assert!(
        [json!(null), json!("valid")].contains(&got.body["validation_status"]),
        "{}",
        got.text
    );
    assert_eq!(got.body["protocol_name"], "0001-spec");
    assert_eq!(api.get("/protocols/999/spec").await.status, 404);

    // tasksgodzilla/cli/tui.py::TuiDashboard._load_ci_summary and _render_ci_summary:
    // .get of pr_number, pr_url, status, conclusion, check_name.
    let path = format!("/protocols/{id}/ci/summary");
    let none = api.get(&path).await;
    assert_eq!(none.status, 200, "{}", none.text);
    assert_eq!(
        (&none.body["provider"], &none.body["pr_number"]),
        (&Value::Null, &Value::Null)
    );
    let check = json!({"action": "completed", "check_run": {"name": "tests", "status": "completed",
        "conclusion": "success", "head_branch": "0001-spec", "head_sha": "f00d",
        "pull_requests": [{"number": 7}]}});
    let (status, answer) = github(&api, "check_run", &check).await;
    assert_eq!(status, 200, "{answer}");
    let ci = api.get(&path).await.body;
    assert_eq!(ci["provider"], "github", "{ci}");
    assert_eq!(ci["pr_number"], 7);
    assert_eq!(ci["pr_url"], "https://github.com/acme/app/pull/7");
    assert_eq!(
        (&ci["status"], &ci["conclusion"]),
        (&json!("completed"), &json!("success"))
    );
    assert_eq!(
        (&ci["check_name"], &ci["sha"]),
        (&json!("tests"), &json!("f00d"))
    );
    assert_eq!(ci["last_event_type"], "ci_success");
    assert!(ci["last_event_at"]
        .as_str()
        .is_some_and(|t| t.contains('T')));
    orch.stop().await;
}
