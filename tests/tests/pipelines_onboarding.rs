//! Onboarding and branches of the coding pipelines, end to end on both stores, against
//! a real bare git origin made by the test (`baton_tests::git_world`): the
//! `project_setup` job run by a pipeline worker (a fake `codex` on disk answers the
//! discovery passes), inline onboarding without any worker, a setup that cannot be
//! enqueued, and the branch routes (git in the orchestrator process).

use baton_orchestrator::config::Config;
use baton_tests::backend::{start, Backend};
use baton_tests::git_world::deps;
use baton_tests::git_world::{kinds, pipeline_worker, stage, wait_for, world};
use baton_tests::pipelines::Api;
use serde_json::{json, Value};
use std::sync::Arc;

baton_tests::on_both_stores!(
    a_setup_job_onboards_the_project_and_its_branches_are_managed,
    inline_onboarding_needs_no_worker_and_reports_failures,
    a_setup_that_cannot_be_enqueued_leaves_the_project_created,
);

async fn a_setup_job_onboards_the_project_and_its_branches_are_managed(backend: Backend) {
    let w = world("job", backend).await;
    let (orch, _, _) = start(backend, w.config(), "pl-onboard-job").await;
    let worker = pipeline_worker(&orch.base_url, Arc::new(deps(&w.root)));
    let api = Api::new(&orch);
    let created = api
        .post(
            "/projects",
            json!({"name": "app", "git_url": w.url(), "secrets": {"github_token": "tok-s3cret"}}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert!(!created.text.contains("tok-s3cret"));
    let id = created.body["id"].as_u64().expect("id");
    let path = format!("/projects/{id}/onboarding");
    let summary = wait_for(&api, &path, "completed").await;
    assert!(!summary.to_string().contains("tok-s3cret"));
    assert_eq!(
        kinds(&summary),
        [
            "setup_enqueued",
            "setup_started",
            "setup_cloned",
            "setup_discovery_started",
            "setup_discovery_completed",
            "setup_clarifications",
            "setup_completed"
        ]
    );
    let workspace = w.root.join(format!("projects/{id}/origin"));
    assert_eq!(
        summary["workspace_path"],
        workspace.to_str().expect("utf-8")
    );
    for (name, status) in [
        ("resolve", "completed"),
        ("discovery", "completed"),
        ("assets", "completed"),
        ("git", "completed"),
        ("clarifications", "completed"),
    ] {
        assert_eq!(stage(&summary, name)["status"], status, "{name}: {summary}");
    }
    assert!(stage(&summary, "resolve")["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("cloned into")));
    assert_eq!(summary["job"]["job_type"], "project_setup_job");
    assert_eq!(summary["job"]["status"], "finished");
    let notes = std::fs::read_to_string(
        w.root
            .join(format!("projects/{id}/origin.discovery/inventory.md")),
    )
    .expect("discovery notes");
    assert!(notes.contains("A small app."));
    // The clone is now the project's local_path; no CI was found, so that was asked.
    let project = api.get(&format!("/projects/{id}")).await.body;
    assert_eq!(project["local_path"], workspace.to_str().expect("utf-8"));
    let asked = api
        .get(&format!("/projects/{id}/clarifications"))
        .await
        .body;
    assert_eq!(asked[0]["key"], "ci_provider");
    assert_eq!(asked[0]["blocking"], false);
    assert_eq!(asked[0]["applies_to"], "onboarding");
    // The setup run is one of the project's runs.
    let runs = api.get(&format!("/projects/{id}/protocols")).await.body;
    assert_eq!(runs[0]["protocol_name"], format!("setup-{id}"));
    assert_eq!(runs[0]["status"], "completed");
    let setup_run = runs[0]["id"].as_u64().expect("run id");
    let refused = api
        .post(&format!("/protocols/{setup_run}/actions/start"), json!({}))
        .await;
    assert_eq!(refused.status, 409, "{}", refused.text);
    let reserved = api
        .post(
            &format!("/projects/{id}/protocols"),
            json!({"protocol_name": format!("setup-{id}")}),
        )
        .await;
    assert_eq!(reserved.status, 409, "{}", reserved.text);

    // Branches: listed from origin through the checkout the setup made.
    let listed = api.get(&format!("/projects/{id}/branches")).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.body, json!({"branches": ["feature/x", "main"]}));
    let del = format!("/projects/{id}/branches/feature/x/delete");
    let no_confirm = api.post(&del, json!({})).await;
    assert_eq!(no_confirm.status, 400, "{}", no_confirm.text);
    assert_eq!(api.post(&del, json!({"confirm": false})).await.status, 400);
    assert_eq!(api.get(&del).await.status, 405);
    assert_eq!(
        w.origin_branches().await,
        ["feature/x", "main"],
        "nothing deleted yet"
    );
    let base = api
        .post(
            &format!("/projects/{id}/branches/main/delete"),
            json!({"confirm": true}),
        )
        .await;
    assert_eq!(base.status, 409, "{}", base.text);
    // The branch may also come percent-encoded.
    let deleted = api
        .post(
            &format!("/projects/{id}/branches/feature%2Fx/delete"),
            json!({"confirm": true}),
        )
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert_eq!(deleted.body["job"], Value::Null);
    assert_eq!(w.origin_branches().await, ["main"]);
    let again = api.post(&del, json!({"confirm": true})).await;
    assert_eq!(again.status, 404, "{}", again.text);
    let listed = api.get(&format!("/projects/{id}/branches")).await.body;
    assert_eq!(listed, json!({"branches": ["main"]}));
    let events = api
        .get(&format!("/events?project_id={id}&limit=3"))
        .await
        .body;
    let recent: Vec<&str> = events
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    assert_eq!(
        recent,
        ["branches_listed", "branch_deleted", "branches_listed"]
    );

    worker.shutdown().await.expect("clean shutdown");
    orch.stop().await;
    let _ = std::fs::remove_dir_all(&w.root);
}

async fn inline_onboarding_needs_no_worker_and_reports_failures(backend: Backend) {
    let w = world("inline", backend).await;
    let (orch, _, _) = start(backend, w.config(), "pl-onboard-inline").await;
    let api = Api::new(&orch);
    let id = api
        .ok("/projects", json!({"name": "app", "git_url": w.url()}))
        .await["id"]
        .as_u64()
        .expect("id");
    // No worker: the setup job stays queued.
    let queued = api.get(&format!("/projects/{id}/onboarding")).await.body;
    assert_eq!(queued["status"], "pending");
    let job_status = queued["job"]["status"].as_str().unwrap_or_default();
    assert!(
        ["pending", "waiting_for_worker"].contains(&job_status),
        "{queued}"
    );
    assert!(queued["stages"]
        .as_array()
        .is_some_and(|s| s.len() == 5 && s.iter().all(|s| s["status"] == "pending")));

    // The seed's curl: a raw JSON body with its content type.
    let resp = api
        .http
        .post(format!(
            "{}/projects/{id}/onboarding/actions/start",
            api.base
        ))
        .header("Content-Type", "application/json")
        .body(r#"{"inline": true}"#)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 200);
    let answer: Value = resp.json().await.expect("json");
    assert_eq!(answer["job"], Value::Null);
    assert!(
        answer["message"]
            .as_str()
            .is_some_and(|m| m.contains("completed")),
        "{answer}"
    );
    let summary = api.get(&format!("/projects/{id}/onboarding")).await.body;
    assert_eq!(summary["status"], "completed", "{summary}");
    let workspace = w.root.join(format!("orch-projects/{id}/origin"));
    assert_eq!(
        summary["workspace_path"],
        workspace.to_str().expect("utf-8")
    );
    assert_eq!(stage(&summary, "discovery")["status"], "skipped");
    assert_eq!(stage(&summary, "git")["status"], "completed");
    let k = kinds(&summary);
    assert_eq!(
        k[k.len() - 5..],
        [
            "setup_started",
            "setup_cloned",
            "setup_discovery_skipped",
            "setup_clarifications",
            "setup_completed"
        ]
    );
    // Not inline: a job, named in the answer.
    let enqueued = api
        .ok(
            &format!("/projects/{id}/onboarding/actions/start"),
            json!({}),
        )
        .await;
    assert_eq!(
        enqueued["job"]["job_type"], "project_setup_job",
        "{enqueued}"
    );
    let no_body = api
        .http
        .post(format!(
            "{}/projects/{id}/onboarding/actions/start",
            api.base
        ))
        .send()
        .await
        .expect("request");
    assert_eq!(no_body.status().as_u16(), 200, "the body is optional");
    let bad = api
        .post(
            &format!("/projects/{id}/onboarding/actions/start"),
            json!({"inline": "yes"}),
        )
        .await;
    assert_eq!(bad.status, 400);

    // A repository that is nowhere: the setup fails, and the branches are not available.
    let gone = api
        .ok(
            "/projects",
            json!({"name": "gone", "git_url": w.root.join("nope.git")}),
        )
        .await["id"]
        .as_u64()
        .expect("id");
    let answer = api
        .ok(
            &format!("/projects/{gone}/onboarding/actions/start"),
            json!({"inline": true}),
        )
        .await;
    assert!(
        answer["message"]
            .as_str()
            .is_some_and(|m| m.contains("failed")),
        "{answer}"
    );
    let summary = api.get(&format!("/projects/{gone}/onboarding")).await.body;
    assert_eq!(summary["status"], "failed");
    assert_eq!(stage(&summary, "resolve")["status"], "failed");
    assert_eq!(
        kinds(&summary).last().map(String::as_str),
        Some("setup_failed")
    );
    let del = api
        .post(
            &format!("/projects/{gone}/branches/feature/x/delete"),
            json!({"confirm": true}),
        )
        .await;
    assert_eq!(del.status, 409, "{}", del.text);
    assert_eq!(
        api.get(&format!("/projects/{gone}/branches")).await.status,
        409
    );
    assert_eq!(api.get("/projects/999/onboarding").await.status, 404);
    orch.stop().await;
    let _ = std::fs::remove_dir_all(&w.root);
}

async fn a_setup_that_cannot_be_enqueued_leaves_the_project_created(backend: Backend) {
    let w = world("noblue", backend).await;
    let empty = w.root.join("no-blueprints");
    std::fs::create_dir_all(&empty).expect("dir");
    let cfg = Config {
        blueprints_dir: empty,
        ..w.config()
    };
    let (orch, _, _) = start(backend, cfg, "pl-onboard-noblue").await;
    let api = Api::new(&orch);
    let created = api
        .post("/projects", json!({"name": "app", "git_url": w.url()}))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.body["id"].as_u64().expect("id");
    let summary = api.get(&format!("/projects/{id}/onboarding")).await.body;
    assert_eq!(summary["status"], "failed", "{summary}");
    assert_eq!(kinds(&summary), ["setup_failed"]);
    assert!(stage(&summary, "resolve")["message"]
        .as_str()
        .is_some_and(|m| m.contains("project_setup")));
    // Inline needs no blueprint.
    let answer = api
        .ok(
            &format!("/projects/{id}/onboarding/actions/start"),
            json!({"inline": true}),
        )
        .await;
    assert!(answer["message"]
        .as_str()
        .is_some_and(|m| m.contains("completed")));
    orch.stop().await;
    let _ = std::fs::remove_dir_all(&w.root);
}
