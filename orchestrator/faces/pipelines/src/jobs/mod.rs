//! Coding-pipeline jobs: the pipelines API enqueues a Baton job of a shipped blueprint
//! (`plan_protocol`, `execute_step`, `run_quality`, `open_pr`, `codemachine_import`,
//! `project_setup`) with the run's repository and branch as `initial_data` and
//! `metadata.pipeline = {kind, protocol_run_id, step_run_id}`, under the engine hook
//! [`HOOK`]. Through that hook ([`PipelineHook`]) the engine hands each attempt's result
//! to [`attempts`] before committing it (the attempt becomes a run record, its log leaves
//! the result), and tells [`PipelineJobs::job_ended`] when the job has ended, which applies
//! the outcome to the records (idempotently: the engine may call it twice).
//!
//! Exec and QA outcomes go through the steps' CodeMachine policies
//! (`pipelines::policies`); what they say follows (a step to run, QA to enqueue) is
//! carried out by [`follow_ups`].
//!
//! Retries stay inside the job (its blueprint's `max_retries`): a failed attempt that
//! will be retried changes no record; only the job's end does.

pub mod attempts;
pub mod follow_ups;

use crate::codemachine::step_prompt;
use crate::metrics::PipelineMetrics;
use crate::model::{Id, NewEvent, ProtocolRun, StepRun};
use crate::outcomes::apply_plan;
use crate::policies::{exec_outcome, qa_outcome};
use crate::runs::QueueJob;
use crate::{ProtocolAction, RecordError, RecordStore};
use async_trait::async_trait;
use baton_engine::hooks::{AfterCommit, Attempt, JobHook};
use baton_engine::job::JobDoc;
use baton_engine::{Engine, EngineError, NewJob};
use baton_protocol::{job_status, TaskResult};
use baton_store::StoredJob;
use serde_json::{json, Value};
use std::sync::Arc;

/// Owner of pipeline jobs (they belong to no API client).
pub const PIPELINE_CLIENT: &str = "pipelines";

/// The engine hook of pipeline jobs.
pub const HOOK: &str = "pipelines";

/// What the pipelines' job code works with: the engine it creates jobs on, the records
/// and the metrics.
#[derive(Clone, Copy)]
pub struct PipelineJobs<'a> {
    pub engine: &'a Engine,
    pub records: &'a dyn RecordStore,
    pub metrics: &'a PipelineMetrics,
}

/// The engine's way into the pipelines (see the module docs).
pub struct PipelineHook {
    pub records: Arc<dyn RecordStore>,
    pub metrics: PipelineMetrics,
}

impl PipelineHook {
    fn jobs<'a>(&'a self, engine: &'a Engine) -> PipelineJobs<'a> {
        PipelineJobs {
            engine,
            records: self.records.as_ref(),
            metrics: &self.metrics,
        }
    }
}

#[async_trait]
impl JobHook for PipelineHook {
    async fn before_result(
        &self,
        engine: &Engine,
        attempt: Attempt<'_>,
        result: &mut TaskResult,
    ) -> Result<Option<AfterCommit>, EngineError> {
        let recorded = self.jobs(engine).record_run(&attempt, result).await?;
        let metrics = self.metrics.clone();
        Ok(Some(Box::new(move || {
            attempts::count_run(&metrics, &recorded)
        })))
    }

    async fn job_ended(
        &self,
        engine: &Arc<Engine>,
        job: &StoredJob,
        doc: &JobDoc,
    ) -> Result<(), EngineError> {
        self.jobs(engine).job_ended(job, doc).await
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PipelineJob {
    Plan,
    Execute,
    Qa,
    OpenPr,
    /// Reads a CodeMachine workspace (`POST /projects/{id}/codemachine/import` with
    /// `enqueue: true`); its outcome creates the steps (`engine::pipeline_policies`).
    CodemachineImport,
    /// `project_setup`: onboarding, on the project's setup run (`pipelines::onboarding`).
    Setup,
}

impl PipelineJob {
    /// The shipped blueprint (and skill) of the job.
    pub fn blueprint(self) -> &'static str {
        match self {
            PipelineJob::Plan => "plan_protocol",
            PipelineJob::Execute => "execute_step",
            PipelineJob::Qa => "run_quality",
            PipelineJob::OpenPr => "open_pr",
            PipelineJob::CodemachineImport => "codemachine_import",
            PipelineJob::Setup => "project_setup",
        }
    }

    /// The job type clients see (`execute_step_job`, ...; see
    /// [`crate::runs::job_type_name`]).
    pub fn job_type(self) -> String {
        crate::runs::job_type_name(self.blueprint())
    }

    fn from_blueprint(name: &str) -> Option<PipelineJob> {
        [
            Self::Plan,
            Self::Execute,
            Self::Qa,
            Self::OpenPr,
            Self::CodemachineImport,
            Self::Setup,
        ]
        .into_iter()
        .find(|k| k.blueprint() == name)
    }
}

pub fn record_err(e: RecordError) -> EngineError {
    EngineError::Internal(format!("pipeline records: {e}"))
}

impl PipelineJobs<'_> {
    /// Enqueues the job `kind` for `run` (and `step`); its id.
    pub async fn enqueue(
        &self,
        kind: PipelineJob,
        run: &ProtocolRun,
        step: Option<&StepRun>,
    ) -> Result<String, EngineError> {
        let records = self.records;
        let project = records
            .get_project(run.project_id)
            .await
            .map_err(record_err)?;
        let bp = self
            .engine
            .blueprints
            .get(kind.blueprint())
            .cloned()
            .ok_or_else(|| {
                EngineError::Invalid(format!(
                    "blueprint `{}` is not loaded (it ships in blueprints/)",
                    kind.blueprint()
                ))
            })?;
        let params = json!({
            "project_id": project.id, "git_url": project.git_url, "local_path": project.local_path,
            "default_models": project.default_models,
            "protocol_run_id": run.id, "protocol_name": run.protocol_name,
            "base_branch": run.base_branch, "description": run.description,
            "step_run_id": step.map(|s| s.id), "step_name": step.map(|s| s.step_name.clone()),
            "engine_id": step.and_then(|s| s.engine_id.clone()),
            "model": step.and_then(|s| s.model.clone()),
            "workspace_path": run.template_source.as_ref().and_then(|t| t.get("workspace_path")),
            "step_prompt": step.and_then(|s| step_prompt(run.template_config.as_ref(), &s.step_name)),
            "project_classification": project.project_classification,
            "ci_provider": project.ci_provider,
            "qa_policy": crate::policy::PolicyPack::of(&project).qa_policy,
        });
        let meta = json!({"pipeline": {
            "kind": kind.blueprint(), "protocol_run_id": run.id, "step_run_id": step.map(|s| s.id),
        }});
        let new = NewJob {
            initial_data: params.clone(),
            metadata: meta,
            hook: Some(HOOK.into()),
            ..NewJob::default()
        };
        let job_id = self.engine.create_job(PIPELINE_CLIENT, &bp, new).await?;
        self.index_job(QueueJob {
            job_id: job_id.clone(),
            job_type: kind.blueprint().into(),
            payload: params,
            project_id: Some(project.id),
            protocol_run_id: Some(run.id),
            step_run_id: step.map(|s| s.id),
            created_at: baton_protocol::clock::now_ms(),
            started_at: None,
        })
        .await;
        Ok(job_id)
    }

    /// The pipeline job ended (the engine's end-of-job hook); its outcome goes to the records.
    pub async fn job_ended(&self, job: &StoredJob, doc: &JobDoc) -> Result<(), EngineError> {
        let job_id = job.id.as_str();
        if !job_status::is_terminal(&job.status) {
            return Ok(());
        }
        self.record_lost_attempts(job, doc).await;
        let meta = &doc.metadata["pipeline"];
        let Some(kind) = meta["kind"].as_str().and_then(PipelineJob::from_blueprint) else {
            return Ok(());
        };
        let records = self.records;
        let run: Id = meta["protocol_run_id"].as_u64().unwrap_or(0);
        let step: Option<Id> = meta["step_run_id"].as_u64();
        let finished = job.status == job_status::FINISHED;
        let result = doc.result.clone().unwrap_or(Value::Null);
        let why = doc
            .error
            .as_ref()
            .and_then(|e| e["message"].as_str())
            .unwrap_or(&job.status)
            .to_string();
        let r = records;
        match (kind, step) {
            (PipelineJob::Setup, _) => {
                crate::onboarding::job_ended(r, run, finished, &result, &why, job_id)
                    .await
                    .map_err(record_err)?;
            }
            (PipelineJob::Plan, _) if finished => {
                apply_plan(r, run, &result).await.map_err(record_err)?;
            }
            (PipelineJob::Plan, _) => {
                if r.protocol_action(run, ProtocolAction::Block)
                    .await
                    .map_err(record_err)?
                    .applied()
                {
                    event(
                        r,
                        run,
                        None,
                        "plan_failed",
                        format!("planning failed: {why}"),
                        json!({"job_id": job_id}),
                    )
                    .await?;
                }
            }
            (PipelineJob::Execute, Some(step)) => {
                let outcome = if finished {
                    result
                } else {
                    json!({"success": false, "error": why})
                };
                let done = exec_outcome(r, step, &outcome, Some(job_id))
                    .await
                    .map_err(record_err)?;
                self.follow_ups(run, &done.follow_ups).await?;
                // `qa_policy: light`: the worker reviewed the step inline. Its own outcome
                // id, so that a redelivery of the job's end applies neither twice.
                if let Some(verdict) = outcome["qa"]["verdict"].as_str() {
                    let report = outcome["qa"]["report"].as_str().unwrap_or("");
                    let qa_id = format!("{job_id}#qa");
                    let done = qa_outcome(r, step, verdict, report, Some(&qa_id))
                        .await
                        .map_err(record_err)?;
                    self.follow_ups(run, &done.follow_ups).await?;
                }
            }
            (PipelineJob::Qa, Some(step)) => {
                let (verdict, report) = if finished {
                    (
                        result["verdict"].as_str().unwrap_or("FAIL").to_string(),
                        result["report"].as_str().unwrap_or("").to_string(),
                    )
                } else {
                    ("FAIL".to_string(), format!("QA job failed: {why}"))
                };
                let done = qa_outcome(r, step, &verdict, &report, Some(job_id))
                    .await
                    .map_err(record_err)?;
                self.follow_ups(run, &done.follow_ups).await?;
            }
            (PipelineJob::CodemachineImport, _) => {
                let error = (!finished).then_some(why.as_str());
                self.codemachine_import_ended(run, job_id, &result, error)
                    .await?;
            }
            (PipelineJob::OpenPr, _) => {
                let (kind, message) = match result["pr_url"].as_str() {
                    Some(url) if finished => ("open_pr", format!("PR opened: {url}")),
                    _ => ("open_pr_failed", format!("opening the PR failed: {why}")),
                };
                event(
                    r,
                    run,
                    None,
                    kind,
                    message,
                    json!({"job_id": job_id, "pr_url": result["pr_url"]}),
                )
                .await?;
            }
            _ => tracing::warn!(job_id, "pipeline job without the step it is about"),
        }
        tracing::info!(job_id, kind = kind.blueprint(), run, ?step, status = %job.status, "pipeline job outcome applied");
        Ok(())
    }
}

pub async fn event(
    r: &dyn RecordStore,
    run: Id,
    step: Option<Id>,
    event_type: &str,
    message: String,
    metadata: Value,
) -> Result<(), EngineError> {
    r.append_event(NewEvent {
        protocol_run_id: run,
        step_run_id: step,
        event_type: event_type.into(),
        message,
        metadata: Some(metadata),
    })
    .await
    .map(|_| ())
    .map_err(record_err)
}
