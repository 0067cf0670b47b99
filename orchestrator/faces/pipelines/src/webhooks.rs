//! CI webhooks of the coding pipelines: checking that a GitHub or GitLab call is genuine,
//! and reading what it says about a branch ([`CiSignal`]). Pure functions; the routes are
//! `api::pipelines::webhooks`, what a signal changes `super::ci`.
//!
//! Webhooks are authenticated by their signature, never by the API bearer token (a CI
//! provider cannot send it). GitHub signs the raw body: `X-Hub-Signature-256:
//! sha256=<hex HMAC-SHA256(token, body)>`. GitLab sends the token itself in
//! `X-Gitlab-Token` (the upstream clients' own scripts send it as
//! `X-TasksGodzilla-Webhook-Token` or `X-Deksdenflow-Webhook-Token`: [`GITLAB_TOKEN_HEADERS`])
//! and, optionally, the same HMAC in `X-Gitlab-Signature-256`.
//!
//! Besides the branch and what the result means, a signal keeps what the provider said
//! as it said it (event, status, conclusion, PR number, commit, check name) for the
//! run's CI summary.

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

/// The headers a GitLab hook's token may come in, in the order they are looked at.
pub const GITLAB_TOKEN_HEADERS: [&str; 3] = [
    "x-gitlab-token",
    "x-tasksgodzilla-webhook-token",
    "x-deksdenflow-webhook-token",
];

/// What a CI event says about a branch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CiSignal {
    /// Without `refs/heads/`.
    pub branch: String,
    pub status: CiStatus,
    /// A pull/merge request was merged.
    pub merged: bool,
    /// The provider's words, for the record: the event (`X-GitHub-Event`, GitLab's
    /// `object_kind`), its status and conclusion as sent, the PR/MR number, the commit
    /// and the check's name, where the payload has them.
    pub detail: CiDetail,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CiDetail {
    pub event: String,
    pub status: Option<String>,
    pub conclusion: Option<String>,
    pub pr_number: Option<u64>,
    pub sha: Option<String>,
    pub check_name: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CiStatus {
    Success,
    Running,
    Failure,
    /// A status this mapping does not know; recorded, changes nothing.
    #[default]
    Other,
}

impl CiStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CiStatus::Success => "success",
            CiStatus::Running => "running",
            CiStatus::Failure => "failure",
            CiStatus::Other => "other",
        }
    }
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

/// Checks a GitLab call when a webhook token is configured: the token (from the first of
/// [`GITLAB_TOKEN_HEADERS`] sent) must match, and a signature, when sent, too.
pub fn verify_gitlab(
    secret: Option<&str>,
    token: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
) -> Result<(), WebhookAuthError> {
    let Some(secret) = secret else { return Ok(()) };
    let token = token.ok_or(WebhookAuthError::Missing(
        "X-Gitlab-Token (or X-TasksGodzilla-Webhook-Token, X-Deksdenflow-Webhook-Token)",
    ))?;
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

fn first_str<'v>(payload: &'v Value, pointers: &[&str]) -> Option<&'v str> {
    pointers.iter().find_map(|p| str_at(payload, p))
}

fn owned(s: Option<&str>) -> Option<String> {
    s.map(str::to_string)
}

/// A GitHub event (`X-GitHub-Event`) as a signal; `None` when it names no branch.
pub fn github_signal(event: &str, payload: &Value) -> Option<CiSignal> {
    let branch = first_str(
        payload,
        &[
            "/workflow_run/head_branch",
            "/check_suite/head_branch",
            "/check_run/check_suite/head_branch",
            "/check_run/head_branch",
            "/pull_request/head/ref",
            "/branches/0/name",
            "/ref",
        ],
    )?;
    let merged = event == "pull_request"
        && payload.pointer("/pull_request/merged") == Some(&Value::Bool(true));
    let conclusion = first_str(
        payload,
        &[
            "/workflow_run/conclusion",
            "/check_suite/conclusion",
            "/check_run/conclusion",
        ],
    );
    let status = first_str(
        payload,
        &[
            "/workflow_run/status",
            "/check_suite/status",
            "/check_run/status",
            "/state",
            "/pull_request/state",
        ],
    );
    // A conclusion, once there, says more than a status (a PR's state says nothing of CI).
    let word = conclusion
        .or(status.filter(|_| event != "pull_request"))
        .unwrap_or("");
    let pr_number = [
        "/pull_request/number",
        "/workflow_run/pull_requests/0/number",
        "/check_suite/pull_requests/0/number",
        "/check_run/pull_requests/0/number",
    ]
    .iter()
    .find_map(|p| payload.pointer(p).and_then(Value::as_u64));
    let detail = CiDetail {
        event: event.to_string(),
        status: owned(status),
        conclusion: owned(conclusion),
        pr_number,
        sha: owned(first_str(
            payload,
            &[
                "/pull_request/head/sha",
                "/workflow_run/head_sha",
                "/check_suite/head_sha",
                "/check_run/head_sha",
                "/sha",
                "/after",
            ],
        )),
        check_name: owned(first_str(
            payload,
            &["/check_run/name", "/workflow_run/name"],
        )),
    };
    Some(CiSignal {
        branch: branch_of(branch),
        status: if merged {
            CiStatus::Success
        } else {
            status_of(word)
        },
        merged,
        detail,
    })
}

/// A GitLab hook as a signal; `None` when it names no branch. The branch is
/// `object_attributes.source_branch`, else `object_attributes.ref`, else a top-level
/// `ref` (where upstream's tests put it); `event` is the `X-Gitlab-Event` header, used
/// when the body has no `object_kind`.
pub fn gitlab_signal(event: &str, payload: &Value) -> Option<CiSignal> {
    let attrs = payload.get("object_attributes").unwrap_or(&Value::Null);
    let branch = str_at(attrs, "/source_branch")
        .or_else(|| str_at(attrs, "/ref"))
        .or_else(|| str_at(payload, "/ref"))?;
    let kind = str_at(payload, "/object_kind").unwrap_or(event);
    let merge_request = kind == "merge_request";
    let state = str_at(attrs, "/state");
    let merged =
        merge_request && (state == Some("merged") || str_at(attrs, "/action") == Some("merge"));
    let status = str_at(attrs, "/status").or(state);
    let detail = CiDetail {
        event: kind.to_string(),
        status: owned(status),
        conclusion: None,
        pr_number: attrs
            .get("iid")
            .and_then(Value::as_u64)
            .filter(|_| merge_request),
        sha: owned(str_at(attrs, "/sha").or_else(|| str_at(payload, "/checkout_sha"))),
        check_name: owned(str_at(attrs, "/name")),
    };
    Some(CiSignal {
        branch: branch_of(branch),
        status: if merged {
            CiStatus::Success
        } else {
            status_of(status.unwrap_or(""))
        },
        merged,
        detail,
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
        let s =
            |p: Value| gitlab_signal("Pipeline Hook", &p).map(|s| (s.branch, s.status, s.merged));
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
        // The branch at the top level, as upstream's tests send it.
        assert_eq!(
            s(json!({"object_attributes": {"status": "success"}, "ref": "0002-demo"})),
            Some(("0002-demo".into(), CiStatus::Success, false))
        );
    }

    #[test]
    fn signals_keep_the_providers_words() {
        let pr = github_signal(
            "pull_request",
            &json!({"action": "closed", "pull_request": {"number": 7, "state": "closed", "merged": true,
                    "head": {"ref": "0003-demo", "sha": "abc123"}}}),
        )
        .expect("signal");
        assert_eq!(pr.detail.pr_number, Some(7));
        assert_eq!(pr.detail.sha.as_deref(), Some("abc123"));
        assert_eq!(pr.detail.status.as_deref(), Some("closed"));
        let open = github_signal(
            "pull_request",
            &json!({"pull_request": {"state": "open", "head": {"ref": "b"}}}),
        )
        .expect("signal");
        assert_eq!(
            open.status,
            CiStatus::Other,
            "a PR's state is not a CI result"
        );
        let run = github_signal(
            "check_run",
            &json!({"check_run": {"name": "tests", "status": "completed", "conclusion": "failure",
                    "head_branch": "b", "head_sha": "f00", "pull_requests": [{"number": 3}]}}),
        )
        .expect("signal");
        assert_eq!(
            (
                run.detail.check_name.as_deref(),
                run.detail.conclusion.as_deref(),
                run.detail.pr_number
            ),
            (Some("tests"), Some("failure"), Some(3))
        );
        let mr = gitlab_signal(
            "Merge Request Hook",
            &json!({"object_kind": "merge_request", "object_attributes": {"state": "merged", "iid": 11, "source_branch": "0004-demo"}}),
        )
        .expect("signal");
        assert_eq!(
            (mr.detail.event.as_str(), mr.detail.pr_number),
            ("merge_request", Some(11))
        );
    }
}
