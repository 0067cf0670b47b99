//! Operator views and debug endpoints, on the embedded store and on Redis: the oldest
//! queued task's age in the dashboard and metrics, a client's quarantined jobs, and the
//! flush debug endpoint (off by default).

use ::redis::AsyncCommands;
use baton_orchestrator::config::Config;
use baton_tests::backend::{start, Backend};
use baton_tests::orchestrator::test_config;
use baton_tests::{shared_redis, unique_prefix, workers, Client};
use serde_json::{json, Value};
use std::time::Duration;

baton_tests::on_both_stores!(
    dashboard_and_metrics_show_the_oldest_task_age,
    quarantined_jobs_are_listed_for_their_owner_only,
    flush_db_does_not_exist_unless_enabled,
    flush_db_deletes_everything_under_the_prefix,
);

const T: Duration = Duration::from_secs(15);
const OTHER_TOKEN: &str = "other-client-token";

async fn dashboard_and_metrics_show_the_oldest_task_age(backend: Backend) {
    let (orch, client, _) = start(backend, test_config(), "oldest").await;
    // No worker: the tasks stay queued.
    client.create_echo(json!({"n": 1})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    client.create_echo(json!({"n": 2})).await;
    let (status, dash) = client.get("/api/v1/dashboard").await;
    assert_eq!(status, 200, "{dash}");
    let echo = &dash["queues"]["echo"];
    assert_eq!(echo["depth"], 2, "{dash}");
    let age = echo["oldest_task_age_seconds"].as_f64().expect("an age");
    assert!((0.3..30.0).contains(&age), "the first task's age: {age}");
    assert_eq!(age, (age * 1000.0).round() / 1000.0, "ms precision: {age}");
    let (_, metrics) = client.get("/_public/metrics").await;
    let text = metrics.as_str().unwrap_or_default();
    assert!(
        text.contains("baton_queue_depth{skill=\"echo\"} 2"),
        "{text}"
    );
    let gauge = text
        .lines()
        .find_map(|l| l.strip_prefix("baton_queue_oldest_task_age_seconds{skill=\"echo\"} "))
        .and_then(|v| v.parse::<f64>().ok())
        .expect("the oldest task age gauge");
    assert!(gauge >= 0.3, "{gauge}");
    // Once a worker empties the queue there is no oldest task.
    let worker = workers::echo(&orch.base_url, "w-oldest");
    let deadline = std::time::Instant::now() + T;
    loop {
        let (_, dash) = client.get("/api/v1/dashboard").await;
        if dash["queues"]["echo"]["depth"] == 0 {
            assert_eq!(
                dash["queues"]["echo"]["oldest_task_age_seconds"],
                Value::Null
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "queue never emptied: {dash}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    worker.shutdown().await.expect("clean shutdown");
    orch.stop().await;
}

/// Test config with a second client (`other`) besides `default`.
fn two_clients_config(name: &str) -> (Config, std::path::PathBuf) {
    let path = std::env::temp_dir().join(format!("{}.yaml", unique_prefix(name)));
    std::fs::write(
        &path,
        format!("clients:\n  - {{name: other, token: \"{OTHER_TOKEN}\"}}\n"),
    )
    .expect("clients file written");
    let cfg = Config {
        clients_file: Some(path.clone()),
        ..test_config()
    };
    (cfg, path)
}

async fn quarantined_jobs_are_listed_for_their_owner_only(backend: Backend) {
    let (cfg, clients_file) = two_clients_config("clients");
    let (orch, client, _) = start(backend, cfg, "quarantined").await;
    let worker = workers::echo(&orch.base_url, "w-quarantine");
    let first = client.create_echo(json!({"fail": "permanent"})).await;
    let fine = client.create_echo(json!({"ok": true})).await;
    client.wait_status(&first, "quarantined", T).await;
    let second = client.create_echo(json!({"fail": "permanent"})).await;
    client.wait_status(&second, "quarantined", T).await;
    client.wait_status(&fine, "finished", T).await;
    let (status, body) = client.get("/_public/jobs/quarantined").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["count"], 2, "{body}");
    let ids: Vec<&str> = body["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .filter_map(|j| j["job_id"].as_str())
        .collect();
    assert_eq!(ids, vec![second.as_str(), first.as_str()], "newest first");
    let job = &body["jobs"][0];
    assert_eq!(job["blueprint_name"], "echo");
    assert_eq!(job["status"], "quarantined");
    assert!(job["state"].is_string(), "{job}");
    assert_eq!(job["error"]["code"], "PERMANENT_ERROR");
    assert!(job["updated_at"].is_string() && job["quarantined_at"].is_string());
    let (_, one) = client.get("/_public/jobs/quarantined?limit=1").await;
    assert_eq!(one["count"], 1);
    assert_eq!(one["jobs"][0]["job_id"], second.as_str());
    for bad in ["0", "1001", "ten", "-3"] {
        let (status, body) = client
            .get(&format!("/_public/jobs/quarantined?limit={bad}"))
            .await;
        assert_eq!(status, 400, "limit={bad}: {body}");
    }
    // Another client sees none of them; no token or an unknown one is refused.
    let other = Client::with_token(&orch.base_url, OTHER_TOKEN);
    let (status, body) = other.get("/_public/jobs/quarantined").await;
    assert_eq!((status, body["count"].clone()), (200, json!(0)), "{body}");
    let unknown = Client::with_token(&orch.base_url, "nobody");
    assert_eq!(unknown.get("/_public/jobs/quarantined").await.0, 401);
    let anonymous = reqwest::get(format!("{}/_public/jobs/quarantined", orch.base_url))
        .await
        .expect("request sent");
    assert_eq!(anonymous.status().as_u16(), 401);
    worker.shutdown().await.expect("clean shutdown");
    orch.stop().await;
    let _ = std::fs::remove_file(clients_file);
}

async fn flush_db_does_not_exist_unless_enabled(backend: Backend) {
    let (orch, client, _) = start(backend, test_config(), "no-flush").await;
    let id = client.create_echo(json!({})).await;
    let unknown = client.post("/_public/debug/no_such_route", json!({})).await;
    assert_eq!(unknown.0, 404);
    assert_eq!(
        client.post("/_public/debug/flush_db", json!({})).await,
        unknown,
        "answered like an unknown route"
    );
    let (status, _) = client.get("/_public/debug/flush_db").await;
    assert_eq!(status, 404, "no 405 either");
    assert_eq!(
        client.job(&id).await["status"],
        "pending",
        "nothing deleted"
    );
    orch.stop().await;
}

async fn flush_db_deletes_everything_under_the_prefix(backend: Backend) {
    let cfg = Config {
        enable_debug_endpoints: true,
        ..test_config()
    };
    let (orch, client, prefix) = start(backend, cfg, "flush").await;
    let foreign = format!("foreign:{prefix}");
    if let Backend::Redis = backend {
        let mut conn = shared_redis().connection().await;
        let _: () = conn.set(&foreign, "not baton's").await.expect("set");
    }
    let id = client.create_echo(json!({})).await;
    assert_eq!(client.job(&id).await["status"], "pending");
    let (status, body) = client.post("/_public/debug/flush_db", json!({})).await;
    assert_eq!((status, body), (200, json!({"status": "db_flushed"})));
    let (status, body) = client.get(&format!("/api/v1/jobs/{id}")).await;
    assert_eq!(status, 404, "{body}");
    let (_, dash) = client.get("/api/v1/dashboard").await;
    assert_eq!(dash["jobs"], json!({}), "{dash}");
    if let Backend::Redis = backend {
        let mut conn = shared_redis().connection().await;
        let kept: Option<String> = conn.get(&foreign).await.expect("get");
        assert_eq!(
            kept.as_deref(),
            Some("not baton's"),
            "keys outside the prefix stay"
        );
    }
    // Baton goes on working after the flush.
    let worker = workers::echo(&orch.base_url, "w-after-flush");
    let again = client.create_echo(json!({"v": 1})).await;
    let job = client.wait_status(&again, "finished", T).await;
    assert_eq!(job["result"]["v"], 1);
    worker.shutdown().await.expect("clean shutdown");
    orch.stop().await;
}
