//! The Prometheus registry this orchestrator exports (`GET /_public/metrics`, also
//! `GET /metrics`): the engine's metrics ([`baton_engine::metrics`]), the HTTP request
//! metrics of every face, the coding pipelines' own ([`baton_pipelines::metrics`]) and the
//! workflow face's.

use baton_engine::metrics::EngineMetrics;
use baton_http::HttpMetrics;
use prometheus::Registry;
use std::sync::Arc;

pub struct Metrics {
    pub registry: Registry,
    pub engine: Arc<EngineMetrics>,
    /// Requests of every face, by route template.
    pub http: HttpMetrics,
    /// The coding pipelines' metrics, under the names their clients know.
    pub pipelines: baton_pipelines::metrics::PipelineMetrics,
    /// The workflow face's counters.
    pub workflows: Arc<baton_workflows::WorkflowMetrics>,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        Metrics {
            engine: Arc::new(EngineMetrics::new(&registry)),
            http: HttpMetrics::new(&registry),
            pipelines: baton_pipelines::metrics::PipelineMetrics::new(&registry),
            workflows: Arc::new(baton_workflows::WorkflowMetrics::new(&registry)),
            registry,
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
