//! The workflow face as a test calls it: a config with demo logins and the shipped YAML
//! workflows, a caller of `/v1` ([`Api`]) and the envelope check.

use crate::orchestrator::test_config;
use crate::workers::{config as worker_config, spawn};
use baton_orchestrator::config::Config;
use baton_worker::{Worker, WorkerHandle};
use baton_worker_examples::workflow::{workflow_skills, WorkflowSettings};
use serde_json::{json, Value};
use std::path::PathBuf;

pub const SECRET: &str = "test-secret-test-secret-test-secret";

pub fn config() -> Config {
    let mut cfg = test_config();
    cfg.workflows.allow_demo_auth = true;
    cfg.workflows.secret_key = Some(SECRET.into());
    cfg.workflows.workflows_dir =
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../blueprints/workflows"));
    cfg
}

/// A workflow worker on `base_url` with shell steps allowed and the offline AI engine.
pub fn workflow_worker(base_url: &str, id: &str) -> WorkerHandle {
    let settings = WorkflowSettings {
        allow_shell: true,
        default_timeout: std::time::Duration::from_secs(30),
        ..WorkflowSettings::default()
    };
    spawn(workflow_skills(
        Worker::builder(worker_config(base_url, id)),
        settings,
    ))
}

/// An [`Api`] logged in as `admin` with the demo password.
pub async fn logged_in(base_url: &str) -> Api {
    let mut api = Api::new(base_url);
    assert_eq!(api.login("admin", "demo").await.status, 200);
    api
}

/// A caller of the `/v1` API.
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
    pub token: Option<String>,
}

pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Api {
    pub fn new(base: &str) -> Api {
        Api {
            base: base.into(),
            http: reqwest::Client::new(),
            token: None,
        }
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Answer {
        let req = match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.send(req).await
    }

    pub async fn login(&mut self, user: &str, password: &str) -> Answer {
        let a = self
            .call(
                "POST",
                "/v1/auth/login",
                Some(json!({"user_id": user, "password": password})),
            )
            .await;
        if a.status == 200 {
            self.token = a.body["access_token"].as_str().map(str::to_string);
        }
        a
    }
}

/// Asserts the envelope with `code` and `status`, and that it carries the request id.
pub fn envelope(a: &Answer, status: u16, code: &str) {
    assert_eq!(a.status, status, "{}", a.body);
    assert_eq!(a.body["error"]["error_code"], code, "{}", a.body);
    assert!(a.body["error"]["message"].is_string(), "{}", a.body);
    assert!(a.body["error"]["details"].is_object(), "{}", a.body);
    let rid = a.headers.get("x-request-id").expect("X-Request-ID");
    assert_eq!(a.body["error"]["request_id"], rid.to_str().unwrap());
}
