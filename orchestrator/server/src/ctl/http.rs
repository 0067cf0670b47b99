//! The CLI's HTTP client: one token header, JSON in and out, and the orchestrator's
//! answers turned into [`CtlError`]s that carry an exit status.

use super::{exit, Conn};
use serde_json::Value;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    #[error("{0}")]
    Usage(String),
    #[error(
        "cannot reach the orchestrator at {url}: {source} (is it running? set --url or BATON_URL)"
    )]
    Unreachable { url: String, source: reqwest::Error },
    #[error("the orchestrator refused the token ({status}): {message} (set BATON_TOKEN to a client token or the admin token)")]
    Auth { status: u16, message: String },
    #[error("not allowed ({status}): {message}")]
    Forbidden { status: u16, message: String },
    #[error("{message}")]
    NotFound { message: String },
    #[error("rejected ({status}): {message}")]
    Rejected { status: u16, message: String },
    #[error("the orchestrator failed ({status}): {message}")]
    Server { status: u16, message: String },
}

impl CtlError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CtlError::Usage(_) | CtlError::Rejected { .. } => exit::USAGE,
            CtlError::NotFound { .. } => exit::NOT_FOUND,
            CtlError::Unreachable { .. }
            | CtlError::Auth { .. }
            | CtlError::Forbidden { .. }
            | CtlError::Server { .. } => exit::ERROR,
        }
    }
}

pub struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
    pub json: bool,
}

impl Api {
    pub fn new(conn: &Conn) -> Result<Api, CtlError> {
        let token = conn
            .token
            .clone()
            .or_else(|| std::env::var("BATON_ADMIN_TOKEN").ok())
            .or_else(|| std::env::var("BATON_CLIENT_TOKEN").ok())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                CtlError::Usage(
                    "no token: set BATON_TOKEN (a client token, or the admin token to see every client's jobs; `baton dev` uses dev-admin-token)".into(),
                )
            })?;
        let base = conn.url.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(CtlError::Usage(format!(
                "--url must start with http:// or https://, not {base:?}"
            )));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| CtlError::Usage(format!("cannot build an HTTP client: {e}")))?;
        Ok(Api {
            base,
            token,
            http,
            json: conn.json,
        })
    }

    pub async fn get(&self, path: &str) -> Result<Value, CtlError> {
        self.send(self.http.get(self.url(path))).await
    }

    /// GET returning the body as text (the DOT graph).
    pub async fn get_text(&self, path: &str) -> Result<String, CtlError> {
        let resp = self.call(self.http.get(self.url(path))).await?;
        resp.text().await.map_err(|e| self.unreachable(e))
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, CtlError> {
        self.send(self.http.post(self.url(path)).json(body)).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn unreachable(&self, source: reqwest::Error) -> CtlError {
        CtlError::Unreachable {
            url: self.base.clone(),
            source,
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<Value, CtlError> {
        let resp = self.call(req).await?;
        let text = resp.text().await.map_err(|e| self.unreachable(e))?;
        if text.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| CtlError::Server {
            status: 200,
            message: format!("not JSON ({e}): {}", truncate(&text)),
        })
    }

    /// Sends with the token; a non-2xx answer becomes the matching error.
    async fn call(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, CtlError> {
        let resp = req
            .header("X-Client-Token", &self.token)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let status = resp.status().as_u16();
        if resp.status().is_success() {
            return Ok(resp);
        }
        let text = resp.text().await.unwrap_or_default();
        let message = error_message(&text);
        Err(match status {
            401 => CtlError::Auth { status, message },
            403 => CtlError::Forbidden { status, message },
            404 => CtlError::NotFound { message },
            400..=499 => CtlError::Rejected { status, message },
            _ => CtlError::Server { status, message },
        })
    }
}

/// The message of an error body in any face's shape (`{"error": "..."}`,
/// `{"error": {"message": ...}}`, `{"message": ...}`), else the text itself.
fn error_message(text: &str) -> String {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return truncate(text);
    };
    let found = [
        &v["error"],
        &v["error"]["message"],
        &v["message"],
        &v["detail"],
    ]
    .into_iter()
    .find_map(|m| m.as_str().map(String::from));
    found.unwrap_or_else(|| truncate(text))
}

fn truncate(text: &str) -> String {
    let t = text.trim();
    match t.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None => t.to_string(),
    }
}

/// A path segment as the URL needs it (job ids and names come from the user).
pub fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_are_read_from_every_face_shape() {
        assert_eq!(
            error_message(r#"{"code":"not_found","error":"Job not found"}"#),
            "Job not found"
        );
        assert_eq!(
            error_message(r#"{"error":{"error_code":"X","message":"bad"}}"#),
            "bad"
        );
        assert_eq!(error_message(r#"{"detail":"nope"}"#), "nope");
        assert_eq!(error_message("plain"), "plain");
    }

    #[test]
    fn segments_are_escaped() {
        assert_eq!(segment("a b/c"), "a%20b%2Fc");
        assert_eq!(segment("3f0c-9a_x.y"), "3f0c-9a_x.y");
    }
}
