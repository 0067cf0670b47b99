//! The coding pipelines' metrics, under the names their clients know (no `baton_`
//! prefix), in the same registry (`GET /metrics` and `GET /_public/metrics`):
//!
//! | metric | labels | counted |
//! |---|---|---|
//! | `jobs_processed_total` | `job_type`, `status` (run status) | each recorded pipeline job attempt |
//! | `jobs_duration_seconds` | `job_type` | each attempt, claim to result |
//! | `webhooks_total` | `provider`, `status` (HTTP status answered) | each `/webhooks/*` call |
//! | `codex_token_estimated_total` | `phase`, `model` | tokens a run report estimates |
//! | `qa_verdict_total` | `verdict` | each QA attempt's verdict |
//! | `requests_total`, `requests_duration_seconds` | `path` (route template), `method`, `status` | each request to a pipelines route |
//!
//! Labels are bounded: job types are the pipeline blueprints' client-facing names
//! (`execute_step_job`, ...), paths route templates (never ids),
//! models whatever the deployment configures.

use baton_engine::metrics::must;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

#[derive(Clone)]
pub struct PipelineMetrics {
    pub jobs_processed: IntCounterVec,
    pub jobs_duration: HistogramVec,
    pub webhooks: IntCounterVec,
    pub tokens_estimated: IntCounterVec,
    pub qa_verdicts: IntCounterVec,
    pub requests: IntCounterVec,
    pub requests_duration: HistogramVec,
}

impl PipelineMetrics {
    pub fn new(registry: &Registry) -> PipelineMetrics {
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = must(IntCounterVec::new(Opts::new(name, help), labels));
            must(registry.register(Box::new(c.clone())));
            c
        };
        let histogram = |name: &str, help: &str, labels: &[&str], buckets: Vec<f64>| {
            let h = must(HistogramVec::new(
                HistogramOpts::new(name, help).buckets(buckets),
                labels,
            ));
            must(registry.register(Box::new(h.clone())));
            h
        };
        PipelineMetrics {
            jobs_processed: counter(
                "jobs_processed_total",
                "Pipeline job attempts by job type and run status",
                &["job_type", "status"],
            ),
            jobs_duration: histogram(
                "jobs_duration_seconds",
                "Pipeline job attempt duration, claim to result",
                &["job_type"],
                vec![0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0],
            ),
            webhooks: counter(
                "webhooks_total",
                "CI webhook calls by provider and answered HTTP status",
                &["provider", "status"],
            ),
            tokens_estimated: counter(
                "codex_token_estimated_total",
                "Tokens estimated by pipeline workers, by phase and model",
                &["phase", "model"],
            ),
            qa_verdicts: counter(
                "qa_verdict_total",
                "QA verdicts of run_quality attempts",
                &["verdict"],
            ),
            requests: counter(
                "requests_total",
                "Requests to the pipelines API by route template, method and status",
                &["path", "method", "status"],
            ),
            requests_duration: histogram(
                "requests_duration_seconds",
                "Latency of the pipelines API by route template, method and status",
                &["path", "method", "status"],
                vec![0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0],
            ),
        }
    }
}
