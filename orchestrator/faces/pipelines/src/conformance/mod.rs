//! The record store conformance suite: behaviour every [`RecordStore`] must have.
//!
//! Each case takes a fresh, empty store and panics on a violation. `baton-tests` runs
//! every case against [`MemoryRecords`](super::memory::MemoryRecords) and against Redis
//! (`tests/tests/pipeline_store.rs`, one key prefix per case); [`CASES`] lists them so a
//! backend cannot skip one silently. Cases take an `Arc` because the race case spawns.

use super::model::*;
use super::status::{ProtocolAction, ProtocolStatus, StepAction, StepStatus};
use super::store::*;
use serde_json::json;
use std::sync::Arc;

pub type Store = Arc<dyn RecordStore>;
pub type Case = fn(Store) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

mod events;
mod runs;
mod step_state;
pub use events::*;
pub use runs::*;
pub use step_state::*;

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        /// Every case, by name.
        pub const CASES: &[(&str, Case)] = &[$((stringify!($name), |s| Box::pin($name(s)))),*];
    };
}

cases!(
    ids_increase_and_lists_are_ordered,
    secrets_are_never_part_of_a_project,
    protocol_transitions_follow_the_table,
    step_transitions_follow_the_table,
    concurrent_transitions_have_one_winner,
    cancel_leaves_finished_steps_alone,
    step_index_is_unique_per_run,
    events_newest_first_and_limit_clamped,
    clarifications_upsert_then_answer,
    missing_records_are_not_found,
    step_fields_update_and_retries_add,
    step_changes_are_guarded_and_atomic,
    runs_upsert_with_logs_and_artifacts,
    queue_index_newest_first,
);

fn secrets(token: &str) -> ProjectSecrets {
    let mut map = serde_json::Map::new();
    map.insert("api_token".into(), token.into());
    ProjectSecrets(map)
}

pub(super) async fn project(store: &Store, name: &str) -> Project {
    store
        .create_project(NewProject {
            name: name.into(),
            git_url: format!("https://example.com/{name}.git"),
            base_branch: "main".into(),
            secrets: Some(secrets(&format!("token-of-{name}"))),
            ..Default::default()
        })
        .await
        .expect("create project")
}

pub(super) async fn run(store: &Store, project_id: Id, name: &str) -> ProtocolRun {
    store
        .create_protocol_run(NewProtocolRun {
            project_id,
            protocol_name: name.into(),
            base_branch: "main".into(),
            template_config: Some(json!({"protocol_spec": {"steps": [name]}})),
            ..Default::default()
        })
        .await
        .expect("create run")
}

async fn step(store: &Store, run_id: Id, index: u32) -> RecordResult<StepRun> {
    store
        .create_step_run(NewStepRun {
            protocol_run_id: run_id,
            step_index: index,
            step_name: format!("{index:02}-step.md"),
            policy: Some(json!([{"behavior": "loop"}])),
            ..Default::default()
        })
        .await
}

pub async fn ids_increase_and_lists_are_ordered(store: Store) {
    let a = project(&store, "a").await;
    let b = project(&store, "b").await;
    // Each kind counts from 1 on its own, like the seed's tables (its curl examples use
    // project 1 and protocol run 1).
    assert_eq!((a.id, b.id), (1, 2));
    let listed: Vec<Id> = store
        .list_projects()
        .await
        .expect("list")
        .iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(listed, vec![a.id, b.id]);
    let r1 = run(&store, a.id, "0001-x").await;
    let r2 = run(&store, a.id, "0002-y").await;
    run(&store, b.id, "0001-z").await;
    assert_eq!((r1.id, r2.id), (1, 2));
    assert_eq!(r1.status, ProtocolStatus::Pending);
    let runs = store.list_protocol_runs(a.id).await.expect("runs");
    assert_eq!(runs, vec![r1.clone(), r2]);
    assert_eq!(
        store
            .get_protocol_run(r1.id)
            .await
            .expect("get")
            .spec_hash(),
        r1.spec_hash()
    );
    // Created out of index order, listed by index.
    let s2 = step(&store, r1.id, 2).await.expect("step 2");
    let s0 = step(&store, r1.id, 0).await.expect("step 0");
    let s1 = step(&store, r1.id, 1).await.expect("step 1");
    assert_eq!((s2.id, s0.id, s1.id), (1, 2, 3));
    let steps = store.list_step_runs(r1.id).await.expect("steps");
    assert_eq!(steps, vec![s0, s1, s2.clone()]);
    assert_eq!(store.get_step_run(s2.id).await.expect("get step"), s2);
}

pub async fn secrets_are_never_part_of_a_project(store: Store) {
    let p = project(&store, "secretive").await;
    let leaks = |text: String| text.contains("token-of-secretive") || text.contains("api_token");
    let read = store.get_project(p.id).await.expect("get");
    assert!(!leaks(serde_json::to_string(&read).expect("json")));
    let all = store.list_projects().await.expect("list");
    assert!(!leaks(serde_json::to_string(&all).expect("json")));
    let got = store.project_secrets(p.id).await.expect("secrets");
    assert_eq!(got.api_token(), Some("token-of-secretive"));

    // A partial update changes only what it names; secrets are replaced explicitly.
    let updated = store
        .update_project(
            p.id,
            ProjectUpdate {
                name: Some("renamed".into()),
                ci_provider: Some(CiProvider::Github),
                ..Default::default()
            },
        )
        .await
        .expect("update");
    assert_eq!(updated.name, "renamed");
    assert_eq!(updated.git_url, p.git_url);
    assert_eq!(updated.ci_provider, Some(CiProvider::Github));
    assert_eq!(store.get_project(p.id).await.expect("get"), updated);
    let got = store.project_secrets(p.id).await.expect("secrets");
    assert_eq!(got.api_token(), Some("token-of-secretive"));
    let update = ProjectUpdate {
        secrets: Some(secrets("rotated")),
        ..Default::default()
    };
    let after = store.update_project(p.id, update).await.expect("rotate");
    assert!(!serde_json::to_string(&after)
        .expect("json")
        .contains("rotated"));
    let got = store.project_secrets(p.id).await.expect("secrets");
    assert_eq!(got.api_token(), Some("rotated"));

    // A project created without secrets has empty ones.
    let bare = store
        .create_project(NewProject {
            name: "bare".into(),
            git_url: "/srv/bare".into(),
            base_branch: "main".into(),
            ..Default::default()
        })
        .await
        .expect("create");
    assert_eq!(
        store
            .project_secrets(bare.id)
            .await
            .expect("secrets")
            .api_token(),
        None
    );
}

pub async fn protocol_transitions_follow_the_table(store: Store) {
    use ProtocolAction as A;
    use ProtocolStatus::*;
    let p = project(&store, "p").await;
    let r = run(&store, p.id, "0001-t").await;
    let act = |a: A| {
        let store = store.clone();
        async move { store.protocol_action(r.id, a).await.expect("action") }
    };
    assert_eq!(
        act(A::Resume).await,
        Transition::Conflict { current: Pending }
    );
    assert_eq!(act(A::Start).await, Transition::Applied { from: Pending });
    assert_eq!(
        act(A::Start).await,
        Transition::Conflict { current: Planning }
    );
    assert_eq!(
        act(A::Planned).await,
        Transition::Applied { from: Planning }
    );
    assert_eq!(
        act(A::RunNextStep).await,
        Transition::Applied { from: Planned }
    );
    assert_eq!(act(A::Pause).await, Transition::Applied { from: Running });
    assert_eq!(
        act(A::RunNextStep).await,
        Transition::Conflict { current: Paused }
    );
    assert_eq!(act(A::Resume).await, Transition::Applied { from: Paused });
    assert_eq!(
        act(A::Complete).await,
        Transition::Applied { from: Running }
    );
    for a in [A::Pause, A::Cancel, A::Start, A::Complete] {
        assert_eq!(
            act(a).await,
            Transition::Conflict { current: Completed },
            "{a:?}"
        );
    }
    let got = store.get_protocol_run(r.id).await.expect("get");
    assert_eq!(got.status, Completed);
    assert!(got.updated_at >= got.created_at);
}

pub async fn step_transitions_follow_the_table(store: Store) {
    use StepAction as A;
    use StepStatus::*;
    let p = project(&store, "p").await;
    let r = run(&store, p.id, "0001-s").await;
    let s = step(&store, r.id, 0).await.expect("step");
    let act = |a: A| {
        let store = store.clone();
        async move { store.step_action(s.id, a).await.expect("action") }
    };
    assert_eq!(
        act(A::Approve).await,
        Transition::Conflict { current: Pending }
    );
    assert_eq!(act(A::Run).await, Transition::Applied { from: Pending });
    assert_eq!(
        act(A::QaPassed).await,
        Transition::Conflict { current: Running }
    );
    assert_eq!(
        act(A::ExecDone).await,
        Transition::Applied { from: Running }
    );
    assert_eq!(
        act(A::QaFailed).await,
        Transition::Applied { from: NeedsQa }
    );
    assert_eq!(act(A::Run).await, Transition::Applied { from: Failed });
    assert_eq!(
        act(A::ExecDoneSkipQa).await,
        Transition::Applied { from: Running }
    );
    assert_eq!(
        act(A::Approve).await,
        Transition::Conflict { current: Completed }
    );
    assert_eq!(
        act(A::RunQa).await,
        Transition::Conflict { current: Completed }
    );
    assert_eq!(
        store.get_step_run(s.id).await.expect("get").status,
        Completed
    );
}

pub async fn concurrent_transitions_have_one_winner(store: Store) {
    let p = project(&store, "race").await;
    for n in 0..5 {
        let r = run(&store, p.id, &format!("000{n}-race")).await;
        let go = |to: ProtocolStatus| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .transition_protocol(r.id, &[ProtocolStatus::Pending], to)
                    .await
            })
        };
        let (a, b) = (go(ProtocolStatus::Planning), go(ProtocolStatus::Cancelled));
        let a = a.await.expect("join").expect("transition");
        let b = b.await.expect("join").expect("transition");
        let winner = match (a, b) {
            (Transition::Applied { .. }, Transition::Conflict { current }) => {
                assert_eq!(current, ProtocolStatus::Planning);
                ProtocolStatus::Planning
            }
            (Transition::Conflict { current }, Transition::Applied { .. }) => {
                assert_eq!(current, ProtocolStatus::Cancelled);
                ProtocolStatus::Cancelled
            }
            other => panic!("exactly one must win: {other:?}"),
        };
        assert_eq!(
            store.get_protocol_run(r.id).await.expect("get").status,
            winner
        );
    }
}

pub async fn cancel_leaves_finished_steps_alone(store: Store) {
    use StepStatus::*;
    let p = project(&store, "c").await;
    let r = run(&store, p.id, "0001-c").await;
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(step(&store, r.id, i).await.expect("step").id);
    }
    // Steps 0..6 end up: completed, failed, blocked, needs_qa, running, pending.
    let paths: [&[StepAction]; 6] = [
        &[StepAction::Run, StepAction::ExecDoneSkipQa],
        &[StepAction::Run, StepAction::ExecFailed],
        &[StepAction::Run, StepAction::ExecFailed, StepAction::Reset],
        &[StepAction::Run, StepAction::ExecDone],
        &[StepAction::Run],
        &[],
    ];
    for (id, path) in ids.iter().zip(paths) {
        for a in path {
            assert!(store.step_action(*id, *a).await.expect("step").applied());
        }
    }
    let blocked = store.transition_step(ids[2], &[Pending], Blocked).await;
    assert!(blocked.expect("block").applied());
    store
        .protocol_action(r.id, ProtocolAction::Start)
        .await
        .expect("start");

    let out = store.cancel_protocol(r.id).await.expect("cancel");
    assert_eq!(
        out,
        CancelOutcome::Cancelled {
            from: ProtocolStatus::Planning,
            steps: vec![ids[3], ids[4], ids[5]],
        }
    );
    let statuses: Vec<StepStatus> = store
        .list_step_runs(r.id)
        .await
        .expect("steps")
        .iter()
        .map(|s| s.status)
        .collect();
    assert_eq!(
        statuses,
        vec![Completed, Failed, Blocked, Cancelled, Cancelled, Cancelled]
    );
    assert_eq!(
        store.cancel_protocol(r.id).await.expect("again"),
        CancelOutcome::Conflict {
            current: ProtocolStatus::Cancelled
        }
    );

    // A completed run is never cancelled (upstream overwrote it).
    let done = run(&store, p.id, "0002-done").await;
    store
        .transition_protocol(
            done.id,
            &[ProtocolStatus::Pending],
            ProtocolStatus::Completed,
        )
        .await
        .expect("complete");
    let s = step(&store, done.id, 0).await.expect("step");
    assert_eq!(
        store.cancel_protocol(done.id).await.expect("cancel"),
        CancelOutcome::Conflict {
            current: ProtocolStatus::Completed
        }
    );
    assert_eq!(store.get_step_run(s.id).await.expect("get").status, Pending);
}

pub async fn step_index_is_unique_per_run(store: Store) {
    let p = project(&store, "u").await;
    let r1 = run(&store, p.id, "0001-u").await;
    let r2 = run(&store, p.id, "0002-u").await;
    let first = step(&store, r1.id, 3).await.expect("first");
    match step(&store, r1.id, 3).await {
        Err(RecordError::DuplicateStepIndex {
            protocol_run_id,
            step_index,
            existing,
        }) => assert_eq!(
            (protocol_run_id, step_index, existing),
            (r1.id, 3, first.id)
        ),
        other => panic!("expected a duplicate index error, got {other:?}"),
    }
    step(&store, r2.id, 3).await.expect("same index, other run");
    assert_eq!(store.list_step_runs(r1.id).await.expect("list").len(), 1);
    assert!(matches!(
        step(&store, 999_999, 0).await,
        Err(RecordError::NotFound { .. })
    ));
}

pub async fn missing_records_are_not_found(store: Store) {
    let nf = |r: RecordResult<()>| matches!(r, Err(RecordError::NotFound { .. }));
    assert!(nf(store.get_project(42).await.map(drop)));
    assert!(nf(store.project_secrets(42).await.map(drop)));
    assert!(nf(store
        .update_project(42, ProjectUpdate::default())
        .await
        .map(drop)));
    assert!(nf(store.get_protocol_run(42).await.map(drop)));
    assert!(nf(store.get_step_run(42).await.map(drop)));
    assert!(nf(store
        .protocol_action(42, ProtocolAction::Start)
        .await
        .map(drop)));
    assert!(nf(store.step_action(42, StepAction::Run).await.map(drop)));
    assert!(nf(store.cancel_protocol(42).await.map(drop)));
    let new_run = NewProtocolRun {
        project_id: 42,
        ..Default::default()
    };
    assert!(nf(store.create_protocol_run(new_run).await.map(drop)));
    assert!(store.list_protocol_runs(42).await.expect("list").is_empty());
    assert!(store.list_events(42, 10).await.expect("list").is_empty());
}
