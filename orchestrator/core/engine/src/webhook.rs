//! Webhooks: the job's end, and the start of an approval wait.
//!
//! The commit that ends a job also adds a `w|<job>|1` timer, so a notification survives
//! a crash of the orchestrator that finished the job; entering an approval state adds
//! `h|<job>|<step>.1` the same way. The reaper hands due deliveries to
//! [`Engine::deliver_webhook`], off the request path; a failed attempt is rescheduled with
//! a doubling delay until `BATON_WEBHOOK_MAX_ATTEMPTS`. Delivery is at least once; an
//! approval request is not sent once the wait is over.

use super::{parse_doc, Engine};
use baton_protocol::clock::now_ms;
use baton_protocol::job_status;
use baton_store::TimerKind;
use serde_json::{json, Value};
use std::time::Duration;

impl Engine {
    /// Delivers the webhook of timer `member`: `w|job|<attempt>` (the job's end) or
    /// `h|job|<step>.<attempt>` (an approval request).
    pub(super) async fn deliver_webhook(&self, member: &str, job_id: &str, rest: &str) {
        let (approval_step, attempt) = match member.as_bytes().first() {
            Some(b'h') => match rest.split_once('.') {
                Some((step, n)) => (Some(step.to_string()), n.parse().unwrap_or(1)),
                None => (Some(rest.to_string()), 1),
            },
            _ => (None, rest.parse().unwrap_or(1)),
        };
        let outcome = self.try_deliver(job_id, approval_step.as_deref()).await;
        let next = match &outcome {
            Err(_) if attempt < self.cfg.webhook_max_attempts => {
                let delay = Duration::from_secs(1) * 2u32.pow(attempt.saturating_sub(1).min(10));
                let rest = match &approval_step {
                    Some(step) => format!("{step}.{}", attempt + 1),
                    None => (attempt + 1).to_string(),
                };
                let kind = if approval_step.is_some() {
                    TimerKind::ApprovalWebhook
                } else {
                    TimerKind::Webhook
                };
                Some((
                    kind.member(job_id, &rest),
                    now_ms() + delay.as_millis() as i64,
                ))
            }
            _ => None,
        };
        match &outcome {
            Ok(Some(status)) => {
                self.metrics
                    .webhooks
                    .with_label_values(&["delivered"])
                    .inc();
                tracing::debug!(job_id, status, attempt, "webhook delivered");
            }
            Ok(None) => {}
            Err(e) => {
                let result = if next.is_some() { "retried" } else { "failed" };
                self.metrics.webhooks.with_label_values(&[result]).inc();
                tracing::warn!(job_id, attempt, error = %e, will_retry = next.is_some(), "webhook delivery failed");
            }
        }
        let new = next.as_ref().map(|(m, due)| (m.as_str(), *due));
        if let Err(e) = self.store.replace_timer(member, new).await {
            tracing::warn!(job_id, error = %e, "cannot update webhook timer; delivery will be retried");
        }
    }

    /// `Ok(Some(status))` delivered, `Ok(None)` nothing to deliver, `Err` a failed attempt.
    async fn try_deliver(
        &self,
        job_id: &str,
        approval_step: Option<&str>,
    ) -> Result<Option<u16>, String> {
        let job = match self.store.get_job(job_id).await {
            Ok(Some(job)) => job,
            Ok(None) => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        let doc = parse_doc(&job).map_err(|e| e.to_string())?;
        let Some(url) = doc.webhook_url.as_deref() else {
            return Ok(None);
        };
        let body = match approval_step {
            Some(step) => {
                let wait = match &doc.approval {
                    Some(w)
                        // A paused job's person is still told what waits for them.
                        if (job.status == job_status::WAITING_FOR_HUMAN
                            || doc.paused_ms.is_some())
                            && doc.step.to_string() == step =>
                    {
                        w
                    }
                    _ => return Ok(None),
                };
                json!({
                    "event": "approval_requested",
                    "job_id": job.id,
                    "status": job.status,
                    "state": doc.state,
                    "message": wait.message,
                    "decisions": wait.decisions,
                    "approval_url": format!("/_public/webhooks/approval/{}", job.id),
                    "secret": wait.secret,
                    "expires_at": wait.deadline_ms.map(baton_protocol::clock::rfc3339),
                    "metadata": if doc.metadata.is_null() { json!({}) } else { doc.metadata.clone() },
                    "timestamp": now_ms() / 1000,
                })
            }
            None => match Self::completion_body(&job, &doc) {
                Some(body) => body,
                None => return Ok(None),
            },
        };
        let resp = self
            .http
            .post(url)
            .json(&body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status();
        if status.is_success() {
            Ok(Some(status.as_u16()))
        } else {
            Err(format!("endpoint answered {status}"))
        }
    }

    /// The body announcing a job's end; `None` for a job with nothing to announce
    /// (cancelled: the client asked for it).
    fn completion_body(job: &baton_store::StoredJob, doc: &super::job::JobDoc) -> Option<Value> {
        let event = match job.status.as_str() {
            job_status::FINISHED => "job_finished",
            job_status::FAILED => "job_failed",
            job_status::QUARANTINED => "job_quarantined",
            _ => return None,
        };
        Some(json!({
            "event": event,
            "job_id": job.id,
            "status": job.status,
            "result": doc.result.clone().unwrap_or(Value::Null),
            "error": doc.error,
            "metadata": if doc.metadata.is_null() { json!({}) } else { doc.metadata.clone() },
            "timestamp": now_ms() / 1000,
        }))
    }
}
