//! Runs of pipeline jobs: each attempt's result becomes a [`Run`] record, with the log and
//! artifacts the worker reported ([`crate::pipelines::run_report`]).
//!
//! [`Engine::submit_result`] calls [`Engine::record_pipeline_run`] for a job owned by
//! [`PIPELINE_CLIENT`] (a string compare on the document it has already read: ordinary
//! jobs pay nothing more), *before* committing the result: if the orchestrator dies in
//! between, the worker retries the result and the run is upserted again under the same
//! id (the attempt's task id). The log and artifact contents leave the result on the way,
//! so the job document keeps only the small rest. Once the result is committed,
//! [`Engine::count_pipeline_run`] feeds the seed's metrics.
//!
//! Attempts that end without a result (result timeout, lost lease) get no record; the
//! attempt still in flight is shown from the job's tasks by the API
//! ([`live_runs`]).

use super::job::JobDoc;
use super::PIPELINE_CLIENT;
use super::{Engine, EngineError};
use crate::clock::now_ms;
use crate::pipelines::run_report::{take_report, RunReport};
use crate::pipelines::runs::{run_kind_of, QueueJob, Run, RunStatus};
use crate::store::{StoredJob, TaskSlot};
use baton_protocol::{job_status, TaskResult, TASK_STATUS_CANCELLED, TASK_STATUS_FAILURE};
use serde_json::Value;

/// A run recorded for a result, kept until the result is committed (for the metrics).
pub(super) struct RecordedRun {
    run: Run,
    report: Option<RunReport>,
}

/// Whether a job is a pipeline job (cheap: the document is already parsed).
pub(super) fn is_pipeline(doc: &JobDoc) -> bool {
    doc.client == PIPELINE_CLIENT && doc.metadata.get("pipeline").is_some()
}

fn id_of(v: &Value) -> Option<u64> {
    v.as_u64()
}

/// The record of one attempt of `job` (document `doc`), without its outcome.
fn attempt_record(
    job_id: &str,
    doc: &JobDoc,
    run_id: &str,
    status: RunStatus,
    worker: Option<&str>,
) -> Run {
    let meta = &doc.metadata["pipeline"];
    Run {
        run_id: run_id.to_string(),
        job_id: job_id.to_string(),
        job_type: doc.blueprint.clone(),
        status,
        run_kind: run_kind_of(&doc.blueprint),
        project_id: id_of(&doc.initial_data["project_id"]),
        protocol_run_id: id_of(&meta["protocol_run_id"]),
        step_run_id: id_of(&meta["step_run_id"]),
        attempt: doc.run.attempt.max(1),
        worker_id: worker.map(str::to_string),
        started_at: None,
        finished_at: None,
        params: doc.initial_data.clone(),
        result: Value::Null,
        error: None,
        log_path: format!("/codex/runs/{run_id}/logs"),
        log_bytes: 0,
        log_truncated: false,
        cost_tokens: None,
        cost_cents: None,
        created_at: doc.created_ms,
    }
}

/// The run status of a result: a failure, a task given back, or a step whose engine
/// failed (`data.success == false`) is not a success.
fn status_of(result: &TaskResult) -> RunStatus {
    match result.status() {
        TASK_STATUS_FAILURE => RunStatus::Failed,
        TASK_STATUS_CANCELLED => RunStatus::Cancelled,
        _ if result
            .data
            .as_ref()
            .and_then(|d| d.get("success"))
            .and_then(Value::as_bool)
            == Some(false) =>
        {
            RunStatus::Failed
        }
        _ => RunStatus::Succeeded,
    }
}

impl Engine {
    /// Records the run of `result` (an attempt of the pipeline job `job`) and strips the
    /// report's log and contents from it. An error means nothing may be committed.
    pub(super) async fn record_pipeline_run(
        &self,
        job: &StoredJob,
        doc: &JobDoc,
        slot: &TaskSlot,
        worker_id: &str,
        result: &mut TaskResult,
    ) -> Result<RecordedRun, EngineError> {
        let now = now_ms();
        let task_id = result.task_id.clone();
        let mut run = attempt_record(&job.id, doc, &task_id, status_of(result), Some(worker_id));
        let report = match (&mut result.data, &mut result.error) {
            (Some(data), _) if data.get("run").is_some() => take_report(data, &task_id, now),
            (_, Some(e)) => e
                .details
                .as_mut()
                .and_then(|d| take_report(d, &task_id, now)),
            _ => None,
        };
        if let TaskSlot::Leased { claimed_ms, .. } = slot {
            run.started_at = Some(*claimed_ms);
        }
        run.finished_at = Some(now);
        run.created_at = now;
        run.result = result.data.clone().unwrap_or(Value::Null);
        run.error = result
            .error
            .as_ref()
            .and_then(|e| serde_json::to_value(e).ok());
        let (log, artifacts) = match &report {
            Some(r) => {
                run.cost_tokens = r.tokens;
                run.cost_cents = r.cost_cents;
                run.log_truncated = r.log_truncated;
                (r.log.clone(), r.artifacts.clone())
            }
            // No report (another worker implementation): the error, if any, is the log.
            None => (
                result
                    .error
                    .as_ref()
                    .map(|e| format!("{}: {}\n", e.code, e.message))
                    .unwrap_or_default(),
                Vec::new(),
            ),
        };
        run.log_bytes = log.len() as u64;
        let records = self.records()?;
        let run = records
            .record_run(run, log, artifacts)
            .await
            .map_err(|e| EngineError::Internal(format!("recording run {task_id}: {e}")))?;
        tracing::debug!(run_id = %run.run_id, job_id = %job.id, job_type = %run.job_type, status = run.status.as_str(), attempt = run.attempt, "pipeline run recorded");
        Ok(RecordedRun { run, report })
    }

    /// The seed's metrics of a run whose result was committed.
    pub(super) fn count_pipeline_run(&self, r: &RecordedRun) {
        let m = &self.metrics.pipelines;
        let run = &r.run;
        m.jobs_processed
            .with_label_values(&[&run.job_type, run.status.as_str()])
            .inc();
        if let (Some(start), Some(end)) = (run.started_at, run.finished_at) {
            m.jobs_duration
                .with_label_values(&[&run.job_type])
                .observe((end - start).max(0) as f64 / 1000.0);
        }
        if let (Some(report), Some(tokens)) = (&r.report, run.cost_tokens) {
            let phase = report.phase().unwrap_or(&run.run_kind);
            let model = report.model().unwrap_or("unknown");
            m.tokens_estimated
                .with_label_values(&[phase, model])
                .inc_by(tokens);
        }
        if run.job_type == "run_quality" && run.status == RunStatus::Succeeded {
            if let Some(verdict) = run.result["verdict"].as_str() {
                m.qa_verdicts.with_label_values(&[verdict]).inc();
            }
        }
    }

    /// Indexes a pipeline job just created (for `/queues`); a failure is logged, not
    /// returned: the job exists and runs either way.
    pub(super) async fn index_pipeline_job(&self, job: QueueJob) {
        let job_id = job.job_id.clone();
        let indexed = match self.records() {
            Ok(records) => records.index_job(job).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(error) = indexed {
            tracing::warn!(job_id, error, "pipeline job not indexed for /queues");
        }
    }
}

/// The attempts of a live job still in flight (its current tasks), as runs `queued`
/// (waiting in a queue or for a retry) or `running` (leased to a worker).
pub fn live_runs(job: &StoredJob, doc: &JobDoc) -> Vec<Run> {
    if job_status::is_terminal(&job.status) || !is_pipeline(doc) {
        return Vec::new();
    }
    job.tasks
        .iter()
        .map(|(task_id, slot)| {
            let (status, worker, started) = match slot {
                TaskSlot::Leased {
                    worker, claimed_ms, ..
                } => (RunStatus::Running, Some(worker.as_str()), Some(*claimed_ms)),
                _ => (RunStatus::Queued, None, None),
            };
            let mut run = attempt_record(&job.id, doc, task_id, status, worker);
            run.started_at = started;
            run.created_at = doc.updated_ms;
            run
        })
        .collect()
}
