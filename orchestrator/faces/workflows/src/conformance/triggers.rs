//! Conformance cases of [`crate::triggers::TriggerStore`]: the due set's claims (each
//! due schedule taken once, a lapsed claim taken again), the schedules' compare-and-set,
//! webhooks and their counts, history rows kept newest first and completed in place.

use crate::store::{WorkflowStore, Written};
use crate::triggers::ScheduleCas;

pub async fn run_all(store: &dyn WorkflowStore) {
    due_schedules_are_claimed_once(store).await;
    schedule_writes_are_compared_and_set(store).await;
    hooks_are_kept_counted_and_deleted(store).await;
    runs_are_kept_newest_first_and_completed(store).await;
}

fn cas<'a>(
    id: &'a str,
    expected: Option<&'a str>,
    new: Option<&'a str>,
    next_ms: Option<i64>,
) -> ScheduleCas<'a> {
    ScheduleCas {
        id,
        expected,
        new,
        next_ms,
        claimed: None,
    }
}

pub async fn due_schedules_are_claimed_once(store: &dyn WorkflowStore) {
    assert_eq!(store.next_due().await.unwrap(), None);
    assert!(store
        .cas_schedule(cas("a", None, Some("A"), Some(1_000)))
        .await
        .unwrap());
    assert!(store
        .cas_schedule(cas("b", None, Some("B"), Some(2_000)))
        .await
        .unwrap());
    assert!(store
        .cas_schedule(cas("c", None, Some("C"), Some(9_000)))
        .await
        .unwrap());
    assert!(store
        .cas_schedule(cas("p", None, Some("P"), None))
        .await
        .unwrap());
    assert_eq!(store.next_due().await.unwrap(), Some(1_000));
    let taken = store.claim_due(5_000, 500, 10).await.unwrap();
    assert_eq!(
        taken,
        [("a".to_string(), 5_500), ("b".to_string(), 5_500)],
        "the due ones, earliest first, scored with the claim's end"
    );
    assert!(
        store.claim_due(5_100, 500, 10).await.unwrap().is_empty(),
        "claimed: nobody else takes them"
    );
    assert_eq!(store.next_due().await.unwrap(), Some(5_500));
    // The claimer of `a` commits; `b`'s claimer died: `b` is due again at the claim's end.
    let commit = ScheduleCas {
        claimed: Some(5_500),
        ..cas("a", Some("A"), Some("A2"), Some(20_000))
    };
    assert!(store.cas_schedule(commit).await.unwrap());
    let again = store.claim_due(5_600, 500, 1).await.unwrap();
    assert_eq!(again, [("b".to_string(), 6_100)], "limit respected");
    let stale = ScheduleCas {
        claimed: Some(5_500),
        ..cas("b", Some("B"), Some("B2"), Some(20_000))
    };
    assert!(
        !store.cas_schedule(stale).await.unwrap(),
        "a lapsed claim commits nothing"
    );
    for id in ["a", "b", "c", "p"] {
        let doc = store.get_schedule(id).await.unwrap();
        assert!(store
            .cas_schedule(cas(id, doc.as_deref(), None, None))
            .await
            .unwrap());
    }
    assert_eq!(store.next_due().await.unwrap(), None);
}

pub async fn schedule_writes_are_compared_and_set(store: &dyn WorkflowStore) {
    assert!(store
        .cas_schedule(cas("s", None, Some("v1"), Some(10)))
        .await
        .unwrap());
    assert!(
        !store
            .cas_schedule(cas("s", None, Some("other"), Some(10)))
            .await
            .unwrap(),
        "exists"
    );
    assert!(!store
        .cas_schedule(cas("s", Some("old"), Some("v2"), None))
        .await
        .unwrap());
    assert!(store
        .cas_schedule(cas("s", Some("v1"), Some("v2"), None))
        .await
        .unwrap());
    assert_eq!(
        store.get_schedule("s").await.unwrap().as_deref(),
        Some("v2")
    );
    assert!(
        store
            .claim_due(i64::MAX / 2, 1, 10)
            .await
            .unwrap()
            .is_empty(),
        "paused (no next tick): never due"
    );
    assert!(store
        .cas_schedule(cas("t", None, Some("t1"), None))
        .await
        .unwrap());
    assert_eq!(store.list_schedules().await.unwrap(), ["v2", "t1"], "by id");
    store
        .put_run("schedule:s", "r1", 1, "{}", 10)
        .await
        .unwrap();
    assert!(store
        .cas_schedule(cas("s", Some("v2"), None, None))
        .await
        .unwrap());
    assert_eq!(store.get_schedule("s").await.unwrap(), None);
    assert!(
        store.runs("schedule:s", 10).await.unwrap().is_empty(),
        "its runs went with it"
    );
    assert!(store
        .cas_schedule(cas("t", Some("t1"), None, None))
        .await
        .unwrap());
}

pub async fn hooks_are_kept_counted_and_deleted(store: &dyn WorkflowStore) {
    assert_eq!(
        store.put_hook("h", "H1", true).await.unwrap(),
        Written::Done
    );
    assert_eq!(
        store.put_hook("h", "X", true).await.unwrap(),
        Written::Exists
    );
    assert_eq!(
        store.put_hook("nope", "X", false).await.unwrap(),
        Written::Missing
    );
    assert_eq!(
        store.put_hook("h", "H2", false).await.unwrap(),
        Written::Done
    );
    assert_eq!(store.get_hook("h").await.unwrap().as_deref(), Some("H2"));
    assert_eq!(store.put_hook("g", "G", true).await.unwrap(), Written::Done);
    assert_eq!(store.list_hooks().await.unwrap(), ["G", "H2"]);
    assert_eq!(store.deliveries("h").await.unwrap(), (0, None));
    store.count_delivery("h", 100).await.unwrap();
    store.count_delivery("h", 200).await.unwrap();
    assert_eq!(store.deliveries("h").await.unwrap(), (2, Some(200)));
    store.put_run("hook:h", "r", 1, "{}", 10).await.unwrap();
    assert!(store.delete_hook("h").await.unwrap());
    assert!(!store.delete_hook("h").await.unwrap());
    assert_eq!(store.deliveries("h").await.unwrap(), (0, None));
    assert!(store.runs("hook:h", 10).await.unwrap().is_empty());
    assert!(store.delete_hook("g").await.unwrap());
}

pub async fn runs_are_kept_newest_first_and_completed(store: &dyn WorkflowStore) {
    let owner = "schedule:runs";
    for (i, id) in ["r1", "r2", "r3", "r4"].iter().enumerate() {
        let row = format!("{{\"n\":{i}}}");
        store.put_run(owner, id, i as i64, &row, 3).await.unwrap();
    }
    assert_eq!(
        store.runs(owner, 10).await.unwrap(),
        [r#"{"n":3}"#, r#"{"n":2}"#, r#"{"n":1}"#],
        "newest first; the oldest beyond 3 dropped"
    );
    assert_eq!(store.runs(owner, 2).await.unwrap().len(), 2);
    assert!(store
        .update_run(owner, "r2", r#"{"n":"done"}"#)
        .await
        .unwrap());
    assert!(
        !store
            .update_run(owner, "r1", r#"{"n":"late"}"#)
            .await
            .unwrap(),
        "a dropped row stays dropped"
    );
    assert_eq!(store.runs(owner, 10).await.unwrap()[2], r#"{"n":"done"}"#);
    store
        .put_run(owner, "r4", 4, r#"{"n":"again"}"#, 3)
        .await
        .unwrap();
    assert_eq!(
        store.runs(owner, 10).await.unwrap().len(),
        3,
        "same id: replaced"
    );
}
