//! Completion webhooks.
//!
//! The commit that ends a job also adds a `w|<job>|1` timer, so a notification survives
//! a crash of the orchestrator that finished the job. The reaper hands due deliveries to
//! [`Engine::deliver_webhook`], off the request path; a failed attempt is rescheduled with
//! a doubling delay until `BATON_WEBHOOK_MAX_ATTEMPTS`. Delivery is at least once.

use super::reaper::webhook_timer;
use super::{parse_doc, Engine};
use crate::clock::now_ms;
use baton_protocol::job_status;
use serde_json::{json, Value};
use std::time::Duration;

impl Engine {
    pub(super) async fn deliver_webhook(&self, member: &str, job_id: &str, attempt: u32) {
        let outcome = self.try_deliver(job_id).await;
        let next = match &outcome {
            Ok(None) | Err(_) if attempt < self.cfg.webhook_max_attempts => {
                let delay = Duration::from_secs(1) * 2u32.pow(attempt.saturating_sub(1).min(10));
                Some((
                    webhook_timer(job_id, attempt + 1),
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
    async fn try_deliver(&self, job_id: &str) -> Result<Option<u16>, String> {
        let job = match self.store.get_job(job_id).await {
            Ok(Some(job)) => job,
            Ok(None) => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        let doc = parse_doc(&job).map_err(|e| e.to_string())?;
        let Some(url) = doc.webhook_url.as_deref() else {
            return Ok(None);
        };
        let event = match job.status.as_str() {
            job_status::FINISHED => "job_finished",
            job_status::FAILED => "job_failed",
            job_status::QUARANTINED => "job_quarantined",
            _ => return Ok(None),
        };
        let body = json!({
            "event": event,
            "job_id": job.id,
            "status": job.status,
            "result": doc.result.clone().unwrap_or(Value::Null),
            "error": doc.error,
            "metadata": if doc.metadata.is_null() { json!({}) } else { doc.metadata.clone() },
            "timestamp": now_ms() / 1000,
        });
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
}
