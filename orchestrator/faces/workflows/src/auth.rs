//! Login and bearer tokens of the workflow face.
//!
//! Users come from `API_CREDENTIALS`: `user:hash` pairs, comma-separated, where the hash
//! is the hex SHA-256 of the password or a bcrypt hash (`$2a$`/`$2b$`/`$2y$`). With
//! `ALLOW_DEMO_AUTH=true` any user id logs in with the password `demo` (for trying Baton
//! out; never in production).
//!
//! A login answers a JWT signed with HS256 under `SECRET_KEY`: header
//! `{"alg":"HS256","typ":"JWT"}`, claims `{"sub": user, "iat", "exp"}` (epoch seconds). A
//! token is accepted by every orchestrator that has the same key, which is what lets
//! several orchestrators on one Redis serve one client: nothing about a token is stored.
//! Verification checks the signature in constant time (HMAC's own comparison), then
//! `exp`; `alg` other than HS256 (`none` included) is refused.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

type HmacSha256 = Hmac<Sha256>;

/// The shortest signing key `baton serve` accepts once users are configured.
pub const MIN_SECRET_LEN: usize = 32;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AuthConfigError {
    #[error("API_CREDENTIALS entry {0:?} is not `user:hash`")]
    Entry(String),
    #[error("API_CREDENTIALS: the hash of `{0}` is neither 64 hex digits (SHA-256) nor a bcrypt hash ($2b$...)")]
    Hash(String),
}

#[derive(Debug, Clone, PartialEq)]
enum PasswordHash {
    Sha256([u8; 32]),
    Bcrypt(String),
}

/// The users who may log in.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    users: HashMap<String, PasswordHash>,
    /// `ALLOW_DEMO_AUTH`: password `demo` for any user id.
    pub allow_demo: bool,
}

impl Credentials {
    /// Parses `API_CREDENTIALS` (`user:hash,user:hash`; empty entries skipped).
    pub fn parse(spec: Option<&str>, allow_demo: bool) -> Result<Credentials, AuthConfigError> {
        let mut users = HashMap::new();
        for entry in spec.unwrap_or("").split(',').map(str::trim) {
            if entry.is_empty() {
                continue;
            }
            let Some((user, hash)) = entry.split_once(':') else {
                return Err(AuthConfigError::Entry(entry.into()));
            };
            let (user, hash) = (user.trim(), hash.trim());
            if user.is_empty() {
                return Err(AuthConfigError::Entry(entry.into()));
            }
            let parsed = if hash.starts_with("$2") {
                // Checked for shape here; a malformed bcrypt hash then fails every login.
                if hash.len() != 60 {
                    return Err(AuthConfigError::Hash(user.into()));
                }
                PasswordHash::Bcrypt(hash.into())
            } else {
                let mut digest = [0u8; 32];
                hex::decode_to_slice(hash, &mut digest)
                    .map_err(|_| AuthConfigError::Hash(user.into()))?;
                PasswordHash::Sha256(digest)
            };
            users.insert(user.to_string(), parsed);
        }
        Ok(Credentials { users, allow_demo })
    }

    /// Whether any real user is configured (the signing key must then be strong).
    pub fn has_users(&self) -> bool {
        !self.users.is_empty()
    }

    /// Whether `password` is `user`'s: the configured hash first, then demo auth.
    pub fn check(&self, user: &str, password: &str) -> bool {
        match self.users.get(user) {
            Some(PasswordHash::Sha256(want)) => {
                let got = Sha256::digest(password.as_bytes());
                // Fixed length: the fold takes the same time wherever they differ.
                got.iter()
                    .zip(want.iter())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
            }
            Some(PasswordHash::Bcrypt(hash)) => bcrypt::verify(password, hash).unwrap_or(false),
            None => self.allow_demo && baton_http::tokens_match(password, "demo"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("token signature does not verify")]
    BadSignature,
    #[error("token expired")]
    Expired,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
}

/// Signs and verifies HS256 tokens with one key.
#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(..)")
    }
}

impl Signer {
    pub fn new(key: &str) -> Signer {
        Signer {
            key: key.as_bytes().to_vec(),
        }
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes keys of any length; this cannot fail.
        HmacSha256::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!())
    }

    /// A token for `user`, valid from `now` (epoch seconds) for `ttl_seconds`.
    pub fn issue(&self, user: &str, now: i64, ttl_seconds: i64) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let claims = Claims {
            sub: user.to_string(),
            iat: now,
            exp: now.saturating_add(ttl_seconds),
        };
        let claims = serde_json::to_vec(&claims).unwrap_or_default();
        let signing_input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims));
        let mut mac = self.mac();
        mac.update(signing_input.as_bytes());
        let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{signing_input}.{sig}")
    }

    /// The claims of a token this key signed that has not expired at `now`.
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, TokenError> {
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let decode = |part: &str| {
            URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|_| TokenError::Malformed)
        };
        let header: Header =
            serde_json::from_slice(&decode(h)?).map_err(|_| TokenError::Malformed)?;
        if header.alg != "HS256" {
            return Err(TokenError::BadSignature);
        }
        let mut mac = self.mac();
        mac.update(h.as_bytes());
        mac.update(b".");
        mac.update(c.as_bytes());
        mac.verify_slice(&decode(s)?)
            .map_err(|_| TokenError::BadSignature)?;
        let claims: Claims =
            serde_json::from_slice(&decode(c)?).map_err(|_| TokenError::Malformed)?;
        if claims.exp <= now {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_verifies_until_it_expires_and_only_under_its_key() {
        let s = Signer::new("k".repeat(32).as_str());
        let t = s.issue("alice", 1000, 60);
        assert_eq!(s.verify(&t, 1059).unwrap().sub, "alice");
        assert_eq!(s.verify(&t, 1060), Err(TokenError::Expired));
        let other = Signer::new("x".repeat(32).as_str());
        assert_eq!(other.verify(&t, 1000), Err(TokenError::BadSignature));
        assert_eq!(s.verify("a.b", 0), Err(TokenError::Malformed));
        assert_eq!(s.verify("not a token", 0), Err(TokenError::Malformed));
    }

    #[test]
    fn a_tampered_or_unsigned_token_is_refused() {
        let s = Signer::new("secret-secret-secret-secret-secret");
        let t = s.issue("alice", 0, 60);
        let parts: Vec<&str> = t.split('.').collect();
        let forged_claims = URL_SAFE_NO_PAD.encode(br#"{"sub":"admin","iat":0,"exp":60}"#);
        let forged = format!("{}.{forged_claims}.{}", parts[0], parts[2]);
        assert_eq!(s.verify(&forged, 1), Err(TokenError::BadSignature));
        let none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
        assert_eq!(
            s.verify(&format!("{none}.{}.", parts[1]), 1),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn tokens_are_standard_hs256() {
        // The example token of RFC 7515's HS256 sibling on jwt.io, checked against its key.
        let s = Signer::new("your-256-bit-secret");
        let jwt_io = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.\
            eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.\
            SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
        // It verifies (no `exp` claim: malformed for us, so check the signature alone).
        assert_eq!(s.verify(jwt_io, 0), Err(TokenError::Malformed));
        let other = Signer::new("another-secret");
        assert_eq!(other.verify(jwt_io, 0), Err(TokenError::BadSignature));
    }

    #[test]
    fn credentials_take_sha256_and_bcrypt_hashes_and_demo_when_allowed() {
        let sha = hex::encode(Sha256::digest(b"s3cret"));
        let bc = bcrypt::hash("hunter2", 4).unwrap();
        let c = Credentials::parse(Some(&format!("ann:{sha}, bob:{bc}")), false).unwrap();
        assert!(c.has_users());
        assert!(c.check("ann", "s3cret"));
        assert!(!c.check("ann", "s3cret "));
        assert!(c.check("bob", "hunter2"));
        assert!(!c.check("bob", "hunter3"));
        assert!(!c.check("eve", "demo"), "demo auth is off");
        let demo = Credentials::parse(None, true).unwrap();
        assert!(!demo.has_users());
        assert!(demo.check("anyone", "demo"));
        assert!(!demo.check("anyone", "Demo"));
        let c = Credentials::parse(Some(&format!("ann:{sha}")), true).unwrap();
        assert!(
            !c.check("ann", "demo"),
            "a configured user needs their own password"
        );
        for bad in ["ann", ":abc", "ann:xyz", "ann:$2b$short"] {
            assert!(Credentials::parse(Some(bad), false).is_err(), "{bad}");
        }
    }
}
