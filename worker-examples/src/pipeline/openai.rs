//! Any OpenAI-compatible chat endpoint as an engine: `POST {base_url}/chat/completions`
//! with `{"model", "messages": [{"role": "user", "content": prompt}]}` and a bearer key.
//! The answer is `choices[0].message.content`; `usage.total_tokens` is used when the
//! server reports it.

use super::budget::estimate_tokens;
use super::engine::{Engine, EngineError, EngineOutput, EngineRequest};
use serde_json::{json, Value};

pub struct OpenAiEngine {
    /// e.g. `https://api.openai.com/v1` or a local server's base.
    pub base_url: String,
    pub api_key: Option<String>,
    http: reqwest::Client,
}

impl OpenAiEngine {
    pub fn new(base_url: &str, api_key: Option<String>) -> OpenAiEngine {
        OpenAiEngine {
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key,
            http: reqwest::Client::new(),
        }
    }
}

#[async_trait::async_trait]
impl Engine for OpenAiEngine {
    fn id(&self) -> &str {
        "openai"
    }

    async fn run(&self, req: &EngineRequest) -> Result<EngineOutput, EngineError> {
        let body = json!({
            "model": req.model,
            "messages": [{"role": "user", "content": req.prompt}],
        });
        let mut call = self
            .http
            .post(format!("{}/chat/completions", self.base_url))
            .timeout(req.timeout)
            .json(&body);
        if let Some(key) = &self.api_key {
            call = call.bearer_auth(key);
        }
        let resp = call.send().await.map_err(|e| {
            if e.is_timeout() {
                EngineError::Timeout(req.timeout)
            } else {
                EngineError::Request(e.to_string())
            }
        })?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| EngineError::Request(e.to_string()))?;
        if !status.is_success() {
            // The server's words, shortened: they usually say what is wrong (key, model).
            let excerpt: String = text.chars().take(300).collect();
            return Ok(EngineOutput {
                success: false,
                stdout: String::new(),
                stderr: format!("{status}: {excerpt}"),
                tokens_used: estimate_tokens(&req.prompt),
            });
        }
        let answer: Value =
            serde_json::from_str(&text).map_err(|e| EngineError::BadAnswer(e.to_string()))?;
        let content = answer
            .pointer("/choices/0/message/content")
            .and_then(Value::as_str)
            .ok_or_else(|| EngineError::BadAnswer("no choices[0].message.content".into()))?
            .to_string();
        let tokens_used = answer
            .pointer("/usage/total_tokens")
            .and_then(Value::as_u64)
            .unwrap_or_else(|| estimate_tokens(&req.prompt) + estimate_tokens(&content));
        Ok(EngineOutput {
            success: true,
            stdout: content,
            stderr: String::new(),
            tokens_used,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::engine::Phase;
    use std::time::Duration;
    use warp::Filter;

    /// A local OpenAI-compatible server: echoes the prompt, checks the key.
    async fn fake_server() -> String {
        let route = warp::path!("v1" / "chat" / "completions")
            .and(warp::post())
            .and(warp::header::optional::<String>("authorization"))
            .and(warp::body::json())
            .map(|auth: Option<String>, body: Value| {
                if auth.as_deref() != Some("Bearer k-1") {
                    return warp::reply::with_status(
                        warp::reply::json(&json!({"error": {"message": "bad key"}})),
                        warp::http::StatusCode::UNAUTHORIZED,
                    );
                }
                let prompt = body["messages"][0]["content"].as_str().unwrap_or("");
                let reply = json!({
                    "choices": [{"message": {"role": "assistant", "content": format!("{} says: {prompt}", body["model"].as_str().unwrap_or(""))}}],
                    "usage": {"total_tokens": 42},
                });
                warp::reply::with_status(warp::reply::json(&reply), warp::http::StatusCode::OK)
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(warp::serve(route).incoming(listener).run());
        format!("http://{addr}/v1")
    }

    fn request(prompt: &str) -> EngineRequest {
        EngineRequest {
            phase: Phase::Plan,
            prompt: prompt.into(),
            model: "m-1".into(),
            workdir: std::env::temp_dir(),
            timeout: Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn asks_the_chat_endpoint_and_reads_the_answer() {
        let base = fake_server().await;
        let engine = OpenAiEngine::new(&base, Some("k-1".into()));
        let out = engine.run(&request("plan it")).await.unwrap();
        assert!(out.success);
        assert_eq!(out.stdout, "m-1 says: plan it");
        assert_eq!(out.tokens_used, 42);

        let wrong_key = OpenAiEngine::new(&base, Some("k-2".into()));
        let out = wrong_key.run(&request("plan it")).await.unwrap();
        assert!(!out.success);
        assert!(out.stderr.starts_with("401"), "{}", out.stderr);
        assert!(out.stderr.contains("bad key"), "{}", out.stderr);

        let nowhere = OpenAiEngine::new("http://127.0.0.1:9/v1", None);
        assert!(matches!(
            nowhere.run(&request("x")).await.unwrap_err(),
            EngineError::Request(_)
        ));
    }
}
