//! How clients see a job and its history: the answers of `GET /api/v1/jobs/{id}` and
//! `GET /api/v1/jobs/{id}/history`, rendered from the engine's job document into the
//! documented types of [`crate::schemas`] (the answer is the type the document describes).

use crate::schemas::{ApprovalView, HistoryEntry, JobTask, JobView, ParallelView};
use baton_engine::job::JobDoc;
use baton_protocol::clock::rfc3339;
use baton_protocol::job_status;
use baton_store::{StoredJob, TaskSlot};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The client's view of a job (`GET /api/v1/jobs/{id}`).
pub fn job_view(job: &StoredJob, doc: &JobDoc) -> JobView {
    let terminal = job_status::is_terminal(&job.status);
    // Progress is what the worker last reported, kept as its JSON text.
    let progress: Option<Value> = job
        .progress
        .as_deref()
        .and_then(|p| serde_json::from_str(p).ok());
    let progress_field = |key: &str| progress.as_ref().and_then(|p| p.get(key));
    JobView {
        id: job.id.clone(),
        job_id: job.id.clone(),
        status: job.status.clone(),
        blueprint_name: doc.blueprint.clone(),
        client: doc.client.clone(),
        initial_data: doc.initial_data.clone(),
        state: doc.state.clone(),
        step: doc.step,
        attempt: doc.run.attempt,
        run: doc.reruns + 1,
        created_at: rfc3339(doc.created_ms),
        updated_at: rfc3339(doc.updated_ms),
        finished_at: doc.finished_ms.filter(|_| terminal).map(rfc3339),
        progress: progress_field("progress").and_then(Value::as_f64),
        progress_message: progress_field("message")
            .and_then(Value::as_str)
            .map(str::to_string),
        // Present, possibly null, once the job ended; absent before.
        result: terminal.then(|| doc.result.clone().unwrap_or(Value::Null)),
        error: doc.error.clone(),
        metadata: if doc.metadata.is_null() {
            Value::Object(Map::new())
        } else {
            doc.metadata.clone()
        },
        tasks: job
            .tasks
            .iter()
            .map(|(id, slot)| task_view(id, slot))
            .collect(),
        approval: doc.approval.as_ref().map(|a| ApprovalView {
            message: a.message.clone(),
            decisions: a.decisions.clone(),
            secret: a.secret.clone(),
            approval_url: format!("/_public/webhooks/approval/{}", job.id),
            requested_at: rfc3339(a.requested_ms),
            expires_at: a.deadline_ms.map(rfc3339),
        }),
        parallel: doc.parallel.as_ref().map(|p| {
            let count = |f: fn(&baton_engine::job::BranchRun) -> bool| {
                p.branches.iter().filter(|b| f(b)).count() as u64
            };
            ParallelView {
                total: p.branches.len() as u64,
                done: count(|b| b.is_done()),
                failed: count(|b| b.failed()),
                running: count(|b| b.task_id.is_some()),
            }
        }),
        sub_job_id: doc.sub_job.as_ref().map(|s| s.job_id.clone()),
        parent_job_id: doc.parent.clone(),
        hint: None,
    }
}

fn task_view(id: &str, slot: &TaskSlot) -> JobTask {
    let (skill, state, worker_id, started_at) = match slot {
        TaskSlot::Queued { skill, .. } => (skill, "queued", None, None),
        TaskSlot::Delayed { skill } => (skill, "awaiting_retry", None, None),
        TaskSlot::Leased {
            skill,
            worker,
            claimed_ms,
        } => (
            skill,
            "running",
            Some(worker.clone()),
            Some(rfc3339(*claimed_ms)),
        ),
    };
    JobTask {
        task_id: id.to_string(),
        task_type: skill.clone(),
        state: state.to_string(),
        worker_id,
        started_at,
    }
}

/// A history entry as clients see it: stored entries carry `timestamp_ms` and their
/// event's fields; the view adds `event_id`, `job_id` and an RFC 3339 `timestamp`.
pub fn history_view(job_id: &str, index: usize, raw: &str) -> HistoryEntry {
    let mut details: HashMap<String, Value> = match serde_json::from_str(raw) {
        Ok(Value::Object(map)) => map.into_iter().collect(),
        // Entries are written by the engine; this only guards against a damaged store.
        _ => HashMap::from([("raw".to_string(), Value::String(raw.to_string()))]),
    };
    let event_type = match details.remove("event_type") {
        Some(Value::String(t)) => t,
        _ => "unreadable".to_string(),
    };
    let timestamp_ms = details
        .remove("timestamp_ms")
        .and_then(|v| v.as_i64())
        .unwrap_or(0);
    let state = match details.remove("state") {
        Some(Value::String(s)) => Some(s),
        _ => None,
    };
    // The view's own fields win over stored ones of the same name.
    for key in ["event_id", "job_id", "timestamp"] {
        details.remove(key);
    }
    HistoryEntry {
        event_id: format!("{job_id}:{index}"),
        job_id: job_id.to_string(),
        event_type,
        timestamp: rfc3339(timestamp_ms),
        timestamp_ms,
        state,
        details,
    }
}
