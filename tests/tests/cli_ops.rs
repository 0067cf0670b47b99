//! The operator CLI (`baton jobs|workers|queues|blueprints`) end to end: the `baton`
//! binary against an orchestrator on Redis, each command's output (tables for people,
//! `--json` parsed here) and its exit status (0 done/finished, 1 refused or unreachable,
//! 2 bad usage, 3 not found, 4 failed/quarantined/cancelled, 5 still running at the
//! timeout).

use baton_tests::backend::{start, Backend};
use baton_tests::orchestrator::test_config;
use baton_tests::process::baton_bin;
use baton_tests::workers::{config, echo, spawn};
use baton_worker::{TaskContext, TaskError, Worker};
use serde_json::{Map, Value};
use std::process::Command;

const ADMIN: &str = "cli-admin-token";

/// What a run of `baton` left: exit status, stdout, stderr.
struct Run {
    code: i32,
    out: String,
    err: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.out)
            .unwrap_or_else(|e| panic!("--json output is JSON ({e}): {}\n{}", self.out, self.err))
    }
}

/// Runs `baton args...` against `url` with `token` (off the async runtime's threads).
async fn baton(url: &str, token: &str, args: &[&str]) -> Run {
    let mut cmd = Command::new(baton_bin());
    cmd.args(args)
        .env("BATON_URL", url)
        .env("BATON_TOKEN", token)
        .env_remove("BATON_ADMIN_TOKEN")
        .env_remove("BATON_CLIENT_TOKEN");
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("baton runs"))
        .await
        .expect("joined");
    Run {
        code: out.status.code().unwrap_or(-1),
        out: String::from_utf8_lossy(&out.stdout).trim().to_string(),
        err: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    }
}

async fn broken_echo(_: Map<String, Value>, _: TaskContext) -> Result<Value, TaskError> {
    Err(TaskError::permanent("a bad release of the echo worker"))
}

#[tokio::test]
async fn operators_drive_jobs_from_the_cli() {
    let mut cfg = test_config();
    cfg.admin_token = Some(ADMIN.into());
    let (orch, client, _) = start(Backend::Redis, cfg, "cli").await;
    let url = orch.base_url.clone();
    macro_rules! run {
        ($args:expr) => {
            baton(&url, ADMIN, $args)
        };
    }

    // A bad release of the worker: the job fails for good (quarantined); the operator sees it in the list.
    let bad = spawn(Worker::builder(config(&url, "cli-bad")).skill("echo", broken_echo));
    let r = baton(
        &url,
        ADMIN,
        &["jobs", "submit", "echo", "message=hi", "n:=3", "--wait"],
    )
    .await;
    assert_eq!(r.code, 4, "a failed job exits 4: {}\n{}", r.out, r.err);
    assert!(
        r.out.contains("a bad release"),
        "the error is shown: {}",
        r.out
    );
    let failed_id = r
        .err
        .split_whitespace()
        .nth(1)
        .expect("`job <id> accepted`")
        .to_string();
    bad.shutdown().await.ok();
    let worker = echo(&url, "cli-echo");

    let r = run!(&["jobs", "list", "--status", "quarantined", "--json"]).await;
    assert_eq!(r.code, 0, "{}", r.err);
    let listed: Vec<String> = r.json()["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .filter_map(|j| j["id"].as_str().map(str::to_string))
        .collect();
    assert_eq!(listed, std::slice::from_ref(&failed_id));
    // The worker is fixed: retry runs the job again, to its end.
    let r = baton(&url, ADMIN, &["jobs", "retry", &failed_id]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.out, r.err);
    let r = baton(
        &url,
        ADMIN,
        &["jobs", "watch", &failed_id, "--timeout", "20"],
    )
    .await;
    assert_eq!(r.code, 0, "finished after the retry: {}\n{}", r.out, r.err);
    assert!(r.out.contains("finished"), "{}", r.out);
    let r = baton(&url, ADMIN, &["jobs", "get", &failed_id, "--json"]).await;
    let view = r.json();
    assert_eq!(
        (view["status"].as_str(), view["run"].as_u64()),
        (Some("finished"), Some(2)),
        "{view}"
    );
    assert_eq!(view["result"]["n"], 3, "key:=json is JSON: {view}");
    assert_eq!(
        view["result"]["message"], "hi",
        "key=value is a string: {view}"
    );

    // Submit prints the id; get shows the job and its history as a table.
    let r = baton(
        &url,
        ADMIN,
        &[
            "jobs",
            "submit",
            "echo",
            "--data",
            r#"{"message": "from json"}"#,
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.err);
    let id = r.out.clone();
    assert_eq!(id.len(), 36, "just the id: {id}");
    let r = baton(&url, ADMIN, &["jobs", "watch", &id]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.out, r.err);
    assert!(r.out.contains(r#"{"message":"from json"}"#), "{}", r.out);
    let r = baton(&url, ADMIN, &["jobs", "get", &id]).await;
    assert_eq!(r.code, 0);
    for expected in [
        "status      finished",
        "history",
        "job_finished",
        "task_dispatched",
        "cli-echo",
    ] {
        assert!(r.out.contains(expected), "{expected} in: {}", r.out);
    }

    // A slow job, cancelled: still running at the timeout (5), then cancelled (4).
    let slow = client
        .create_echo(serde_json::json!({"sleep_ms": 60_000}))
        .await;
    let r = baton(&url, ADMIN, &["jobs", "watch", &slow, "--timeout", "0.5"]).await;
    assert_eq!(r.code, 5, "{}\n{}", r.out, r.err);
    let r = baton(&url, ADMIN, &["jobs", "cancel", &slow]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.out, r.err);
    let r = baton(&url, ADMIN, &["jobs", "watch", &slow, "--timeout", "10"]).await;
    assert_eq!(r.code, 4, "cancelled: {}\n{}", r.out, r.err);

    // Lists: a table, pages, filters.
    let r = run!(&["jobs", "list"]).await;
    assert!(
        r.out.starts_with("ID") && r.out.contains(&failed_id) && r.out.contains(&slow),
        "{}",
        r.out
    );
    let r = run!(&["jobs", "list", "--limit", "1", "--all", "--json"]).await;
    assert_eq!(
        r.json()["jobs"].as_array().map(Vec::len),
        Some(3),
        "every page: {}",
        r.out
    );
    let r = run!(&["jobs", "list", "--limit", "1"]).await;
    assert!(
        r.err.contains("--cursor"),
        "the next page is named: {}",
        r.err
    );
    let r = baton(&url, ADMIN, &["jobs", "list", "--id", &slow[..8], "--json"]).await;
    assert_eq!(r.json()["jobs"][0]["id"], slow.as_str());
    let r = run!(&[
        "jobs",
        "list",
        "--since",
        "1h",
        "--status",
        "cancelled",
        "--json",
    ])
    .await;
    assert_eq!(
        r.json()["jobs"].as_array().map(Vec::len),
        Some(1),
        "{}",
        r.out
    );

    // Workers, queues, blueprints.
    let r = run!(&["workers"]).await;
    assert!(
        r.out.contains("cli-echo") && r.out.contains("echo,sum"),
        "{}",
        r.out
    );
    let r = run!(&["workers", "--json"]).await;
    assert!(r
        .json()
        .as_array()
        .is_some_and(|w| w.iter().any(|w| w["worker_id"] == "cli-echo")));
    let r = run!(&["queues", "--json"]).await;
    assert!(r.json()["echo"]["depth"].is_u64(), "{}", r.out);
    let r = run!(&["queues"]).await;
    assert!(
        r.out.starts_with("SKILL") && r.out.contains("echo"),
        "{}",
        r.out
    );
    let r = run!(&["blueprints", "list"]).await;
    assert!(r.out.contains("/api/v1/jobs/echo"), "{}", r.out);
    let r = run!(&["blueprints", "graph", "echo"]).await;
    assert!(
        r.out.starts_with("digraph \"echo\"") && r.out.contains("\"echo\" -> \"finished\""),
        "{}",
        r.out
    );
    let r = run!(&["blueprints", "graph", "echo", "--json"]).await;
    assert!(r.json()["nodes"].is_array(), "{}", r.out);

    // Mistakes: each its exit status and a message that says what to do.
    let r = run!(&["jobs", "get", "no-such-job"]).await;
    assert_eq!(r.code, 3, "{}", r.err);
    let r = run!(&["jobs", "submit", "no-such-blueprint"]).await;
    assert_eq!(r.code, 3, "{}", r.err);
    assert!(
        r.err.contains("no blueprint `no-such-blueprint`"),
        "{}",
        r.err
    );
    let r = run!(&["jobs", "submit", "echo", "oops"]).await;
    assert_eq!(r.code, 2, "{}", r.err);
    let r = run!(&["jobs", "list", "--status", "sleeping"]).await;
    assert_eq!(r.code, 2, "the orchestrator's 400: {}", r.err);
    assert!(r.err.contains("sleeping"), "{}", r.err);
    let r = run!(&["jobs", "cancel", &failed_id]).await;
    assert_eq!(
        r.code, 2,
        "a finished job is not cancelled (409): {}",
        r.err
    );
    let r = run!(&["jobs", "frobnicate"]).await;
    assert_eq!(r.code, 2, "{}", r.err);
    let r = baton(&url, "wrong-token", &["workers"]).await;
    assert_eq!(r.code, 1);
    assert!(r.err.contains("BATON_TOKEN"), "{}", r.err);
    let r = baton("http://127.0.0.1:9", ADMIN, &["workers"]).await;
    assert_eq!(r.code, 1);
    assert!(r.err.contains("cannot reach"), "{}", r.err);

    worker.shutdown().await.ok();
    orch.stop().await;
}

/// A client token sees its own jobs only; asking for another client's is refused (1).
#[tokio::test]
async fn client_tokens_see_their_own_jobs() {
    let mut cfg = test_config();
    cfg.admin_token = Some(ADMIN.into());
    let (orch, client, _) = start(Backend::Redis, cfg, "cli-client").await;
    let mine = client.create_echo(serde_json::json!({})).await;
    let token = baton_tests::orchestrator::CLIENT_TOKEN;
    let r = baton(&orch.base_url, token, &["jobs", "list", "--json"]).await;
    assert_eq!(r.json()["jobs"][0]["id"], mine.as_str());
    let r = baton(
        &orch.base_url,
        token,
        &["jobs", "list", "--client", "someone-else"],
    )
    .await;
    assert_eq!(r.code, 1, "{}", r.err);
    assert!(r.err.contains("not allowed (403)"), "{}", r.err);
    orch.stop().await;
}
