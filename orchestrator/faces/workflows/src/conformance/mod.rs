//! The [`WorkflowStore`] conformance suite: the behaviour both stores must have, run by
//! `tests/tests/workflow_store.rs` against the memory store and a real Redis. Each case
//! panics with what differed.

use crate::model::Workflow;
use crate::store::*;
use baton_protocol::clock::now_ms;
use serde_json::json;
use std::time::Duration;

mod triggers;

fn record(id: &str, name: &str, at: i64) -> StoredWorkflow {
    let workflow: Workflow = serde_json::from_value(json!({
        "id": id, "name": name,
        "steps": [{"id": "s", "type": "transform", "params": {"merge": {"a": 1}}}],
    }))
    .expect("a valid definition");
    StoredWorkflow {
        workflow,
        created_at: at,
        updated_at: at,
    }
}

/// Every case, in order; `store` must be empty.
pub async fn run_all(store: &dyn WorkflowStore) {
    workflows_are_created_once_replaced_listed_and_deleted(store).await;
    rate_windows_count_per_bucket_and_reopen(store).await;
    compiled_blueprints_are_written_once(store).await;
    executions_are_listed_newest_first(store).await;
    prompts_are_created_once_listed_and_deleted(store).await;
    deleted_executions_leave_the_listings(store).await;
    versions_are_compared_and_set(store).await;
    blocked_clients_are_listed_until_let_in(store).await;
    circuit_states_keep_the_last_report(store).await;
    triggers::run_all(store).await;
}

pub async fn blocked_clients_are_listed_until_let_in(store: &dyn WorkflowStore) {
    let now = now_ms();
    store.block("login:10.0.0.1", now + 30_000).await.unwrap();
    store.block("jobs:10.0.0.2", now + 10_000).await.unwrap();
    store.block("login:10.0.0.1", now + 5_000).await.unwrap();
    store.block("login:10.0.0.3", now - 1).await.unwrap();
    assert_eq!(
        store.blocked(now).await.unwrap(),
        [
            ("jobs:10.0.0.2".to_string(), now + 10_000),
            ("login:10.0.0.1".to_string(), now + 30_000),
        ],
        "soonest first; a later deadline is kept; a past one is not listed"
    );
    assert_eq!(
        store.blocked(now + 20_000).await.unwrap(),
        [("login:10.0.0.1".to_string(), now + 30_000)]
    );
    assert!(store.blocked(now + 60_000).await.unwrap().is_empty());
}

pub async fn circuit_states_keep_the_last_report(store: &dyn WorkflowStore) {
    assert!(store.circuits().await.unwrap().is_empty());
    store
        .set_circuit("openai", r#"{"state":"open"}"#)
        .await
        .unwrap();
    store
        .set_circuit("openai", r#"{"state":"closed"}"#)
        .await
        .unwrap();
    store
        .set_circuit("local", r#"{"state":"half_open"}"#)
        .await
        .unwrap();
    assert_eq!(
        store.circuits().await.unwrap(),
        [
            ("local".to_string(), r#"{"state":"half_open"}"#.to_string()),
            ("openai".to_string(), r#"{"state":"closed"}"#.to_string()),
        ]
    );
}

pub async fn versions_are_compared_and_set(store: &dyn WorkflowStore) {
    assert_eq!(store.get_versions("w").await.unwrap(), None);
    assert!(store.cas_versions("w", None, "v1").await.unwrap());
    assert!(
        !store.cas_versions("w", None, "lost").await.unwrap(),
        "not absent any more"
    );
    assert!(!store.cas_versions("w", Some("old"), "lost").await.unwrap());
    assert!(store.cas_versions("w", Some("v1"), "v2").await.unwrap());
    assert_eq!(
        store.get_versions("w").await.unwrap().as_deref(),
        Some("v2")
    );
    store.cas_versions("a", None, "a1").await.unwrap();
    assert_eq!(
        store.list_versions().await.unwrap(),
        ["a1", "v2"],
        "by name"
    );
}

pub async fn deleted_executions_leave_the_listings(store: &dyn WorkflowStore) {
    store.add_execution("d1", 1).await.unwrap();
    store.add_execution("d2", 2).await.unwrap();
    assert!(!store.is_deleted("d1").await.unwrap());
    store.delete_execution("d1", 60_000).await.unwrap();
    assert!(store.is_deleted("d1").await.unwrap());
    assert!(!store.is_deleted("d2").await.unwrap());
    let listed = store.recent_executions(100).await.unwrap();
    assert!(
        listed.contains(&"d2".to_string()) && !listed.contains(&"d1".to_string()),
        "{listed:?}"
    );
}

pub async fn prompts_are_created_once_listed_and_deleted(store: &dyn WorkflowStore) {
    assert!(store.list_prompts().await.unwrap().is_empty());
    assert_eq!(
        store.create_prompt("b", "{\"id\":\"b\"}").await.unwrap(),
        Written::Done
    );
    assert_eq!(
        store.create_prompt("b", "{}").await.unwrap(),
        Written::Exists
    );
    store.create_prompt("a", "{\"id\":\"a\"}").await.unwrap();
    assert_eq!(
        store.list_prompts().await.unwrap(),
        ["{\"id\":\"a\"}", "{\"id\":\"b\"}"],
        "by id, the first write kept"
    );
    assert!(store.delete_prompt("a").await.unwrap());
    assert!(!store.delete_prompt("a").await.unwrap());
    assert_eq!(store.get_prompt("a").await.unwrap(), None);
    assert_eq!(
        store.get_prompt("b").await.unwrap().as_deref(),
        Some("{\"id\":\"b\"}")
    );
}

pub async fn executions_are_listed_newest_first(store: &dyn WorkflowStore) {
    store.add_execution("e1", 100).await.unwrap();
    store.add_execution("e3", 300).await.unwrap();
    store.add_execution("e2", 200).await.unwrap();
    assert_eq!(
        store.recent_executions(10).await.unwrap(),
        ["e3", "e2", "e1"]
    );
    assert_eq!(store.recent_executions(2).await.unwrap(), ["e3", "e2"]);
    assert!(store.recent_executions(0).await.unwrap().is_empty());
    store.remove_execution("e3").await.unwrap();
    store.remove_execution("absent").await.unwrap();
    assert_eq!(store.recent_executions(10).await.unwrap(), ["e2", "e1"]);
}

pub async fn compiled_blueprints_are_written_once(store: &dyn WorkflowStore) {
    assert_eq!(store.get_blueprint("wf-a-1").await.unwrap(), None);
    store
        .put_blueprint("wf-a-1", "{\"first\":1}")
        .await
        .unwrap();
    store
        .put_blueprint("wf-a-1", "{\"second\":2}")
        .await
        .unwrap();
    assert_eq!(
        store.get_blueprint("wf-a-1").await.unwrap().as_deref(),
        Some("{\"first\":1}"),
        "the first write stays"
    );
}

pub async fn workflows_are_created_once_replaced_listed_and_deleted(store: &dyn WorkflowStore) {
    assert!(store.list_workflows().await.unwrap().is_empty());
    let b = record("b-flow", "B", 1);
    assert_eq!(store.create_workflow(&b).await.unwrap(), Written::Done);
    assert_eq!(
        store
            .create_workflow(&record("b-flow", "other", 2))
            .await
            .unwrap(),
        Written::Exists
    );
    assert_eq!(
        store.get_workflow("b-flow").await.unwrap(),
        Some(b.clone()),
        "unchanged"
    );
    assert_eq!(
        store
            .replace_workflow(&record("nope", "N", 3))
            .await
            .unwrap(),
        Written::Missing
    );
    assert_eq!(
        store.get_workflow("nope").await.unwrap(),
        None,
        "replace creates nothing"
    );
    store
        .create_workflow(&record("a-flow", "A", 4))
        .await
        .unwrap();
    let mut b2 = record("b-flow", "B2", 1);
    b2.updated_at = 5;
    assert_eq!(store.replace_workflow(&b2).await.unwrap(), Written::Done);
    let listed: Vec<(String, String)> = store
        .list_workflows()
        .await
        .unwrap()
        .into_iter()
        .map(|w| (w.workflow.id, w.workflow.name))
        .collect();
    assert_eq!(
        listed,
        [
            ("a-flow".into(), "A".into()),
            ("b-flow".into(), "B2".into())
        ],
        "listed by id, as replaced"
    );
    assert!(store.delete_workflow("a-flow").await.unwrap());
    assert!(!store.delete_workflow("a-flow").await.unwrap());
    assert_eq!(store.get_workflow("a-flow").await.unwrap(), None);
    assert_eq!(store.list_workflows().await.unwrap().len(), 1);
    assert!(store.delete_workflow("b-flow").await.unwrap());
}

pub async fn rate_windows_count_per_bucket_and_reopen(store: &dyn WorkflowStore) {
    let window = 300;
    for expected in 1..=3 {
        let c = store
            .count_request("login:10.0.0.1", window, now_ms())
            .await
            .unwrap();
        assert_eq!(c.count, expected);
        assert!(c.resets_in_ms <= window, "{c:?}");
    }
    let other = store
        .count_request("login:10.0.0.2", window, now_ms())
        .await
        .unwrap();
    assert_eq!(other.count, 1, "each bucket counts on its own");
    let route = store
        .count_request("execute:10.0.0.1", window, now_ms())
        .await
        .unwrap();
    assert_eq!(route.count, 1, "each route counts on its own");
    tokio::time::sleep(Duration::from_millis(window + 50)).await;
    let c = store
        .count_request("login:10.0.0.1", window, now_ms())
        .await
        .unwrap();
    assert_eq!(c.count, 1, "a closed window starts again");
}
