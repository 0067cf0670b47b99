//! The policy logic of [`super`] on the in-memory store.

use super::*;
use crate::memory::MemoryRecords;
use crate::model::{NewProject, NewProtocolRun, NewStepRun};
use crate::status::ProtocolAction;
use crate::step_state::StepState;

/// A running run with steps `names` (index = position), each with `policy[i]`.
async fn world(
    store: &MemoryRecords,
    names: &[&str],
    policies: Vec<Option<Value>>,
) -> (Id, Vec<Id>) {
    let project = store
        .create_project(NewProject {
            name: "p".into(),
            git_url: "/tmp/x".into(),
            base_branch: "main".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let run = store
        .create_protocol_run(NewProtocolRun {
            project_id: project.id,
            protocol_name: "0001-cm".into(),
            base_branch: "main".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut ids = Vec::new();
    for (i, (name, policy)) in names.iter().zip(policies).enumerate() {
        let s = store
            .create_step_run(NewStepRun {
                protocol_run_id: run.id,
                step_index: i as u32,
                step_name: name.to_string(),
                policy,
                ..Default::default()
            })
            .await
            .unwrap();
        ids.push(s.id);
    }
    store
        .transition_protocol(run.id, &[ProtocolStatus::Pending], ProtocolStatus::Running)
        .await
        .unwrap();
    (run.id, ids)
}

async fn set(store: &MemoryRecords, step: Id, to: StepStatus) {
    let all = [
        StepStatus::Pending,
        StepStatus::Running,
        StepStatus::NeedsQa,
        StepStatus::Completed,
        StepStatus::Failed,
    ];
    assert!(store
        .transition_step(step, &all, to)
        .await
        .unwrap()
        .applied());
}

async fn status(store: &MemoryRecords, step: Id) -> StepStatus {
    store.get_step_run(step).await.unwrap().status
}

async fn kinds(store: &MemoryRecords, run: Id) -> Vec<String> {
    let events = store.list_events(run, 100).await.unwrap();
    events.into_iter().rev().map(|e| e.event_type).collect()
}

fn looping(max: u64, back: u64) -> Option<Value> {
    Some(
        json!([{"type": "loop", "module_id": "fix", "stepBack": back, "maxIterations": max, "skip": []}]),
    )
}

#[tokio::test]
async fn a_loop_within_its_limit_resets_the_steps_and_counts_without_blocking() {
    let store = MemoryRecords::new();
    let (run, s) = world(
        &store,
        &["00-a", "01-b", "02-c"],
        vec![None, None, looping(2, 1)],
    )
    .await;
    set(&store, s[0], StepStatus::Completed).await;
    set(&store, s[1], StepStatus::Completed).await;
    set(&store, s[2], StepStatus::NeedsQa).await;

    let out = qa_outcome(&store, s[2], "FAIL", "VERDICT: FAIL\nbad", Some("j1"))
        .await
        .unwrap();
    assert_eq!(out.applied, Applied::Changed);
    assert_eq!(
        out.follow_ups,
        vec![FollowUp::RunStep(s[1])],
        "the first pending step runs next"
    );
    assert_eq!(
        status(&store, s[0]).await,
        StepStatus::Completed,
        "before stepBack: kept"
    );
    assert_eq!(status(&store, s[1]).await, StepStatus::Pending);
    assert_eq!(status(&store, s[2]).await, StepStatus::Pending);
    let c = store.get_step_run(s[2]).await.unwrap();
    let state = c.runtime_state.clone().unwrap();
    assert_eq!(state["loop_counts"]["fix"], 1);
    assert_eq!(state["last_decision"]["type"], "loop");
    assert_eq!(state["last_outcome"], "j1");
    assert_eq!(c.summary.as_deref(), Some("QA FAIL: VERDICT: FAIL"));
    assert_eq!(
        store.get_protocol_run(run).await.unwrap().status,
        ProtocolStatus::Running,
        "not blocked"
    );
    assert_eq!(kinds(&store, run).await, ["qa_failed", "loop_decision"]);

    // Redelivered: nothing changes.
    let again = qa_outcome(&store, s[2], "FAIL", "VERDICT: FAIL", Some("j1"))
        .await
        .unwrap();
    assert_eq!(again, Outcome::unchanged());
    assert_eq!(store.get_step_run(s[2]).await.unwrap(), c);
    assert_eq!(kinds(&store, run).await.len(), 2);
}

#[tokio::test]
async fn at_the_limit_the_failure_stands_and_blocks_the_run() {
    let store = MemoryRecords::new();
    let (run, s) = world(&store, &["00-a"], vec![looping(1, 0)]).await;
    set(&store, s[0], StepStatus::Running).await;
    let out = exec_outcome(
        &store,
        s[0],
        &json!({"success": false, "error": "boom"}),
        Some("j1"),
    )
    .await
    .unwrap();
    assert_eq!(
        out.follow_ups,
        vec![FollowUp::RunStep(s[0])],
        "stepBack 0: the step itself again"
    );
    assert_eq!(status(&store, s[0]).await, StepStatus::Pending);

    // Run again; the job that ran it before is redelivered: its id is recorded, no second count.
    set(&store, s[0], StepStatus::Running).await;
    let stale = exec_outcome(&store, s[0], &json!({"success": false}), Some("j1"))
        .await
        .unwrap();
    assert_eq!(stale.applied, Applied::Unchanged);
    assert_eq!(status(&store, s[0]).await, StepStatus::Running);

    let out = exec_outcome(
        &store,
        s[0],
        &json!({"success": false, "error": "boom again"}),
        Some("j2"),
    )
    .await
    .unwrap();
    assert_eq!(out, Outcome::changed(Vec::new()));
    let step = store.get_step_run(s[0]).await.unwrap();
    assert_eq!(step.status, StepStatus::Failed);
    assert_eq!(step.summary.as_deref(), Some("boom again"));
    let state = step.runtime_state.unwrap();
    assert_eq!(state["loop_counts"]["fix"], 1);
    assert_eq!(state["last_decision"]["type"], "loop_limit_reached");
    assert_eq!(
        store.get_protocol_run(run).await.unwrap().status,
        ProtocolStatus::Blocked
    );
    assert_eq!(
        kinds(&store, run).await,
        [
            "step_failed",
            "loop_decision",
            "step_failed",
            "loop_limit_reached",
            "protocol_blocked"
        ]
    );
}

#[tokio::test]
async fn triggers_run_their_target_and_stop_at_the_depth_cap() {
    let store = MemoryRecords::new();
    let trigger = Some(json!({"type": "trigger", "targetAgentId": "review"}));
    let (run, s) = world(&store, &["00-build", "01-review"], vec![trigger, None]).await;
    set(&store, s[1], StepStatus::Completed).await;
    set(&store, s[0], StepStatus::Running).await;
    let out = exec_outcome(
        &store,
        s[0],
        &json!({"success": true, "skip_qa": true, "output": "built\nmore"}),
        Some("j1"),
    )
    .await
    .unwrap();
    assert_eq!(out.follow_ups, vec![FollowUp::RunStep(s[1])]);
    assert_eq!(status(&store, s[0]).await, StepStatus::Completed);
    let target = store.get_step_run(s[1]).await.unwrap();
    assert_eq!(target.status, StepStatus::Pending);
    assert_eq!(target.runtime_state.unwrap()["inline_trigger_depth"], 1);
    assert_eq!(
        store.get_step_run(s[0]).await.unwrap().summary.as_deref(),
        Some("built")
    );
    assert_eq!(
        store.get_protocol_run(run).await.unwrap().status,
        ProtocolStatus::Running,
        "review is open again"
    );

    // A source already at the cap triggers nothing; the run completes.
    set(&store, s[1], StepStatus::Completed).await;
    set(&store, s[0], StepStatus::Running).await;
    store
        .update_step(
            s[0],
            StepUpdate {
                runtime_state: Some(json!({"inline_trigger_depth": MAX_TRIGGER_DEPTH})),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let out = exec_outcome(
        &store,
        s[0],
        &json!({"success": true, "skip_qa": true}),
        Some("j2"),
    )
    .await
    .unwrap();
    assert_eq!(out, Outcome::changed(Vec::new()));
    assert_eq!(status(&store, s[1]).await, StepStatus::Completed);
    let k = kinds(&store, run).await;
    assert!(
        k.contains(&"trigger_inline_depth_exceeded".to_string()),
        "{k:?}"
    );
    assert_eq!(
        store.get_protocol_run(run).await.unwrap().status,
        ProtocolStatus::Completed
    );
    assert!(!store
        .protocol_action(run, ProtocolAction::Pause)
        .await
        .unwrap()
        .applied());
}

#[test]
fn the_spec_says_which_steps_skip_qa_and_agents_come_from_names() {
    let spec = json!({"protocol_spec": {"steps": [{"step_name": "00-a", "qa": {"policy": "skip"}}, {"step_name": "01-b"}]}});
    assert!(qa_skipped_by_spec(Some(&spec), "00-a"));
    assert!(!qa_skipped_by_spec(Some(&spec), "01-b"));
    assert!(!qa_skipped_by_spec(None, "00-a"));
    assert_eq!(summary_of("\n  first line \nsecond"), "first line");
    assert_eq!(summary_of(&"x".repeat(500)).len(), 200);
}
