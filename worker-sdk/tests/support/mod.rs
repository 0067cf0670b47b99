//! A tiny in-process orchestrator for the SDK's tests.
//!
//! It speaks just enough RXON for one worker: it records every request (headers and JSON
//! body) in [`Recorded`], hands out tasks queued with [`FakeOrchestrator::push_task`]
//! (long-polls are held until a task arrives or the hold ends), lets a test put ids into
//! the next heartbeat answer's `cancel_task_ids`, push WebSocket commands, make the next
//! heartbeat answer 404 "not found", make result posts fail with 503, or answer the next
//! registrations with given error statuses.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::{mpsc, Notify};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

pub const TOKEN: &str = "test-secret";

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub headers: HashMap<String, String>,
    pub body: Value,
}

#[derive(Debug, Default, Clone)]
pub struct Recorded {
    /// Every registration request, refused ones included.
    pub register_attempts: usize,
    /// The registrations accepted.
    pub registrations: Vec<Seen>,
    pub heartbeats: Vec<Seen>,
    pub pings: usize,
    pub polls: Vec<HashMap<String, String>>,
    pub results: Vec<Seen>,
    pub events: Vec<Seen>,
    pub ws_connects: usize,
}

#[derive(Default)]
struct State {
    recorded: Mutex<Recorded>,
    tasks: Mutex<VecDeque<Value>>,
    task_added: Notify,
    heartbeat_cancels: Mutex<Vec<String>>,
    ws_clients: Mutex<Vec<mpsc::UnboundedSender<String>>>,
    forget_worker: AtomicUsize,
    failing_results: AtomicUsize,
    /// Statuses the next registrations get, in order, before one is accepted.
    registration_answers: Mutex<VecDeque<u16>>,
}

pub struct FakeOrchestrator {
    pub addr: SocketAddr,
    state: Arc<State>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeOrchestrator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn headers_of(headers: &warp::http::HeaderMap) -> HashMap<String, String> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                v.to_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn authorised(headers: &warp::http::HeaderMap) -> bool {
    headers.get("x-worker-token").and_then(|v| v.to_str().ok()) == Some(TOKEN)
}

fn json_reply(status: StatusCode, body: Value) -> Response {
    warp::reply::with_status(warp::reply::json(&body), status).into_response()
}

fn forbidden() -> Response {
    json_reply(StatusCode::FORBIDDEN, json!({"error": "bad worker token"}))
}

impl FakeOrchestrator {
    pub async fn start() -> Self {
        let state = Arc::new(State::default());
        let with_state = {
            let state = state.clone();
            warp::any().map(move || state.clone())
        };

        let register = warp::path!("_worker" / "workers" / "register")
            .and(warp::post())
            .and(warp::header::headers_cloned())
            .and(warp::body::json())
            .and(with_state.clone())
            .map(
                |headers: warp::http::HeaderMap, body: Value, state: Arc<State>| {
                    state.recorded.lock().unwrap().register_attempts += 1;
                    if let Some(status) = state.registration_answers.lock().unwrap().pop_front() {
                        let status = StatusCode::from_u16(status).expect("a status");
                        return json_reply(
                            status,
                            json!({"error": format!("scripted {}", status.as_u16()), "code": "scripted"}),
                        );
                    }
                    if !authorised(&headers) {
                        return forbidden();
                    }
                    let seen = Seen {
                        headers: headers_of(&headers),
                        body,
                    };
                    state.recorded.lock().unwrap().registrations.push(seen);
                    json_reply(StatusCode::OK, json!({"status": "registered"}))
                },
            );

        let heartbeat = warp::path!("_worker" / "workers" / String)
            .and(warp::patch())
            .and(warp::header::headers_cloned())
            .and(warp::body::bytes())
            .and(with_state.clone())
            .map(
                |_id: String,
                 headers: warp::http::HeaderMap,
                 body: bytes::Bytes,
                 state: Arc<State>| {
                    if !authorised(&headers) {
                        return forbidden();
                    }
                    if body.is_empty() {
                        state.recorded.lock().unwrap().pings += 1;
                        return json_reply(StatusCode::OK, json!({"status": "ttl_refreshed"}));
                    }
                    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    state.recorded.lock().unwrap().heartbeats.push(Seen {
                        headers: headers_of(&headers),
                        body,
                    });
                    if state.forget_worker.load(Ordering::SeqCst) > 0 {
                        state.forget_worker.fetch_sub(1, Ordering::SeqCst);
                        return json_reply(
                            StatusCode::NOT_FOUND,
                            json!({"error": "Worker not found"}),
                        );
                    }
                    let cancels: Vec<String> =
                        std::mem::take(&mut *state.heartbeat_cancels.lock().unwrap());
                    json_reply(
                        StatusCode::OK,
                        json!({"status": "ok", "cancel_task_ids": cancels}),
                    )
                },
            );

        let next = warp::path!("_worker" / "workers" / String / "tasks" / "next")
            .and(warp::get())
            .and(warp::header::headers_cloned())
            .and(warp::query::<HashMap<String, String>>())
            .and(with_state.clone())
            .then(
                |_id: String,
                 headers: warp::http::HeaderMap,
                 query: HashMap<String, String>,
                 state: Arc<State>| async move {
                    if !authorised(&headers) {
                        return forbidden();
                    }
                    let hold = query
                        .get("timeout")
                        .and_then(|t| t.parse::<f64>().ok())
                        .unwrap_or(25.0)
                        .min(25.0);
                    state.recorded.lock().unwrap().polls.push(query);
                    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(hold);
                    loop {
                        let notified = state.task_added.notified();
                        if let Some(task) = state.tasks.lock().unwrap().pop_front() {
                            return json_reply(StatusCode::OK, task);
                        }
                        if tokio::time::timeout_at(deadline, notified).await.is_err() {
                            return warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT)
                                .into_response();
                        }
                    }
                },
            );

        let result = warp::path!("_worker" / "tasks" / "result")
            .and(warp::post())
            .and(warp::header::headers_cloned())
            .and(warp::body::json())
            .and(with_state.clone())
            .map(
                |headers: warp::http::HeaderMap, body: Value, state: Arc<State>| {
                    if !authorised(&headers) {
                        return forbidden();
                    }
                    if state.failing_results.load(Ordering::SeqCst) > 0 {
                        state.failing_results.fetch_sub(1, Ordering::SeqCst);
                        return json_reply(
                            StatusCode::SERVICE_UNAVAILABLE,
                            json!({"error": "try later"}),
                        );
                    }
                    let seen = Seen {
                        headers: headers_of(&headers),
                        body,
                    };
                    state.recorded.lock().unwrap().results.push(seen);
                    json_reply(StatusCode::OK, json!({"status": "accepted"}))
                },
            );

        let events = warp::path!("_worker" / "events")
            .and(warp::post())
            .and(warp::header::headers_cloned())
            .and(warp::body::json())
            .and(with_state.clone())
            .map(
                |headers: warp::http::HeaderMap, body: Value, state: Arc<State>| {
                    if !authorised(&headers) {
                        return forbidden();
                    }
                    let seen = Seen {
                        headers: headers_of(&headers),
                        body,
                    };
                    state.recorded.lock().unwrap().events.push(seen);
                    json_reply(StatusCode::OK, json!({"status": "event_accepted"}))
                },
            );

        let ws = warp::path!("_worker" / "ws" / String)
            .and(warp::header::headers_cloned())
            .and(warp::ws())
            .and(with_state.clone())
            .map(
                |_id: String,
                 headers: warp::http::HeaderMap,
                 ws: warp::ws::Ws,
                 state: Arc<State>| {
                    if !authorised(&headers) {
                        return forbidden();
                    }
                    ws.on_upgrade(move |socket| async move {
                        let (mut tx, mut rx) = socket.split();
                        let (commands, mut queued) = mpsc::unbounded_channel::<String>();
                        state.ws_clients.lock().unwrap().push(commands);
                        state.recorded.lock().unwrap().ws_connects += 1;
                        loop {
                            tokio::select! {
                                command = queued.recv() => match command {
                                    Some(text) => {
                                        if tx.send(warp::ws::Message::text(text)).await.is_err() {
                                            break;
                                        }
                                    }
                                    None => break,
                                },
                                incoming = rx.next() => match incoming {
                                    Some(Ok(msg)) if !msg.is_close() => {}
                                    _ => break,
                                },
                            }
                        }
                    })
                    .into_response()
                },
            );

        let routes = register
            .or(heartbeat)
            .unify()
            .or(next)
            .unify()
            .or(result)
            .unify()
            .or(events)
            .unify()
            .or(ws)
            .unify();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(warp::serve(routes).incoming(listener).run());
        FakeOrchestrator {
            addr,
            state,
            server,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn recorded(&self) -> Recorded {
        self.state.recorded.lock().unwrap().clone()
    }

    pub fn push_task(&self, task: Value) {
        self.state.tasks.lock().unwrap().push_back(task);
        self.state.task_added.notify_waiters();
    }

    pub fn cancel_on_next_heartbeat(&self, task_id: &str) {
        self.state
            .heartbeat_cancels
            .lock()
            .unwrap()
            .push(task_id.to_string());
    }

    /// Sends a text frame to every connected worker socket; how many got it.
    pub fn send_ws(&self, text: &str) -> usize {
        let clients = self.state.ws_clients.lock().unwrap();
        clients
            .iter()
            .filter(|c| c.send(text.to_string()).is_ok())
            .count()
    }

    pub fn forget_worker_on_next_heartbeat(&self) {
        self.state.forget_worker.store(1, Ordering::SeqCst);
    }

    /// The next registrations are answered with `statuses`, one each, in order.
    pub fn answer_next_registrations(&self, statuses: &[u16]) {
        self.state
            .registration_answers
            .lock()
            .unwrap()
            .extend(statuses.iter().copied());
    }

    pub fn fail_next_results(&self, n: usize) {
        self.state.failing_results.store(n, Ordering::SeqCst);
    }

    /// Waits (up to 10 s) until `check` holds for what was recorded; panics otherwise.
    pub async fn wait_for<T>(&self, what: &str, check: impl Fn(&Recorded) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(found) = check(&self.recorded()) {
                return found;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what}; recorded: {:#?}",
                    self.recorded()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The result posted for `task_id`, once there is one.
    pub async fn result_for(&self, task_id: &str) -> Value {
        self.wait_for(&format!("result of {task_id}"), |r| {
            r.results
                .iter()
                .find(|s| s.body["task_id"] == task_id)
                .map(|s| s.body.clone())
        })
        .await
    }
}

pub fn task(task_id: &str, skill: &str, params: Value) -> Value {
    json!({
        "job_id": format!("job-{task_id}"),
        "task_id": task_id,
        "type": skill,
        "params": params,
        "priority": 0,
        "step": 1,
        "timestamp": 1795434814,
        "tracing_context": {},
        "metadata": {"trace": "t1"},
        "attempt": 1
    })
}
