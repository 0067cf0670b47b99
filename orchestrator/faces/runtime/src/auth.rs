//! Client and worker authentication, and verification of signed worker bodies.
//!
//! - **Clients** present `X-Client-Token`. Tokens come from `BATON_CLIENT_TOKEN` (client
//!   name `default`) and `BATON_CLIENTS_FILE`; a job belongs to the client that created it.
//! - **Workers** present `X-Worker-Token`: the global `BATON_WORKER_TOKEN`, or their own
//!   token from `BATON_WORKER_TOKENS_FILE`. An individual token only acts for its worker.
//! - **Signed bodies** carry `security.signature` = HMAC-SHA256 with the presented token
//!   over the canonical body, and an integer `timestamp` within the allowed skew.
//!
//! Tokens are kept as SHA-256 digests so that lookups do not compare secrets byte by byte.

use crate::RuntimeConfig;
use baton_protocol::signing;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("{0}")]
    Missing(String),
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AuthError {
    #[error("missing {0} header")]
    MissingToken(&'static str),
    #[error("invalid {0}")]
    BadToken(&'static str),
    #[error("{0}")]
    Denied(String),
}

type Digest32 = [u8; 32];

fn digest(token: &str) -> Digest32 {
    Sha256::digest(token.as_bytes()).into()
}

/// What a worker request authenticated as.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerCredential {
    /// The token presented: also the signing secret.
    pub secret: String,
    /// Set when the token is one worker's own: it may act only as that worker.
    pub bound_to: Option<String>,
    /// Digest of the token, so acting as another id is checked without hashing again.
    digest: Digest32,
}

impl WorkerCredential {
    pub fn check_worker(&self, worker_id: &str) -> Result<(), AuthError> {
        match &self.bound_to {
            Some(own) if own != worker_id => Err(AuthError::Denied(format!(
                "token of worker `{own}` cannot act as `{worker_id}`"
            ))),
            _ => Ok(()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Auth {
    clients: HashMap<Digest32, String>,
    worker_global: Option<Digest32>,
    /// worker id → digest of its token.
    worker_tokens: HashMap<String, Digest32>,
    /// digest → worker id, to recognise an individual token without `X-Worker-ID`.
    worker_by_token: HashMap<Digest32, String>,
    require_signatures: bool,
    max_skew: Duration,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ClientsFile {
    Wrapped { clients: Vec<ClientEntry> },
    List(Vec<ClientEntry>),
}

#[derive(Deserialize)]
struct ClientEntry {
    name: String,
    token: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum WorkerTokensFile {
    Wrapped { workers: HashMap<String, String> },
    List(Vec<WorkerEntry>),
    Map(HashMap<String, String>),
}

#[derive(Deserialize)]
struct WorkerEntry {
    worker_id: String,
    token: String,
}

fn read_file<T: for<'de> Deserialize<'de>>(path: &Path, shape: &str) -> Result<T, AuthConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| AuthConfigError::File {
        path: shown.clone(),
        message: format!("cannot read: {e}"),
    })?;
    serde_norway::from_str(&text).map_err(|e| AuthConfigError::File {
        path: shown,
        message: format!("expected {shape}: {e}"),
    })
}

impl Auth {
    /// Tokens from the configuration; an empty token set is allowed here (the binary
    /// refuses to start without tokens, tests may not need them).
    pub fn from_config(cfg: &RuntimeConfig) -> Result<Auth, AuthConfigError> {
        let mut auth = Auth {
            clients: HashMap::new(),
            worker_global: cfg.worker_token.as_deref().map(digest),
            worker_tokens: HashMap::new(),
            worker_by_token: HashMap::new(),
            require_signatures: cfg.require_signatures,
            max_skew: cfg.signature_max_skew,
        };
        if let Some(token) = &cfg.client_token {
            auth.clients.insert(digest(token), "default".into());
        }
        if let Some(token) = &cfg.admin_token {
            auth.clients
                .insert(digest(token), baton_engine::ADMIN_CLIENT.into());
        }
        if let Some(path) = &cfg.clients_file {
            let entries = match read_file::<ClientsFile>(path, "a list of {name, token}")? {
                ClientsFile::Wrapped { clients } | ClientsFile::List(clients) => clients,
            };
            for e in entries {
                if e.name == baton_engine::ADMIN_CLIENT {
                    return Err(AuthConfigError::File {
                        path: path.display().to_string(),
                        message: format!(
                            "`{}` is the admin's name (BATON_ADMIN_TOKEN); give the client another",
                            baton_engine::ADMIN_CLIENT
                        ),
                    });
                }
                if e.token.is_empty() || e.name.is_empty() {
                    return Err(AuthConfigError::File {
                        path: path.display().to_string(),
                        message: "every client needs a non-empty name and token".into(),
                    });
                }
                auth.clients.insert(digest(&e.token), e.name);
            }
        }
        if let Some(path) = &cfg.worker_tokens_file {
            let map: HashMap<String, String> =
                match read_file::<WorkerTokensFile>(path, "a map worker_id: token")? {
                    WorkerTokensFile::Wrapped { workers } | WorkerTokensFile::Map(workers) => {
                        workers
                    }
                    WorkerTokensFile::List(list) => {
                        list.into_iter().map(|e| (e.worker_id, e.token)).collect()
                    }
                };
            for (worker, token) in map {
                let d = digest(&token);
                auth.worker_by_token.insert(d, worker.clone());
                auth.worker_tokens.insert(worker, d);
            }
        }
        Ok(auth)
    }

    pub fn has_client_tokens(&self) -> bool {
        !self.clients.is_empty()
    }

    pub fn has_worker_tokens(&self) -> bool {
        self.worker_global.is_some() || !self.worker_tokens.is_empty()
    }

    /// Whether a request already authenticated as `cred` may act as `worker_id` (named
    /// by its body once parsed): the global token acts as anyone, a worker's own token as
    /// every id it is configured for. The token is not checked again.
    pub fn act_as(&self, cred: &WorkerCredential, worker_id: &str) -> Result<(), AuthError> {
        let own = self.worker_tokens.get(worker_id) == Some(&cred.digest);
        if own {
            Ok(())
        } else {
            cred.check_worker(worker_id)
        }
    }

    /// The client name of a token.
    pub fn client(&self, token: Option<&str>) -> Result<&str, AuthError> {
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::MissingToken("X-Client-Token"))?;
        self.clients
            .get(&digest(token))
            .map(String::as_str)
            .ok_or(AuthError::BadToken("client token"))
    }

    /// Checks a worker token, given the `X-Worker-ID` the request claims (if any).
    pub fn worker(
        &self,
        token: Option<&str>,
        worker_id: Option<&str>,
    ) -> Result<WorkerCredential, AuthError> {
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::MissingToken("X-Worker-Token"))?;
        let d = digest(token);
        if self.worker_global == Some(d) {
            return Ok(WorkerCredential {
                secret: token.to_string(),
                bound_to: None,
                digest: d,
            });
        }
        let owner = worker_id
            .and_then(|id| {
                self.worker_tokens
                    .get(id)
                    .filter(|own| **own == d)
                    .map(|_| id.to_string())
            })
            .or_else(|| self.worker_by_token.get(&d).cloned());
        match owner {
            Some(owner) => Ok(WorkerCredential {
                secret: token.to_string(),
                bound_to: Some(owner),
                digest: d,
            }),
            None => Err(AuthError::BadToken("worker token")),
        }
    }

    /// Verifies `security.signature` (with the presented token) and the timestamp window
    /// of a worker body. Unsigned bodies pass unless signatures are required.
    pub fn verify_body(
        &self,
        cred: &WorkerCredential,
        body: &Value,
        worker_id: &str,
        extra_unsigned: &[&str],
        now_secs: i64,
    ) -> Result<(), AuthError> {
        let security = body.get("security").filter(|s| !s.is_null());
        let signature = security
            .and_then(|s| s.get("signature"))
            .and_then(Value::as_str);
        let Some(signature) = signature else {
            if self.require_signatures {
                return Err(AuthError::Denied(
                    "this orchestrator requires signed bodies".into(),
                ));
            }
            return Ok(());
        };
        if let Some(signer) = security
            .and_then(|s| s.get("signer_id"))
            .and_then(Value::as_str)
        {
            if signer != worker_id {
                return Err(AuthError::Denied(format!(
                    "signer `{signer}` is not worker `{worker_id}`"
                )));
            }
        }
        let ts = body
            .get("timestamp")
            .and_then(Value::as_i64)
            .ok_or_else(|| AuthError::Denied("signed bodies need an integer `timestamp`".into()))?;
        if (now_secs - ts).unsigned_abs() > self.max_skew.as_secs() {
            return Err(AuthError::Denied(format!(
                "timestamp {ts} is outside the allowed window of {}s",
                self.max_skew.as_secs()
            )));
        }
        if !signing::verify(body, signature, &cred.secret, extra_unsigned) {
            return Err(AuthError::Denied(
                "signature does not match the body".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn auth() -> Auth {
        let dir = std::env::temp_dir().join(format!("baton-auth-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let clients = dir.join("clients.yaml");
        std::fs::write(&clients, "clients:\n  - name: alice\n    token: a-token\n").unwrap();
        let workers = dir.join("workers.yaml");
        std::fs::write(&workers, "w-own: own-token\nw-else: else-token\n").unwrap();
        let cfg = RuntimeConfig {
            client_token: Some("default-token".into()),
            clients_file: Some(clients),
            worker_token: Some("global".into()),
            worker_tokens_file: Some(workers),
            ..RuntimeConfig::default()
        };
        Auth::from_config(&cfg).unwrap()
    }

    #[test]
    fn client_tokens_map_to_names() {
        let a = auth();
        assert_eq!(a.client(Some("a-token")), Ok("alice"));
        assert_eq!(a.client(Some("default-token")), Ok("default"));
        assert_eq!(
            a.client(Some("nope")),
            Err(AuthError::BadToken("client token"))
        );
        assert_eq!(
            a.client(None),
            Err(AuthError::MissingToken("X-Client-Token"))
        );
    }

    #[test]
    fn individual_worker_tokens_are_bound() {
        let a = auth();
        assert_eq!(
            a.worker(Some("global"), Some("any")).unwrap().bound_to,
            None
        );
        let own = a.worker(Some("own-token"), None).unwrap();
        assert_eq!(own.bound_to.as_deref(), Some("w-own"));
        assert!(own.check_worker("w-own").is_ok());
        assert!(own.check_worker("w-other").is_err());
        assert!(a.worker(Some("wrong"), Some("w-own")).is_err());
    }

    /// Once authenticated, the body's worker is checked against the same token: every id
    /// the token is configured for, any id for the global token, no other.
    #[test]
    fn an_authenticated_worker_acts_only_as_its_ids() {
        let a = auth();
        let own = a.worker(Some("own-token"), None).unwrap();
        assert!(a.act_as(&own, "w-own").is_ok());
        assert!(a.act_as(&own, "w-else").is_err());
        assert!(a.act_as(&own, "w-unknown").is_err());
        let global = a.worker(Some("global"), None).unwrap();
        assert!(a.act_as(&global, "anyone").is_ok());
        // A token configured for two ids acts as both, whichever the lookup found.
        let file = std::env::temp_dir().join(format!("baton-twins-{}.yaml", uuid::Uuid::new_v4()));
        std::fs::write(&file, "w-a: shared\nw-b: shared\n").unwrap();
        let twins = Auth::from_config(&RuntimeConfig {
            worker_tokens_file: Some(file),
            ..RuntimeConfig::default()
        })
        .unwrap();
        let shared = twins.worker(Some("shared"), None).unwrap();
        assert!(twins.act_as(&shared, "w-a").is_ok());
        assert!(twins.act_as(&shared, "w-b").is_ok());
    }

    #[test]
    fn signatures_and_timestamps_are_checked() {
        let a = auth();
        let cred = a.worker(Some("global"), None).unwrap();
        let mut body = json!({"worker_id": "w1", "timestamp": 1000});
        let sig = signing::sign(&body, "global", &[]);
        body["security"] = json!({"signature": sig, "signer_id": "w1"});
        assert!(a.verify_body(&cred, &body, "w1", &[], 1010).is_ok());
        assert!(
            a.verify_body(&cred, &body, "w1", &[], 2000).is_err(),
            "stale timestamp"
        );
        assert!(
            a.verify_body(&cred, &body, "w2", &[], 1010).is_err(),
            "wrong signer"
        );
        body["worker_id"] = json!("w9");
        assert!(
            a.verify_body(&cred, &body, "w1", &[], 1010).is_err(),
            "tampered body"
        );
        assert!(
            a.verify_body(&cred, &json!({"worker_id": "w1"}), "w1", &[], 0)
                .is_ok(),
            "unsigned allowed"
        );
    }
}
