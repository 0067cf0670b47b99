//! What follows a pipeline outcome, carried out by the engine: a step a CodeMachine
//! policy sent back runs again (`pending → running`, an `execute_step` job), a step CI
//! passed with auto-QA on gets a `run_quality` job, and a `codemachine_import` job's
//! outcome becomes the run's steps.
//!
//! Each step start is the same compare-and-set as `POST /steps/{id}/actions/run`, so a
//! follow-up carried out twice (a redelivered outcome) starts the step once.

use super::{event, record_err, PipelineJob, PipelineJobs};
use crate::codemachine::{apply_import, import_of};
use crate::model::Id;
use crate::policies::FollowUp;
use crate::{ProtocolAction, StepAction};
use baton_engine::EngineError;
use serde_json::{json, Value};

impl PipelineJobs<'_> {
    /// Carries out `follow_ups` for steps of `run`.
    pub async fn follow_ups(&self, run: Id, follow_ups: &[FollowUp]) -> Result<(), EngineError> {
        if follow_ups.is_empty() {
            return Ok(());
        }
        let records = self.records;
        let r = records;
        for follow_up in follow_ups {
            match *follow_up {
                FollowUp::RunStep(step) => {
                    let record = r.get_step_run(step).await.map_err(record_err)?;
                    // The run first, as run_next_step does: a paused or finished run
                    // gets no running step (a planned one becomes running).
                    if !r
                        .protocol_action(run, ProtocolAction::RunNextStep)
                        .await
                        .map_err(record_err)?
                        .applied()
                    {
                        continue;
                    }
                    if !r
                        .step_action(step, StepAction::Run)
                        .await
                        .map_err(record_err)?
                        .applied()
                    {
                        continue; // already started (a redelivery) or moved on
                    }
                    let protocol = r.get_protocol_run(run).await.map_err(record_err)?;
                    let job = self
                        .enqueue(PipelineJob::Execute, &protocol, Some(&record))
                        .await?;
                    event(
                        r,
                        run,
                        Some(step),
                        "step_enqueued",
                        format!("step {} started by a policy", record.step_name),
                        json!({"job_id": job, "by": "policy", "baton_event": "step_started"}),
                    )
                    .await?;
                    tracing::info!(run, step, job_id = %job, "policy follow-up: step enqueued");
                }
                FollowUp::RunQa(step) => {
                    let record = r.get_step_run(step).await.map_err(record_err)?;
                    let protocol = r.get_protocol_run(run).await.map_err(record_err)?;
                    let job = self
                        .enqueue(PipelineJob::Qa, &protocol, Some(&record))
                        .await?;
                    event(
                        r,
                        run,
                        Some(step),
                        "qa_enqueued",
                        format!("QA of {} enqueued", record.step_name),
                        json!({"job_id": job}),
                    )
                    .await?;
                    tracing::info!(run, step, job_id = %job, "follow-up: QA enqueued");
                }
            }
        }
        Ok(())
    }

    /// A `codemachine_import` job ended: its outcome's steps are created and the run is
    /// planned, or (failed job or bad outcome) the run is blocked.
    pub async fn codemachine_import_ended(
        &self,
        run: Id,
        job_id: &str,
        result: &Value,
        error: Option<&str>,
    ) -> Result<(), EngineError> {
        let records = self.records;
        let r = records;
        let parsed = match error {
            Some(why) => Err(why.to_string()),
            None => import_of(result),
        };
        match parsed {
            Ok((config, source, steps)) => {
                apply_import(r, run, config, source, &steps)
                    .await
                    .map_err(record_err)?;
            }
            Err(why) => {
                if r.protocol_action(run, ProtocolAction::Block)
                    .await
                    .map_err(record_err)?
                    .applied()
                {
                    event(
                        r,
                        run,
                        None,
                        "codemachine_import_failed",
                        format!("CodeMachine import failed: {why}"),
                        json!({"job_id": job_id}),
                    )
                    .await?;
                }
            }
        }
        Ok(())
    }
}
