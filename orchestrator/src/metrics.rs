//! The Prometheus registry this orchestrator exports (`GET /_public/metrics`, also
//! `GET /metrics`): the engine's metrics ([`baton_engine::metrics`]), the HTTP request
//! metrics of every face, and the coding pipelines' own ([`pipelines`]).

pub mod pipelines;

use baton_engine::metrics::{must, EngineMetrics};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};
use std::sync::Arc;

pub struct Metrics {
    registry: Registry,
    pub engine: Arc<EngineMetrics>,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    /// The coding pipelines' metrics, under the names their clients know.
    pub pipelines: pipelines::PipelineMetrics,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let http_requests = must(IntCounterVec::new(
            Opts::new("baton_http_requests_total", "HTTP requests"),
            &["route", "method", "status"],
        ));
        must(registry.register(Box::new(http_requests.clone())));
        let http_duration = must(HistogramVec::new(
            HistogramOpts::new(
                "baton_http_request_duration_seconds",
                "HTTP request latency",
            )
            .buckets(vec![
                0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                30.0, 60.0,
            ]),
            &["route"],
        ));
        must(registry.register(Box::new(http_duration.clone())));
        Metrics {
            engine: Arc::new(EngineMetrics::new(&registry)),
            http_requests,
            http_duration,
            pipelines: pipelines::PipelineMetrics::new(&registry),
            registry,
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
