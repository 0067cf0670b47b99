//! Inbound webhooks: executions started by other systems.
//!
//! The data: a [`HookDef`] as clients send it (the workflow, how the payload becomes the
//! execution's variables, whether it is active), kept with its secret as one document
//! ([`StoredHook`]) in the face's store; deliveries are counted beside it and each one
//! leaves a history row ([`crate::runs`]).
//!
//! A delivery (`POST /hooks/{id}`, no bearer token) is signed: `X-Webhook-Signature:
//! sha256=<hex>` is the HMAC-SHA256 of the raw body under the secret (the prefix is
//! optional; GitHub's `X-Hub-Signature-256` is read too), compared in constant time.
//! With `X-Webhook-Timestamp` (epoch seconds), the signature covers `<timestamp>.<body>`
//! and a timestamp outside the tolerance is refused, so a captured delivery cannot be
//! replayed later. A delivery id (`X-Webhook-Delivery`, `X-GitHub-Delivery`,
//! `X-Gitlab-Event-UUID`) names the execution (an id derived from it), so a retried
//! delivery finds the execution the first one started instead of starting another.

use crate::error::{WfError, WfResult};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::Sha256;
use utoipa::ToSchema;

/// What a secret read back looks like.
pub const REDACTED: &str = "***REDACTED***";

/// The headers a delivery id may come in, in order of preference.
pub const DELIVERY_HEADERS: &[&str] = &[
    "x-webhook-delivery",
    "x-github-delivery",
    "x-gitlab-event-uuid",
];

/// One value taken from the payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayloadMapping {
    /// A dot path through objects and lists (`commits.0.id`).
    pub source_path: String,
    /// The variable it becomes.
    pub target_variable: String,
    /// The value when the path leads nowhere.
    #[serde(default)]
    #[schema(value_type = Option<Value>)]
    pub default: Option<Value>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HookStatus {
    #[default]
    Active,
    /// Deliveries are refused (400).
    Disabled,
}

/// A webhook as clients send it (`POST /v1/webhooks`, `PUT /v1/webhooks/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HookDef {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub workflow_id: String,
    #[serde(default)]
    pub payload_mappings: Vec<PayloadMapping>,
    /// Variables every execution gets (the mappings come after them).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub static_variables: Map<String, Value>,
    #[serde(default)]
    pub status: HookStatus,
    /// On update: a new secret (at least 16 characters); empty or absent keeps the
    /// current one. On create: the secret to use instead of a generated one.
    #[serde(default, skip_serializing)]
    pub secret: Option<String>,
}

/// A webhook as kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredHook {
    pub def: HookDef,
    pub secret: String,
    pub created_ms: i64,
    pub updated_ms: i64,
}

fn bad(field: &str, message: impl Into<String>) -> WfError {
    WfError::bad_request(message).with("field", field.to_string())
}

/// Shortest secret a client may set.
pub const MIN_SECRET: usize = 16;

impl HookDef {
    /// Checks the definition (not the workflow's existence): 400 `VALIDATION` naming the
    /// field.
    pub fn check(&self) -> WfResult<()> {
        crate::triggers::check_names(&self.id, &self.name, &self.workflow_id)?;
        for (i, m) in self.payload_mappings.iter().enumerate() {
            if m.source_path.trim().is_empty() {
                return Err(bad(
                    &format!("payload_mappings[{i}].source_path"),
                    "a dot path into the payload (`repository.full_name`, `commits.0.id`)",
                ));
            }
            if !baton_protocol::is_identifier(&m.target_variable) {
                return Err(bad(
                    &format!("payload_mappings[{i}].target_variable"),
                    "a variable name: letters, digits, `-` or `_`",
                ));
            }
        }
        if let Some(s) = self.secret.as_deref().filter(|s| !s.is_empty()) {
            if s.chars().count() < MIN_SECRET {
                return Err(bad(
                    "secret",
                    format!("a secret has at least {MIN_SECRET} characters"),
                ));
            }
        }
        Ok(())
    }
}

impl StoredHook {
    pub fn parse(raw: &str) -> WfResult<StoredHook> {
        serde_json::from_str(raw).map_err(WfError::internal)
    }

    pub fn encode(&self) -> WfResult<String> {
        serde_json::to_string(self).map_err(WfError::internal)
    }
}

/// The owner of webhook `id`'s history rows in the store.
pub fn owner(id: &str) -> String {
    format!("hook:{id}")
}

/// A new secret: 32 random bytes, URL-safe base64 (43 characters).
pub fn new_secret() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    for chunk in bytes.chunks_mut(16) {
        chunk.copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Why a delivery's signature is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureError {
    Missing,
    Malformed,
    Wrong,
    /// The signed timestamp is this many seconds away from now.
    Stale(i64),
}

impl SignatureError {
    pub fn message(&self) -> String {
        match self {
            SignatureError::Missing => {
                "missing X-Webhook-Signature (sha256=<hex HMAC-SHA256 of the body>)".into()
            }
            SignatureError::Malformed => "X-Webhook-Signature is not sha256=<64 hex digits>".into(),
            SignatureError::Wrong => "the signature does not match the body".into(),
            SignatureError::Stale(s) => format!(
                "X-Webhook-Timestamp is {s} s from now: outside the tolerance, refused as a replay"
            ),
        }
    }
}

/// Checks a delivery's signature. `timestamp` (epoch seconds, when the sender signs
/// one) is covered by the signature and must be within `tolerance_secs` of `now_secs`.
pub fn verify(
    secret: &str,
    body: &[u8],
    signature: Option<&str>,
    timestamp: Option<&str>,
    now_secs: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let sig = signature.map(str::trim).ok_or(SignatureError::Missing)?;
    let hex_part = sig.strip_prefix("sha256=").unwrap_or(sig);
    let expected = hex::decode(hex_part).map_err(|_| SignatureError::Malformed)?;
    if expected.len() != 32 {
        return Err(SignatureError::Malformed);
    }
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| SignatureError::Wrong)?;
    if let Some(ts) = timestamp {
        let at: i64 = ts.trim().parse().map_err(|_| SignatureError::Malformed)?;
        let off = (now_secs - at).abs();
        if off > tolerance_secs {
            return Err(SignatureError::Stale(off));
        }
        mac.update(ts.trim().as_bytes());
        mac.update(b".");
    }
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Wrong)
}

/// `path` (dots through objects and list indexes) in `payload`.
pub fn lookup<'a>(payload: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .filter(|p| !p.is_empty())
        .try_fold(payload, |current, seg| match current {
            Value::Object(m) => m.get(seg),
            Value::Array(items) => items.get(seg.parse::<usize>().ok()?),
            _ => None,
        })
}

/// The execution's variables: the static ones, then each mapping (its default when its
/// path leads nowhere; nothing when it has no default either).
pub fn variables(def: &HookDef, payload: &Value) -> Map<String, Value> {
    let mut vars = def.static_variables.clone();
    for m in &def.payload_mappings {
        let found = lookup(payload, &m.source_path).filter(|v| !v.is_null());
        if let Some(v) = found.or(m.default.as_ref()) {
            vars.insert(m.target_variable.clone(), v.clone());
        }
    }
    vars
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sign(secret: &str, data: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(data);
        hex::encode(mac.finalize().into_bytes())
    }

    #[test]
    fn signatures_with_and_without_prefix_and_timestamps() {
        let body = br#"{"a":1}"#;
        let good = sign("s3cret", body);
        assert_eq!(
            verify(
                "s3cret",
                body,
                Some(&format!("sha256={good}")),
                None,
                0,
                300
            ),
            Ok(())
        );
        assert_eq!(verify("s3cret", body, Some(&good), None, 0, 300), Ok(()));
        assert_eq!(
            verify("other", body, Some(&good), None, 0, 300),
            Err(SignatureError::Wrong)
        );
        assert_eq!(
            verify("s3cret", body, None, None, 0, 300),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify("s3cret", body, Some("sha256=zz"), None, 0, 300),
            Err(SignatureError::Malformed)
        );
        let stamped = sign("s3cret", br#"1000.{"a":1}"#);
        assert_eq!(
            verify("s3cret", body, Some(&stamped), Some("1000"), 1100, 300),
            Ok(())
        );
        assert_eq!(
            verify("s3cret", body, Some(&stamped), Some("1000"), 2000, 300),
            Err(SignatureError::Stale(1000))
        );
        assert_eq!(
            verify("s3cret", body, Some(&good), Some("1000"), 1000, 300),
            Err(SignatureError::Wrong),
            "a timestamp the signature does not cover"
        );
    }

    #[test]
    fn mappings_walk_objects_and_lists_with_defaults() {
        let def: HookDef = serde_json::from_value(json!({
            "id": "h", "name": "H", "workflow_id": "w",
            "static_variables": {"notify": true, "repo_name": "static"},
            "payload_mappings": [
                {"source_path": "repository.full_name", "target_variable": "repo_name"},
                {"source_path": "commits.1.id", "target_variable": "second"},
                {"source_path": "pusher.email", "target_variable": "email", "default": "nobody"},
                {"source_path": "missing.path", "target_variable": "gone"}],
        }))
        .unwrap();
        let payload =
            json!({"repository": {"full_name": "u/r"}, "commits": [{"id": "a"}, {"id": "b"}]});
        assert_eq!(
            Value::Object(variables(&def, &payload)),
            json!({"notify": true, "repo_name": "u/r", "second": "b", "email": "nobody"})
        );
        assert!(def.check().is_ok());
    }

    #[test]
    fn new_secrets_are_long_and_different() {
        let (a, b) = (new_secret(), new_secret());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
    }
}
