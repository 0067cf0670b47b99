//! Worker configuration.
//!
//! [`WorkerConfig`] is a plain struct of public fields, one per setting, with a chainable
//! setter of the same name for each. [`WorkerConfig::default`] holds the defaults and
//! [`WorkerConfig::from_env`] reads the environment names of the Python
//! `avtomatika-worker` SDK, so a deployment written for Python workers configures a Rust
//! worker unchanged. Nothing is checked while setting fields; [`WorkerConfig::validate`]
//! checks everything at once (the worker builder calls it) and answers a [`ConfigError`].
//!
//! Durations are read as float seconds (`HEARTBEAT_INTERVAL=0.5`), as in Python, from 0 to
//! 1000000000 (larger ones would overflow the loops' clocks).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use baton_protocol::DEFAULT_PYTHON_WORKER_TOKEN;

/// Orchestrator address used when `ORCHESTRATOR_URL` is not set.
pub const DEFAULT_ORCHESTRATOR_URL: &str = "http://localhost:8080";
/// Worker type announced when `WORKER_TYPE` is not set.
pub const DEFAULT_WORKER_TYPE: &str = "generic-worker";

/// A setting that cannot be used; the message names the environment variable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// A value that does not parse as the expected kind.
    #[error("{var}={value:?} is not {expected}")]
    InvalidValue {
        var: &'static str,
        value: String,
        expected: &'static str,
    },
    /// A worker id or skill name outside `^[A-Za-z0-9_-]+$`.
    #[error("invalid {what} {value:?}: only letters, digits, '_' and '-' are allowed")]
    InvalidIdentifier { what: &'static str, value: String },
    /// `ORCHESTRATOR_URL` is not an absolute http(s) URL.
    #[error("ORCHESTRATOR_URL={url:?} is not usable: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// The token is empty or cannot travel in an HTTP header.
    #[error("WORKER_TOKEN must be non-empty visible ASCII (it is sent in a header)")]
    InvalidToken,
    /// A parsed value out of its allowed range.
    #[error("{var} must be {expected}")]
    OutOfRange {
        var: &'static str,
        expected: &'static str,
    },
}

/// Everything a worker needs to know before it starts. See the module docs.
#[derive(Clone, PartialEq)]
pub struct WorkerConfig {
    /// Base URL of the orchestrator (`ORCHESTRATOR_URL`).
    pub orchestrator_url: String,
    /// Shared secret: sent as `X-Worker-Token` and used to sign bodies
    /// (`WORKER_INDIVIDUAL_TOKEN`, else `WORKER_TOKEN`).
    pub token: String,
    /// Identity of this worker process (`WORKER_ID`).
    pub worker_id: String,
    /// Free-form kind of worker, shown by the orchestrator (`WORKER_TYPE`).
    pub worker_type: String,
    /// How many tasks may run at once (`MAX_CONCURRENT_TASKS`).
    pub max_concurrent_tasks: usize,
    /// Period of regular heartbeats (`HEARTBEAT_INTERVAL`).
    pub heartbeat_interval: Duration,
    /// Least gap between two heartbeats when tasks start or end
    /// (`WORKER_HEARTBEAT_COOLDOWN`).
    pub heartbeat_cooldown: Duration,
    /// Long-poll hold asked of the server (`TASK_POLL_TIMEOUT`).
    pub task_poll_timeout: Duration,
    /// Attempts at sending one result, the first included (`RESULT_MAX_RETRIES`).
    pub result_max_retries: u32,
    /// Delay before the second attempt; it doubles after each failure
    /// (`RESULT_RETRY_INITIAL_DELAY`).
    pub result_retry_initial_delay: Duration,
    /// Pause after a suspiciously fast empty poll (`IDLE_POLL_DELAY`).
    pub idle_poll_delay: Duration,
    /// Listen for commands on the WebSocket (`WORKER_ENABLE_WEBSOCKETS`, default on).
    pub enable_websockets: bool,
    /// How long a graceful shutdown lets running tasks finish (`WORKER_SHUTDOWN_TIMEOUT`).
    pub shutdown_timeout: Duration,
    /// How long a cancelled handler may take to return before it is aborted
    /// (`WORKER_CANCEL_GRACE`, a Baton addition).
    pub cancel_grace: Duration,
    /// Price per skill announced at registration (`COST_PER_SKILL`, a JSON object).
    pub cost_per_skill: BTreeMap<String, f64>,
    /// Take several tasks per poll and send results that finish together in one request,
    /// where the orchestrator supports it (`WORKER_BATCHING`, a Baton addition, default
    /// on; falls back to one-at-a-time against other RXON servers).
    pub batching: bool,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            orchestrator_url: DEFAULT_ORCHESTRATOR_URL.to_string(),
            token: DEFAULT_PYTHON_WORKER_TOKEN.to_string(),
            worker_id: format!("worker-{}", uuid::Uuid::new_v4()),
            worker_type: DEFAULT_WORKER_TYPE.to_string(),
            max_concurrent_tasks: 10,
            heartbeat_interval: Duration::from_secs(15),
            heartbeat_cooldown: Duration::from_secs(1),
            task_poll_timeout: Duration::from_secs(30),
            result_max_retries: 5,
            result_retry_initial_delay: Duration::from_secs(1),
            idle_poll_delay: Duration::from_millis(500),
            enable_websockets: true,
            shutdown_timeout: Duration::from_secs(30),
            cancel_grace: Duration::from_secs(5),
            cost_per_skill: BTreeMap::new(),
            batching: true,
        }
    }
}

// The token is a secret: never print it.
impl fmt::Debug for WorkerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerConfig")
            .field("orchestrator_url", &self.orchestrator_url)
            .field("token", &"<redacted>")
            .field("worker_id", &self.worker_id)
            .field("worker_type", &self.worker_type)
            .field("max_concurrent_tasks", &self.max_concurrent_tasks)
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("heartbeat_cooldown", &self.heartbeat_cooldown)
            .field("task_poll_timeout", &self.task_poll_timeout)
            .field("result_max_retries", &self.result_max_retries)
            .field(
                "result_retry_initial_delay",
                &self.result_retry_initial_delay,
            )
            .field("idle_poll_delay", &self.idle_poll_delay)
            .field("enable_websockets", &self.enable_websockets)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("cancel_grace", &self.cancel_grace)
            .field("cost_per_skill", &self.cost_per_skill)
            .field("batching", &self.batching)
            .finish()
    }
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, value: impl Into<$ty>) -> Self {
                self.$name = value.into();
                self
            }
        )*
    };
}

impl WorkerConfig {
    /// Defaults, talking to `orchestrator_url`.
    pub fn new(orchestrator_url: impl Into<String>) -> Self {
        WorkerConfig::default().orchestrator_url(orchestrator_url)
    }

    setters! {
        /// Sets [`WorkerConfig::orchestrator_url`].
        orchestrator_url: String;
        /// Sets [`WorkerConfig::token`].
        token: String;
        /// Sets [`WorkerConfig::worker_id`].
        worker_id: String;
        /// Sets [`WorkerConfig::worker_type`].
        worker_type: String;
        /// Sets [`WorkerConfig::max_concurrent_tasks`].
        max_concurrent_tasks: usize;
        /// Sets [`WorkerConfig::heartbeat_interval`].
        heartbeat_interval: Duration;
        /// Sets [`WorkerConfig::heartbeat_cooldown`].
        heartbeat_cooldown: Duration;
        /// Sets [`WorkerConfig::task_poll_timeout`].
        task_poll_timeout: Duration;
        /// Sets [`WorkerConfig::result_max_retries`].
        result_max_retries: u32;
        /// Sets [`WorkerConfig::result_retry_initial_delay`].
        result_retry_initial_delay: Duration;
        /// Sets [`WorkerConfig::idle_poll_delay`].
        idle_poll_delay: Duration;
        /// Sets [`WorkerConfig::enable_websockets`].
        enable_websockets: bool;
        /// Sets [`WorkerConfig::shutdown_timeout`].
        shutdown_timeout: Duration;
        /// Sets [`WorkerConfig::cancel_grace`].
        cancel_grace: Duration;
        /// Sets [`WorkerConfig::batching`].
        batching: bool;
    }

    /// Sets the announced cost of one skill.
    pub fn skill_cost(mut self, skill: impl Into<String>, cost: f64) -> Self {
        self.cost_per_skill.insert(skill.into(), cost);
        self
    }

    /// Reads the process environment (see the field docs for the names), then validates.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`WorkerConfig::from_env`], reading variables through `lookup`, so that tests
    /// and embedders need not touch the process environment. Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let mut config = WorkerConfig::default();
        if let Some(url) = get("ORCHESTRATOR_URL") {
            config.orchestrator_url = url.trim().to_string();
        }
        if let Some(token) = get("WORKER_INDIVIDUAL_TOKEN").or_else(|| get("WORKER_TOKEN")) {
            config.token = token;
        }
        if let Some(id) = get("WORKER_ID") {
            config.worker_id = id.trim().to_string();
        }
        if let Some(kind) = get("WORKER_TYPE") {
            config.worker_type = kind.trim().to_string();
        }
        if let Some(v) = get("MAX_CONCURRENT_TASKS") {
            config.max_concurrent_tasks = parse_int(v, "MAX_CONCURRENT_TASKS")?;
        }
        if let Some(v) = get("RESULT_MAX_RETRIES") {
            config.result_max_retries = parse_int(v, "RESULT_MAX_RETRIES")?;
        }
        let durations: [(&'static str, &mut Duration); 7] = [
            ("HEARTBEAT_INTERVAL", &mut config.heartbeat_interval),
            ("WORKER_HEARTBEAT_COOLDOWN", &mut config.heartbeat_cooldown),
            ("TASK_POLL_TIMEOUT", &mut config.task_poll_timeout),
            (
                "RESULT_RETRY_INITIAL_DELAY",
                &mut config.result_retry_initial_delay,
            ),
            ("IDLE_POLL_DELAY", &mut config.idle_poll_delay),
            ("WORKER_SHUTDOWN_TIMEOUT", &mut config.shutdown_timeout),
            ("WORKER_CANCEL_GRACE", &mut config.cancel_grace),
        ];
        for (var, slot) in durations {
            if let Some(v) = get(var) {
                *slot = parse_seconds(v, var)?;
            }
        }
        if let Some(v) = get("WORKER_ENABLE_WEBSOCKETS") {
            config.enable_websockets = parse_bool(v, "WORKER_ENABLE_WEBSOCKETS")?;
        }
        if let Some(v) = get("WORKER_BATCHING") {
            config.batching = parse_bool(v, "WORKER_BATCHING")?;
        }
        if let Some(v) = get("COST_PER_SKILL") {
            config.cost_per_skill = parse_costs(v)?;
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks every field; the worker builder calls this before anything runs.
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate_url(&self.orchestrator_url)?;
        let token_ok =
            !self.token.is_empty() && self.token.bytes().all(|b| (0x21..0x7f).contains(&b));
        if !token_ok {
            return Err(ConfigError::InvalidToken);
        }
        validate_identifier(&self.worker_id, "worker id (WORKER_ID)")?;
        if self.max_concurrent_tasks == 0 {
            return Err(ConfigError::OutOfRange {
                var: "MAX_CONCURRENT_TASKS",
                expected: "at least 1",
            });
        }
        if self.result_max_retries == 0 {
            return Err(ConfigError::OutOfRange {
                var: "RESULT_MAX_RETRIES",
                expected: "at least 1 (it counts the first attempt)",
            });
        }
        for (var, d) in [
            ("HEARTBEAT_INTERVAL", self.heartbeat_interval),
            ("TASK_POLL_TIMEOUT", self.task_poll_timeout),
        ] {
            if d.is_zero() {
                return Err(ConfigError::OutOfRange {
                    var,
                    expected: "more than 0 seconds",
                });
            }
        }
        for (skill, cost) in &self.cost_per_skill {
            validate_identifier(skill, "skill name in COST_PER_SKILL")?;
            if !cost.is_finite() || *cost < 0.0 {
                return Err(ConfigError::OutOfRange {
                    var: "COST_PER_SKILL",
                    expected: "a map of skill names to finite non-negative numbers",
                });
            }
        }
        Ok(())
    }

    /// Whether bodies get a `security` block: the Python SDK skips signing when the
    /// token is its default, and the server expects the same.
    pub fn signs_bodies(&self) -> bool {
        self.token != DEFAULT_PYTHON_WORKER_TOKEN
    }
}

/// Whether `value` matches `^[A-Za-z0-9_-]+$`, the RXON identifier rule for worker
/// ids and skill names (they end up in URL paths and store keys); the orchestrator checks
/// the same rule ([`baton_protocol::is_identifier`]).
pub fn is_valid_identifier(value: &str) -> bool {
    baton_protocol::is_identifier(value)
}

pub(crate) fn validate_identifier(value: &str, what: &'static str) -> Result<(), ConfigError> {
    if is_valid_identifier(value) {
        Ok(())
    } else {
        Err(ConfigError::InvalidIdentifier {
            what,
            value: value.to_string(),
        })
    }
}

fn validate_url(url: &str) -> Result<(), ConfigError> {
    let invalid = |reason: &str| ConfigError::InvalidUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid("it has no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid("it must not have a query or a fragment"));
    }
    Ok(())
}

fn parse_int<T: std::str::FromStr>(value: String, var: &'static str) -> Result<T, ConfigError> {
    value.trim().parse().map_err(|_| ConfigError::InvalidValue {
        var,
        value,
        expected: "a non-negative integer",
    })
}

/// Longest duration accepted from the environment, in seconds (about 31.7 years): the
/// loops add these to `Instant`s, which a valid but huge `Duration` would overflow.
const MAX_SECONDS: f64 = 1e9;

fn parse_seconds(value: String, var: &'static str) -> Result<Duration, ConfigError> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|secs| (0.0..=MAX_SECONDS).contains(secs))
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .ok_or(ConfigError::InvalidValue {
            var,
            value,
            expected: "a number of seconds from 0 to 1000000000",
        })
}

fn parse_bool(value: String, var: &'static str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::InvalidValue {
            var,
            value,
            expected: "a boolean (true/false, 1/0, yes/no, on/off)",
        }),
    }
}

fn parse_costs(value: String) -> Result<BTreeMap<String, f64>, ConfigError> {
    serde_json::from_str::<BTreeMap<String, f64>>(&value).map_err(|_| ConfigError::InvalidValue {
        var: "COST_PER_SKILL",
        value,
        expected: "a JSON object of skill names to numbers",
    })
}

#[cfg(test)]
mod tests;
