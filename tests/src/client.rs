//! The client API as a test calls it.

use crate::orchestrator::CLIENT_TOKEN;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

#[derive(Clone)]
pub struct Client {
    pub base_url: String,
    pub token: String,
    pub http: reqwest::Client,
}

impl Client {
    pub fn new(base_url: &str) -> Client {
        Client::with_token(base_url, CLIENT_TOKEN)
    }

    pub fn with_token(base_url: &str, token: &str) -> Client {
        Client {
            base_url: base_url.to_string(),
            token: token.to_string(),
            http: reqwest::Client::new(),
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> (u16, Value) {
        let resp = req
            .header("X-Client-Token", &self.token)
            .send()
            .await
            .expect("request sent");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(
            self.http
                .post(format!("{}{path}", self.base_url))
                .json(&body),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.http.get(format!("{}{path}", self.base_url)))
            .await
    }

    /// Creates an echo job; panics unless accepted.
    pub async fn create_echo(&self, initial_data: Value) -> String {
        self.create("/api/v1/jobs/echo", json!({"initial_data": initial_data}))
            .await
    }

    pub async fn create(&self, path: &str, body: Value) -> String {
        let (status, body) = self.post(path, body).await;
        assert_eq!(status, 202, "job creation answered {body}");
        assert_eq!(body["status"], "accepted");
        body["job_id"].as_str().expect("job_id").to_string()
    }

    pub async fn job(&self, id: &str) -> Value {
        let (status, body) = self.get(&format!("/api/v1/jobs/{id}")).await;
        assert_eq!(status, 200, "get job answered {body}");
        body
    }

    pub async fn history(&self, id: &str) -> Vec<Value> {
        let (status, body) = self.get(&format!("/api/v1/jobs/{id}/history")).await;
        assert_eq!(status, 200, "history answered {body}");
        body.as_array().cloned().unwrap_or_default()
    }

    pub async fn cancel(&self, id: &str) -> (u16, Value) {
        self.post(&format!("/api/v1/jobs/{id}/cancel"), json!({}))
            .await
    }

    /// Polls the job until `pred` holds; panics with the last state after `timeout`.
    pub async fn wait_job(
        &self,
        id: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let job = self.job(id).await;
            if pred(&job) {
                return job;
            }
            if Instant::now() > deadline {
                panic!("job {id} did not reach the expected state in {timeout:?}; last: {job:#}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for the job's status to be `status`.
    pub async fn wait_status(&self, id: &str, status: &str, timeout: Duration) -> Value {
        self.wait_job(id, timeout, |j| j["status"] == status).await
    }
}
