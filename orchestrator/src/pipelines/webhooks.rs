//! CI webhooks of the coding pipelines: checking that a GitHub or GitLab call is genuine,
//! and reading what it says about a branch. Pure functions; the routes that use them are
//! not written yet.
//!
//! Webhooks are authenticated by their signature, never by the API bearer token (a CI
//! provider cannot send it). GitHub signs the raw body: `X-Hub-Signature-256:
//! sha256=<hex HMAC-SHA256(token, body)>`. GitLab sends the token itself in
//! `X-Gitlab-Token` and, optionally, the same HMAC in `X-Gitlab-Signature-256`.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookAuthError {
    #[error("missing {0}")]
    Missing(&'static str),
    #[error("{0} does not match")]
    Mismatch(&'static str),
}

/// What a CI event says about a branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiSignal {
    /// Without `refs/heads/`.
    pub branch: String,
    pub status: CiStatus,
    /// A pull/merge request was merged.
    pub merged: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CiStatus {
    Success,
    Running,
    Failure,
    /// A status this mapping does not know; recorded, changes nothing.
    Other,
}

fn hmac_matches(secret: &str, body: &[u8], header: &str) -> bool {
    let Some(hex_sig) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&sig).is_ok()
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Checks a GitHub call when a webhook token is configured (else accepts it).
pub fn verify_github(
    secret: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
) -> Result<(), WebhookAuthError> {
    let Some(secret) = secret else { return Ok(()) };
    let sig = signature.ok_or(WebhookAuthError::Missing("X-Hub-Signature-256"))?;
    if hmac_matches(secret, body, sig) {
        Ok(())
    } else {
        Err(WebhookAuthError::Mismatch("X-Hub-Signature-256"))
    }
}

/// Checks a GitLab call when a webhook token is configured: the token must match, and a
/// signature, when sent, too.
pub fn verify_gitlab(
    secret: Option<&str>,
    token: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
) -> Result<(), WebhookAuthError> {
    let Some(secret) = secret else { return Ok(()) };
    let token = token.ok_or(WebhookAuthError::Missing("X-Gitlab-Token"))?;
    if !same(token, secret) {
        return Err(WebhookAuthError::Mismatch("X-Gitlab-Token"));
    }
    match signature {
        Some(sig) if !hmac_matches(secret, body, sig) => {
            Err(WebhookAuthError::Mismatch("X-Gitlab-Signature-256"))
        }
        _ => Ok(()),
    }
}

fn status_of(word: &str) -> CiStatus {
    match word.to_ascii_lowercase().as_str() {
        "success" | "neutral" | "passed" | "ok" | "merge" | "merged" => CiStatus::Success,
        "in_progress" | "queued" | "requested" | "pending" | "running" | "created" => {
            CiStatus::Running
        }
        "failure" | "failed" | "timed_out" | "cancelled" | "canceled" | "action_required"
        | "error" => CiStatus::Failure,
        _ => CiStatus::Other,
    }
}

fn branch_of(name: &str) -> String {
    name.strip_prefix("refs/heads/").unwrap_or(name).to_string()
}

fn str_at<'v>(payload: &'v Value, pointer: &str) -> Option<&'v str> {
    payload
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// A GitHub event (`X-GitHub-Event`) as a signal; `None` when it names no branch.
pub fn github_signal(event: &str, payload: &Value) -> Option<CiSignal> {
    let branch = str_at(payload, "/workflow_run/head_branch")
        .or_else(|| str_at(payload, "/check_suite/head_branch"))
        .or_else(|| str_at(payload, "/check_run/check_suite/head_branch"))
        .or_else(|| str_at(payload, "/check_run/head_branch"))
        .or_else(|| str_at(payload, "/pull_request/head/ref"))
        .or_else(|| str_at(payload, "/branches/0/name"))
        .or_else(|| str_at(payload, "/ref"))?;
    let merged = event == "pull_request"
        && payload.pointer("/pull_request/merged") == Some(&Value::Bool(true));
    // A conclusion, once there, says more than a status.
    let word = [
        "/workflow_run/conclusion",
        "/check_suite/conclusion",
        "/check_run/conclusion",
    ]
    .iter()
    .find_map(|p| str_at(payload, p))
    .or_else(|| {
        [
            "/workflow_run/status",
            "/check_suite/status",
            "/check_run/status",
            "/state",
        ]
        .iter()
        .find_map(|p| str_at(payload, p))
    })
    .unwrap_or("");
    Some(CiSignal {
        branch: branch_of(branch),
        status: if merged {
            CiStatus::Success
        } else {
            status_of(word)
        },
        merged,
    })
}

/// A GitLab hook as a signal; `None` when it names no branch.
pub fn gitlab_signal(payload: &Value) -> Option<CiSignal> {
    let attrs = payload.get("object_attributes")?;
    let branch = str_at(attrs, "/source_branch").or_else(|| str_at(attrs, "/ref"))?;
    let merge_request = payload["object_kind"] == "merge_request";
    let state = str_at(attrs, "/state");
    let merged =
        merge_request && (state == Some("merged") || str_at(attrs, "/action") == Some("merge"));
    let word = str_at(attrs, "/status").or(state).unwrap_or("");
    Some(CiSignal {
        branch: branch_of(branch),
        status: if merged {
            CiStatus::Success
        } else {
            status_of(word)
        },
        merged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sign(secret: &str, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn github_signatures() {
        let body = br#"{"state":"success"}"#;
        assert_eq!(verify_github(None, None, body), Ok(()));
        assert_eq!(
            verify_github(Some("t"), Some(&sign("t", body)), body),
            Ok(())
        );
        assert_eq!(
            verify_github(Some("t"), None, body),
            Err(WebhookAuthError::Missing("X-Hub-Signature-256"))
        );
        assert!(verify_github(Some("t"), Some(&sign("u", body)), body).is_err());
        assert!(verify_github(Some("t"), Some(&sign("t", b"other")), body).is_err());
        assert!(verify_github(Some("t"), Some("sha256=zz"), body).is_err());
    }

    #[test]
    fn gitlab_tokens_and_optional_signatures() {
        let body = b"{}";
        assert_eq!(verify_gitlab(Some("t"), Some("t"), None, body), Ok(()));
        assert_eq!(
            verify_gitlab(Some("t"), Some("t"), Some(&sign("t", body)), body),
            Ok(())
        );
        assert!(verify_gitlab(Some("t"), Some("t"), Some(&sign("x", body)), body).is_err());
        assert_eq!(
            verify_gitlab(Some("t"), Some("tt"), None, body),
            Err(WebhookAuthError::Mismatch("X-Gitlab-Token"))
        );
        assert!(verify_gitlab(Some("t"), None, None, body).is_err());
        assert_eq!(verify_gitlab(None, None, None, body), Ok(()));
    }

    #[test]
    fn github_events_name_their_branch_and_outcome() {
        let s = |e, p: Value| github_signal(e, &p).map(|s| (s.branch, s.status, s.merged));
        assert_eq!(
            s(
                "workflow_run",
                json!({"workflow_run": {"head_branch": "0001-demo", "status": "completed", "conclusion": "failure"}})
            ),
            Some(("0001-demo".into(), CiStatus::Failure, false))
        );
        assert_eq!(
            s(
                "check_suite",
                json!({"check_suite": {"head_branch": "b", "status": "queued"}})
            ),
            Some(("b".into(), CiStatus::Running, false))
        );
        assert_eq!(
            s(
                "status",
                json!({"state": "success", "branches": [{"name": "0002-x"}], "ref": "0002-x"})
            ),
            Some(("0002-x".into(), CiStatus::Success, false))
        );
        assert_eq!(
            s(
                "pull_request",
                json!({"action": "closed", "pull_request": {"merged": true, "head": {"ref": "0001-demo"}}})
            ),
            Some(("0001-demo".into(), CiStatus::Success, true))
        );
        assert_eq!(
            s("push", json!({"ref": "refs/heads/feature"})),
            Some(("feature".into(), CiStatus::Other, false))
        );
        assert_eq!(s("ping", json!({"zen": "hi"})), None);
    }

    #[test]
    fn gitlab_hooks_name_their_branch_and_outcome() {
        let s = |p: Value| gitlab_signal(&p).map(|s| (s.branch, s.status, s.merged));
        assert_eq!(
            s(
                json!({"object_kind": "pipeline", "object_attributes": {"status": "failed", "ref": "0001-demo"}})
            ),
            Some(("0001-demo".into(), CiStatus::Failure, false))
        );
        assert_eq!(
            s(
                json!({"object_kind": "pipeline", "object_attributes": {"status": "running", "ref": "b"}})
            ),
            Some(("b".into(), CiStatus::Running, false))
        );
        assert_eq!(
            s(
                json!({"object_kind": "merge_request", "object_attributes": {"state": "merged", "action": "merge", "source_branch": "0003-y"}})
            ),
            Some(("0003-y".into(), CiStatus::Success, true))
        );
        assert_eq!(s(json!({"object_kind": "note"})), None);
    }
}
