//! Conformance cases of [`StepState`](crate::step_state::StepState): field
//! updates, and multi-step changes guarded by the first step's status and
//! `runtime_state` (the compare-and-set the CodeMachine policies rely on).

use super::{project, run, step, Store};
use crate::model::*;
use crate::status::StepStatus;
use crate::step_state::{StepChange, StepUpdate};
use crate::store::*;
use serde_json::json;

pub async fn step_fields_update_and_retries_add(store: Store) {
    let p = project(&store, "sf").await;
    let r = run(&store, p.id, "0001-sf").await;
    let s = step(&store, r.id, 0).await.expect("step");
    assert_eq!(s.retries, 0);
    let update = StepUpdate {
        summary: Some("did \"it\"".into()),
        runtime_state: Some(json!({"loop_counts": {"m": 1}})),
        model: Some("m-1".into()),
        engine_id: Some("codex".into()),
        add_retries: 1,
    };
    let got = store.update_step(s.id, update).await.expect("update");
    assert_eq!(got.summary.as_deref(), Some("did \"it\""));
    assert_eq!(got.runtime_state, Some(json!({"loop_counts": {"m": 1}})));
    assert_eq!(got.model.as_deref(), Some("m-1"));
    assert_eq!(got.engine_id.as_deref(), Some("codex"));
    assert_eq!(got.retries, 1);
    assert_eq!(
        got.policy, s.policy,
        "what the update does not name is kept"
    );
    assert_eq!(got.status, StepStatus::Pending);
    let again = StepUpdate {
        add_retries: 2,
        ..Default::default()
    };
    let got = store.update_step(s.id, again).await.expect("update");
    assert_eq!(
        (got.retries, got.summary.as_deref()),
        (3, Some("did \"it\""))
    );
    assert_eq!(store.get_step_run(s.id).await.expect("get"), got);
    assert!(matches!(
        store.update_step(999_999, StepUpdate::default()).await,
        Err(RecordError::NotFound { .. })
    ));

    let run_after = store
        .set_run_template(
            r.id,
            json!({"protocol_spec": {"steps": []}}),
            json!({"workspace_path": "/ws"}),
        )
        .await
        .expect("template");
    assert_eq!(
        run_after.template_source,
        Some(json!({"workspace_path": "/ws"}))
    );
    assert_eq!(store.get_protocol_run(r.id).await.expect("get"), run_after);
    assert!(matches!(
        store.set_run_template(999_999, json!({}), json!({})).await,
        Err(RecordError::NotFound { .. })
    ));
}

fn reset(id: Id) -> StepChange {
    StepChange {
        id,
        allowed_from: vec![
            StepStatus::Completed,
            StepStatus::Failed,
            StepStatus::Pending,
        ],
        to: Some(StepStatus::Pending),
        ..Default::default()
    }
}

pub async fn step_changes_are_guarded_and_atomic(store: Store) {
    let p = project(&store, "sc").await;
    let r = run(&store, p.id, "0001-sc").await;
    let a = step(&store, r.id, 0).await.expect("a");
    let b = step(&store, r.id, 1).await.expect("b");
    let c = step(&store, r.id, 2).await.expect("c");
    for (id, to) in [(a.id, StepStatus::Completed), (c.id, StepStatus::Cancelled)] {
        store
            .transition_step(id, &[StepStatus::Pending], to)
            .await
            .expect("set");
    }
    store
        .transition_step(b.id, &[StepStatus::Pending], StepStatus::NeedsQa)
        .await
        .expect("b needs qa");
    let guard = |state: Option<serde_json::Value>| StepChange {
        id: b.id,
        allowed_from: vec![StepStatus::NeedsQa],
        to: Some(StepStatus::Pending),
        expect_runtime_state: Some(state),
        update: StepUpdate {
            runtime_state: Some(json!({"loop_counts": {"m": 1}})),
            summary: Some("QA FAIL".into()),
            ..Default::default()
        },
    };
    // The guard's state is not what the caller read: nothing written anywhere.
    let t = store
        .change_steps(vec![guard(Some(json!({"x": 1}))), reset(a.id)])
        .await
        .expect("change");
    assert_eq!(
        t,
        Transition::Conflict {
            current: StepStatus::NeedsQa
        }
    );
    assert_eq!(
        store.get_step_run(a.id).await.expect("a").status,
        StepStatus::Completed
    );

    // Applied: the guard and the matching steps; the cancelled one is skipped.
    let t = store
        .change_steps(vec![guard(None), reset(a.id), reset(c.id)])
        .await
        .expect("change");
    assert_eq!(
        t,
        Transition::Applied {
            from: StepStatus::NeedsQa
        }
    );
    let b2 = store.get_step_run(b.id).await.expect("b");
    assert_eq!(b2.status, StepStatus::Pending);
    assert_eq!(b2.runtime_state, Some(json!({"loop_counts": {"m": 1}})));
    assert_eq!(b2.summary.as_deref(), Some("QA FAIL"));
    assert_eq!(
        store.get_step_run(a.id).await.expect("a").status,
        StepStatus::Pending
    );
    assert_eq!(
        store.get_step_run(c.id).await.expect("c").status,
        StepStatus::Cancelled
    );

    // Applied again (a redelivery): the guard's status moved on, nothing changes.
    let t = store.change_steps(vec![guard(None)]).await.expect("change");
    assert_eq!(
        t,
        Transition::Conflict {
            current: StepStatus::Pending
        }
    );

    // Racing compare-and-sets on one state: exactly one wins.
    store
        .transition_step(b.id, &[StepStatus::Pending], StepStatus::Running)
        .await
        .expect("run");
    let read = store.get_step_run(b.id).await.expect("b").runtime_state;
    let mut racers = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        let change = StepChange {
            id: b.id,
            allowed_from: vec![StepStatus::Running, StepStatus::Failed],
            to: Some(StepStatus::Failed),
            expect_runtime_state: Some(read.clone()),
            update: StepUpdate {
                runtime_state: Some(json!({"winner": i})),
                ..Default::default()
            },
        };
        racers.push(tokio::spawn(async move {
            store.change_steps(vec![change]).await
        }));
    }
    let mut wins = 0;
    for h in racers {
        if h.await.expect("join").expect("change").applied() {
            wins += 1;
        }
    }
    assert_eq!(wins, 1, "one compare-and-set on the state wins");
    assert!(matches!(
        store.change_steps(vec![reset(999_999)]).await,
        Err(RecordError::NotFound { .. })
    ));
    assert!(store.change_steps(Vec::new()).await.is_err());
}
