//! Signals from outside that move a job: a person's decision on an approval state (or its
//! deadline passing), and a worker event that the blueprint maps to a transition.

use super::flow::Tx;
use super::tasks::{leased_to, Lane};
use super::{parse_doc, Engine, EngineError};
use crate::retry::{too_fast, until_committed, Round};
use baton_blueprint::{event_key, StateKind, TIMEOUT};
use baton_protocol::job_status;
use serde_json::{json, Value};

/// What an approval caller proved: the owning client's token, or the wait's secret.
#[derive(Debug, Clone, Default)]
pub struct ApprovalProof {
    /// Client named by a valid client token.
    pub client: Option<String>,
    /// The per-wait secret.
    pub secret: Option<String>,
}

/// Compares secrets without revealing the length of the common prefix.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Engine {
    /// Applies a decision to a job waiting for a human. Errors: unknown job (not found),
    /// not waiting (conflict), no valid proof (forbidden), a decision the state does not
    /// offer (invalid).
    pub async fn approve(
        &self,
        job_id: &str,
        decision: &str,
        proof: &ApprovalProof,
        comment: Option<Value>,
    ) -> Result<String, EngineError> {
        until_committed!(
            {
                let (job, doc) = self.job_with_doc(job_id).await?;
                let wait = match &doc.approval {
                    Some(wait) if job.status == job_status::WAITING_FOR_HUMAN => wait,
                    _ => {
                        return Err(EngineError::Conflict(format!(
                            "job is not waiting for a decision (status `{}`)",
                            job.status
                        )))
                    }
                };
                let by = if proof.client.as_deref() == Some(doc.client.as_str()) {
                    "client"
                } else if proof.client.as_deref() == Some(crate::ADMIN_CLIENT) {
                    "admin"
                } else if proof
                    .secret
                    .as_deref()
                    .is_some_and(|s| same_secret(s, &wait.secret))
                {
                    "secret"
                } else {
                    return Err(EngineError::Forbidden(
                        "approval needs the owning client's token or the approval secret of this wait"
                            .into(),
                    ));
                };
                if !wait.decisions.iter().any(|d| d == decision) {
                    return Err(EngineError::Invalid(format!(
                        "decision `{decision}` is not offered here; expected one of: {}",
                        wait.decisions.join(", ")
                    )));
                }
                let bp = self.blueprint_of(&doc).await?;
                let mut tx = Tx::on(&self.cfg, &bp, &job, doc);
                tx.decide(decision, by, comment.clone());
                let next = tx.transition.clone().unwrap_or_default();
                let status = tx.commit.status.clone();
                if self.apply(&job, tx).await? {
                    self.count_end(&bp.name, &status);
                    tracing::info!(job_id, decision, by, next, "approval received");
                    return Ok(Round::Done(next));
                }
                Ok(Round::Lost)
            },
            too_fast("retry the decision")
        )
    }

    /// `a|job|step`: the approval deadline passed.
    pub(super) async fn approval_timed_out(
        &self,
        job_id: &str,
        step: &str,
    ) -> Result<(), EngineError> {
        until_committed!(
            {
                let Some(job) = self.store.get_job(job_id).await? else {
                    return Ok(Round::Done(()));
                };
                let doc = parse_doc(&job)?;
                if job.status != job_status::WAITING_FOR_HUMAN
                    || doc.approval.is_none()
                    || doc.step.to_string() != step
                {
                    return Ok(Round::Done(()));
                }
                let bp = self.blueprint_of(&doc).await?;
                let mut tx = Tx::on(&self.cfg, &bp, &job, doc);
                tx.decide(TIMEOUT, "timeout", None);
                let status = tx.commit.status.clone();
                if self.apply(&job, tx).await? {
                    self.count_end(&bp.name, &status);
                    return Ok(Round::Done(()));
                }
                Ok(Round::Lost)
            },
            Ok(())
        )
    }

    /// A worker event on a running task: if the task's state maps the event type to a
    /// transition, the task ends there (its worker is told to stop) and the job moves
    /// on. Returns whether the event moved the job.
    pub async fn worker_event(
        &self,
        worker_id: &str,
        job_id: &str,
        task_id: &str,
        event_type: &str,
        payload: &Value,
    ) -> Result<bool, EngineError> {
        let key = event_key(event_type);
        until_committed!(
            {
                let Some(job) = self.store.get_job(job_id).await? else {
                    return Ok(Round::Done(false));
                };
                let Some(slot) = leased_to(&job, task_id, worker_id).cloned() else {
                    return Ok(Round::Done(false));
                };
                let Some((doc, bp, Lane::Main)) = self.task_context(&job, task_id).await? else {
                    return Ok(Round::Done(false));
                };
                let declared = bp.state(&doc.state).is_some_and(|s| {
                    matches!(s.kind, StateKind::Dispatch(_)) && s.transitions.contains_key(&key)
                });
                if !declared {
                    return Ok(Round::Done(false));
                }
                let mut tx = Tx::on(&self.cfg, &bp, &job, doc);
                tx.remove_task(task_id, &slot, true);
                tx.record_outcome(&key, Some(payload), None, Some(worker_id));
                tx.history(
                    "worker_event",
                    json!({"worker_event_type": event_type, "task_id": task_id, "worker_id": worker_id}),
                );
                tx.follow(&key);
                let status = tx.commit.status.clone();
                if self.apply(&job, tx).await? {
                    self.count_end(&bp.name, &status);
                    tracing::info!(job_id, task_id, event_type, "worker event moved the job");
                    return Ok(Round::Done(true));
                }
                Ok(Round::Lost)
            },
            too_fast("send the event again")
        )
    }

    /// Counts a job that ended with `status` (no-op for a live status).
    pub(super) fn count_end(&self, blueprint: &str, status: &str) {
        if job_status::is_terminal(status) {
            self.metrics
                .jobs_ended
                .with_label_values(&[blueprint, status])
                .inc();
        }
    }
}
