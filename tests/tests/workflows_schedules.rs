//! Schedules end to end: every route on both stores (validation naming the field and
//! saving nothing, pause, resume, trigger, history, delete); an interval firing each tick
//! with its history completed; missed ticks run once on recovery (`fire_once`) or not at
//! all (`skip`); `overlap: skip`; and three `baton serve` processes on one Redis firing
//! each tick of a 1-second schedule exactly once for 20 s while one of them is killed
//! with SIGKILL.

use baton_tests::backend::{start, Backend};
use baton_tests::process::BatonProcess;
use baton_tests::workflows::{config, envelope, logged_in, workflow_worker, Api, SECRET};
use baton_tests::{on_both_stores, shared_redis, unique_prefix, Orchestrator};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn tick_workflow() -> Value {
    json!({"id": "tick", "name": "Tick", "steps": [
        {"id": "t", "type": "transform", "params": {"template": "{{label}}"}, "outputs": ["label"]}]})
}

fn every_second(id: &str) -> Value {
    json!({"id": id, "workflow_id": "tick", "name": id, "schedule_type": "interval",
           "interval_config": {"seconds": 1}, "variables": {"label": id}})
}

async fn ok(api: &Api, method: &str, path: &str, body: Option<Value>) -> Value {
    let a = api.call(method, path, body).await;
    assert_eq!(a.status, 200, "{method} {path}: {}", a.body);
    a.body
}

async fn history(api: &Api, id: &str) -> Vec<Value> {
    let rows = ok(
        api,
        "GET",
        &format!("/v1/schedules/{id}/history?limit=100"),
        None,
    )
    .await;
    let mut rows = rows.as_array().cloned().unwrap_or_default();
    rows.reverse(); // oldest first
    rows
}

/// Polls until every row of `id`'s history has ended (10 s at most).
async fn settled(api: &Api, id: &str) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = history(api, id).await;
        if rows.iter().all(|r| r["status"] != "running") {
            return rows;
        }
        assert!(Instant::now() < deadline, "runs never ended: {rows:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn ms(rfc: &Value) -> i64 {
    let text = rfc.as_str().unwrap_or_default();
    chrono_ms(text)
}

/// Epoch ms of an RFC 3339 UTC time as Baton writes it (`2026-01-02T03:04:05.678Z`).
fn chrono_ms(text: &str) -> i64 {
    let (date, time) = text.split_once('T').expect("a date and a time");
    let d: Vec<i64> = date.split('-').map(|p| p.parse().unwrap()).collect();
    let t = time.trim_end_matches('Z');
    let (hms, frac) = t.split_once('.').unwrap_or((t, "0"));
    let h: Vec<i64> = hms.split(':').map(|p| p.parse().unwrap()).collect();
    // Days since the epoch (civil from days, inverted).
    let (y, m) = if d[1] <= 2 {
        (d[0] - 1, d[1] + 9)
    } else {
        (d[0], d[1] - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d[2] - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let millis: i64 = format!("{frac:0<3}")[..3].parse().unwrap();
    ((days * 24 + h[0]) * 60 + h[1]) * 60_000 + h[2] * 1000 + millis
}

async fn schedules_are_managed_and_validated(backend: Backend) {
    let (orch, _, _) = start(backend, config(), "wf-sched-api").await;
    let worker = workflow_worker(&orch.base_url, "wf-sched-api-w");
    let api = logged_in(&orch.base_url).await;
    ok(&api, "POST", "/v1/workflows", Some(tick_workflow())).await;
    let daily = json!({"id": "daily", "workflow_id": "tick", "name": "Daily",
        "schedule_type": "cron", "timezone": "Europe/Paris",
        "cron_config": {"minute": "0", "hour": "6", "day": "*", "month": "*", "day_of_week": "MON-FRI"},
        "variables": {"label": "daily"}});
    assert_eq!(
        ok(&api, "POST", "/v1/schedules", Some(daily.clone())).await,
        json!({"status": "success", "schedule_id": "daily"})
    );
    envelope(
        &api.call("POST", "/v1/schedules", Some(daily.clone())).await,
        409,
        "CONFLICT",
    );
    // Each bad field is named, and nothing is saved.
    let bad = |patch: Value| {
        let mut s = daily.clone();
        s["id"] = "bad".into();
        for (k, v) in patch.as_object().unwrap() {
            s[k] = v.clone();
        }
        s
    };
    let cases = [
        (
            bad(json!({"cron_config": {"hour": "25"}})),
            "cron_config.hour",
        ),
        (
            bad(json!({"cron_config": {"day_of_week": "FUNDAY"}})),
            "cron_config.day_of_week",
        ),
        (bad(json!({"timezone": "Mars/Olympus"})), "timezone"),
        (bad(json!({"workflow_id": "ghost"})), "workflow_id"),
        (
            bad(json!({"interval_config": {"seconds": 5}})),
            "interval_config",
        ),
        (
            bad(
                json!({"schedule_type": "interval", "cron_config": null, "interval_config": {"seconds": 0}}),
            ),
            "interval_config",
        ),
        (bad(json!({"id": "has space"})), "id"),
    ];
    for (body, field) in cases {
        let a = api.call("POST", "/v1/schedules", Some(body)).await;
        envelope(&a, 400, "VALIDATION");
        assert_eq!(a.body["error"]["details"]["field"], field, "{}", a.body);
    }
    envelope(
        &api.call("POST", "/v1/schedules", Some(bad(json!({"cron": "x"}))))
            .await,
        400,
        "VALIDATION",
    );
    let listed = ok(&api, "GET", "/v1/schedules", None).await;
    assert_eq!(
        listed.as_array().unwrap().len(),
        1,
        "nothing else saved: {listed}"
    );
    assert_eq!(listed[0]["run_count"], 0);
    let one = ok(&api, "GET", "/v1/schedules/daily", None).await;
    assert_eq!(one["timezone"], "Europe/Paris");
    let next = one["next_run_local"].as_str().unwrap();
    assert!(next.contains("T06:00:00+0"), "06:00 Paris time: {one}");
    assert!(one["next_run"].is_string() && one["last_run"].is_null());

    // Replace, pause, resume.
    let mut changed = daily.clone();
    changed["variables"] = json!({"label": "changed"});
    ok(&api, "PUT", "/v1/schedules/daily", Some(changed)).await;
    let mut other = daily.clone();
    other["id"] = "other".into();
    envelope(
        &api.call("PUT", "/v1/schedules/daily", Some(other)).await,
        400,
        "VALIDATION",
    );
    assert_eq!(
        ok(&api, "POST", "/v1/schedules/daily/pause", None).await["message"],
        "Schedule paused"
    );
    let paused = ok(&api, "GET", "/v1/schedules/daily", None).await;
    assert_eq!(
        (paused["status"].as_str(), paused["next_run"].is_null()),
        (Some("paused"), true)
    );
    ok(&api, "POST", "/v1/schedules/daily/resume", None).await;
    let resumed = ok(&api, "GET", "/v1/schedules/daily", None).await;
    assert_eq!(resumed["status"], "active");
    assert_eq!(resumed["next_run"], one["next_run"], "the same next tick");

    // Trigger: a run now, recorded, the next tick unmoved.
    let t = ok(&api, "POST", "/v1/schedules/daily/trigger", None).await;
    assert_eq!(t["message"], "Workflow triggered");
    let exec = t["execution_id"].as_str().unwrap().to_string();
    let rows = settled(&api, "daily").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["trigger"], "manual");
    assert_eq!(rows[0]["status"], "completed", "{rows:?}");
    assert_eq!(rows[0]["execution_id"], exec.as_str());
    assert!(rows[0]["duration_seconds"].as_f64().is_some());
    let e = ok(&api, "GET", &format!("/v1/executions/{exec}"), None).await;
    assert_eq!(e["outputs"]["label"], "changed");
    let after = ok(&api, "GET", "/v1/schedules/daily", None).await;
    assert_eq!(after["run_count"], 1);
    assert_eq!(after["next_run"], one["next_run"]);
    envelope(
        &api.call("GET", "/v1/schedules/daily/history?limit=0", None)
            .await,
        400,
        "VALIDATION",
    );

    // Unknown ids, no token.
    for (method, path) in [
        ("GET", "/v1/schedules/ghost"),
        ("PUT", "/v1/schedules/ghost"),
        ("DELETE", "/v1/schedules/ghost"),
        ("POST", "/v1/schedules/ghost/pause"),
        ("POST", "/v1/schedules/ghost/resume"),
        ("POST", "/v1/schedules/ghost/trigger"),
        ("GET", "/v1/schedules/ghost/history"),
    ] {
        let body = (method == "PUT").then(|| daily.clone());
        envelope(&api.call(method, path, body).await, 404, "NOT_FOUND");
    }
    envelope(
        &Api::new(&orch.base_url)
            .call("GET", "/v1/schedules", None)
            .await,
        401,
        "AUTH_FAILED",
    );
    ok(&api, "DELETE", "/v1/schedules/daily", None).await;
    envelope(
        &api.call("GET", "/v1/schedules/daily/history", None).await,
        404,
        "NOT_FOUND",
    );
    worker.shutdown().await.ok();
    orch.stop().await;
}

async fn an_interval_fires_each_tick_and_records_it(backend: Backend) {
    let (orch, _, _) = start(backend, config(), "wf-sched-tick").await;
    let worker = workflow_worker(&orch.base_url, "wf-sched-tick-w");
    let api = logged_in(&orch.base_url).await;
    ok(&api, "POST", "/v1/workflows", Some(tick_workflow())).await;
    ok(&api, "POST", "/v1/schedules", Some(every_second("sec"))).await;
    tokio::time::sleep(Duration::from_millis(3600)).await;
    ok(&api, "POST", "/v1/schedules/sec/pause", None).await;
    let rows = settled(&api, "sec").await;
    assert!((3..=4).contains(&rows.len()), "{rows:?}");
    let ticks: Vec<i64> = rows.iter().map(|r| ms(&r["scheduled_for"])).collect();
    for pair in ticks.windows(2) {
        assert_eq!(pair[1] - pair[0], 1000, "one per second: {ticks:?}");
    }
    for r in &rows {
        assert_eq!(
            (r["status"].as_str(), r["trigger"].as_str()),
            (Some("completed"), Some("schedule")),
            "{r}"
        );
        let lag = ms(&r["executed_at"]) - ms(&r["scheduled_for"]);
        assert!((0..1000).contains(&lag), "fired on time: {lag} ms late");
        let exec = r["execution_id"].as_str().unwrap();
        let e = ok(&api, "GET", &format!("/v1/executions/{exec}"), None).await;
        assert_eq!(e["outputs"]["label"], "sec");
    }
    let s = ok(&api, "GET", "/v1/schedules/sec", None).await;
    assert_eq!(s["run_count"], rows.len());
    let metrics = reqwest::get(format!("{}/metrics", orch.base_url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!(
            "baton_workflows_schedule_fires_total{{outcome=\"schedule\"}} {}",
            rows.len()
        )),
        "{metrics}"
    );
    assert!(metrics.contains("baton_workflows_schedule_lag_seconds_count"));
    worker.shutdown().await.ok();
    orch.stop().await;
}

async fn overlap_skip_leaves_a_running_execution_alone(backend: Backend) {
    let (orch, _, _) = start(backend, config(), "wf-sched-overlap").await;
    let worker = workflow_worker(&orch.base_url, "wf-sched-overlap-w");
    let api = logged_in(&orch.base_url).await;
    ok(
        &api,
        "POST",
        "/v1/workflows",
        Some(json!({"id": "slow", "name": "Slow", "steps": [
        {"id": "nap", "type": "shell", "params": {"command": "sleep 2.2"}}]})),
    )
    .await;
    let mut s = every_second("lazy");
    s["workflow_id"] = "slow".into();
    s["overlap"] = "skip".into();
    ok(&api, "POST", "/v1/schedules", Some(s)).await;
    tokio::time::sleep(Duration::from_millis(4600)).await;
    ok(&api, "POST", "/v1/schedules/lazy/pause", None).await;
    let rows = settled(&api, "lazy").await;
    let ran: Vec<&Value> = rows.iter().filter(|r| r["status"] != "skipped").collect();
    let skipped: Vec<&Value> = rows.iter().filter(|r| r["status"] == "skipped").collect();
    assert!(!skipped.is_empty() && !ran.is_empty(), "{rows:?}");
    for r in &skipped {
        assert!(r["error"].as_str().unwrap().contains("still going"), "{r}");
        assert!(r["execution_id"].is_null());
    }
    // No two runs at the same time: each started after the previous one ended.
    let mut spans = Vec::new();
    for r in &ran {
        let e = ok(
            &api,
            "GET",
            &format!("/v1/executions/{}", r["execution_id"].as_str().unwrap()),
            None,
        )
        .await;
        spans.push((ms(&e["started_at"]), ms(&e["completed_at"])));
    }
    spans.sort();
    for pair in spans.windows(2) {
        assert!(pair[1].0 >= pair[0].1, "runs overlapped: {spans:?}");
    }
    worker.shutdown().await.ok();
    orch.stop().await;
}

on_both_stores!(
    schedules_are_managed_and_validated,
    an_interval_fires_each_tick_and_records_it,
    overlap_skip_leaves_a_running_execution_alone,
);

/// Everything stopped over several due times: `fire_once` runs one catch-up, `skip`
/// records the miss and runs nothing; both go on on schedule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_ticks_run_once_on_recovery() {
    baton_tests::init_tracing();
    let prefix = unique_prefix("wf-sched-missed");
    let url = shared_redis().url();
    let mut cfg = config();
    cfg.workflows.scheduler.grace = Duration::from_millis(1500);
    let first = Orchestrator::redis(cfg.clone(), &url, &prefix).await;
    let worker = workflow_worker(&first.base_url, "wf-missed-w1");
    let api = logged_in(&first.base_url).await;
    ok(&api, "POST", "/v1/workflows", Some(tick_workflow())).await;
    let mut once = every_second("once");
    once["interval_config"] = json!({"seconds": 2});
    let mut skip = once.clone();
    skip["id"] = "skip".into();
    skip["misfire"] = "skip".into();
    ok(&api, "POST", "/v1/schedules", Some(once)).await;
    ok(&api, "POST", "/v1/schedules", Some(skip)).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    worker.shutdown().await.ok();
    first.stop().await;
    // Down over three due times (6.5 s, every 2 s).
    tokio::time::sleep(Duration::from_millis(6500)).await;
    let second = Orchestrator::redis(cfg, &url, &prefix).await;
    let worker = workflow_worker(&second.base_url, "wf-missed-w2");
    let mut api = Api::new(&second.base_url);
    api.token = logged_in(&second.base_url).await.token;
    tokio::time::sleep(Duration::from_millis(3000)).await;
    for id in ["once", "skip"] {
        ok(&api, "POST", &format!("/v1/schedules/{id}/pause"), None).await;
    }
    let once = settled(&api, "once").await;
    let catch_up: Vec<&Value> = once.iter().filter(|r| r["trigger"] == "catch_up").collect();
    assert_eq!(catch_up.len(), 1, "one run for the missed ticks: {once:?}");
    assert_eq!(catch_up[0]["status"], "completed");
    assert!(once.iter().all(|r| r["status"] != "skipped"), "{once:?}");
    assert!(
        once.len() <= 4,
        "the missed ticks did not run one by one: {once:?}"
    );
    let skip = settled(&api, "skip").await;
    let skipped: Vec<&Value> = skip.iter().filter(|r| r["status"] == "skipped").collect();
    assert_eq!(skipped.len(), 1, "{skip:?}");
    assert!(skipped[0]["error"]
        .as_str()
        .unwrap()
        .contains("misfire: skip"));
    assert!(skip.iter().all(|r| r["trigger"] != "catch_up"), "{skip:?}");
    assert!(
        skip.iter().any(|r| r["status"] == "completed"
            && ms(&r["executed_at"]) > ms(&skipped[0]["executed_at"])),
        "on schedule again after the miss: {skip:?}"
    );
    worker.shutdown().await.ok();
    second.stop().await;
}

/// Three orchestrator processes on one Redis, a 1-second schedule for 20 s, one of them
/// killed with SIGKILL on the way: every tick from the first to the last ran exactly
/// once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_orchestrators_fire_each_tick_once_while_one_is_killed() {
    baton_tests::init_tracing();
    let prefix = unique_prefix("wf-sched-three");
    let env = vec![
        ("BATON_REDIS_URL", shared_redis().url()),
        ("BATON_KEY_PREFIX", prefix),
        ("SECRET_KEY", SECRET.to_string()),
        ("ALLOW_DEMO_AUTH", "true".to_string()),
    ];
    let a = BatonProcess::start(&env).await;
    let b = BatonProcess::start(&env).await;
    let c = BatonProcess::start(&env).await;
    let worker = workflow_worker(&c.base_url, "wf-three-w");
    let api = logged_in(&a.base_url).await;
    ok(&api, "POST", "/v1/workflows", Some(tick_workflow())).await;
    ok(&api, "POST", "/v1/schedules", Some(every_second("three"))).await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    b.kill();
    tokio::time::sleep(Duration::from_secs(12)).await;
    ok(&api, "POST", "/v1/schedules/three/pause", None).await;
    let rows = settled(&api, "three").await;
    let ticks: Vec<i64> = rows.iter().map(|r| ms(&r["scheduled_for"])).collect();
    assert!(ticks.len() >= 18, "about 20 ticks: {ticks:?}");
    for pair in ticks.windows(2) {
        assert_eq!(
            pair[1] - pair[0],
            1000,
            "each tick once, none lost: {ticks:?}"
        );
    }
    let mut execs: Vec<&str> = rows
        .iter()
        .filter_map(|r| r["execution_id"].as_str())
        .collect();
    execs.sort();
    execs.dedup();
    assert_eq!(execs.len(), ticks.len(), "one execution per tick");
    assert!(rows.iter().all(|r| r["status"] == "completed"), "{rows:?}");
    let s = ok(&api, "GET", "/v1/schedules/three", None).await;
    assert_eq!(s["run_count"], ticks.len());
    worker.shutdown().await.ok();
    drop((a, c));
}
