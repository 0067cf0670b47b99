//! `X-Request-ID`: the caller's id when it sent a usable one, else a new uuid; echoed on
//! the answer and written into whatever the request records. And the constant-time token
//! comparison the faces' bearer checks use.

use sha2::{Digest, Sha256};
use warp::http::HeaderValue;
use warp::reply::Response;

pub const REQUEST_ID: &str = "x-request-id";

/// The caller's id if it is short printable ASCII (it is echoed in a header and stored
/// in records), else a new uuid.
pub fn request_id(sent: Option<String>) -> String {
    sent.filter(|s| (1..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Puts the request id on an answer.
pub fn stamp(request_id: &str, mut resp: Response) -> Response {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    resp
}

/// Whether two secrets are equal, in time independent of where they differ: the
/// digests have a fixed length, so neither the position of a difference nor the token's
/// length shows in the timing.
pub fn tokens_match(given: &str, expected: &str) -> bool {
    let (a, b) = (
        Sha256::digest(given.as_bytes()),
        Sha256::digest(expected.as_bytes()),
    );
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_by_value() {
        assert!(tokens_match("abc", "abc"));
        assert!(!tokens_match("abc", "abd"));
        assert!(!tokens_match("", "abc"));
    }

    #[test]
    fn request_ids_are_echoed_only_when_usable() {
        assert_eq!(request_id(Some("req-1".into())), "req-1");
        assert_ne!(request_id(Some("has space".into())), "has space");
        assert_ne!(request_id(Some("x".repeat(200))).len(), 200);
        assert_eq!(request_id(None).len(), 36);
    }
}
