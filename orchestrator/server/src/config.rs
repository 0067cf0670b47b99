//! Orchestrator configuration, read from `BATON_*` environment variables.
//!
//! Every knob has a default that works for a single developer machine; production
//! deployments set the tokens and `BATON_REDIS_URL`. The names are a stable interface:
//! users, tests and docker files rely on them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
#[error("invalid value for {name}: {message}")]
pub struct ConfigError {
    pub name: &'static str,
    pub message: String,
}

/// Everything the orchestrator needs to start. Tests build one with [`Config::default`]
/// and override fields; the binary uses [`Config::from_env`].
#[derive(Debug, Clone)]
pub struct Config {
    /// `BATON_LISTEN`: address the HTTP server binds (the binary only; tests pass a
    /// listener). Unset: `0.0.0.0:8080` for `baton serve`, `127.0.0.1:8080` for `baton dev`
    /// (whose tokens are public knowledge).
    pub listen: Option<SocketAddr>,
    /// `BATON_REDIS_URL`: unset means the embedded in-memory store.
    pub redis_url: Option<String>,
    /// `BATON_KEY_PREFIX`: prefix (and Redis Cluster hash tag) of every key.
    pub key_prefix: String,
    /// `BATON_REDIS_POOL_SIZE`: connections for commands (idle long-polls use none).
    pub redis_pool_size: usize,
    /// `BATON_BLUEPRINTS_DIR`: where blueprint YAML files are loaded from.
    pub blueprints_dir: PathBuf,
    /// `BATON_CLIENT_TOKEN`: a client token (client name `default`).
    pub client_token: Option<String>,
    /// `BATON_ADMIN_TOKEN`: an operator token that sees every client's jobs.
    pub admin_token: Option<String>,
    /// `BATON_CLIENTS_FILE`: YAML/JSON list of `{name, token}`.
    pub clients_file: Option<PathBuf>,
    /// `BATON_API_TOKEN`: bearer token of the coding-pipelines API (`/projects`,
    /// `/protocols`, `/steps`, `/events`); unset, those routes take no token (warned at start).
    pub api_token: Option<String>,
    /// `BATON_WEBHOOK_TOKEN`: secret of the CI webhooks (`/webhooks/github`,
    /// `/webhooks/gitlab`); unset, their calls are not checked (logged at start-up).
    pub ci_webhook_token: Option<String>,
    /// `BATON_AUTO_QA_ON_CI` (default false): a CI success webhook sends the step in work
    /// to `needs_qa` and enqueues a `run_quality` job instead of completing the step.
    pub auto_qa_on_ci: bool,
    /// `BATON_WORKER_TOKEN`: the global worker token.
    pub worker_token: Option<String>,
    /// `BATON_WORKER_TOKENS_FILE`: YAML/JSON map `worker_id: token`.
    pub worker_tokens_file: Option<PathBuf>,
    /// `BATON_POLL_HOLD_SECONDS`: how long `tasks/next` holds an idle poll.
    pub poll_hold: Duration,
    /// `BATON_HEARTBEAT_TIMEOUT_SECONDS`: silence after which a worker loses its leases.
    pub heartbeat_timeout: Duration,
    /// `BATON_MAX_RETRIES`: transient failures retried per state before quarantine.
    pub max_retries: u32,
    /// `BATON_RETRY_BACKOFF_SECONDS` / `BATON_RETRY_BACKOFF_MAX_SECONDS`.
    pub retry_backoff: Duration,
    pub retry_backoff_max: Duration,
    /// `BATON_DISPATCH_TIMEOUT_SECONDS`: default wait for a worker to take a task.
    pub dispatch_timeout: Duration,
    /// `BATON_RESULT_TIMEOUT_SECONDS`: default wait for a result once a task is taken.
    pub result_timeout: Duration,
    /// `BATON_SIGNATURE_MAX_SKEW_SECONDS`: accepted clock skew of signed bodies.
    pub signature_max_skew: Duration,
    /// `BATON_REQUIRE_SIGNATURES`: reject unsigned worker bodies.
    pub require_signatures: bool,
    /// `BATON_MAX_BODY_BYTES`: larger request bodies get 413.
    pub max_body_bytes: usize,
    /// `BATON_MAX_BATCH_JOBS`: most jobs one `POST .../batch` creates.
    pub max_batch_jobs: usize,
    /// `BATON_JOB_RETENTION_SECONDS`: how long finished jobs and their history are kept.
    pub job_retention: Duration,
    /// `BATON_HISTORY_LIMIT`: events kept per job.
    pub history_limit: usize,
    /// `BATON_WEBHOOK_TIMEOUT_SECONDS` / `BATON_WEBHOOK_MAX_ATTEMPTS`.
    pub webhook_timeout: Duration,
    pub webhook_max_attempts: u32,
    /// `BATON_SHUTDOWN_TIMEOUT_SECONDS`: cap on draining connections at shutdown.
    pub shutdown_timeout: Duration,
    /// `BATON_REAPER_INTERVAL_MS`: how often timers and leases are checked.
    pub reaper_interval: Duration,
    /// `BATON_ENABLE_DEBUG_ENDPOINTS`: serve `/_public/debug/*` (destructive; never in
    /// production). Off, those routes do not exist (404).
    pub enable_debug_endpoints: bool,
    /// `BATON_PROJECTS_ROOT`: where the orchestrator clones a project's repository when
    /// it needs one itself (inline onboarding, `GET /projects/{id}/branches`) and the
    /// project has no `local_path`: `<root>/<project_id>/<repo_name>`.
    pub projects_root: PathBuf,
    /// The workflow face's section ([`crate::config_workflows`]).
    pub workflows: crate::config_workflows::WorkflowSettings,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: None,
            redis_url: None,
            key_prefix: "baton".into(),
            redis_pool_size: 16,
            blueprints_dir: PathBuf::from("./blueprints"),
            client_token: None,
            admin_token: None,
            api_token: None,
            ci_webhook_token: None,
            auto_qa_on_ci: false,
            clients_file: None,
            worker_token: None,
            worker_tokens_file: None,
            poll_hold: Duration::from_secs(25),
            heartbeat_timeout: Duration::from_secs(45),
            max_retries: 3,
            retry_backoff: Duration::from_secs(1),
            retry_backoff_max: Duration::from_secs(60),
            dispatch_timeout: Duration::from_secs(3600),
            result_timeout: Duration::from_secs(3600),
            signature_max_skew: Duration::from_secs(60),
            require_signatures: false,
            max_body_bytes: 4 * 1024 * 1024,
            max_batch_jobs: 1_000,
            job_retention: Duration::from_secs(7 * 24 * 3600),
            history_limit: 200,
            webhook_timeout: Duration::from_secs(10),
            webhook_max_attempts: 3,
            shutdown_timeout: Duration::from_secs(10),
            reaper_interval: Duration::from_millis(100),
            enable_debug_endpoints: false,
            projects_root: PathBuf::from("projects"),
            workflows: Default::default(),
        }
    }
}

impl Config {
    /// The worker-pull runtime face's part.
    pub fn runtime(&self) -> baton_runtime::RuntimeConfig {
        baton_runtime::RuntimeConfig {
            client_token: self.client_token.clone(),
            admin_token: self.admin_token.clone(),
            clients_file: self.clients_file.clone(),
            worker_token: self.worker_token.clone(),
            worker_tokens_file: self.worker_tokens_file.clone(),
            signature_max_skew: self.signature_max_skew,
            require_signatures: self.require_signatures,
            poll_hold: self.poll_hold,
            heartbeat_timeout: self.heartbeat_timeout,
            history_limit: self.history_limit,
            max_body_bytes: self.max_body_bytes,
            max_batch_jobs: self.max_batch_jobs,
            enable_debug_endpoints: self.enable_debug_endpoints,
        }
    }

    /// The coding-pipelines face's part.
    pub fn pipelines(&self) -> baton_pipelines::PipelinesConfig {
        baton_pipelines::PipelinesConfig {
            api_token: self.api_token.clone(),
            ci_webhook_token: self.ci_webhook_token.clone(),
            auto_qa_on_ci: self.auto_qa_on_ci,
            projects_root: self.projects_root.clone(),
            max_body_bytes: self.max_body_bytes,
        }
    }

    /// The workflow face's part; refuses users without a strong signing key.
    pub fn workflows(&self) -> Result<baton_workflows::WorkflowsConfig, ConfigError> {
        self.workflows.face(self.max_body_bytes)
    }

    /// The engine's part.
    pub fn engine(&self) -> baton_engine::EngineConfig {
        baton_engine::EngineConfig {
            heartbeat_timeout: self.heartbeat_timeout,
            max_retries: self.max_retries,
            retry_backoff: self.retry_backoff,
            retry_backoff_max: self.retry_backoff_max,
            dispatch_timeout: self.dispatch_timeout,
            result_timeout: self.result_timeout,
            job_retention: self.job_retention,
            history_limit: self.history_limit,
            webhook_timeout: self.webhook_timeout,
            webhook_max_attempts: self.webhook_max_attempts,
            reaper_interval: self.reaper_interval,
        }
    }

    /// Reads the `BATON_*` variables over the defaults.
    pub fn from_env() -> Result<Config, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// Same as [`Config::from_env`] with an injectable lookup (for tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut c = Config::default();
        let parse = |name: &'static str| -> Result<Option<String>, ConfigError> { Ok(get(name)) };
        if let Some(v) = parse("BATON_LISTEN")? {
            c.listen = Some(listen_addr(&v)?);
        }
        c.redis_url = get("BATON_REDIS_URL");
        if let Some(v) = get("BATON_KEY_PREFIX") {
            if v.contains(['{', '}']) {
                return Err(err("BATON_KEY_PREFIX", "must not contain braces".into()));
            }
            c.key_prefix = v;
        }
        c.redis_pool_size = number(&get, "BATON_REDIS_POOL_SIZE", c.redis_pool_size)?;
        if let Some(v) = get("BATON_BLUEPRINTS_DIR") {
            c.blueprints_dir = PathBuf::from(v);
        }
        c.client_token = get("BATON_CLIENT_TOKEN");
        c.admin_token = get("BATON_ADMIN_TOKEN");
        c.clients_file = get("BATON_CLIENTS_FILE").map(PathBuf::from);
        c.api_token = get("BATON_API_TOKEN");
        c.ci_webhook_token = get("BATON_WEBHOOK_TOKEN");
        c.worker_token = get("BATON_WORKER_TOKEN");
        c.worker_tokens_file = get("BATON_WORKER_TOKENS_FILE").map(PathBuf::from);
        c.poll_hold = seconds(&get, "BATON_POLL_HOLD_SECONDS", c.poll_hold)?;
        c.heartbeat_timeout =
            seconds(&get, "BATON_HEARTBEAT_TIMEOUT_SECONDS", c.heartbeat_timeout)?;
        c.max_retries = number(&get, "BATON_MAX_RETRIES", c.max_retries)?;
        c.retry_backoff = seconds(&get, "BATON_RETRY_BACKOFF_SECONDS", c.retry_backoff)?;
        c.retry_backoff_max =
            seconds(&get, "BATON_RETRY_BACKOFF_MAX_SECONDS", c.retry_backoff_max)?;
        c.dispatch_timeout = seconds(&get, "BATON_DISPATCH_TIMEOUT_SECONDS", c.dispatch_timeout)?;
        c.result_timeout = seconds(&get, "BATON_RESULT_TIMEOUT_SECONDS", c.result_timeout)?;
        c.signature_max_skew = seconds(
            &get,
            "BATON_SIGNATURE_MAX_SKEW_SECONDS",
            c.signature_max_skew,
        )?;
        c.auto_qa_on_ci = boolean(&get, "BATON_AUTO_QA_ON_CI", c.auto_qa_on_ci)?;
        c.require_signatures = boolean(&get, "BATON_REQUIRE_SIGNATURES", c.require_signatures)?;
        c.max_body_bytes = number(&get, "BATON_MAX_BODY_BYTES", c.max_body_bytes)?;
        c.max_batch_jobs = number(&get, "BATON_MAX_BATCH_JOBS", c.max_batch_jobs)?;
        if !(1..=100_000).contains(&c.max_batch_jobs) {
            return Err(err(
                "BATON_MAX_BATCH_JOBS",
                format!("must be 1..=100000, not {}", c.max_batch_jobs),
            ));
        }
        c.job_retention = seconds(&get, "BATON_JOB_RETENTION_SECONDS", c.job_retention)?;
        c.history_limit = number(&get, "BATON_HISTORY_LIMIT", c.history_limit)?;
        c.webhook_timeout = seconds(&get, "BATON_WEBHOOK_TIMEOUT_SECONDS", c.webhook_timeout)?;
        c.webhook_max_attempts =
            number(&get, "BATON_WEBHOOK_MAX_ATTEMPTS", c.webhook_max_attempts)?;
        c.shutdown_timeout = seconds(&get, "BATON_SHUTDOWN_TIMEOUT_SECONDS", c.shutdown_timeout)?;
        let reaper_ms = number(&get, "BATON_REAPER_INTERVAL_MS", 100u64)?;
        if reaper_ms > 3_600_000 {
            return Err(err(
                "BATON_REAPER_INTERVAL_MS",
                format!("expected at most 3600000 (an hour), got {reaper_ms}"),
            ));
        }
        c.reaper_interval = Duration::from_millis(reaper_ms.max(10));
        c.enable_debug_endpoints = boolean(
            &get,
            "BATON_ENABLE_DEBUG_ENDPOINTS",
            c.enable_debug_endpoints,
        )?;
        if let Some(v) = get("BATON_PROJECTS_ROOT") {
            c.projects_root = PathBuf::from(v);
        }
        c.workflows = crate::config_workflows::read(&get)?;
        if c.heartbeat_timeout.is_zero() {
            return Err(err(
                "BATON_HEARTBEAT_TIMEOUT_SECONDS",
                "must be positive".into(),
            ));
        }
        Ok(c)
    }
}

/// `BATON_LISTEN`: an `ip:port`, or a `host:port` such as `localhost:8080` (resolved
/// once, at start; IPv4 first, as users of `localhost` expect `curl localhost` to reach it).
fn listen_addr(v: &str) -> Result<SocketAddr, ConfigError> {
    if let Ok(addr) = v.parse() {
        return Ok(addr);
    }
    use std::net::ToSocketAddrs;
    let addrs: Vec<SocketAddr> = v
        .to_socket_addrs()
        .map_err(|e| {
            err(
                "BATON_LISTEN",
                format!("{e} ({v:?}; expected host:port, e.g. 127.0.0.1:8080)"),
            )
        })?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| err("BATON_LISTEN", format!("{v:?} resolves to no address")))
}

impl Config {
    /// The address to bind: `BATON_LISTEN`, else `default`.
    pub fn listen_or(&self, default: SocketAddr) -> SocketAddr {
        self.listen.unwrap_or(default)
    }
}

pub(crate) fn err(name: &'static str, message: String) -> ConfigError {
    ConfigError { name, message }
}

pub(crate) fn number<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match get(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|e| err(name, format!("{e} ({v:?})"))),
    }
}

pub(crate) fn seconds(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .ok()
            .and_then(crate::clock::seconds)
            .ok_or_else(|| {
                err(
                    name,
                    format!("expected {}, got {v:?}", crate::clock::SECONDS_RANGE),
                )
            }),
    }
}

pub(crate) fn boolean(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    match get(name).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if matches!(v.as_str(), "1" | "true" | "yes" | "on") => Ok(true),
        Some(v) if matches!(v.as_str(), "0" | "false" | "no" | "off") => Ok(false),
        Some(v) => Err(err(name, format!("expected true or false, got {v:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_apply_and_overrides_parse() {
        let c = cfg(&[
            ("BATON_POLL_HOLD_SECONDS", "2.5"),
            ("BATON_REQUIRE_SIGNATURES", "yes"),
            ("BATON_AUTO_QA_ON_CI", "true"),
        ])
        .unwrap();
        assert_eq!(c.poll_hold, Duration::from_millis(2500));
        assert!(c.auto_qa_on_ci);
        assert!(
            !cfg(&[]).unwrap().auto_qa_on_ci,
            "auto-QA on CI is off by default"
        );
        assert!(c.require_signatures);
        assert_eq!(c.key_prefix, "baton");
        assert!(c.redis_url.is_none());
        assert!(
            !c.enable_debug_endpoints,
            "debug endpoints are off by default"
        );
        let c = cfg(&[("BATON_ENABLE_DEBUG_ENDPOINTS", "true")]).unwrap();
        assert!(c.enable_debug_endpoints);
    }

    #[test]
    fn listen_takes_an_address_or_a_host_name() {
        assert_eq!(
            cfg(&[]).unwrap().listen,
            None,
            "serve and dev pick their own default"
        );
        let c = cfg(&[("BATON_LISTEN", "0.0.0.0:9000")]).unwrap();
        assert_eq!(c.listen, Some(SocketAddr::from(([0, 0, 0, 0], 9000))));
        let c = cfg(&[("BATON_LISTEN", "localhost:9001")]).unwrap();
        let addr = c.listen.unwrap();
        assert!(addr.ip().is_loopback() && addr.port() == 9001, "{addr}");
        for bad in ["8080", "localhost", "1.2.3.4:99999"] {
            let e = cfg(&[("BATON_LISTEN", bad)]).expect_err(bad);
            assert_eq!(e.name, "BATON_LISTEN");
        }
    }

    #[test]
    fn projects_root_defaults_to_projects() {
        assert_eq!(cfg(&[]).unwrap().projects_root, PathBuf::from("projects"));
        let c = cfg(&[("BATON_PROJECTS_ROOT", "/srv/baton")]).unwrap();
        assert_eq!(c.projects_root, PathBuf::from("/srv/baton"));
    }

    #[test]
    fn huge_or_odd_durations_fail_the_start_naming_the_variable() {
        for (var, value) in [
            ("BATON_POLL_HOLD_SECONDS", "1e20"),
            ("BATON_RESULT_TIMEOUT_SECONDS", "1e300"),
            ("BATON_JOB_RETENTION_SECONDS", "inf"),
            ("BATON_HEARTBEAT_TIMEOUT_SECONDS", "NaN"),
            ("BATON_WEBHOOK_TIMEOUT_SECONDS", "1000000001"),
            ("BATON_REAPER_INTERVAL_MS", "18446744073709551615"),
        ] {
            let e = cfg(&[(var, value)]).expect_err(var);
            assert_eq!(e.name, var);
            assert!(e.to_string().contains(value), "{e}");
        }
        let c = cfg(&[("BATON_RESULT_TIMEOUT_SECONDS", "1000000000")]).unwrap();
        assert_eq!(c.result_timeout, Duration::from_secs(1_000_000_000));
    }

    #[test]
    fn bad_values_name_the_variable() {
        let e = cfg(&[("BATON_MAX_RETRIES", "many")]).unwrap_err();
        assert_eq!(e.name, "BATON_MAX_RETRIES");
        let e = cfg(&[("BATON_POLL_HOLD_SECONDS", "-1")]).unwrap_err();
        assert_eq!(e.name, "BATON_POLL_HOLD_SECONDS");
        let e = cfg(&[("BATON_KEY_PREFIX", "a{b}")]).unwrap_err();
        assert_eq!(e.name, "BATON_KEY_PREFIX");
        let e = cfg(&[("BATON_ENABLE_DEBUG_ENDPOINTS", "maybe")]).unwrap_err();
        assert_eq!(e.name, "BATON_ENABLE_DEBUG_ENDPOINTS");
    }
}
