//! Baton's workflow-management face: `/v1/*` for API clients that log in
//! (`POST /v1/auth/login` → a JWT), and the probes `/health/*` and `GET /`.
//!
//! The data: workflow definitions ([`model::Workflow`]: inputs, variables, steps with
//! dependencies, conditions and failure modes), kept as JSON records in the face's store
//! ([`store::WorkflowStore`], in memory or in Redis beside the jobs) or loaded from YAML
//! files ([`yaml`]); both are validated ([`validate`]) before they are saved or served.
//! Rate-limit counters live in the same store, so every orchestrator on one Redis counts
//! together ([`rate`]). Tokens are signed, not stored ([`auth`]): any orchestrator with
//! the same `SECRET_KEY` accepts them.
//!
//! Every error this face answers is the envelope of [`error`], routing errors included.
//!
//! Executing a workflow compiles it into a blueprint ([`compile`]) that the engine gets
//! from this face's records ([`source`]); an execution is a job of it ([`executions`]),
//! each step a task of a workflow worker.
//!
//! Executions are followed live over `/ws/executions` ([`live`]), from whichever
//! orchestrator, since every view is read from the store. Schedules ([`schedules`]) and
//! inbound webhooks ([`hooks`]) start executions by time and by other systems; their
//! records are in the same store ([`triggers`]).

pub mod api;
pub mod auth;
pub mod compile;
pub mod error;
pub mod executions;
pub mod hook;
pub mod hooks;
pub mod live;
pub mod memory;
pub mod model;
pub mod rate;
pub mod redis;
pub mod runs;
pub mod schedules;
pub mod source;
pub mod store;
pub mod triggers;
pub mod validate;
pub mod versions;
pub mod yaml;

// Always compiled (not behind a feature) so that the workspace's test build and a
// `cargo run -p` of one binary build this crate the same way and share it.
pub mod conformance;

pub use api::{routes, ROUTES};

use baton_engine::readiness::Readiness;
use baton_engine::Engine;
use baton_http::Face;
use prometheus::{IntCounterVec, Opts, Registry};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// The face's configuration (the server reads it from the environment).
#[derive(Debug, Clone)]
pub struct WorkflowsConfig {
    /// `API_CREDENTIALS` and `ALLOW_DEMO_AUTH`.
    pub credentials: auth::Credentials,
    /// `SECRET_KEY` (or `BATON_JWT_SECRET`): signs the login tokens.
    pub secret_key: String,
    /// `ACCESS_TOKEN_EXPIRE_MINUTES` (default 60), in seconds.
    pub token_ttl_seconds: i64,
    /// `BATON_RATE_LIMIT_LOGIN` / `_EXECUTE` / `_JOBS` / `_HOOKS` (per minute and IP).
    pub rate_limits: rate::RateLimits,
    /// `BATON_TRUSTED_PROXIES`: whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<rate::Block>,
    /// Where the YAML workflows were loaded from (`BATON_WORKFLOWS_DIR`).
    pub workflows_dir: PathBuf,
    /// `BATON_MAX_BODY_BYTES`.
    pub max_body_bytes: usize,
    /// `BATON_SCHEDULE_*`: how schedules are claimed and fired.
    pub scheduler: schedules::runner::SchedulerConfig,
    /// `BATON_HOOK_WAIT_SECONDS` (default 10): how long a webhook delivery's answer waits
    /// for its execution to end.
    pub hook_wait: std::time::Duration,
    /// `BATON_HOOK_TOLERANCE_SECONDS` (default 300): how far a signed
    /// `X-Webhook-Timestamp` may be from now.
    pub hook_tolerance_secs: i64,
}

impl Default for WorkflowsConfig {
    fn default() -> Self {
        WorkflowsConfig {
            credentials: auth::Credentials::default(),
            secret_key: String::new(),
            token_ttl_seconds: 3600,
            rate_limits: rate::RateLimits::default(),
            trusted_proxies: Vec::new(),
            workflows_dir: PathBuf::from("workflows"),
            max_body_bytes: 1024 * 1024,
            scheduler: schedules::runner::SchedulerConfig::default(),
            hook_wait: std::time::Duration::from_secs(10),
            hook_tolerance_secs: 300,
        }
    }
}

/// The face's counters on the shared Prometheus registry.
pub struct WorkflowMetrics {
    /// `baton_workflows_rate_limited_total{group}`.
    pub rate_limited: IntCounterVec,
    /// `baton_workflows_executions_started_total`.
    pub started: prometheus::IntCounter,
    /// `baton_workflows_executions_ended_total{status}`.
    pub ended: IntCounterVec,
    /// `baton_workflows_step_duration_seconds{type,status}`.
    pub step_seconds: prometheus::HistogramVec,
    /// `baton_workflows_tokens_total`.
    pub tokens: prometheus::IntCounter,
    /// `baton_workflows_schedule_fires_total{outcome}`.
    pub schedule_fires: IntCounterVec,
    /// `baton_workflows_schedule_lag_seconds`: due time → execution created.
    pub schedule_lag: prometheus::Histogram,
    /// `baton_workflows_hook_deliveries_total{status}`.
    pub hook_deliveries: IntCounterVec,
}

fn counter_vec(registry: &Registry, name: &str, help: &str, label: &str) -> IntCounterVec {
    let c = baton_engine::metrics::must(IntCounterVec::new(Opts::new(name, help), &[label]));
    baton_engine::metrics::must(registry.register(Box::new(c.clone())));
    c
}

impl WorkflowMetrics {
    pub fn new(registry: &Registry) -> WorkflowMetrics {
        let rate_limited = baton_engine::metrics::must(IntCounterVec::new(
            Opts::new(
                "baton_workflows_rate_limited_total",
                "Requests of the workflow face refused by a rate limit",
            ),
            &["group"],
        ));
        baton_engine::metrics::must(registry.register(Box::new(rate_limited.clone())));
        let started = baton_engine::metrics::must(prometheus::IntCounter::new(
            "baton_workflows_executions_started_total",
            "Workflow executions started",
        ));
        baton_engine::metrics::must(registry.register(Box::new(started.clone())));
        let ended = baton_engine::metrics::must(IntCounterVec::new(
            Opts::new(
                "baton_workflows_executions_ended_total",
                "Workflow executions ended, by status",
            ),
            &["status"],
        ));
        baton_engine::metrics::must(registry.register(Box::new(ended.clone())));
        let step_seconds = baton_engine::metrics::must(prometheus::HistogramVec::new(
            prometheus::HistogramOpts::new(
                "baton_workflows_step_duration_seconds",
                "Duration of workflow steps as their workers measured it",
            )
            .buckets(vec![0.001, 0.01, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0, 600.0]),
            &["type", "status"],
        ));
        baton_engine::metrics::must(registry.register(Box::new(step_seconds.clone())));
        let tokens = baton_engine::metrics::must(prometheus::IntCounter::new(
            "baton_workflows_tokens_total",
            "AI tokens spent by workflow steps",
        ));
        baton_engine::metrics::must(registry.register(Box::new(tokens.clone())));
        let schedule_lag = baton_engine::metrics::must(prometheus::Histogram::with_opts(
            prometheus::HistogramOpts::new(
                "baton_workflows_schedule_lag_seconds",
                "From a schedule's due time to its execution's creation",
            )
            .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 30.0, 300.0]),
        ));
        baton_engine::metrics::must(registry.register(Box::new(schedule_lag.clone())));
        WorkflowMetrics {
            rate_limited,
            started,
            ended,
            step_seconds,
            tokens,
            schedule_fires: counter_vec(
                registry,
                "baton_workflows_schedule_fires_total",
                "Schedule ticks by outcome: schedule, catch_up, manual, skipped_overlap, skipped_misfire, failed",
                "outcome",
            ),
            schedule_lag,
            hook_deliveries: counter_vec(
                registry,
                "baton_workflows_hook_deliveries_total",
                "Inbound webhook deliveries by status: accepted, duplicate, unauthorized, not_found, disabled, rate_limited, invalid",
                "status",
            ),
        }
    }
}

/// The workflow face on one engine.
pub struct WorkflowsFace {
    pub engine: Arc<Engine>,
    pub records: Arc<dyn store::WorkflowStore>,
    pub yaml: BTreeMap<String, yaml::YamlWorkflow>,
    pub cfg: WorkflowsConfig,
    pub signer: auth::Signer,
    pub metrics: Arc<WorkflowMetrics>,
    /// Whether the store has answered since the start (shared with the server's gate).
    pub readiness: Arc<Readiness>,
    /// Cancelled when the server starts draining.
    pub shutdown: CancellationToken,
    pub started: Instant,
    /// Requests of this face in flight.
    pub active_requests: Arc<AtomicI64>,
    /// The steps of each compiled blueprint, as execution views read them.
    pub compiled: executions::StepsCache,
    /// Compiled blueprints this process saved (or found saved): names are
    /// content-addressed, so each is saved once per process at most.
    pub saved_blueprints: parking_lot::RwLock<std::collections::HashSet<String>>,
    /// Woken when a schedule changes here, so the scheduler looks at once.
    pub schedules_changed: tokio::sync::Notify,
}

pub type FaceRef = Arc<WorkflowsFace>;

impl Face for WorkflowsFace {
    fn name(&self) -> &'static str {
        "workflows"
    }

    fn routes(&self) -> &'static [(&'static str, &'static str)] {
        ROUTES
    }

    fn always_served(&self) -> &'static [&'static str] {
        api::ALWAYS_SERVED
    }

    /// Its routes answer a store outage in the envelope (503 `SERVICE_UNAVAILABLE`).
    fn gates_itself(&self, path: &str) -> bool {
        api::owns(path)
    }

    fn openapi(&self) -> utoipa::openapi::OpenApi {
        api::doc::document()
    }
}
