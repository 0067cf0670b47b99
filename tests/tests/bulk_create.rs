//! `POST /api/{version}/{endpoint}/batch` on both stores: many jobs in one request, each
//! item checked on its own (a bad one gets its error in its place, the others are
//! created), every created job runs to its end with its own data, ids in request order;
//! bad batches (not a list, empty, over BATON_MAX_BATCH_JOBS, unknown blueprint, no
//! token) are refused as a whole and create nothing.

use baton_tests::backend::{start, Backend};
use baton_tests::orchestrator::test_config;
use baton_tests::workers::echo;
use baton_tests::{on_both_stores, Client};
use serde_json::{json, Value};
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

async fn listed(client: &Client) -> usize {
    let (s, page) = client.get("/api/v1/jobs?limit=500").await;
    assert_eq!(s, 200, "{page}");
    page["jobs"].as_array().map_or(0, Vec::len)
}

async fn a_batch_creates_each_good_item(backend: Backend) {
    let mut cfg = test_config();
    cfg.max_batch_jobs = 300;
    let (orch, client, _) = start(backend, cfg, "bulk").await;
    let mut items: Vec<Value> = (0..250)
        .map(|i| json!({"initial_data": {"n": i}}))
        .collect();
    // Two bad items among them: not an object, an unknown field.
    items[7] = json!("not a job");
    items[180] = json!({"initial_data": {"n": 180}, "priority": 5});
    let (s, answer) = client
        .post("/api/v1/jobs/echo/batch", json!({"jobs": items}))
        .await;
    assert_eq!(s, 200, "{answer}");
    assert_eq!(
        (answer["accepted"].as_u64(), answer["rejected"].as_u64()),
        (Some(248), Some(2))
    );
    let rows = answer["jobs"].as_array().expect("jobs");
    assert_eq!(rows.len(), 250, "one row per item, in order");
    for bad in [7, 180] {
        assert_eq!(rows[bad]["status"], "error", "{}", rows[bad]);
        assert_eq!(rows[bad]["code"], "bad_request", "{}", rows[bad]);
        assert!(rows[bad]["job_id"].is_null());
    }
    assert!(rows[180]["error"]
        .as_str()
        .is_some_and(|e| e.contains("priority")));

    // Every accepted job runs, with its own item's data, to its end.
    let worker = echo(&orch.base_url, "bulk-echo-1");
    for (i, row) in rows.iter().enumerate() {
        if i == 7 || i == 180 {
            continue;
        }
        assert_eq!(row["status"], "accepted", "{row}");
        let id = row["job_id"].as_str().expect("job_id");
        let job = client.wait_status(id, "finished", T).await;
        assert_eq!(job["result"]["n"], i, "job {i} got its own item: {job}");
    }
    assert_eq!(listed(&client).await, 248, "nothing else was created");
    worker.shutdown().await.ok();
    orch.stop().await;
}

async fn bad_batches_create_nothing(backend: Backend) {
    let mut cfg = test_config();
    cfg.max_batch_jobs = 3;
    let (orch, client, _) = start(backend, cfg, "bulk-bad").await;
    let one = json!({"initial_data": {}});
    for (body, status, says) in [
        (json!({"jobs": []}), 400, "1 to 3"),
        (json!({"jobs": [one, one, one, one]}), 400, "not 4"),
        (json!({"jobs": {"a": 1}}), 400, "list"),
        (json!([one]), 400, "jobs"),
        (json!({"jobs": [one], "extra": 1}), 400, "extra"),
    ] {
        let (s, e) = client.post("/api/v1/jobs/echo/batch", body).await;
        assert_eq!(s, status, "{e}");
        assert_eq!(e["code"], "bad_request", "{e}");
        assert!(e["error"].as_str().is_some_and(|m| m.contains(says)), "{e}");
    }
    let (s, e) = client
        .post("/api/v1/jobs/nothing-here/batch", json!({"jobs": [one]}))
        .await;
    assert_eq!((s, e["code"].as_str()), (404, Some("not_found")), "{e}");
    let stranger = Client::with_token(&orch.base_url, "not-a-token");
    let (s, e) = stranger
        .post("/api/v1/jobs/echo/batch", json!({"jobs": [one]}))
        .await;
    assert_eq!(s, 401, "{e}");
    assert_eq!(listed(&client).await, 0, "no job was created");
    // Within the limit it works.
    let (s, ok) = client
        .post("/api/v1/jobs/echo/batch", json!({"jobs": [one, one, one]}))
        .await;
    assert_eq!((s, ok["accepted"].as_u64()), (200, Some(3)), "{ok}");
    orch.stop().await;
}

on_both_stores!(a_batch_creates_each_good_item, bad_batches_create_nothing);
