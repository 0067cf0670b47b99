//! Runs of pipeline jobs: each attempt's result becomes a [`Run`] record, with the log and
//! artifacts the worker reported ([`crate::run_report`]).
//!
//! The engine's hook ([`super::PipelineHook`]) calls [`PipelineJobs::record_run`] for a
//! result of a pipeline job *before* the result is committed: if the orchestrator dies in
//! between, the worker retries the result and the run is upserted again under the same
//! id (the attempt's task id). The log and artifact contents leave the result on the way,
//! so the job document keeps only the small rest. Once the result is committed,
//! [`count_run`] feeds the pipelines' metrics.
//!
//! Attempts that end without a result (result timeout, lost lease, dispatch timeout, job
//! cancelled) are recorded when the job ends ([`PipelineJobs::record_lost_attempts`], from the
//! job's history: [`lost_attempts`]), as `failed` or `cancelled` runs without a log; they
//! are listed by recording order, so after the attempts that did report. The attempt
//! still in flight is shown from the job's tasks by the API ([`live_runs`]).

use super::{PipelineJobs, PIPELINE_CLIENT};
use crate::metrics::PipelineMetrics;
use crate::run_report::{take_report, RunReport};
use crate::runs::{job_type_name, run_kind_of, QueueJob, Run, RunStatus};
use baton_engine::hooks::Attempt;
use baton_engine::job::JobDoc;
use baton_engine::EngineError;
use baton_protocol::clock::now_ms;
use baton_protocol::{job_status, TaskResult, TASK_STATUS_CANCELLED, TASK_STATUS_FAILURE};
use baton_store::{StoredJob, TaskSlot};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// A run recorded for a result, kept until the result is committed (for the metrics).
pub struct RecordedRun {
    run: Run,
    report: Option<RunReport>,
}

/// Whether a job is a pipeline job (cheap: the document is already parsed).
pub fn is_pipeline(doc: &JobDoc) -> bool {
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

impl PipelineJobs<'_> {
    /// Records the run of `result` (an attempt of the pipeline job `job`) and strips the
    /// report's log and contents from it. An error means nothing may be committed.
    pub async fn record_run(
        &self,
        attempt: &Attempt<'_>,
        result: &mut TaskResult,
    ) -> Result<RecordedRun, EngineError> {
        let (job, doc, worker_id) = (attempt.job, attempt.doc, attempt.worker_id);
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
        run.started_at = attempt.claimed_ms;
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
        let records = self.records;
        let run = records
            .record_run(run, log, artifacts)
            .await
            .map_err(|e| EngineError::Internal(format!("recording run {task_id}: {e}")))?;
        tracing::debug!(run_id = %run.run_id, job_id = %job.id, job_type = %run.job_type, status = run.status.as_str(), attempt = run.attempt, "pipeline run recorded");
        Ok(RecordedRun { run, report })
    }

    /// Indexes a pipeline job just created (for `/queues`); a failure is logged, not
    /// returned: the job exists and runs either way.
    pub async fn index_job(&self, job: QueueJob) {
        let job_id = job.job_id.clone();
        if let Err(e) = self.records.index_job(job).await {
            tracing::warn!(job_id, error = %e, "pipeline job not indexed for /queues");
        }
    }
}

/// The pipelines' metrics of a run whose result was committed.
pub fn count_run(m: &PipelineMetrics, r: &RecordedRun) {
    {
        let run = &r.run;
        let job_type = job_type_name(&run.job_type);
        m.jobs_processed
            .with_label_values(&[&job_type, run.status.as_str()])
            .inc();
        if let (Some(start), Some(end)) = (run.started_at, run.finished_at) {
            m.jobs_duration
                .with_label_values(&[&job_type])
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

/// An attempt the history shows ending without a result.
#[derive(Debug, Clone, PartialEq)]
pub struct LostAttempt {
    pub task_id: String,
    pub attempt: u32,
    pub worker_id: Option<String>,
    pub started_ms: Option<i64>,
    pub ended_ms: i64,
    pub status: RunStatus,
    /// `{code, message}`.
    pub error: Value,
}

/// The attempts of a job's history (JSON entries, oldest first) that never reported: queued
/// (`task_queued`), maybe dispatched, then timed out, lost or cancelled with the job.
pub fn lost_attempts(history: &[String]) -> Vec<LostAttempt> {
    let mut open: BTreeMap<String, LostAttempt> = BTreeMap::new();
    let mut lost = Vec::new();
    for raw in history {
        let Ok(e) = serde_json::from_str::<Value>(raw) else {
            continue;
        };
        let task = e["task_id"].as_str().unwrap_or_default().to_string();
        let at = e["timestamp_ms"].as_i64().unwrap_or(0);
        let end =
            |code: &str, message: &str, status| (code.to_string(), message.to_string(), status);
        let ended = match e["event_type"].as_str().unwrap_or_default() {
            "task_queued" => {
                open.entry(task.clone()).or_insert_with(|| LostAttempt {
                    task_id: task,
                    attempt: e["attempt"].as_u64().unwrap_or(1) as u32,
                    worker_id: None,
                    started_ms: None,
                    ended_ms: at,
                    status: RunStatus::Failed,
                    error: Value::Null,
                });
                None
            }
            "task_dispatched" => {
                if let Some(a) = open.get_mut(&task) {
                    a.worker_id = e["worker_id"].as_str().map(str::to_string);
                    a.started_ms = Some(at);
                }
                None
            }
            // Reported: recorded with its result.
            "task_finished" => {
                open.remove(&task);
                None
            }
            "task_timed_out" => Some((
                task,
                end(
                    "TIMEOUT_ERROR",
                    "no result within the result timeout",
                    RunStatus::Failed,
                ),
            )),
            "lease_expired" => Some((
                task,
                end(
                    "WORKER_LOST",
                    "the worker stopped heartbeating",
                    RunStatus::Failed,
                ),
            )),
            "lease_revoked" => Some((
                task,
                end(
                    "WORKER_LOST",
                    "the worker restarted (it registered again)",
                    RunStatus::Failed,
                ),
            )),
            "dispatch_timed_out" => Some((
                task,
                end(
                    "DISPATCH_TIMEOUT",
                    "no worker took the task in time",
                    RunStatus::Failed,
                ),
            )),
            "job_cancel_requested" => {
                // Every attempt still open ends with the job.
                for (_, mut a) in std::mem::take(&mut open) {
                    a.ended_ms = at;
                    a.status = RunStatus::Cancelled;
                    a.error = json!({"code": "CANCELLED", "message": "the job was cancelled"});
                    lost.push(a);
                }
                None
            }
            _ => None,
        };
        if let Some((task, (code, message, status))) = ended {
            if let Some(mut a) = open.remove(&task) {
                a.ended_ms = at;
                a.status = status;
                a.error = json!({"code": code, "message": message});
                lost.push(a);
            }
        }
    }
    lost
}

impl PipelineJobs<'_> {
    /// Records the attempts of an ended pipeline job that never reported (see
    /// [`lost_attempts`]); already recorded ones are left alone, so a timer firing twice
    /// changes nothing. Failures are logged: the job's outcome is applied regardless.
    pub async fn record_lost_attempts(&self, job: &StoredJob, doc: &JobDoc) {
        if !is_pipeline(doc) {
            return;
        }
        let recorded = async {
            let records = self.records;
            let history = self.engine.history(&job.id).await?;
            for a in lost_attempts(&history) {
                if records.get_run(&a.task_id).await.is_ok() {
                    continue;
                }
                let mut run =
                    attempt_record(&job.id, doc, &a.task_id, a.status, a.worker_id.as_deref());
                run.attempt = a.attempt.max(1);
                run.started_at = a.started_ms;
                run.finished_at = Some(a.ended_ms);
                run.created_at = a.ended_ms;
                let log = format!(
                    "{}: {}\n",
                    a.error["code"].as_str().unwrap_or(""),
                    a.error["message"].as_str().unwrap_or("")
                );
                run.error = Some(a.error);
                run.log_bytes = log.len() as u64;
                let run = records
                    .record_run(run, log, Vec::new())
                    .await
                    .map_err(|e| EngineError::Internal(e.to_string()))?;
                self.metrics
                    .jobs_processed
                    .with_label_values(&[&job_type_name(&run.job_type), run.status.as_str()])
                    .inc();
            }
            Ok::<(), EngineError>(())
        };
        if let Err(e) = recorded.await {
            tracing::warn!(job_id = %job.id, error = %e, "lost attempts of a pipeline job not recorded");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_without_a_result_are_found_in_the_history() {
        let h = |v: Value| v.to_string();
        let history = vec![
            h(json!({"event_type": "job_created"})),
            h(
                json!({"event_type": "task_queued", "task_id": "t1", "attempt": 1, "timestamp_ms": 10}),
            ),
            h(
                json!({"event_type": "task_dispatched", "task_id": "t1", "worker_id": "w", "timestamp_ms": 11}),
            ),
            h(json!({"event_type": "task_timed_out", "task_id": "t1", "timestamp_ms": 20})),
            h(
                json!({"event_type": "task_queued", "task_id": "t2", "attempt": 2, "timestamp_ms": 21}),
            ),
            h(
                json!({"event_type": "task_dispatched", "task_id": "t2", "worker_id": "v", "timestamp_ms": 22}),
            ),
            h(json!({"event_type": "task_finished", "task_id": "t2", "timestamp_ms": 30})),
            h(
                json!({"event_type": "task_queued", "task_id": "t3", "attempt": 3, "timestamp_ms": 31}),
            ),
            h(json!({"event_type": "job_cancel_requested", "timestamp_ms": 40})),
            "not json".to_string(),
        ];
        let lost = lost_attempts(&history);
        assert_eq!(lost.len(), 2, "{lost:?}");
        assert_eq!(lost[0].task_id, "t1");
        assert_eq!(
            (lost[0].attempt, lost[0].started_ms, lost[0].ended_ms),
            (1, Some(11), 20)
        );
        assert_eq!(lost[0].worker_id.as_deref(), Some("w"));
        assert_eq!(
            (lost[0].status, &lost[0].error["code"]),
            (RunStatus::Failed, &json!("TIMEOUT_ERROR"))
        );
        assert_eq!(
            (lost[1].task_id.as_str(), lost[1].status),
            ("t3", RunStatus::Cancelled)
        );
        assert_eq!(lost[1].worker_id, None);
    }

    #[test]
    fn an_attempt_taken_back_from_a_restarted_worker_is_lost() {
        let history: Vec<String> = [
            json!({"event_type": "task_queued", "task_id": "t1", "attempt": 1, "timestamp_ms": 10}),
            json!({"event_type": "task_dispatched", "task_id": "t1", "worker_id": "w", "timestamp_ms": 11}),
            json!({"event_type": "lease_revoked", "task_id": "t1", "worker_id": "w", "timestamp_ms": 15}),
        ]
        .iter()
        .map(Value::to_string)
        .collect();
        let lost = lost_attempts(&history);
        assert_eq!(lost.len(), 1, "{lost:?}");
        assert_eq!((lost[0].ended_ms, lost[0].status), (15, RunStatus::Failed));
        assert_eq!(lost[0].error["code"], "WORKER_LOST");
    }
}
