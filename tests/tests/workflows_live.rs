//! `/ws/executions`: live updates of executions over a WebSocket, on both stores, and
//! across two orchestrators on one Redis (logged in and executed on one, followed on
//! the other); a bad token closes with 4001; bad messages get `error` and the socket
//! stays open.

use baton_tests::backend::{start, Backend};
use baton_tests::workflows::{config, workflow_worker, Api};
use baton_tests::{on_both_stores, shared_redis, Orchestrator};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(base_url: &str, token: &str) -> Socket {
    let url = format!(
        "{}/ws/executions?token={token}",
        base_url.replace("http://", "ws://")
    );
    let (socket, resp) = tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket upgrade");
    assert_eq!(resp.status().as_u16(), 101);
    socket
}

/// The next JSON message (5 s at most).
async fn next(socket: &mut Socket) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a message within 5 s")
            .expect("socket open")
            .expect("a frame");
        match frame {
            Message::Text(t) => return serde_json::from_str(t.as_str()).expect("JSON"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

async fn say(socket: &mut Socket, msg: Value) {
    socket
        .send(Message::text(msg.to_string()))
        .await
        .expect("sent");
}

fn slow_workflow() -> Value {
    json!({"id": "live", "name": "Live", "steps": [
        {"id": "first", "type": "shell", "params": {"command": "sleep 0.5; echo one"}, "outputs": ["one"]},
        {"id": "second", "type": "transform", "depends_on": ["first"], "params": {"pick": ["one"]}}]})
}

/// Subscribes on `socket` to an execution started on `runner` and follows it to its
/// end: status, log and metrics messages as it moves.
async fn follow(socket: &mut Socket, runner: &Api) {
    let connected = next(socket).await;
    assert_eq!(
        connected,
        json!({"type": "connected", "message": "Connected to execution updates"})
    );
    say(socket, json!({"type": "ping"})).await;
    assert_eq!(next(socket).await, json!({"type": "pong"}));
    let created = runner
        .call("POST", "/v1/workflows", Some(slow_workflow()))
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let started = runner
        .call("POST", "/v1/workflows/live/execute", None)
        .await;
    let id = started.body["execution_id"].as_str().unwrap().to_string();
    say(
        socket,
        json!({"type": "subscribe", "execution_ids": [id, "ghost"]}),
    )
    .await;
    assert_eq!(
        next(socket).await,
        json!({"type": "subscribed", "execution_ids": [id]})
    );
    let first = next(socket).await;
    assert_eq!(first["type"], "execution_status", "{first}");
    assert_eq!(first["execution_id"], id.as_str());
    assert_eq!(next(socket).await["type"], "execution_metrics");
    let ghost = next(socket).await;
    assert_eq!(ghost["type"], "error", "{ghost}");
    assert_eq!(ghost["execution_id"], "ghost");
    assert_eq!(ghost["error_code"], "NOT_FOUND");

    let mut statuses = vec![first["status"].as_str().unwrap().to_string()];
    let mut logs = Vec::new();
    let mut metrics = Vec::new();
    while statuses.last().map(String::as_str) != Some("completed") {
        let m = next(socket).await;
        assert_eq!(m["execution_id"], id.as_str(), "{m}");
        match m["type"].as_str().unwrap() {
            "execution_status" => statuses.push(m["status"].as_str().unwrap().to_string()),
            "execution_log" => logs.push(m),
            "execution_metrics" => metrics.push(m),
            other => panic!("unexpected {other}: {m}"),
        }
    }
    assert!(
        logs.iter().any(|l| l["message"]
            .as_str()
            .is_some_and(|t| t.starts_with("task finished (step first)"))),
        "the first step's end was logged live: {logs:?}"
    );
    assert!(
        logs.iter()
            .any(|l| l["message"] == "job finished" && l["level"] == "info"),
        "{logs:?}"
    );
    let last = metrics.last().expect("metrics moved");
    assert_eq!(last["metrics"]["steps_completed"], 2, "{last}");
    // Nothing is sent twice: every log entry once.
    let mut seen: Vec<String> = logs.iter().map(|l| l.to_string()).collect();
    seen.dedup();
    assert_eq!(seen.len(), logs.len());

    // A bad message gets an error and the socket stays usable.
    say(socket, json!({"type": "teleport"})).await;
    assert_eq!(next(socket).await["type"], "error");
    socket.send(Message::text("not json")).await.unwrap();
    assert_eq!(next(socket).await["type"], "error");
    say(
        socket,
        json!({"type": "unsubscribe", "execution_ids": [id]}),
    )
    .await;
    assert_eq!(next(socket).await["type"], "unsubscribed");
    say(socket, json!({"type": "ping"})).await;
    assert_eq!(next(socket).await, json!({"type": "pong"}));
}

async fn executions_are_followed_live(backend: Backend) {
    let (orch, _, _) = start(backend, config(), "wf-live").await;
    let worker = workflow_worker(&orch.base_url, "wf-live-w");
    let mut api = Api::new(&orch.base_url);
    assert_eq!(api.login("admin", "demo").await.status, 200);
    let mut socket = connect(&orch.base_url, api.token.as_deref().unwrap()).await;
    follow(&mut socket, &api).await;
    worker.shutdown().await.ok();
    orch.stop().await;
}

async fn a_bad_token_closes_with_4001(backend: Backend) {
    let (orch, _, _) = start(backend, config(), "wf-live-bad").await;
    for token in ["", "forged.token.value"] {
        let mut socket = connect(&orch.base_url, token).await;
        let frame = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("closed within 5 s")
            .expect("a frame")
            .expect("a close frame");
        match frame {
            Message::Close(Some(close)) => {
                assert_eq!(close.code, CloseCode::Library(4001), "{close:?}")
            }
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
    // Not an upgrade: the face's envelope.
    let plain = reqwest::get(format!("{}/ws/executions", orch.base_url))
        .await
        .unwrap();
    assert_eq!(plain.status().as_u16(), 400);
    let body: Value = plain.json().await.unwrap();
    assert!(body["error"]["error_code"].is_string(), "{body}");
    orch.stop().await;
}

/// The client of docs/workflows.md (`scripts/follow-executions.py`, Python's standard
/// library only) follows an execution to its end, and says so on a bad token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_client_follows_an_execution_to_its_end() {
    baton_tests::init_tracing();
    let orch = Orchestrator::memory(config()).await;
    let worker = workflow_worker(&orch.base_url, "wf-live-py");
    let mut api = Api::new(&orch.base_url);
    assert_eq!(api.login("admin", "demo").await.status, 200);
    let token = api.token.clone().unwrap();
    assert_eq!(
        api.call("POST", "/v1/workflows", Some(slow_workflow()))
            .await
            .status,
        200
    );
    let started = api.call("POST", "/v1/workflows/live/execute", None).await;
    let id = started.body["execution_id"].as_str().unwrap().to_string();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/follow-executions.py"
    );
    let run = |token: String| {
        let (base, id) = (orch.base_url.clone(), id.clone());
        tokio::time::timeout(
            Duration::from_secs(30),
            tokio::process::Command::new("python3")
                .args([script, &base, &token, &id])
                .output(),
        )
    };
    let out = run(token)
        .await
        .expect("ended in time")
        .expect("python3 ran");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let last: Value = serde_json::from_str(text.lines().last().unwrap_or("")).unwrap();
    assert_eq!(
        (last["type"].as_str(), last["status"].as_str()),
        (Some("execution_status"), Some("completed")),
        "{text}"
    );
    let bad = run("forged".into()).await.expect("ended").expect("ran");
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stdout).contains("4001"));
    worker.shutdown().await.ok();
    orch.stop().await;
}

on_both_stores!(executions_are_followed_live, a_bad_token_closes_with_4001);

/// Logged in and executed on one orchestrator, followed on another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_execution_on_one_orchestrator_is_followed_on_another() {
    baton_tests::init_tracing();
    let prefix = baton_tests::unique_prefix("wf-live-two");
    let url = shared_redis().url();
    let a = Orchestrator::redis(config(), &url, &prefix).await;
    let b = Orchestrator::redis(config(), &url, &prefix).await;
    let worker = workflow_worker(&a.base_url, "wf-live-on-a");
    let mut on_a = Api::new(&a.base_url);
    assert_eq!(on_a.login("admin", "demo").await.status, 200);
    let mut socket = connect(&b.base_url, on_a.token.as_deref().unwrap()).await;
    follow(&mut socket, &on_a).await;
    worker.shutdown().await.ok();
    a.stop().await;
    b.stop().await;
}
