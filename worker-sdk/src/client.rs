//! HTTP side of the worker protocol.
//!
//! [`OrchestratorClient`] holds one `reqwest` client whose default headers carry the
//! worker's identity (`X-Worker-Token`, `X-Worker-ID`, `X-RXON-Version`), the
//! [`Sealer`] that signs bodies, and the worker's kill switch. Each method is one
//! request; retry policy lives with the callers, except [`OrchestratorClient::submit_result`],
//! whose retries are part of the protocol contract (RESULT_MAX_RETRIES).
//!
//! Every request races the kill switch: once [`crate::WorkerHandle::kill`] fired, nothing
//! more leaves this process, which is what lets tests simulate a crashed worker.

use std::time::Duration;

use baton_protocol::{
    endpoints, HeartbeatResponse, ResultAck, TaskPayload, TaskResult, WorkerEvent,
    WorkerRegistration, HEADER_PROTOCOL_VERSION, HEADER_WORKER_ID, HEADER_WORKER_TOKEN,
    PROTOCOL_VERSION,
};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::body::{now_secs, Sealer};
use crate::config::{ConfigError, WorkerConfig};
use crate::error::WorkerError;

/// Time allowed for any request but the long-poll.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Margin over the long-poll hold before the client gives up on the server.
const POLL_TIMEOUT_MARGIN: Duration = Duration::from_secs(5);
/// Longest error body kept in a [`WorkerError::Status`].
const MAX_ERROR_BODY: usize = 512;

/// One answer of `tasks/next`.
#[derive(Debug)]
pub(crate) enum Polled {
    Task(Box<TaskPayload>),
    /// A task we cannot read but can still answer, so the job does not hang.
    Malformed {
        job_id: String,
        task_id: String,
        reason: String,
    },
}

pub(crate) struct OrchestratorClient {
    http: reqwest::Client,
    /// Orchestrator base URL without a trailing slash.
    base: String,
    worker_id: String,
    token: String,
    sealer: Sealer,
    killed: CancellationToken,
}

impl OrchestratorClient {
    pub(crate) fn new(
        config: &WorkerConfig,
        killed: CancellationToken,
    ) -> Result<Self, WorkerError> {
        let mut headers = HeaderMap::new();
        let token = HeaderValue::from_str(&config.token).map_err(|_| ConfigError::InvalidToken)?;
        let worker_id = HeaderValue::from_str(&config.worker_id).map_err(|_| {
            ConfigError::InvalidIdentifier {
                what: "worker id (WORKER_ID)",
                value: config.worker_id.clone(),
            }
        })?;
        // The protocol's header names, lower-cased as `from_static` requires.
        headers.insert(HeaderName::from_static("x-worker-token"), token);
        headers.insert(HeaderName::from_static("x-worker-id"), worker_id);
        headers.insert(
            HeaderName::from_static("x-rxon-version"),
            HeaderValue::from_static(PROTOCOL_VERSION),
        );
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(WorkerError::HttpClient)?;
        Ok(OrchestratorClient {
            http,
            base: config.orchestrator_url.trim_end_matches('/').to_string(),
            worker_id: config.worker_id.clone(),
            token: config.token.clone(),
            sealer: Sealer::new(config),
            killed,
        })
    }

    pub(crate) fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// `ws://` (or `wss://`) URL of this worker's command socket.
    pub(crate) fn websocket_url(&self) -> String {
        let path = endpoints::websocket(&self.worker_id);
        match self.base.split_once("://") {
            Some(("https", rest)) => format!("wss://{rest}{path}"),
            Some((_, rest)) => format!("ws://{rest}{path}"),
            None => format!("ws://{}{path}", self.base),
        }
    }

    /// The auth headers, for the WebSocket handshake (reqwest adds them to HTTP calls).
    pub(crate) fn auth_headers(&self) -> [(&'static str, &str); 3] {
        [
            (HEADER_WORKER_TOKEN, self.token.as_str()),
            (HEADER_WORKER_ID, self.worker_id.as_str()),
            (HEADER_PROTOCOL_VERSION, PROTOCOL_VERSION),
        ]
    }

    /// Sends one request and returns the status and body of a 2xx answer.
    async fn send(
        &self,
        method: Method,
        path: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<(StatusCode, String), WorkerError> {
        let method_name = method_name(&method);
        let network = |source| WorkerError::Network {
            method: method_name,
            path: path.to_string(),
            source,
        };
        let exchange = async {
            let response = request.send().await.map_err(network)?;
            let status = response.status();
            let body = response.text().await.map_err(network)?;
            Ok::<_, WorkerError>((status, body))
        };
        if self.killed.is_cancelled() {
            return Err(WorkerError::Killed);
        }
        let (status, body) = tokio::select! {
            biased;
            _ = self.killed.cancelled() => return Err(WorkerError::Killed),
            answer = exchange => answer?,
        };
        if !status.is_success() {
            let mut body = body;
            if body.len() > MAX_ERROR_BODY {
                let mut cut = MAX_ERROR_BODY;
                while !body.is_char_boundary(cut) {
                    cut -= 1;
                }
                body.truncate(cut);
            }
            return Err(WorkerError::Status {
                method: method_name,
                path: path.to_string(),
                status: status.as_u16(),
                body,
            });
        }
        Ok((status, body))
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .timeout(REQUEST_TIMEOUT)
    }

    async fn send_json(
        &self,
        method: Method,
        path: &str,
        body: &Value,
    ) -> Result<Value, WorkerError> {
        let request = self.request(method.clone(), path).json(body);
        let (_, text) = self.send(method.clone(), path, request).await?;
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| WorkerError::InvalidResponse {
            method: method_name(&method),
            path: path.to_string(),
            message: e.to_string(),
        })
    }

    pub(crate) async fn register(
        &self,
        registration: &WorkerRegistration,
    ) -> Result<(), WorkerError> {
        let body = self.sealer.seal("registration", registration)?;
        self.send_json(Method::POST, endpoints::REGISTER, &body)
            .await?;
        Ok(())
    }

    pub(crate) async fn heartbeat(
        &self,
        heartbeat: &baton_protocol::Heartbeat,
    ) -> Result<HeartbeatResponse, WorkerError> {
        let body = self.sealer.seal("heartbeat", heartbeat)?;
        let path = endpoints::heartbeat(&self.worker_id);
        let answer = self.send_json(Method::PATCH, &path, &body).await?;
        // Unknown or missing fields are fine: only the cancel list matters.
        Ok(serde_json::from_value(answer).unwrap_or_default())
    }

    /// One long-poll. `Ok(None)` is a 204: nothing came within the hold.
    pub(crate) async fn poll(
        &self,
        hold: Duration,
        skills: &[String],
    ) -> Result<Option<Polled>, WorkerError> {
        let path = endpoints::next_task(&self.worker_id);
        let request = self
            .request(Method::GET, &path)
            .query(&[
                ("timeout", seconds_param(hold)),
                ("available_skills", skills.join(",")),
            ])
            .timeout(hold + POLL_TIMEOUT_MARGIN);
        let (status, text) = self.send(Method::GET, &path, request).await?;
        if status == StatusCode::NO_CONTENT || text.trim().is_empty() {
            return Ok(None);
        }
        let value: Value =
            serde_json::from_str(&text).map_err(|e| WorkerError::InvalidResponse {
                method: "GET",
                path: path.clone(),
                message: e.to_string(),
            })?;
        Ok(Some(read_task(value)))
    }

    /// Posts a result, retrying network errors, 5xx and 429 with a doubling delay.
    /// Each attempt is re-stamped and re-signed, so a late retry is not refused for skew.
    pub(crate) async fn submit_result(
        &self,
        result: &TaskResult,
        attempts: u32,
        initial_delay: Duration,
    ) -> Result<ResultAck, WorkerError> {
        self.retrying(attempts, initial_delay, "result", || async {
            let mut stamped = result.clone();
            stamped.timestamp = Some(now_secs());
            let body = self.sealer.seal("result", &stamped)?;
            let answer = self
                .send_json(Method::POST, endpoints::TASK_RESULT, &body)
                .await?;
            Ok(serde_json::from_value(answer).unwrap_or_default())
        })
        .await
    }

    /// Runs `attempt` until it succeeds, fails for good, or `attempts` are used up;
    /// network errors, 5xx and 429 are retried after a doubling delay.
    async fn retrying<T, F, Fut>(
        &self,
        attempts: u32,
        initial_delay: Duration,
        what: &'static str,
        mut attempt: F,
    ) -> Result<T, WorkerError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, WorkerError>>,
    {
        let mut delay = initial_delay;
        let mut n = 1;
        loop {
            match attempt().await {
                Ok(answer) => return Ok(answer),
                Err(e) if e.is_retryable() && n < attempts => {
                    tracing::warn!(error = %e, attempt = n, retry_in = ?delay, "{what} not delivered; retrying");
                }
                Err(e) => return Err(e),
            }
            tokio::select! {
                biased;
                _ = self.killed.cancelled() => return Err(WorkerError::Killed),
                _ = tokio::time::sleep(delay) => {}
            }
            delay = delay.saturating_mul(2);
            n += 1;
        }
    }

    /// One long-poll for up to `max` tasks (Baton's batch route). Empty after the hold.
    /// A 404/405 means the server has no batch route: [`WorkerError::Status`] with that
    /// code, which the caller takes as "use the single route".
    pub(crate) async fn poll_batch(
        &self,
        hold: Duration,
        skills: &[String],
        max: usize,
    ) -> Result<Vec<Polled>, WorkerError> {
        let path = endpoints::next_tasks_batch(&self.worker_id);
        let request = self
            .request(Method::GET, &path)
            .query(&[
                ("timeout", seconds_param(hold)),
                ("available_skills", skills.join(",")),
                ("max", max.to_string()),
            ])
            .timeout(hold + POLL_TIMEOUT_MARGIN);
        let (status, text) = self.send(Method::GET, &path, request).await?;
        if status == StatusCode::NO_CONTENT || text.trim().is_empty() {
            return Ok(Vec::new());
        }
        let invalid = |message: String| WorkerError::InvalidResponse {
            method: "GET",
            path: path.clone(),
            message,
        };
        let value: Value = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        match value {
            Value::Object(mut map) => match map.remove("tasks") {
                Some(Value::Array(tasks)) => Ok(tasks.into_iter().map(read_task).collect()),
                _ => Err(invalid("no `tasks` array".into())),
            },
            _ => Err(invalid("not an object".into())),
        }
    }

    /// Posts several results in one request (Baton's batch route), retrying the request
    /// like [`OrchestratorClient::submit_result`]. Answers are in the order of `results`.
    pub(crate) async fn submit_results(
        &self,
        results: &[TaskResult],
        attempts: u32,
        initial_delay: Duration,
    ) -> Result<Vec<ResultAck>, WorkerError> {
        self.retrying(attempts, initial_delay, "results", || async {
            let mut sealed = Vec::with_capacity(results.len());
            for result in results {
                let mut stamped = result.clone();
                stamped.timestamp = Some(now_secs());
                sealed.push(self.sealer.seal("result", &stamped)?);
            }
            let body = serde_json::json!({ "results": sealed });
            let answer = self
                .send_json(Method::POST, endpoints::TASK_RESULTS, &body)
                .await?;
            let acks: Vec<ResultAck> = answer
                .get("results")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(|v| read_ack(v.clone())).collect())
                .unwrap_or_default();
            if acks.len() != results.len() {
                return Err(WorkerError::InvalidResponse {
                    method: "POST",
                    path: endpoints::TASK_RESULTS.to_string(),
                    message: format!("{} answers for {} results", acks.len(), results.len()),
                });
            }
            Ok(acks)
        })
        .await
    }

    pub(crate) async fn post_event(&self, event: &WorkerEvent) -> Result<(), WorkerError> {
        let body = self.sealer.seal_event(event)?;
        self.send_json(Method::POST, endpoints::EVENTS, &body)
            .await?;
        Ok(())
    }
}

fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        _ => "HTTP",
    }
}

/// `30` rather than `30.0` for whole seconds: the friendliest form for any server parser.
fn seconds_param(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        d.as_secs().to_string()
    } else {
        format!("{:.3}", d.as_secs_f64())
    }
}

/// An answer in a batch: an ack, or `{"status":"error","error":...}` for a refused result
/// (kept as an ack whose reason is the error).
fn read_ack(value: Value) -> ResultAck {
    if value.get("status").and_then(Value::as_str) == Some("error") {
        let message = value
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("refused");
        return ResultAck {
            status: "error".into(),
            reason: Some(message.to_string()),
            transition: None,
        };
    }
    serde_json::from_value(value).unwrap_or_default()
}

/// Reads a task, tolerating float `timestamp`/`deadline`/`attempt`/`step` (the Python
/// SDK lost tasks over that). A task that still cannot be read is answered as malformed.
fn read_task(mut value: Value) -> Polled {
    if let Value::Object(map) = &mut value {
        for key in ["timestamp", "deadline", "attempt", "step"] {
            if let Some(f) = map.get(key).filter(|v| v.is_f64()).and_then(Value::as_f64) {
                map.insert(key.to_string(), Value::from(f.trunc() as i64));
            }
        }
    }
    let ids = (
        value
            .get("job_id")
            .and_then(Value::as_str)
            .map(str::to_string),
        value
            .get("task_id")
            .and_then(Value::as_str)
            .map(str::to_string),
    );
    match serde_json::from_value::<TaskPayload>(value) {
        Ok(task) if !task.task_id.is_empty() => Polled::Task(Box::new(task)),
        Ok(_) => Polled::Malformed {
            job_id: ids.0.unwrap_or_default(),
            task_id: String::new(),
            reason: "task has no task_id".to_string(),
        },
        Err(e) => Polled::Malformed {
            job_id: ids.0.unwrap_or_default(),
            task_id: ids.1.unwrap_or_default(),
            reason: format!("task payload does not parse: {e}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn float_timestamps_do_not_lose_the_task() {
        let Polled::Task(task) = read_task(json!({
            "job_id": "j", "task_id": "t", "type": "echo", "params": {},
            "timestamp": 1795434814.7, "deadline": 1795434900.0, "attempt": 2.0
        })) else {
            panic!("task must be read");
        };
        assert_eq!(
            (task.timestamp, task.deadline, task.attempt),
            (1795434814, Some(1795434900), Some(2))
        );
    }

    #[test]
    fn unreadable_tasks_keep_their_ids() {
        match read_task(json!({"job_id": "j", "task_id": "t", "type": 5})) {
            Polled::Malformed {
                job_id, task_id, ..
            } => assert_eq!((job_id.as_str(), task_id.as_str()), ("j", "t")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn websocket_url_follows_the_http_scheme() {
        let client = |url: &str| {
            OrchestratorClient::new(
                &WorkerConfig::new(url).worker_id("w1"),
                CancellationToken::new(),
            )
            .unwrap()
        };
        assert_eq!(
            client("http://h:1/").websocket_url(),
            "ws://h:1/_worker/ws/w1"
        );
        assert_eq!(
            client("https://h/base").websocket_url(),
            "wss://h/base/_worker/ws/w1"
        );
        assert_eq!(seconds_param(Duration::from_secs(30)), "30");
        assert_eq!(seconds_param(Duration::from_millis(1500)), "1.500");
    }

    #[test]
    fn default_headers_are_the_protocol_headers() {
        for (name, literal) in [
            (HEADER_WORKER_TOKEN, "x-worker-token"),
            (HEADER_WORKER_ID, "x-worker-id"),
            (HEADER_PROTOCOL_VERSION, "x-rxon-version"),
        ] {
            assert!(name.eq_ignore_ascii_case(literal), "{name}");
        }
    }
}
