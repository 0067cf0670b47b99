//! A worker speaking the protocol by hand, for tests of the wire behaviour.

use crate::orchestrator::WORKER_TOKEN;
use baton_protocol::signing;
use serde_json::{json, Value};

pub struct RawWorker {
    pub base_url: String,
    pub worker_id: String,
    pub token: String,
    pub http: reqwest::Client,
}

pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl RawWorker {
    pub fn new(base_url: &str, worker_id: &str) -> RawWorker {
        RawWorker {
            base_url: base_url.into(),
            worker_id: worker_id.into(),
            token: WORKER_TOKEN.into(),
            http: reqwest::Client::new(),
        }
    }

    /// Adds `timestamp` and a valid `security` block.
    pub fn sign(&self, body: Value) -> Value {
        self.sign_without(body, &[])
    }

    /// Signs leaving `unsigned` fields out of the signature (events: `bubbling_chain`).
    pub fn sign_without(&self, mut body: Value, unsigned: &[&str]) -> Value {
        body["timestamp"] = json!(now_secs());
        let sig = signing::sign(&body, &self.token, unsigned);
        body["security"] = json!({"signature": sig, "signer_id": self.worker_id});
        body
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<String>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .header("X-Worker-Token", &self.token)
            .header("X-Worker-ID", &self.worker_id);
        if let Some(b) = body {
            req = req.header("Content-Type", "application/json").body(b);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        assert_eq!(
            resp.headers()
                .get("x-rxon-version")
                .and_then(|v| v.to_str().ok()),
            Some("1.0b15"),
            "every answer carries the protocol version"
        );
        let text = resp.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn register(&self, skills: &[&str]) -> (u16, Value) {
        let body = self.sign(
            json!({"worker_id": self.worker_id, "worker_type": "raw", "supported_tasks": skills}),
        );
        self.send(
            reqwest::Method::POST,
            "/_worker/workers/register",
            Some(body.to_string()),
        )
        .await
    }

    pub async fn poll(&self, skills: &str, timeout: u32) -> (u16, Value) {
        let path = format!(
            "/_worker/workers/{}/tasks/next?timeout={timeout}&available_skills={skills}",
            self.worker_id
        );
        self.send(reqwest::Method::GET, &path, None).await
    }

    pub async fn result(&self, body: Value) -> (u16, Value) {
        self.send(
            reqwest::Method::POST,
            "/_worker/tasks/result",
            Some(body.to_string()),
        )
        .await
    }

    pub async fn heartbeat(&self, body: Option<Value>) -> (u16, Value) {
        let path = format!("/_worker/workers/{}", self.worker_id);
        self.send(reqwest::Method::PATCH, &path, body.map(|b| b.to_string()))
            .await
    }

    /// A signed success result for `task`.
    pub fn success(&self, task: &Value, data: Value) -> Value {
        self.sign(json!({"job_id": task["job_id"], "task_id": task["task_id"], "worker_id": self.worker_id, "data": data}))
    }
}
