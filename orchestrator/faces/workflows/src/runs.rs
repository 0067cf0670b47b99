//! The history rows of schedules and webhooks, completed when their executions end.
//!
//! An execution a schedule or a webhook starts carries `metadata.trigger`: `{"kind":
//! "schedule" | "hook", "owner", "row"}`, the row as written when it started. When its
//! job ends the face's engine hook (on whichever orchestrator sees the end) writes the
//! row again with the outcome: `status`, `duration_seconds`, `error`.

use crate::executions::status_name;
use crate::store::WorkflowStore;
use crate::FaceRef;
use baton_engine::job::JobDoc;
use baton_store::StoredJob;
use serde_json::Value;

/// A webhook row says `success` where a schedule row says `completed`.
fn row_status(kind: &str, job_status: &str) -> &'static str {
    match (kind, status_name(job_status)) {
        ("hook", "completed") => "success",
        (_, other) => other,
    }
}

/// The outcome of a run row's execution, as a message.
fn error_text(doc: &JobDoc) -> Option<String> {
    doc.error.as_ref().map(|e| {
        e.get("message")
            .and_then(Value::as_str)
            .map_or_else(|| e.to_string(), str::to_string)
    })
}

/// Completes the history row of an execution that ended, if a trigger started it.
pub async fn complete(records: &dyn WorkflowStore, job: &StoredJob, doc: &JobDoc) {
    let trigger = &doc.metadata["trigger"];
    let (Some(kind), Some(owner), Value::Object(row)) = (
        trigger["kind"].as_str(),
        trigger["owner"].as_str(),
        &trigger["row"],
    ) else {
        return;
    };
    let mut row = row.clone();
    row.insert("status".into(), row_status(kind, &job.status).into());
    let finished = doc.finished_ms.unwrap_or(doc.updated_ms);
    let seconds = (finished - doc.created_ms).max(0) as f64 / 1000.0;
    row.insert("duration_seconds".into(), seconds.into());
    row.insert("error".into(), error_text(doc).into());
    let text = Value::Object(row).to_string();
    match records.update_run(owner, &job.id, &text).await {
        Ok(true) => {}
        Ok(false) => tracing::debug!(execution = %job.id, owner, "history row no longer kept"),
        Err(e) => {
            tracing::warn!(execution = %job.id, owner, error = %e, "history row not completed")
        }
    }
}

/// Completes the row of `execution` now if it already ended (its end may have been
/// counted before the row was written).
pub async fn refresh(face: &FaceRef, execution: &str) {
    match face.engine.job(execution).await {
        Ok(Some((job, doc))) if baton_protocol::job_status::is_terminal(&job.status) => {
            complete(face.records.as_ref(), &job, &doc).await
        }
        Ok(_) => {}
        Err(e) => tracing::debug!(execution, error = %e, "history row not refreshed"),
    }
}
