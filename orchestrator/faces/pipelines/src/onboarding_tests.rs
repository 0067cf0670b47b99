//! Setup outcomes applied to the in-memory records: statuses, events in order, the
//! workspace path kept, questions asked (the pack's too), a job's end applied once.

use super::*;
use crate::memory::MemoryRecords;
use crate::model::{AppliesTo, NewProject};
use crate::setup_inline::{base_branch_question, ci_question};

async fn project(store: &MemoryRecords, classification: Option<&str>) -> (Project, Id) {
    let p = store
        .create_project(NewProject {
            name: "app".into(),
            git_url: "/srv/app.git".into(),
            base_branch: "main".into(),
            project_classification: classification.map(String::from),
            ..NewProject::default()
        })
        .await
        .expect("project");
    let run = ensure_setup_run(store, &p).await.expect("setup run");
    assert_eq!(run.protocol_name, format!("setup-{}", p.id));
    assert_eq!(ensure_setup_run(store, &p).await.expect("again").id, run.id);
    (p, run.id)
}

fn outcome(asks: Vec<NewClarification>) -> SetupOutcome {
    SetupOutcome {
        workspace_path: Some("/work/app".into()),
        cloned: true,
        stages: vec![
            Stage::new("resolve", StageStatus::Completed, "cloned"),
            Stage::new("discovery", StageStatus::Skipped, "no engine"),
            Stage::new("assets", StageStatus::Completed, "found: readme"),
            Stage::new("git", StageStatus::Completed, "ok"),
        ],
        clarifications: asks,
        discovery: None,
    }
}

async fn kinds(store: &MemoryRecords, run: Id) -> Vec<String> {
    let mut k: Vec<String> = store
        .list_events(run, 100)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    k.reverse();
    k
}

#[tokio::test]
async fn a_clean_setup_completes_and_keeps_the_workspace() {
    let store = MemoryRecords::new();
    let (p, run) = project(&store, None).await;
    let meta = json!({"job_id": "j1"});
    assert!(begin(&store, run, &not_running(), "test", &meta)
        .await
        .expect("begin")
        .applied());
    assert!(
        !begin(&store, run, &not_running(), "test", &meta)
            .await
            .expect("again")
            .applied(),
        "running"
    );
    let status = apply_setup(&store, &p, run, &outcome(vec![ci_question()]), &meta)
        .await
        .expect("applied");
    assert_eq!(status, ProtocolStatus::Completed);
    assert_eq!(
        kinds(&store, run).await,
        [
            "setup_started",
            "setup_cloned",
            "setup_discovery_skipped",
            "setup_clarifications",
            "setup_completed"
        ]
    );
    let last = &store.list_events(run, 1).await.expect("events")[0];
    let meta = last.metadata.as_ref().expect("metadata");
    assert_eq!(meta["job_id"], "j1");
    assert_eq!(meta["stages"][4]["status"], "completed");
    assert_eq!(meta["stages"][1]["status"], "skipped");
    let p = store.get_project(p.id).await.expect("project");
    assert_eq!(p.local_path.as_deref(), Some("/work/app"));
    let asked = store
        .list_clarifications(ClarificationScope::Project(p.id))
        .await
        .expect("clarifications");
    assert_eq!(asked.len(), 1);
    assert_eq!(
        (asked[0].applies_to, asked[0].blocking),
        (AppliesTo::Onboarding, false)
    );
}

#[tokio::test]
async fn blocking_questions_block_the_setup_until_answered() {
    let store = MemoryRecords::new();
    let (p, run) = project(&store, Some("enterprise-compliance")).await;
    let meta = json!({});
    begin(&store, run, &not_running(), "test", &meta)
        .await
        .expect("begin");
    let status = apply_setup(
        &store,
        &p,
        run,
        &outcome(vec![base_branch_question("main")]),
        &meta,
    )
    .await
    .expect("applied");
    assert_eq!(status, ProtocolStatus::Blocked);
    let last = &store.list_events(run, 1).await.expect("events")[0];
    assert_eq!(last.event_type, "setup_blocked");
    let msg = last.metadata.as_ref().expect("meta")["stages"][4]["message"].to_string();
    assert!(
        msg.contains("base_branch")
            && msg.contains("data_classification")
            && msg.contains("compliance_reviewer"),
        "{msg}"
    );
    // Answered, a re-run completes: answers survive the re-ask.
    for key in ["base_branch", "data_classification", "compliance_reviewer"] {
        store
            .answer_clarification(ClarificationScope::Project(p.id), key, json!("x"), None)
            .await
            .expect("answer");
    }
    begin(&store, run, &not_running(), "test", &meta)
        .await
        .expect("begin");
    let status = apply_setup(
        &store,
        &p,
        run,
        &outcome(vec![base_branch_question("main")]),
        &meta,
    )
    .await
    .expect("applied");
    assert_eq!(status, ProtocolStatus::Completed);
}

#[tokio::test]
async fn a_job_end_is_applied_once_and_a_failed_job_fails_the_setup() {
    let store = MemoryRecords::new();
    let (_, run) = project(&store, None).await;
    let result = serde_json::to_value(outcome(vec![])).expect("json");
    let s = job_ended(&store, run, true, &result, "", "j1")
        .await
        .expect("applied");
    assert_eq!(s, ProtocolStatus::Completed);
    let before = kinds(&store, run).await.len();
    let again = job_ended(&store, run, true, &result, "", "j1")
        .await
        .expect("again");
    assert_eq!(
        (again, kinds(&store, run).await.len()),
        (s, before),
        "applied once"
    );

    // Not waiting for a job (as after an inline setup): nothing applied.
    let ignored = job_ended(&store, run, false, &Value::Null, "late", "j9")
        .await
        .expect("ignored");
    assert_eq!((ignored, kinds(&store, run).await.len()), (s, before));
    // Re-enqueued (start_job moves the run back to pending), a failed job fails it.
    store
        .transition_protocol(run, &not_running(), ProtocolStatus::Pending)
        .await
        .expect("pending");
    let failed = job_ended(&store, run, false, &Value::Null, "no worker", "j2")
        .await
        .expect("applied");
    assert_eq!(failed, ProtocolStatus::Failed);
    let last = &store.list_events(run, 1).await.expect("events")[0];
    assert_eq!(last.event_type, "setup_failed");
    let stages = &last.metadata.as_ref().expect("meta")["stages"];
    assert_eq!(stages[0]["status"], "failed");
    assert!(stages[0]["message"]
        .as_str()
        .is_some_and(|m| m.contains("no worker")));
    store
        .transition_protocol(run, &not_running(), ProtocolStatus::Pending)
        .await
        .expect("pending");
    let unreadable = job_ended(&store, run, true, &json!({"stages": 3}), "", "j3")
        .await
        .expect("applied");
    assert_eq!(unreadable, ProtocolStatus::Failed);
}
