//! Unit tests of configuration parsing and validation.

use super::*;
use std::collections::HashMap;

fn from(vars: &[(&str, &str)]) -> Result<WorkerConfig, ConfigError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    WorkerConfig::from_lookup(|name| map.get(name).cloned())
}

#[test]
fn defaults_match_the_python_sdk() {
    let c = from(&[]).unwrap();
    assert_eq!(c.orchestrator_url, "http://localhost:8080");
    assert_eq!(c.token, "your-secret-worker-token");
    assert!(c.worker_id.starts_with("worker-") && is_valid_identifier(&c.worker_id));
    assert_eq!(c.max_concurrent_tasks, 10);
    assert_eq!(c.heartbeat_interval, Duration::from_secs(15));
    assert_eq!(c.task_poll_timeout, Duration::from_secs(30));
    assert_eq!(c.result_max_retries, 5);
    assert_eq!(c.result_retry_initial_delay, Duration::from_secs(1));
    assert_eq!(c.idle_poll_delay, Duration::from_millis(500));
    assert_eq!(c.shutdown_timeout, Duration::from_secs(30));
    assert!(c.enable_websockets);
    assert!(!c.signs_bodies());
}

#[test]
fn reads_every_variable() {
    let c = from(&[
        ("ORCHESTRATOR_URL", "http://orch:9000/"),
        ("WORKER_TOKEN", "global"),
        ("WORKER_INDIVIDUAL_TOKEN", "mine"),
        ("WORKER_ID", "w_1-a"),
        ("WORKER_TYPE", "gpu"),
        ("MAX_CONCURRENT_TASKS", "3"),
        ("HEARTBEAT_INTERVAL", "2.5"),
        ("WORKER_HEARTBEAT_COOLDOWN", "0.25"),
        ("TASK_POLL_TIMEOUT", "20"),
        ("RESULT_MAX_RETRIES", "2"),
        ("RESULT_RETRY_INITIAL_DELAY", "0.1"),
        ("IDLE_POLL_DELAY", "0"),
        ("WORKER_ENABLE_WEBSOCKETS", "False"),
        ("WORKER_SHUTDOWN_TIMEOUT", "7"),
        ("WORKER_CANCEL_GRACE", "1.5"),
        ("COST_PER_SKILL", r#"{"echo": 0.5, "resize": 2}"#),
    ])
    .unwrap();
    assert_eq!(c.orchestrator_url, "http://orch:9000/");
    assert_eq!(c.token, "mine", "the individual token wins");
    assert_eq!(c.worker_id, "w_1-a");
    assert_eq!(c.worker_type, "gpu");
    assert_eq!(c.max_concurrent_tasks, 3);
    assert_eq!(c.heartbeat_interval, Duration::from_millis(2500));
    assert_eq!(c.heartbeat_cooldown, Duration::from_millis(250));
    assert_eq!(c.task_poll_timeout, Duration::from_secs(20));
    assert_eq!(c.result_max_retries, 2);
    assert_eq!(c.result_retry_initial_delay, Duration::from_millis(100));
    assert_eq!(c.idle_poll_delay, Duration::ZERO);
    assert!(!c.enable_websockets);
    assert_eq!(c.shutdown_timeout, Duration::from_secs(7));
    assert_eq!(c.cancel_grace, Duration::from_millis(1500));
    assert_eq!(c.cost_per_skill.get("echo"), Some(&0.5));
    assert_eq!(c.cost_per_skill.get("resize"), Some(&2.0));
    assert!(c.signs_bodies());
}

#[test]
fn falls_back_to_the_global_token_and_ignores_empty_values() {
    let c = from(&[
        ("WORKER_TOKEN", "global"),
        ("WORKER_INDIVIDUAL_TOKEN", ""),
        ("MAX_CONCURRENT_TASKS", " "),
    ])
    .unwrap();
    assert_eq!(c.token, "global");
    assert_eq!(c.max_concurrent_tasks, 10);
}

#[test]
fn invalid_values_are_errors_naming_the_variable() {
    let cases: &[(&str, &str)] = &[
        ("MAX_CONCURRENT_TASKS", "ten"),
        ("MAX_CONCURRENT_TASKS", "-1"),
        ("MAX_CONCURRENT_TASKS", "0"),
        ("HEARTBEAT_INTERVAL", "soon"),
        ("HEARTBEAT_INTERVAL", "-1"),
        ("HEARTBEAT_INTERVAL", "0"),
        ("TASK_POLL_TIMEOUT", "NaN"),
        // Valid `Duration`s, but `Instant + interval` overflows (a panic in the loops).
        ("HEARTBEAT_INTERVAL", "1e18"),
        ("WORKER_HEARTBEAT_COOLDOWN", "1e15"),
        ("TASK_POLL_TIMEOUT", "1000000001"),
        ("IDLE_POLL_DELAY", "inf"),
        ("RESULT_MAX_RETRIES", "0"),
        ("WORKER_ENABLE_WEBSOCKETS", "maybe"),
        ("COST_PER_SKILL", "[1,2]"),
        ("COST_PER_SKILL", r#"{"bad name": 1}"#),
        ("COST_PER_SKILL", r#"{"echo": -1}"#),
    ];
    for (var, value) in cases {
        let err = from(&[(var, value)]).expect_err(&format!("{var}={value} must fail"));
        assert!(err.to_string().contains(var), "{var}={value}: {err}");
    }
}

#[test]
fn worker_ids_urls_and_tokens_are_checked() {
    for id in ["a b", "../x", "w/1", "é"] {
        let err = from(&[("WORKER_ID", id)]).unwrap_err();
        assert!(
            matches!(err, ConfigError::InvalidIdentifier { .. }),
            "{id}: {err}"
        );
    }
    for url in [
        "localhost:8080",
        "ftp://x",
        "http://",
        "not a url",
        "http://h/?q=1",
    ] {
        let err = from(&[("ORCHESTRATOR_URL", url)]).unwrap_err();
        assert!(
            matches!(err, ConfigError::InvalidUrl { .. }),
            "{url}: {err}"
        );
    }
    let err = WorkerConfig::default()
        .token("bad\ntoken")
        .validate()
        .unwrap_err();
    assert_eq!(err, ConfigError::InvalidToken);
}

#[test]
fn setters_chain_and_debug_hides_the_token() {
    let c = WorkerConfig::new("http://127.0.0.1:1")
        .token("s3cret")
        .worker_id("w1")
        .max_concurrent_tasks(2usize)
        .cancel_grace(Duration::from_millis(10))
        .skill_cost("echo", 1.0);
    c.validate().unwrap();
    assert_eq!(c.max_concurrent_tasks, 2);
    let shown = format!("{c:?}");
    assert!(
        !shown.contains("s3cret") && shown.contains("redacted"),
        "{shown}"
    );
}
