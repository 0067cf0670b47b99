//! The face's engine hook: when an execution's job ends (on whichever orchestrator), its
//! outcome is counted — executions by status, each step's duration by type and status,
//! the tokens spent — from the answers kept in the job's states. The engine calls it at
//! least once per end (a crash between the end and the call repeats it), so a count may
//! rarely be one too many.

use crate::executions::{answers, status_name};
use crate::WorkflowMetrics;
use async_trait::async_trait;
use baton_engine::hooks::JobHook;
use baton_engine::{Engine, EngineError};
use std::sync::Arc;

/// The hook's name, carried by every execution's job.
pub const HOOK: &str = "workflows";

pub struct WorkflowHook {
    pub metrics: Arc<WorkflowMetrics>,
}

#[async_trait]
impl JobHook for WorkflowHook {
    async fn job_ended(&self, engine: &Arc<Engine>, job_id: &str) -> Result<(), EngineError> {
        let Some((job, doc)) = engine.job(job_id).await? else {
            return Ok(());
        };
        self.metrics
            .ended
            .with_label_values(&[status_name(&job.status)])
            .inc();
        for a in answers(&doc.states) {
            let kind = a["type"].as_str().unwrap_or("unknown");
            let status = a["status"].as_str().unwrap_or("unknown");
            if let Some(ms) = a["duration_ms"].as_u64() {
                self.metrics
                    .step_seconds
                    .with_label_values(&[kind, status])
                    .observe(ms as f64 / 1000.0);
            }
            self.metrics
                .tokens
                .inc_by(a["tokens"].as_u64().unwrap_or(0));
        }
        tracing::info!(execution = %job_id, status = %job.status, "execution ended");
        Ok(())
    }
}
