//! The workflow face's section of the configuration. The login variables keep the names
//! that face's users already set (`SECRET_KEY`, `API_CREDENTIALS`, `ALLOW_DEMO_AUTH`,
//! `ACCESS_TOKEN_EXPIRE_MINUTES`); the rest are `BATON_*`.

use crate::config::{boolean, err, number, seconds, ConfigError};
use baton_workflows::auth::{Credentials, MIN_SECRET_LEN};
use baton_workflows::rate::{parse_proxies, Block, RateLimits};
use baton_workflows::schedules::runner::SchedulerConfig;
use baton_workflows::WorkflowsConfig;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What the environment says about the workflow face.
#[derive(Debug, Clone)]
pub struct WorkflowSettings {
    /// `API_CREDENTIALS`: `user:sha256hex` or `user:$2b$...` (bcrypt), comma-separated.
    pub api_credentials: Option<String>,
    /// `ALLOW_DEMO_AUTH` (default false): password `demo` for any user id.
    pub allow_demo_auth: bool,
    /// `SECRET_KEY` (or `BATON_JWT_SECRET`): the key login tokens are signed with; at
    /// least 32 characters once users are configured.
    pub secret_key: Option<String>,
    /// `ACCESS_TOKEN_EXPIRE_MINUTES` (default 60).
    pub token_minutes: u32,
    /// `BATON_RATE_LIMIT_LOGIN` (5), `_EXECUTE` (10), `_JOBS` (20), `_HOOKS` (30): per
    /// minute and client IP; 0 turns one off.
    pub rate_limits: RateLimits,
    /// `BATON_TRUSTED_PROXIES`: addresses or CIDR blocks whose `X-Forwarded-For` names
    /// the client.
    pub trusted_proxies: Vec<Block>,
    /// `BATON_WORKFLOWS_DIR`; unset: `./workflows` if it exists, else the examples
    /// shipped in `./blueprints/workflows`.
    pub workflows_dir: Option<PathBuf>,
    /// `BATON_SCHEDULE_CLAIM_SECONDS` (2), `BATON_SCHEDULE_MISFIRE_GRACE_SECONDS` (5),
    /// `BATON_SCHEDULE_HISTORY_ROWS` (100, also for webhooks).
    pub scheduler: SchedulerConfig,
    /// `BATON_HOOK_WAIT_SECONDS` (10).
    pub hook_wait: Duration,
    /// `BATON_HOOK_TOLERANCE_SECONDS` (300).
    pub hook_tolerance: Duration,
}

impl Default for WorkflowSettings {
    fn default() -> Self {
        WorkflowSettings {
            api_credentials: None,
            allow_demo_auth: false,
            secret_key: None,
            token_minutes: 60,
            rate_limits: RateLimits::default(),
            trusted_proxies: Vec::new(),
            workflows_dir: None,
            scheduler: SchedulerConfig::default(),
            hook_wait: Duration::from_secs(10),
            hook_tolerance: Duration::from_secs(300),
        }
    }
}

pub(crate) fn read(get: &impl Fn(&str) -> Option<String>) -> Result<WorkflowSettings, ConfigError> {
    let defaults = RateLimits::default();
    let minutes: u32 = number(get, "ACCESS_TOKEN_EXPIRE_MINUTES", 60)?;
    if minutes == 0 || minutes > 525_600 {
        return Err(err(
            "ACCESS_TOKEN_EXPIRE_MINUTES",
            format!("expected 1 to 525600 (a year), got {minutes}"),
        ));
    }
    let trusted_proxies = match get("BATON_TRUSTED_PROXIES") {
        Some(spec) => parse_proxies(&spec).map_err(|m| err("BATON_TRUSTED_PROXIES", m))?,
        None => Vec::new(),
    };
    let d = SchedulerConfig::default();
    let lease = seconds(get, "BATON_SCHEDULE_CLAIM_SECONDS", d.lease)?;
    if lease < Duration::from_millis(100) {
        return Err(err(
            "BATON_SCHEDULE_CLAIM_SECONDS",
            "at least 0.1: a claim must outlast the firing of a tick".into(),
        ));
    }
    let keep_runs: usize = number(get, "BATON_SCHEDULE_HISTORY_ROWS", d.keep_runs)?;
    if !(1..=100_000).contains(&keep_runs) {
        return Err(err(
            "BATON_SCHEDULE_HISTORY_ROWS",
            format!("expected 1 to 100000, got {keep_runs}"),
        ));
    }
    let scheduler = SchedulerConfig {
        lease,
        grace: seconds(get, "BATON_SCHEDULE_MISFIRE_GRACE_SECONDS", d.grace)?,
        keep_runs,
        ..d
    };
    Ok(WorkflowSettings {
        scheduler,
        hook_wait: seconds(get, "BATON_HOOK_WAIT_SECONDS", Duration::from_secs(10))?,
        hook_tolerance: seconds(
            get,
            "BATON_HOOK_TOLERANCE_SECONDS",
            Duration::from_secs(300),
        )?,
        api_credentials: get("API_CREDENTIALS"),
        allow_demo_auth: boolean(get, "ALLOW_DEMO_AUTH", false)?,
        secret_key: get("SECRET_KEY").or_else(|| get("BATON_JWT_SECRET")),
        token_minutes: minutes,
        rate_limits: RateLimits {
            login: number(get, "BATON_RATE_LIMIT_LOGIN", defaults.login)?,
            execute: number(get, "BATON_RATE_LIMIT_EXECUTE", defaults.execute)?,
            jobs: number(get, "BATON_RATE_LIMIT_JOBS", defaults.jobs)?,
            hooks: number(get, "BATON_RATE_LIMIT_HOOKS", defaults.hooks)?,
        },
        trusted_proxies,
        workflows_dir: get("BATON_WORKFLOWS_DIR").map(PathBuf::from),
    })
}

impl WorkflowSettings {
    /// The directory YAML workflows are loaded from.
    pub fn workflows_dir(&self) -> PathBuf {
        match &self.workflows_dir {
            Some(dir) => dir.clone(),
            None if Path::new("workflows").is_dir() => PathBuf::from("workflows"),
            None => PathBuf::from("blueprints/workflows"),
        }
    }

    /// The face's configuration: refuses users without a strong signing key; with no
    /// users and no key, a random key for this process (tokens then die with it, and
    /// another orchestrator does not accept them: logged).
    pub fn face(&self, max_body_bytes: usize) -> Result<WorkflowsConfig, ConfigError> {
        let credentials = Credentials::parse(self.api_credentials.as_deref(), self.allow_demo_auth)
            .map_err(|e| err("API_CREDENTIALS", e.to_string()))?;
        let secret_key = match &self.secret_key {
            Some(key) if credentials.has_users() && key.chars().count() < MIN_SECRET_LEN => {
                return Err(err(
                    "SECRET_KEY",
                    format!("must be at least {MIN_SECRET_LEN} characters when API_CREDENTIALS names users"),
                ))
            }
            Some(key) => key.clone(),
            None if credentials.has_users() => {
                return Err(err(
                    "SECRET_KEY",
                    format!("is required (at least {MIN_SECRET_LEN} characters) when API_CREDENTIALS names users"),
                ))
            }
            None => {
                if self.allow_demo_auth {
                    tracing::warn!("SECRET_KEY is not set: login tokens are signed with a key made for this process (lost at restart, refused by other orchestrators)");
                }
                random_key()
            }
        };
        Ok(WorkflowsConfig {
            credentials,
            secret_key,
            token_ttl_seconds: i64::from(self.token_minutes) * 60,
            rate_limits: self.rate_limits,
            trusted_proxies: self.trusted_proxies.clone(),
            workflows_dir: self.workflows_dir(),
            max_body_bytes,
            scheduler: self.scheduler,
            hook_wait: self.hook_wait,
            hook_tolerance_secs: i64::try_from(self.hook_tolerance.as_secs()).unwrap_or(i64::MAX),
        })
    }
}

/// 64 hex characters from two random uuids (v4: 122 random bits each).
pub fn random_key() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<WorkflowSettings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        read(&|k: &str| map.get(k).cloned())
    }

    const SHA_OF_PW: &str = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8";

    #[test]
    fn users_need_a_long_signing_key() {
        let users = format!("admin:{SHA_OF_PW}");
        let short = settings(&[("API_CREDENTIALS", &users), ("SECRET_KEY", "short")]).unwrap();
        assert_eq!(short.face(1024).unwrap_err().name, "SECRET_KEY");
        let none = settings(&[("API_CREDENTIALS", &users)]).unwrap();
        assert_eq!(none.face(1024).unwrap_err().name, "SECRET_KEY");
        let long = "k".repeat(32);
        let ok = settings(&[("API_CREDENTIALS", &users), ("BATON_JWT_SECRET", &long)]).unwrap();
        let face = ok.face(1024).unwrap();
        assert_eq!(face.secret_key, long);
        assert!(face.credentials.check("admin", "password"));
        let bad = settings(&[("API_CREDENTIALS", "admin")]).unwrap();
        assert_eq!(bad.face(1024).unwrap_err().name, "API_CREDENTIALS");
    }

    #[test]
    fn limits_expiry_and_proxies_parse_and_default() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.rate_limits, RateLimits::default());
        assert_eq!(s.token_minutes, 60);
        assert_eq!(
            s.face(1).unwrap().secret_key.len(),
            64,
            "a key made for the process"
        );
        let s = settings(&[
            ("BATON_RATE_LIMIT_LOGIN", "0"),
            ("ACCESS_TOKEN_EXPIRE_MINUTES", "5"),
            ("BATON_TRUSTED_PROXIES", "10.0.0.0/8"),
        ])
        .unwrap();
        assert_eq!(s.rate_limits.login, 0);
        assert_eq!(s.face(1).unwrap().token_ttl_seconds, 300);
        assert_eq!(s.trusted_proxies.len(), 1);
        for (var, value) in [
            ("ACCESS_TOKEN_EXPIRE_MINUTES", "0"),
            ("ACCESS_TOKEN_EXPIRE_MINUTES", "lots"),
            ("BATON_RATE_LIMIT_JOBS", "-1"),
            ("BATON_TRUSTED_PROXIES", "10.0.0.0/99"),
            ("ALLOW_DEMO_AUTH", "perhaps"),
        ] {
            assert_eq!(settings(&[(var, value)]).unwrap_err().name, var);
        }
    }
}
