//! The face's engine hook. Before a step's answer is committed, the circuit state of
//! the AI engine it reports (a workflow worker's `circuit`, in its answer or its error's
//! details) is kept in the face's store for `/health/full`, and the execution's
//! `token_budget` is checked: an answer that takes the tokens spent (the steps answered so
//! far, this one included) past the budget is turned into a failure with
//! `BUDGET_EXCEEDED_ERROR`, which fails the execution without another attempt (steps of
//! one parallel level answering at the same moment may each pass the check once).
//!
//! When an execution's job ends (on whichever orchestrator), its
//! outcome is counted — executions by status, each step's duration by type and status,
//! the tokens spent — from the answers kept in the job's states. The engine calls it at
//! least once per end (a crash between the end and the call repeats it), so a count may
//! rarely be one too many.

use crate::executions::{answers, status_name};
use crate::store::WorkflowStore;
use crate::WorkflowMetrics;
use async_trait::async_trait;
use baton_engine::hooks::{AfterCommit, Attempt, JobHook};
use baton_engine::job::JobDoc;
use baton_engine::{Engine, EngineError};
use baton_protocol::clock::{now_ms, rfc3339};
use baton_protocol::{error_codes, TaskError, TaskResult, TASK_STATUS_FAILURE};
use baton_store::StoredJob;
use serde_json::Value;
use std::sync::Arc;

/// The hook's name, carried by every execution's job.
pub const HOOK: &str = "workflows";

pub struct WorkflowHook {
    pub metrics: Arc<WorkflowMetrics>,
    pub records: Arc<dyn WorkflowStore>,
}

impl WorkflowHook {
    /// Keeps the AI engine circuit state a step's answer reports, if it reports one.
    async fn note_circuit(&self, worker_id: &str, result: &TaskResult) {
        let from_data = result.data.as_ref().and_then(|d| d.get("circuit"));
        let from_error = result
            .error
            .as_ref()
            .and_then(|e| e.details.as_ref())
            .and_then(|d| d.get("circuit"));
        let Some(Value::Object(report)) = from_data.or(from_error) else {
            return;
        };
        let Some(engine) = report.get("engine").and_then(Value::as_str) else {
            return;
        };
        let mut state = report.clone();
        state.insert("worker_id".into(), worker_id.into());
        state.insert("reported_at".into(), rfc3339(now_ms()).into());
        let text = Value::Object(state).to_string();
        if let Err(e) = self.records.set_circuit(engine, &text).await {
            tracing::warn!(engine, error = %e, "circuit state not recorded");
        }
    }
}

fn tokens(answer: &Value) -> u64 {
    answer["tokens"].as_u64().unwrap_or(0)
}

/// Tokens the execution spent before this answer: finished states and the branches of
/// the parallel state in progress.
fn spent(attempt: &Attempt<'_>) -> u64 {
    let done: u64 = answers(&attempt.doc.states).into_iter().map(tokens).sum();
    let branches: u64 = attempt.doc.parallel.as_ref().map_or(0, |p| {
        p.branches
            .iter()
            .filter_map(|b| b.data.as_ref())
            .map(tokens)
            .sum()
    });
    done + branches
}

#[async_trait]
impl JobHook for WorkflowHook {
    async fn before_result(
        &self,
        _engine: &Engine,
        attempt: Attempt<'_>,
        result: &mut TaskResult,
    ) -> Result<Option<AfterCommit>, EngineError> {
        self.note_circuit(attempt.worker_id, result).await;
        let Some(budget) = attempt.doc.metadata["workflow"]["token_budget"].as_u64() else {
            return Ok(None);
        };
        let Some(data) = result.data.as_mut().filter(|d| tokens(d) > 0) else {
            return Ok(None);
        };
        let total = spent(&attempt) + tokens(data);
        if total <= budget {
            return Ok(None);
        }
        let step = data["step_id"].as_str().unwrap_or_default().to_string();
        let message =
            format!("token budget exceeded: {total} tokens spent (step `{step}`), budget {budget}");
        data["status"] = "failed".into();
        data["error"] = message.clone().into();
        result.status = Some(TASK_STATUS_FAILURE.into());
        result.error = Some(TaskError {
            code: error_codes::BUDGET_EXCEEDED.into(),
            message,
            details: None,
        });
        tracing::info!(execution = %attempt.job.id, step, total, budget, "token budget exceeded");
        Ok(None)
    }

    async fn job_ended(
        &self,
        _engine: &Arc<Engine>,
        job: &StoredJob,
        doc: &JobDoc,
    ) -> Result<(), EngineError> {
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
        crate::runs::complete(self.records.as_ref(), job, doc).await;
        tracing::info!(execution = %job.id, status = %job.status, "execution ended");
        Ok(())
    }
}
