//! A caller of the coding-pipelines API (`tests/tests/pipelines_api.rs`): optional
//! bearer and project tokens, answers with status, JSON, raw text and `X-Request-ID`, and
//! helpers that create projects, runs and steps in a given status.

use crate::Orchestrator;
use reqwest::Method;
use serde_json::{json, Value};

/// A caller of the API with optional tokens.
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub bearer: Option<String>,
    pub project_token: Option<String>,
}

pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub text: String,
    pub request_id: Option<String>,
}

impl Api {
    pub fn new(orch: &Orchestrator) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: orch.base_url.clone(),
            bearer: None,
            project_token: None,
        }
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = &self.bearer {
            req = req.bearer_auth(t);
        }
        if let Some(t) = &self.project_token {
            req = req.header("X-Project-Token", t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let request_id = resp
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = resp.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            body,
            text,
            request_id,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(body)).await
    }

    /// A POST that must succeed; its body.
    pub async fn ok(&self, path: &str, body: Value) -> Value {
        let a = self.post(path, body).await;
        assert!(
            (200..300).contains(&a.status),
            "POST {path}: {} {}",
            a.status,
            a.text
        );
        a.body
    }

    pub async fn project(&self, name: &str) -> u64 {
        let p = self
            .ok("/projects", json!({"name": name, "git_url": "/tmp/repo"}))
            .await;
        p["id"].as_u64().expect("project id")
    }

    /// A project named `app` on the repository at `origin` (base branch `main`).
    pub async fn project_on(&self, origin: &std::path::Path) -> u64 {
        let body = json!({"name": "app", "git_url": origin.to_str(), "base_branch": "main"});
        self.ok("/projects", body).await["id"]
            .as_u64()
            .expect("project id")
    }

    /// A protocol run `name` of `project` with `description`, in status `pending`.
    pub async fn protocol(&self, project: u64, name: &str, description: &str) -> u64 {
        let body = json!({"protocol_name": name, "description": description});
        self.ok(&format!("/projects/{project}/protocols"), body)
            .await["id"]
            .as_u64()
            .expect("run id")
    }

    pub async fn run(&self, project: u64, name: &str, status: &str) -> u64 {
        let r = self
            .ok(
                &format!("/projects/{project}/protocols"),
                json!({"protocol_name": name, "status": status}),
            )
            .await;
        assert_eq!(r["status"], status, "{r}");
        r["id"].as_u64().expect("run id")
    }

    pub async fn step(&self, run: u64, index: u32, status: &str) -> u64 {
        let s = self
            .ok(
                &format!("/protocols/{run}/steps"),
                json!({"step_index": index, "step_name": format!("{index:02}-s.md"), "step_type": "work", "status": status}),
            )
            .await;
        assert_eq!(s["status"], status, "{s}");
        s["id"].as_u64().expect("step id")
    }

    pub async fn status_of(&self, path: &str) -> String {
        let a = self.get(path).await;
        assert_eq!(a.status, 200, "{path}: {}", a.text);
        a.body["status"].as_str().unwrap_or_default().to_string()
    }
}
