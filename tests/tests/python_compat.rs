//! The PyPI `avtomatika-worker` 1.0b19 SDK (with `rxon` 1.0b15), unchanged, against Baton.
//!
//! The test makes the virtualenv it needs (`python3 -m venv` + `pip install -r
//! tests/python/requirements.txt`) unless `BATON_PY_VENV` points at one that has the
//! packages; the venv is reused across runs.

use baton_tests::orchestrator::{test_config, WORKER_TOKEN};
use baton_tests::python::{python_dir, venv};
use baton_tests::{init_tracing, shared_redis, unique_prefix, Client, Orchestrator};
use serde_json::json;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(30);

struct PythonWorker(Child);

impl Drop for PythonWorker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_python_worker(
    venv: &Path,
    base_url: &str,
    worker_id: &str,
    marker: &Path,
) -> PythonWorker {
    let child = Command::new(venv.join("bin/python"))
        .arg(python_dir().join("compat_worker.py"))
        .env("ORCHESTRATOR_URL", base_url)
        .env("WORKER_TOKEN", WORKER_TOKEN)
        .env("WORKER_ID", worker_id)
        .env("WORKER_ENABLE_WEBSOCKETS", "true")
        .env("HEARTBEAT_INTERVAL", "1")
        .env("TASK_POLL_TIMEOUT", "5")
        .env("RESULT_RETRY_INITIAL_DELAY", "0.2")
        .env("COMPAT_MARKER_FILE", marker)
        .env(
            "TASK_FILES_DIR",
            std::env::temp_dir().join("baton-compat-payloads"),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python worker starts");
    PythonWorker(child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_registers_completes_jobs_and_is_cancelled() {
    init_tracing();
    let venv = tokio::task::spawn_blocking(venv).await.expect("venv");
    let mut cfg = test_config();
    cfg.max_retries = 1;
    let orch = Orchestrator::redis(cfg, &shared_redis().url(), &unique_prefix("python")).await;
    let client = Client::new(&orch.base_url);
    let marker = std::env::temp_dir().join(format!("baton-compat-{}", uuid::Uuid::new_v4()));
    let _worker = start_python_worker(&venv, &orch.base_url, "py-worker-1", &marker);

    // Registration, with its signature verified and WebSocket support noticed.
    let deadline = Instant::now() + T;
    let registered = loop {
        let (_, workers) = client.get("/api/v1/workers").await;
        let found = workers
            .as_array()
            .and_then(|a| a.iter().find(|w| w["worker_id"] == "py-worker-1").cloned());
        if let Some(w) = found.filter(|w| w["websocket"] == true) {
            break w;
        }
        assert!(
            Instant::now() < deadline,
            "python worker never registered with a WebSocket: {workers}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(registered["skills"], json!(["echo"]));
    assert_eq!(registered["worker_type"], "python-compat");

    // A job completes, with a progress event on the way.
    let id = client
        .create_echo(json!({"msg": "from rust", "progress": true}))
        .await;
    let job = client.wait_status(&id, "finished", T).await;
    assert_eq!(
        job["result"],
        json!({"echo": {"msg": "from rust", "progress": true}, "worker": "python"})
    );
    assert_eq!(job["progress"], json!(0.5));
    assert_eq!(job["progress_message"], "python halfway");

    // An exception is a transient failure: retried (max_retries = 1), then quarantined.
    let boom = client.create_echo(json!({"boom": true})).await;
    let job = client.wait_status(&boom, "quarantined", T).await;
    assert_eq!(job["error"]["code"], "TRANSIENT_ERROR", "{job}");
    assert!(
        job["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("boom"),
        "{job}"
    );

    // Cancel reaches the running Python task over the WebSocket.
    let slow = client.create_echo(json!({"sleep": 30})).await;
    let running = client.wait_status(&slow, "running", T).await;
    let task_id = running["tasks"][0]["task_id"]
        .as_str()
        .expect("task")
        .to_string();
    let (status, body) = client.cancel(&slow).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("cancellation_request_sent")),
        "{body}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(&marker).unwrap_or_default();
        if text.contains(&format!("cancelled {task_id}")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the python task was not cancelled; marker: {text:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Its late `cancelled` result does not revive the job, and the worker keeps working.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(client.job(&slow).await["status"], "cancelled");
    let after = client.create_echo(json!({"n": 2})).await;
    assert_eq!(
        client.wait_status(&after, "finished", T).await["result"]["echo"],
        json!({"n": 2})
    );
    let _ = std::fs::remove_file(&marker);
    orch.stop().await;
}
