//! Body signatures, compatible with `rxon.security.sign_payload`.
//!
//! The signed message is the canonical JSON of the body without its `security` field (and,
//! for events, without `bubbling_chain`):
//! - object keys sorted by their UTF-8 bytes, recursively;
//! - `null` members of objects removed (nulls inside arrays stay), as `rxon.utils.to_dict`
//!   drops them before signing;
//! - floats with no fractional part written as integers, as `to_dict` does;
//! - no whitespace, non-ASCII written as UTF-8, the escapes of `orjson`.
//!
//! The signature is `hex(HMAC-SHA256(secret, message))`.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use std::fmt::Write as _;

type HmacSha256 = Hmac<Sha256>;

/// Top-level fields never covered by a signature.
const UNSIGNED_FIELDS: [&str; 1] = ["security"];

/// The canonical form of `value` (see the module docs).
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::with_capacity(256);
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> =
                map.iter().filter(|(_, v)| !v.is_null()).collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
    }
}

fn write_number(n: &serde_json::Number, out: &mut String) {
    if let Some(f) = n.as_f64().filter(|_| n.is_f64()) {
        // `to_dict` turns integral floats into ints before signing.
        if f.fract() == 0.0 && f.abs() < 9.2e18 {
            let _ = write!(out, "{}", f as i64);
            return;
        }
    }
    let _ = write!(out, "{n}");
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The message a signature covers: the body without `security` and `extra_ignored`.
pub fn signing_message(body: &Value, extra_ignored: &[&str]) -> String {
    match body {
        Value::Object(map) => {
            let mut copy = map.clone();
            for field in UNSIGNED_FIELDS.iter().chain(extra_ignored) {
                copy.remove(*field);
            }
            canonical_json(&Value::Object(copy))
        }
        other => canonical_json(other),
    }
}

/// `hex(HMAC-SHA256(secret, signing_message(body)))`.
pub fn sign(body: &Value, secret: &str, extra_ignored: &[&str]) -> String {
    let message = signing_message(body, extra_ignored);
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Constant-time check of `signature` over `body`.
pub fn verify(body: &Value, signature: &str, secret: &str, extra_ignored: &[&str]) -> bool {
    let Ok(expected) = hex::decode(signature) else {
        return false;
    };
    let message = signing_message(body, extra_ignored);
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(message.as_bytes());
    mac.verify_slice(&expected).is_ok()
}

/// Fields left out of an event's signature besides `security`.
pub const EVENT_UNSIGNED_FIELDS: &[&str] = &["bubbling_chain"];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_form_sorts_drops_nulls_and_normalizes_floats() {
        let v = json!({"b": 1.0, "a": {"z": null, "y": [null, 2.5, "é\n"]}, "c": null});
        assert_eq!(canonical_json(&v), r#"{"a":{"y":[null,2.5,"é\n"]},"b":1}"#);
    }

    #[test]
    fn signature_ignores_security_and_detects_changes() {
        let body = json!({"worker_id": "w", "timestamp": 10, "security": {"signature": "x"}});
        let sig = sign(&body, "secret", &[]);
        assert!(verify(&body, &sig, "secret", &[]));
        assert!(!verify(&body, &sig, "other", &[]));
        let changed = json!({"worker_id": "w", "timestamp": 11});
        assert!(!verify(&changed, &sig, "secret", &[]));
        assert!(!verify(&body, "not-hex", "secret", &[]));
    }

    /// Signature computed by `rxon.security.sign_payload` 1.0b15 for this body and the
    /// secret `s3cret` (python: `sign_payload(to_dict(body), "s3cret")`).
    #[test]
    fn matches_rxon_reference_signature() {
        let body = json!({"worker_id":"echo-probe-5","status":"idle","available_skills":["echo"],
            "current_tasks":[],"usage":{"cpu_load_percent":0,"ram_used_gb":0.5},"skills_hash":"abc",
            "timestamp":1795434805,"note":"héllo \"q\""});
        assert_eq!(sign(&body, "s3cret", &[]), RXON_REFERENCE_SIGNATURE);
    }

    const RXON_REFERENCE_SIGNATURE: &str =
        "7412d598220b5c7c15f46f699d97816e3f1f251afe915cc2c310918fb6f21fe1";
}
