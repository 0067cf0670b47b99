//! `GET /api/v1/jobs` and `GET /api/v1/stats/timeline` on both stores: a client lists its
//! own jobs, the admin token (`BATON_ADMIN_TOKEN`) every client's; filters by status,
//! blueprint, client, time and id text; pages by cursor, each job once; the admin acting
//! on another client's job; bad parameters answered 400 (403 for another client's jobs);
//! a pending job whose skill has no worker says so; the live stream of a job and the counts.

use baton_tests::backend::{start, Backend};
use baton_tests::orchestrator::test_config;
use baton_tests::workers::echo;
use baton_tests::{on_both_stores, Client};
use serde_json::{json, Value};
use std::time::Duration;

const ADMIN: &str = "admin-secret-token";

fn ids(page: &Value) -> Vec<String> {
    page["jobs"]
        .as_array()
        .unwrap_or_else(|| panic!("a page: {page}"))
        .iter()
        .map(|j| j["id"].as_str().unwrap().to_string())
        .collect()
}

async fn jobs_are_listed_with_filters_and_pages(backend: Backend) {
    let clients = std::env::temp_dir().join(format!("baton-clients-{}.yaml", uuid::Uuid::new_v4()));
    std::fs::write(
        &clients,
        "clients:\n  - {name: alice, token: alice-token}\n  - {name: bob, token: bob-token}\n",
    )
    .unwrap();
    let mut cfg = test_config();
    cfg.clients_file = Some(clients.clone());
    cfg.admin_token = Some(ADMIN.into());
    let (orch, _, _) = start(backend, cfg, "jobs-list").await;
    let alice = Client::with_token(&orch.base_url, "alice-token");
    let bob = Client::with_token(&orch.base_url, "bob-token");
    let admin = Client::with_token(&orch.base_url, ADMIN);
    let mut alice_jobs = Vec::new();
    for i in 0..7 {
        alice_jobs.push(alice.create_echo(json!({"n": i})).await);
        // Distinct creation times, for the time filter below.
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let bob_job = bob.create_echo(json!({"n": 99})).await;

    // A client sees its own jobs, newest first.
    let (s, page) = alice.get("/api/v1/jobs").await;
    assert_eq!(s, 200, "{page}");
    let mut newest_first = alice_jobs.clone();
    newest_first.reverse();
    assert_eq!(ids(&page), newest_first);
    assert!(page["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .all(|j| j["client"] == "alice"));
    assert_eq!(page["jobs"][0]["blueprint_name"], "echo");
    assert_eq!(page["jobs"][0]["status"], "pending", "no worker yet");
    let (s, b) = alice.get("/api/v1/jobs?client=bob").await;
    assert_eq!(s, 403, "{b}");
    // No worker has the skill yet: the job view says so.
    let view = alice.job(&alice_jobs[0]).await;
    assert!(
        view["hint"]
            .as_str()
            .is_some_and(|h| h.contains("no worker with skill `echo`")),
        "{view}"
    );

    // The admin sees everyone's, and filters by client.
    let (_, all) = admin.get("/api/v1/jobs?limit=500").await;
    assert_eq!(ids(&all).len(), 8);
    assert_eq!(ids(&all)[0], bob_job);
    let (_, only_bob) = admin.get("/api/v1/jobs?client=bob").await;
    assert_eq!(ids(&only_bob), std::slice::from_ref(&bob_job));
    let (s, view) = admin.get(&format!("/api/v1/jobs/{bob_job}")).await;
    assert_eq!(
        (s, view["id"].as_str()),
        (200, Some(bob_job.as_str())),
        "the admin reads any job"
    );

    // Pages of 3 by cursor: every job once.
    let mut seen = Vec::new();
    let mut path = "/api/v1/jobs?limit=3".to_string();
    loop {
        let (s, page) = alice.get(&path).await;
        assert_eq!(s, 200, "{page}");
        assert!(ids(&page).len() <= 3);
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/jobs?limit=3&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, newest_first);

    // Status, blueprint, id text and time filters.
    let worker = echo(&orch.base_url, "list-w");
    for id in &alice_jobs[..3] {
        alice
            .wait_status(id, "finished", Duration::from_secs(10))
            .await;
    }
    let (_, finished) = alice.get("/api/v1/jobs?status=finished").await;
    assert_eq!(ids(&finished).len(), 7, "all ran: {finished}");
    let (_, none) = alice.get("/api/v1/jobs?status=cancelled").await;
    assert!(ids(&none).is_empty());
    let (_, by_bp) = admin.get("/api/v1/jobs?blueprint=echo&limit=500").await;
    assert_eq!(ids(&by_bp).len(), 8);
    let needle = &alice_jobs[4][..8];
    let (_, found) = alice.get(&format!("/api/v1/jobs?q={needle}")).await;
    assert_eq!(ids(&found), [alice_jobs[4].clone()]);
    let created = all["jobs"][7]["created_at"].as_str().unwrap().to_string();
    let (_, upto) = admin.get(&format!("/api/v1/jobs?to={created}")).await;
    assert_eq!(
        ids(&upto),
        [alice_jobs[0].clone()],
        "created at or before the first: {upto}"
    );
    let (_, after) = admin.get("/api/v1/jobs?from=4102444800000").await;
    assert!(ids(&after).is_empty(), "nothing created in 2100");

    // The timeline: the admin's; the jobs counted in this minute.
    let (s, tl) = admin.get("/api/v1/stats/timeline?minutes=5").await;
    assert_eq!(s, 200, "{tl}");
    let buckets = tl["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 5);
    let created: u64 = buckets.iter().map(|b| b["created"].as_u64().unwrap()).sum();
    let finished: u64 = buckets
        .iter()
        .map(|b| b["finished"].as_u64().unwrap())
        .sum();
    assert_eq!((created, finished), (8, 8), "{tl}");
    assert_eq!(alice.get("/api/v1/stats/timeline").await.0, 403);

    // Bad parameters.
    for bad in [
        "status=sleeping",
        "limit=0",
        "limit=501",
        "cursor=nonsense",
        "from=yesterday",
        "colour=red",
    ] {
        let (s, b) = alice.get(&format!("/api/v1/jobs?{bad}")).await;
        assert_eq!(s, 400, "{bad}: {b}");
        assert!(
            b["error"].is_string() || b["error"]["message"].is_string() || b["message"].is_string(),
            "{b}"
        );
    }
    assert_eq!(admin.get("/api/v1/stats/timeline?minutes=0").await.0, 400);
    assert_eq!(
        Client::with_token(&orch.base_url, "nope")
            .get("/api/v1/jobs")
            .await
            .0,
        401
    );
    worker.shutdown().await.ok();
    orch.stop().await;
    std::fs::remove_file(&clients).ok();
}

/// The admin token acts on any client's job.
async fn the_admin_cancels_another_clients_job(backend: Backend) {
    let mut cfg = test_config();
    cfg.admin_token = Some(ADMIN.into());
    let (orch, client, _) = start(backend, cfg, "jobs-admin").await;
    let id = client.create_echo(json!({"n": 1})).await;
    let admin = Client::with_token(&orch.base_url, ADMIN);
    let (s, b) = admin
        .post(&format!("/api/v1/jobs/{id}/cancel"), json!({}))
        .await;
    assert_eq!(s, 200, "{b}");
    client
        .wait_status(&id, "cancelled", Duration::from_secs(10))
        .await;
    orch.stop().await;
}

/// Reads server-sent events from `resp` until one named `name` satisfies `done`.
async fn until_event(
    resp: &mut reqwest::Response,
    name: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let mut buf = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        // Complete events end with a blank line.
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let field = |f: &str| {
                block
                    .lines()
                    .find_map(|l| l.strip_prefix(f).map(|v| v.trim().to_string()))
            };
            if field("event:").as_deref() == Some(name) {
                let data: Value = serde_json::from_str(&field("data:").unwrap_or_default())
                    .unwrap_or_else(|e| panic!("{name} event: {e}: {block}"));
                if done(&data) {
                    return data;
                }
            }
        }
        let chunk = tokio::time::timeout_at(deadline, resp.chunk())
            .await
            .unwrap_or_else(|_| panic!("no {name} event in time; last: {buf}"))
            .expect("stream read")
            .expect("the stream stays open");
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
}

/// `GET /api/v1/stream`: a page follows a job to its end and the counts as they change;
/// a bad token or another client's job is refused before the stream starts.
async fn a_page_follows_a_job_live(backend: Backend) {
    let (orch, client, _) = start(backend, test_config(), "jobs-stream").await;
    let id = client.create_echo(json!({"n": 1})).await;
    let url =
        |token: &str, job: &str| format!("{}/api/v1/stream?token={token}&job={job}", orch.base_url);
    let mut resp = reqwest::get(url(baton_tests::orchestrator::CLIENT_TOKEN, &id))
        .await
        .expect("stream opened");
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let first = until_event(&mut resp, "job", |_| true).await;
    assert_eq!(
        (first["id"].as_str(), first["status"].as_str()),
        (Some(id.as_str()), Some("pending"))
    );
    let counts = until_event(&mut resp, "counts", |_| true).await;
    assert_eq!(counts["jobs"]["pending"], 1, "{counts}");
    // A worker comes: the page sees the job finish without asking again.
    let worker = echo(&orch.base_url, "stream-w");
    let last = until_event(&mut resp, "job", |v| v["status"] == "finished").await;
    assert_eq!(last["result"]["n"], 1, "{last}");
    until_event(&mut resp, "counts", |v| v["jobs"]["finished"] == 1).await;
    drop(resp);

    let refused = reqwest::get(url("nope", &id)).await.unwrap();
    assert_eq!(refused.status(), 401);
    let missing = reqwest::get(url(baton_tests::orchestrator::CLIENT_TOKEN, "no-such-job"))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    worker.shutdown().await.ok();
    orch.stop().await;
}

on_both_stores!(
    jobs_are_listed_with_filters_and_pages,
    the_admin_cancels_another_clients_job,
    a_page_follows_a_job_live,
);
