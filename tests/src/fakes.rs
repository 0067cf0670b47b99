//! Fake third-party HTTP services the coding-pipeline tests talk to, each on a free
//! port of 127.0.0.1 and recording what it was sent:
//!
//! - [`FakeOpenAi`]: an OpenAI-compatible `POST /v1/chat/completions`, answering each
//!   prompt with what a test's function returns for it (and `usage.total_tokens`), or
//!   503 while a test says it is down;
//! - [`FakeGithub`]: the two calls of GitHub's REST API a PR needs
//!   (`POST /repos/{owner}/{repo}/pulls`, then on 422 "already exists"
//!   `GET .../pulls?head=owner:branch`), requiring a bearer token.

use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use warp::http::StatusCode;
use warp::Filter;

async fn serve<F>(routes: F) -> String
where
    F: Filter + Clone + Send + Sync + 'static,
    F::Extract: warp::Reply,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a fake service");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(warp::serve(routes).incoming(listener).run());
    format!("http://{addr}")
}

/// A fake OpenAI-compatible chat endpoint.
pub struct FakeOpenAi {
    /// `http://127.0.0.1:port/v1`, the engine's base URL.
    pub base_url: String,
    /// Every request body received, in order.
    pub requests: Arc<Mutex<Vec<Value>>>,
    /// While set, every call is answered 503.
    pub down: Arc<std::sync::atomic::AtomicBool>,
}

impl FakeOpenAi {
    /// Answers each prompt (the last message's `content`) with `answer(prompt)`; requires
    /// `Authorization: Bearer <key>` (401 otherwise).
    pub async fn start<A>(key: &str, answer: A) -> FakeOpenAi
    where
        A: Fn(&str) -> String + Send + Sync + 'static,
    {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let is_down = down.clone();
        let answer = Arc::new(answer);
        let expected = format!("Bearer {key}");
        let route = warp::path!("v1" / "chat" / "completions")
            .and(warp::post())
            .and(warp::header::optional::<String>("authorization"))
            .and(warp::body::json())
            .map(move |auth: Option<String>, body: Value| {
                seen.lock().expect("lock").push(body.clone());
                if is_down.load(std::sync::atomic::Ordering::SeqCst) {
                    return warp::reply::with_status(
                        warp::reply::json(&json!({"error": {"message": "overloaded"}})),
                        StatusCode::SERVICE_UNAVAILABLE,
                    );
                }
                if auth.as_deref() != Some(expected.as_str()) {
                    return warp::reply::with_status(
                        warp::reply::json(&json!({"error": {"message": "bad key"}})),
                        StatusCode::UNAUTHORIZED,
                    );
                }
                // The prompt is the last message (a system message may come first).
                let prompt = body["messages"]
                    .as_array()
                    .and_then(|m| m.last())
                    .and_then(|m| m["content"].as_str())
                    .unwrap_or("");
                let content = answer(prompt);
                let reply = json!({
                    "id": "chatcmpl-fake",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
                    "usage": {"total_tokens": (prompt.len() + content.len()) / 4},
                });
                warp::reply::with_status(warp::reply::json(&reply), StatusCode::OK)
            });
        FakeOpenAi {
            base_url: format!("{}/v1", serve(route).await),
            requests,
            down,
        }
    }

    pub fn calls(&self) -> usize {
        self.requests.lock().expect("lock").len()
    }
}

/// A fake GitHub REST API for pull requests.
pub struct FakeGithub {
    /// The API base (`GITHUB_API_URL`).
    pub base_url: String,
    /// Bodies of the `POST .../pulls` calls, with `owner`/`repo` added.
    pub created: Arc<Mutex<Vec<Value>>>,
}

impl FakeGithub {
    /// The first PR per branch is created (201); another create for the same branch is a
    /// 422 "already exists", and listing by `head` finds the first. Needs `Bearer token`.
    pub async fn start(token: &str) -> FakeGithub {
        let created = Arc::new(Mutex::new(Vec::<Value>::new()));
        let expected = format!("Bearer {token}");
        let seen = created.clone();
        let create = warp::path!("repos" / String / String / "pulls")
            .and(warp::post())
            .and(warp::header::optional::<String>("authorization"))
            .and(warp::body::json())
            .map(move |owner: String, repo: String, auth: Option<String>, body: Value| {
                if auth.as_deref() != Some(expected.as_str()) {
                    return warp::reply::with_status(
                        warp::reply::json(&json!({"message": "Bad credentials"})),
                        StatusCode::UNAUTHORIZED,
                    );
                }
                let mut all = seen.lock().expect("lock");
                let head = body["head"].as_str().unwrap_or("").to_string();
                if all.iter().any(|b| b["head"] == head.as_str()) {
                    let msg = format!("A pull request already exists for {owner}:{head}.");
                    return warp::reply::with_status(
                        warp::reply::json(
                            &json!({"message": "Validation Failed", "errors": [{"message": msg}]}),
                        ),
                        StatusCode::UNPROCESSABLE_ENTITY,
                    );
                }
                let number = all.len() + 1;
                let mut record = body.clone();
                record["owner"] = json!(owner);
                record["repo"] = json!(repo);
                all.push(record);
                let url = format!("https://github.test/{owner}/{repo}/pull/{number}");
                warp::reply::with_status(
                    warp::reply::json(&json!({"number": number, "html_url": url})),
                    StatusCode::CREATED,
                )
            });
        let listed = created.clone();
        let list = warp::path!("repos" / String / String / "pulls")
            .and(warp::get())
            .and(warp::query::<std::collections::HashMap<String, String>>())
            .map(
                move |owner: String, repo: String, q: std::collections::HashMap<String, String>| {
                    let all = listed.lock().expect("lock");
                    let head = q.get("head").cloned().unwrap_or_default();
                    let found: Vec<Value> = all
                        .iter()
                        .enumerate()
                        .filter(|(_, b)| format!("{owner}:{}", b["head"].as_str().unwrap_or("")) == head)
                        .map(|(i, _)| json!({"number": i + 1, "html_url": format!("https://github.test/{owner}/{repo}/pull/{}", i + 1)}))
                        .collect();
                    warp::reply::json(&found)
                },
            );
        FakeGithub {
            base_url: serve(create.or(list)).await,
            created,
        }
    }

    /// The PRs created so far.
    pub fn prs(&self) -> Vec<Value> {
        self.created.lock().expect("lock").clone()
    }
}
