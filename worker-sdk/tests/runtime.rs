//! The worker runtime against a fake orchestrator (see `support/mod.rs`): registration,
//! polling, results and their signatures, error mapping, cancellation by WebSocket and by
//! heartbeat, the cancel grace, graceful shutdown, kill, re-registration and result retries,
//! and registrations refused with 401/403 ending the worker with an error that says why.

mod support;

use std::time::Duration;

use baton_protocol::signing::{verify, EVENT_UNSIGNED_FIELDS};
use baton_worker::{TaskContext, TaskError, Worker, WorkerBuilder, WorkerConfig, WorkerError};
use serde::Deserialize;
use serde_json::{json, Value};
use support::{task, FakeOrchestrator, TOKEN};
use tokio::sync::mpsc;

fn config(fake: &FakeOrchestrator, worker_id: &str) -> WorkerConfig {
    WorkerConfig::new(fake.url())
        .token(TOKEN)
        .worker_id(worker_id)
        .worker_type("test")
        .heartbeat_interval(Duration::from_millis(300))
        .heartbeat_cooldown(Duration::from_millis(50))
        .task_poll_timeout(Duration::from_secs(2))
        .result_retry_initial_delay(Duration::from_millis(50))
        .shutdown_timeout(Duration::from_secs(5))
        .cancel_grace(Duration::from_secs(5))
}

fn assert_signed(body: &Value, worker_id: &str, ignored: &[&str]) {
    let signature = body["security"]["signature"].as_str().expect("signature");
    assert_eq!(body["security"]["signer_id"], worker_id);
    assert!(
        verify(body, signature, TOKEN, ignored),
        "bad signature on {body}"
    );
    assert!(
        body["timestamp"].is_i64(),
        "timestamp must be an integer: {body}"
    );
}

#[derive(Deserialize)]
struct Greet {
    msg: String,
}

/// A skill that reports when it starts and then waits to be cancelled, telling the test
/// when it saw the cancellation.
fn waiting_skill(builder: WorkerBuilder) -> (WorkerBuilder, mpsc::UnboundedReceiver<&'static str>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let builder = builder.skill("wait", move |_: Value, ctx: TaskContext| {
        let tx = tx.clone();
        async move {
            let _ = tx.send("started");
            ctx.cancelled().await;
            let _ = tx.send("saw-cancel");
            Ok::<_, TaskError>(json!({"stopped": true}))
        }
    });
    (builder, rx)
}

async fn expect(rx: &mut mpsc::UnboundedReceiver<&'static str>, what: &'static str) {
    let got = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await;
    assert_eq!(got.ok().flatten(), Some(what));
}

#[tokio::test]
async fn round_trip_registers_polls_runs_and_posts_a_signed_result() {
    let fake = FakeOrchestrator::start().await;
    let worker = Worker::builder(config(&fake, "w-round").skill_cost("greet", 0.5))
        .skill("greet", |p: Greet, ctx: TaskContext| async move {
            ctx.progress(0.5, "half").await?;
            Ok::<_, TaskError>(
                json!({"echo": p.msg, "attempt": ctx.attempt(), "job": ctx.job_id()}),
            )
        })
        .build()
        .unwrap();
    let handle = worker.spawn();
    assert_eq!(handle.worker_id(), "w-round");
    fake.push_task(task("t1", "greet", json!({"msg": "hello"})));

    let result = fake.result_for("t1").await;
    assert_eq!(result["job_id"], "job-t1");
    assert_eq!(result["worker_id"], "w-round");
    assert!(
        result.get("status").is_none(),
        "success omits status: {result}"
    );
    assert_eq!(
        result["data"],
        json!({"echo": "hello", "attempt": 1, "job": "job-t1"})
    );
    assert_signed(&result, "w-round", &[]);

    let recorded = fake.recorded();
    let reg = &recorded.registrations[0];
    assert_eq!(reg.headers["x-worker-token"], TOKEN);
    assert_eq!(reg.headers["x-worker-id"], "w-round");
    assert_eq!(reg.headers["x-rxon-version"], "1.0b15");
    assert_eq!(
        reg.body["supported_skills"],
        json!([{"name": "greet", "type": "greet"}])
    );
    assert_eq!(reg.body["available_skills"], json!(["greet"]));
    assert_eq!(reg.body["worker_type"], "test");
    assert_eq!(reg.body["capabilities"]["extra"]["websockets"], true);
    assert_eq!(reg.body["capabilities"]["cost_per_skill"]["greet"], 0.5);
    assert_signed(&reg.body, "w-round", &[]);

    let poll = &recorded.polls[0];
    assert_eq!(
        (poll["timeout"].as_str(), poll["available_skills"].as_str()),
        ("2", "greet")
    );

    let event = &recorded.events[0].body;
    assert_eq!(event["event_type"], "progress");
    assert_eq!(
        event["payload"],
        json!({"progress": 0.5, "message": "half"})
    );
    assert_eq!(
        (&event["target_job_id"], &event["origin_task_id"]),
        (&json!("job-t1"), &json!("t1"))
    );
    assert!(
        uuid_like(event["event_id"].as_str().unwrap_or_default()),
        "{event}"
    );
    assert_signed(event, "w-round", EVENT_UNSIGNED_FIELDS);

    // The task showed up in a heartbeat while it ran or right after registration.
    let hb = fake
        .wait_for("a heartbeat", |r| {
            r.heartbeats.first().map(|s| s.body.clone())
        })
        .await;
    assert_signed(&hb, "w-round", &[]);
    assert!(hb["current_tasks"].is_array());
    fake.wait_for("the websocket", |r| (r.ws_connects > 0).then_some(()))
        .await;

    handle.shutdown().await.unwrap();
    let last = fake.recorded().heartbeats.last().cloned().unwrap();
    assert_eq!(last.body["status"], "offline");
    assert_signed(&last.body, "w-round", &[]);
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4
}

#[tokio::test]
async fn errors_map_to_rxon_codes_and_the_worker_survives_a_panic() {
    let fake = FakeOrchestrator::start().await;
    let worker = Worker::builder(config(&fake, "w-errors").max_concurrent_tasks(1usize))
        .skill("greet", |p: Greet, _ctx: TaskContext| async move {
            Ok::<_, TaskError>(p.msg)
        })
        .skill("boom", |_: Value, _ctx: TaskContext| async move {
            if true {
                panic!("kaboom");
            }
            Ok::<_, TaskError>(())
        })
        .skill("refuse", |_: Value, _ctx: TaskContext| async move {
            Err::<(), _>(TaskError::permanent("no way").with_details(json!({"why": "test"})))
        })
        .skill("review", |_: Value, ctx: TaskContext| async move {
            ctx.set_status("needs_review");
            Ok::<_, TaskError>(json!({"draft": 1}))
        })
        .build()
        .unwrap();
    let handle = worker.spawn();
    fake.push_task(task("bad-params", "greet", json!({"msg": 5})));
    fake.push_task(task("unknown", "nope", json!({})));
    fake.push_task(task("panics", "boom", json!({})));
    fake.push_task(task("refused", "refuse", json!({})));
    fake.push_task(task("custom", "review", json!({})));
    fake.push_task(task("after-panic", "greet", json!({"msg": "still here"})));

    let r = fake.result_for("bad-params").await;
    assert_eq!(
        (&r["status"], &r["error"]["code"]),
        (&json!("failure"), &json!("INVALID_INPUT_ERROR"))
    );
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("invalid type"),
        "{r}"
    );
    let r = fake.result_for("unknown").await;
    assert_eq!(r["error"]["code"], "PERMANENT_ERROR");
    let r = fake.result_for("panics").await;
    assert_eq!(r["error"]["code"], "TRANSIENT_ERROR");
    assert!(
        r["error"]["message"].as_str().unwrap().contains("kaboom"),
        "{r}"
    );
    let r = fake.result_for("refused").await;
    assert_eq!(
        r["error"],
        json!({"code": "PERMANENT_ERROR", "message": "no way", "details": {"why": "test"}})
    );
    let r = fake.result_for("custom").await;
    assert_eq!(
        (&r["status"], &r["data"]),
        (&json!("needs_review"), &json!({"draft": 1}))
    );
    let r = fake.result_for("after-panic").await;
    assert_eq!(r["data"], "still here");
    assert!(r.get("status").is_none());
    for seen in fake.recorded().results {
        assert_signed(&seen.body, "w-errors", &[]);
    }
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn websocket_cancel_fires_the_token_and_reports_cancelled() {
    let fake = FakeOrchestrator::start().await;
    let (builder, mut signals) = waiting_skill(Worker::builder(config(&fake, "w-ws")));
    let handle = builder.build().unwrap().spawn();
    fake.wait_for("the websocket", |r| (r.ws_connects > 0).then_some(()))
        .await;
    fake.push_task(task("t-ws", "wait", json!({})));
    expect(&mut signals, "started").await;

    let sent = fake.send_ws(r#"{"command":"cancel_task","task_id":"t-ws","job_id":"job-t-ws"}"#);
    assert_eq!(sent, 1);
    expect(&mut signals, "saw-cancel").await;
    let r = fake.result_for("t-ws").await;
    assert_eq!(r["status"], "cancelled");
    assert!(r.get("data").is_none() && r.get("error").is_none(), "{r}");
    assert_signed(&r, "w-ws", &[]);
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn heartbeat_cancel_task_ids_fire_the_token() {
    let fake = FakeOrchestrator::start().await;
    let (builder, mut signals) = waiting_skill(Worker::builder(
        config(&fake, "w-hb").enable_websockets(false),
    ));
    let handle = builder.build().unwrap().spawn();
    fake.push_task(task("t-hb", "wait", json!({})));
    expect(&mut signals, "started").await;
    // The running task is reported, then cancelled by the answer to a later heartbeat.
    fake.wait_for("current_tasks with t-hb", |r| {
        r.heartbeats
            .iter()
            .any(|h| h.body["current_tasks"] == json!(["t-hb"]))
            .then_some(())
    })
    .await;
    fake.cancel_on_next_heartbeat("t-hb");
    expect(&mut signals, "saw-cancel").await;
    assert_eq!(fake.result_for("t-hb").await["status"], "cancelled");
    assert_eq!(fake.recorded().ws_connects, 0, "websockets were disabled");
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_handler_ignoring_cancellation_is_aborted_after_the_grace() {
    let fake = FakeOrchestrator::start().await;
    let worker = Worker::builder(config(&fake, "w-grace").cancel_grace(Duration::from_millis(200)))
        .skill("stubborn", |_: Value, _ctx: TaskContext| async move {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok::<_, TaskError>(())
        })
        .build()
        .unwrap();
    let handle = worker.spawn();
    fake.wait_for("the websocket", |r| (r.ws_connects > 0).then_some(()))
        .await;
    fake.push_task(task("t-stubborn", "stubborn", json!({})));
    fake.wait_for("t-stubborn running", |r| {
        r.heartbeats
            .iter()
            .any(|h| h.body["current_tasks"] == json!(["t-stubborn"]))
            .then_some(())
    })
    .await;
    let asked = std::time::Instant::now();
    fake.send_ws(r#"{"command":"cancel_task","task_id":"t-stubborn"}"#);
    assert_eq!(fake.result_for("t-stubborn").await["status"], "cancelled");
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "aborted after the grace, not the sleep"
    );
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn graceful_shutdown_finishes_what_it_can_and_hands_back_the_rest() {
    let fake = FakeOrchestrator::start().await;
    let builder = Worker::builder(
        config(&fake, "w-shutdown")
            .shutdown_timeout(Duration::from_millis(600))
            .cancel_grace(Duration::from_millis(300)),
    )
    .skill("quick", |_: Value, _ctx: TaskContext| async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        Ok::<_, TaskError>("done")
    });
    let (builder, mut signals) = waiting_skill(builder);
    let handle = builder.build().unwrap().spawn();
    fake.push_task(task("t-slow", "wait", json!({})));
    expect(&mut signals, "started").await;
    fake.push_task(task("t-quick", "quick", json!({})));
    fake.wait_for("both tasks running", |r| {
        r.heartbeats
            .iter()
            .any(|h| h.body["current_tasks"] == json!(["t-quick", "t-slow"]))
            .then_some(())
    })
    .await;

    let started = std::time::Instant::now();
    handle.shutdown().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        started.elapsed()
    );
    expect(&mut signals, "saw-cancel").await;

    let recorded = fake.recorded();
    let status_of = |id: &str| {
        recorded
            .results
            .iter()
            .find(|s| s.body["task_id"] == id)
            .map(|s| s.body.get("status").cloned().unwrap_or(json!("success")))
    };
    assert_eq!(status_of("t-quick"), Some(json!("success")));
    assert_eq!(status_of("t-slow"), Some(json!("cancelled")));
    let last = recorded.heartbeats.last().expect("heartbeats");
    assert_eq!(last.body["status"], "offline");
    assert_eq!(last.body["current_tasks"], json!([]));
    let polls = recorded.polls.len();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        fake.recorded().polls.len(),
        polls,
        "no polling after shutdown"
    );
}

#[tokio::test]
async fn kill_stops_everything_without_a_word() {
    let fake = FakeOrchestrator::start().await;
    let (builder, mut signals) = waiting_skill(Worker::builder(config(&fake, "w-kill")));
    let handle = builder.build().unwrap().spawn();
    fake.push_task(task("t-kill", "wait", json!({})));
    expect(&mut signals, "started").await;
    let before = fake.recorded();
    handle.kill();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let after = fake.recorded();
    assert!(after.results.is_empty(), "no result after kill");
    assert_eq!(
        after.heartbeats.len(),
        before.heartbeats.len(),
        "no heartbeat after kill"
    );
    assert!(after
        .heartbeats
        .iter()
        .all(|h| h.body["status"] != "offline"));
}

#[tokio::test]
async fn registers_again_when_the_orchestrator_forgets_the_worker() {
    let fake = FakeOrchestrator::start().await;
    let worker = Worker::builder(config(&fake, "w-forgot").enable_websockets(false))
        .skill("greet", |p: Greet, _ctx: TaskContext| async move {
            Ok::<_, TaskError>(p.msg)
        })
        .build()
        .unwrap();
    let handle = worker.spawn();
    fake.wait_for("registration", |r| {
        (!r.registrations.is_empty()).then_some(())
    })
    .await;
    fake.forget_worker_on_next_heartbeat();
    fake.wait_for("a second registration", |r| {
        (r.registrations.len() >= 2).then_some(())
    })
    .await;
    fake.push_task(task("t-after", "greet", json!({"msg": "back"})));
    assert_eq!(fake.result_for("t-after").await["data"], "back");
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn results_are_retried_on_server_errors() {
    let fake = FakeOrchestrator::start().await;
    let worker = Worker::builder(config(&fake, "w-retry").enable_websockets(false))
        .skill("greet", |p: Greet, _ctx: TaskContext| async move {
            Ok::<_, TaskError>(p.msg)
        })
        .build()
        .unwrap();
    fake.fail_next_results(2);
    let handle = worker.spawn();
    fake.push_task(task("t-retry", "greet", json!({"msg": "eventually"})));
    assert_eq!(fake.result_for("t-retry").await["data"], "eventually");
    assert_eq!(fake.recorded().results.len(), 1);
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn build_rejects_bad_skills_and_config() {
    let ok = |_: Value, _ctx: TaskContext| async move { Ok::<_, TaskError>(()) };
    let base = || WorkerConfig::new("http://127.0.0.1:9").worker_id("w");
    assert!(Worker::builder(base()).build().is_err(), "no skills");
    assert!(Worker::builder(base())
        .skill("bad name", ok)
        .build()
        .is_err());
    assert!(Worker::builder(base())
        .skill("a", ok)
        .skill("a", ok)
        .build()
        .is_err());
    assert!(Worker::builder(base().worker_id("no/slash"))
        .skill("a", ok)
        .build()
        .is_err());
    assert!(Worker::builder(base()).skill("a", ok).build().is_ok());
}

#[tokio::test]
async fn fast_empty_polls_pause_instead_of_spinning() {
    let fake = FakeOrchestrator::start().await;
    // A 1 ms hold makes every poll come back empty at once.
    let worker = Worker::builder(
        config(&fake, "w-idle")
            .enable_websockets(false)
            .task_poll_timeout(Duration::from_millis(1))
            .idle_poll_delay(Duration::from_millis(250)),
    )
    .skill("greet", |p: Greet, _ctx: TaskContext| async move {
        Ok::<_, TaskError>(p.msg)
    })
    .build()
    .unwrap();
    let handle = worker.spawn();
    fake.wait_for("a first poll", |r| r.polls.first().cloned())
        .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let polls = fake.recorded().polls.len();
    assert!((2..=7).contains(&polls), "{polls} polls in about a second");
    assert_eq!(fake.recorded().polls[0]["timeout"], "0.001");
    handle.shutdown().await.unwrap();
}

fn greeter(config: WorkerConfig) -> Worker {
    Worker::builder(config.enable_websockets(false))
        .skill("greet", |p: Greet, _ctx: TaskContext| async move {
            Ok::<_, TaskError>(p.msg)
        })
        .build()
        .unwrap()
}

/// Runs `worker` until it stops by itself (it must, within 10 s).
async fn run_until_it_stops(worker: Worker) -> Result<(), WorkerError> {
    tokio::time::timeout(
        Duration::from_secs(10),
        worker.run(std::future::pending::<()>()),
    )
    .await
    .expect("the worker stops by itself instead of retrying")
}

#[tokio::test]
async fn a_registration_refused_with_403_ends_the_worker_naming_the_url_and_token() {
    let fake = FakeOrchestrator::start().await;
    let worker = greeter(config(&fake, "w-refused").token("not-the-token"));
    let err = run_until_it_stops(worker).await.unwrap_err();
    match &err {
        WorkerError::Unauthorized {
            url,
            status,
            message,
            default_token,
        } => {
            assert_eq!((url.as_str(), *status), (fake.url().as_str(), 403));
            assert_eq!(message, "bad worker token");
            assert!(!default_token);
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains(&fake.url()), "{text}");
    assert!(text.contains("check WORKER_TOKEN"), "{text}");
    let recorded = fake.recorded();
    assert_eq!(recorded.register_attempts, 1, "no retry of a refused token");
    assert!(recorded.polls.is_empty() && recorded.heartbeats.is_empty());
}

#[tokio::test]
async fn a_401_with_no_token_configured_says_worker_token_is_not_set() {
    let fake = FakeOrchestrator::start().await;
    fake.answer_next_registrations(&[401]);
    // No token set: the SDK's default (the Python SDK's), as `from_env` gives without
    // WORKER_TOKEN.
    let worker = greeter(WorkerConfig::new(fake.url()).worker_id("w-no-token"));
    let err = run_until_it_stops(worker).await.unwrap_err();
    assert!(
        matches!(
            err,
            WorkerError::Unauthorized {
                status: 401,
                default_token: true,
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("WORKER_TOKEN is not set"), "{text}");
    assert!(text.contains("scripted 401"), "{text}");
    assert_eq!(fake.recorded().register_attempts, 1);
}

#[tokio::test]
async fn server_errors_at_registration_are_retried_but_a_refusal_is_not() {
    let fake = FakeOrchestrator::start().await;
    fake.answer_next_registrations(&[503, 403]);
    let err = run_until_it_stops(greeter(config(&fake, "w-503")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, WorkerError::Unauthorized { status: 403, .. }),
        "{err:?}"
    );
    assert_eq!(fake.recorded().register_attempts, 2);
}

#[tokio::test]
async fn a_refused_registration_again_stops_a_running_worker() {
    let fake = FakeOrchestrator::start().await;
    let handle = greeter(config(&fake, "w-revoked")).spawn();
    fake.wait_for("the first registration", |r| {
        r.registrations.first().cloned()
    })
    .await;
    // The orchestrator forgets the worker, then refuses it (its token was revoked).
    fake.answer_next_registrations(&[403]);
    fake.forget_worker_on_next_heartbeat();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !handle.is_finished() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the worker kept running after its registration was refused"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let err = handle.shutdown().await.unwrap_err();
    assert!(
        matches!(err, WorkerError::Unauthorized { status: 403, .. }),
        "{err:?}"
    );
    assert_eq!(fake.recorded().register_attempts, 2);
}
