//! `scripts/ci/report.sh`, run as a CI job would, against a local endpoint that records
//! what arrives: the body a provider sends, the provider's headers, and an HMAC-SHA256
//! signature of the exact body bytes with the webhook token.

use bytes::Bytes;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use warp::http::HeaderMap;
use warp::Filter;

type Seen = Arc<Mutex<Vec<(String, String, HeaderMap, Bytes)>>>;

async fn endpoint() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let route = warp::post()
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and(warp::body::bytes())
        .map(
            move |path: warp::path::FullPath, query: String, headers: HeaderMap, body: Bytes| {
                s.lock()
                    .expect("lock")
                    .push((path.as_str().to_string(), query, headers, body));
                warp::reply::json(&json!({"message": "Webhook recorded", "job": null}))
            },
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(warp::serve(route).incoming(listener).run());
    (format!("http://{addr}"), seen)
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/ci/report.sh")
}

fn hmac_hex(key: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

async fn run(envs: &[(&str, &str)], arg: &str) -> std::process::Output {
    let mut cmd = tokio::process::Command::new("bash");
    cmd.arg(script())
        .arg(arg)
        .env_remove("GITLAB_CI")
        .env_remove("GITHUB_HEAD_REF")
        .env_remove("GITHUB_REF_NAME")
        .env_remove("CI_COMMIT_REF_NAME");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().await.expect("bash runs")
}

#[tokio::test]
async fn reports_are_signed_like_github_and_gitlab_would() {
    let (base, seen) = endpoint().await;
    let out = run(
        &[
            ("BATON_API_BASE", &base),
            ("BATON_WEBHOOK_TOKEN", "s3cret"),
            ("BATON_API_TOKEN", "api-tok"),
            ("BATON_BRANCH", "0001-demo"),
            ("BATON_PROTOCOL_RUN_ID", "12"),
        ],
        "success",
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Webhook recorded"));

    let out = run(
        &[
            ("BATON_API_BASE", &base),
            ("BATON_WEBHOOK_TOKEN", "s3cret"),
            ("BATON_BRANCH", "0001-demo"),
            ("GITLAB_CI", "true"),
        ],
        "failure",
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 2);
    let (path, query, headers, body) = &seen[0];
    assert_eq!(
        (path.as_str(), query.as_str()),
        ("/webhooks/github", "protocol_run_id=12")
    );
    assert_eq!(headers["x-github-event"], "status");
    assert_eq!(headers["authorization"], "Bearer api-tok");
    let sig = format!("sha256={}", hmac_hex("s3cret", body));
    assert_eq!(headers["x-hub-signature-256"].to_str().unwrap_or(""), sig);
    let body: Value = serde_json::from_slice(body).expect("json body");
    assert_eq!(
        body,
        json!({"state": "success", "branches": [{"name": "0001-demo"}], "ref": "0001-demo"})
    );

    let (path, _, headers, raw) = &seen[1];
    assert_eq!(path, "/webhooks/gitlab");
    assert_eq!(headers["x-gitlab-token"], "s3cret");
    assert_eq!(
        headers["x-gitlab-signature-256"].to_str().unwrap_or(""),
        format!("sha256={}", hmac_hex("s3cret", raw))
    );
    assert!(headers.get("authorization").is_none(), "no API token set");
    let body: Value = serde_json::from_slice(raw).expect("json body");
    assert_eq!(
        body["object_attributes"],
        json!({"status": "failed", "ref": "0001-demo"})
    );

    let bad = run(&[("BATON_API_BASE", &base)], "maybe").await;
    assert_eq!(bad.status.code(), Some(2));
}
