//! Conformance cases of events and clarifications.

use super::{project, run, Store};
use crate::model::*;
use crate::store::*;
use serde_json::json;

pub async fn events_newest_first_and_limit_clamped(store: Store) {
    let a = project(&store, "ea").await;
    let b = project(&store, "eb").await;
    let ra = run(&store, a.id, "0001-ea").await;
    let rb = run(&store, b.id, "0001-eb").await;
    for i in 0..4 {
        for r in [&ra, &rb] {
            store
                .append_event(NewEvent {
                    protocol_run_id: r.id,
                    event_type: "step_started".into(),
                    message: format!("{i}"),
                    metadata: Some(json!({"request_id": "r-1"})),
                    ..Default::default()
                })
                .await
                .expect("append");
        }
    }
    let events = store.list_events(ra.id, 100).await.expect("events");
    let messages: Vec<&str> = events.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(messages, vec!["3", "2", "1", "0"]);
    assert!(events.windows(2).all(|w| w[0].id > w[1].id));
    assert!(events
        .iter()
        .all(|e| e.project_id == a.id && e.protocol_run_id == ra.id));
    assert_eq!(events[0].metadata, Some(json!({"request_id": "r-1"})));
    // 0 means the least, not nothing.
    assert_eq!(store.list_events(ra.id, 0).await.expect("events").len(), 1);
    assert_eq!(
        store.list_events(ra.id, 2).await.expect("events")[0].message,
        "3"
    );
    let all = store.recent_events(None, usize::MAX).await.expect("recent");
    assert_eq!(all.len(), 8);
    assert_eq!(all[0].protocol_run_id, rb.id);
    let of_b = store.recent_events(Some(b.id), 3).await.expect("recent");
    assert_eq!(of_b.len(), 3);
    assert!(of_b.iter().all(|e| e.project_id == b.id));
    assert!(matches!(
        store
            .append_event(NewEvent {
                protocol_run_id: 999_999,
                ..Default::default()
            })
            .await,
        Err(RecordError::NotFound { .. })
    ));
}

pub async fn clarifications_upsert_then_answer(store: Store) {
    let p = project(&store, "q").await;
    let r = run(&store, p.id, "0001-q").await;
    let scope = ClarificationScope::Project(p.id);
    let ask = |key: &str, question: &str| NewClarification {
        key: key.into(),
        question: question.into(),
        recommended: Some(json!("pytest")),
        options: Some(json!(["pytest", "unittest"])),
        applies_to: AppliesTo::Onboarding,
        blocking: true,
    };
    let c = store
        .upsert_clarification(scope, ask("tests", "Which runner?"))
        .await
        .expect("ask");
    assert_eq!(
        (c.status, c.answer.clone(), c.blocking),
        (ClarificationStatus::Open, None, true)
    );
    store
        .upsert_clarification(scope, ask("ci", "Which CI?"))
        .await
        .expect("ask");
    let answered = store
        .answer_clarification(
            scope,
            "tests",
            json!({"runner": "pytest"}),
            Some("ana".into()),
        )
        .await
        .expect("answer");
    assert_eq!(answered.status, ClarificationStatus::Answered);
    assert_eq!(answered.answer, Some(json!({"runner": "pytest"})));
    assert_eq!(answered.answered_by.as_deref(), Some("ana"));
    assert!(answered.answered_at.is_some());

    // Re-asking replaces the question and keeps the answer.
    let mut again = ask("tests", "Which test runner?");
    again.recommended = None;
    let c = store
        .upsert_clarification(scope, again)
        .await
        .expect("re-ask");
    assert_eq!(c.question, "Which test runner?");
    assert_eq!(c.recommended, None);
    assert_eq!(c.status, ClarificationStatus::Answered);
    assert_eq!(c.answer, Some(json!({"runner": "pytest"})));

    let listed = store.list_clarifications(scope).await.expect("list");
    let keys: Vec<&str> = listed.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(keys, vec!["ci", "tests"]);
    assert_eq!(listed[1], c);

    // Scopes are separate.
    let run_scope = ClarificationScope::ProtocolRun(r.id);
    assert!(store
        .list_clarifications(run_scope)
        .await
        .expect("list")
        .is_empty());
    store
        .upsert_clarification(run_scope, ask("tests", "Per run?"))
        .await
        .expect("ask");
    assert_eq!(
        store
            .list_clarifications(run_scope)
            .await
            .expect("list")
            .len(),
        1
    );
    assert_eq!(
        store.list_clarifications(scope).await.expect("list").len(),
        2
    );
    assert!(matches!(
        store
            .answer_clarification(scope, "nope", json!(1), None)
            .await,
        Err(RecordError::NotFound { .. })
    ));
    assert!(matches!(
        store
            .upsert_clarification(ClarificationScope::ProtocolRun(999_999), ask("k", "q"))
            .await,
        Err(RecordError::NotFound { .. })
    ));
}
