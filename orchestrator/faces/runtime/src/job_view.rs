//! How clients see a job and its history: the answers of `GET /api/v1/jobs/{id}` and
//! `GET /api/v1/jobs/{id}/history`, rendered from the engine's job document.

use baton_engine::job::JobDoc;
use baton_protocol::clock::rfc3339;
use baton_protocol::job_status;
use baton_store::{StoredJob, TaskSlot};
use serde_json::{json, Value};

/// The client's view of a job (`GET /api/v1/jobs/{id}`).
pub fn job_view(job: &StoredJob, doc: &JobDoc) -> Value {
    let terminal = job_status::is_terminal(&job.status);
    let mut view = json!({
        "id": job.id,
        "job_id": job.id,
        "status": job.status,
        "blueprint_name": doc.blueprint,
        "state": doc.state,
        "step": doc.step,
        "attempt": doc.run.attempt,
        "created_at": rfc3339(doc.created_ms),
        "updated_at": rfc3339(doc.updated_ms),
        "progress": Value::Null,
        "progress_message": Value::Null,
        "error": doc.error,
        "metadata": if doc.metadata.is_null() { json!({}) } else { doc.metadata.clone() },
    });
    let Value::Object(map) = &mut view else {
        return view;
    };
    if terminal {
        map.insert("result".into(), doc.result.clone().unwrap_or(Value::Null));
        if let Some(ms) = doc.finished_ms {
            map.insert("finished_at".into(), Value::String(rfc3339(ms)));
        }
    }
    if let Some(p) = job
        .progress
        .as_deref()
        .and_then(|p| serde_json::from_str::<Value>(p).ok())
    {
        map.insert(
            "progress".into(),
            p.get("progress").cloned().unwrap_or(Value::Null),
        );
        map.insert(
            "progress_message".into(),
            p.get("message").cloned().unwrap_or(Value::Null),
        );
    }
    if let Some(a) = &doc.approval {
        map.insert(
            "approval".into(),
            json!({
                "message": a.message,
                "decisions": a.decisions,
                "secret": a.secret,
                "approval_url": format!("/_public/webhooks/approval/{}", job.id),
                "requested_at": rfc3339(a.requested_ms),
                "expires_at": a.deadline_ms.map(rfc3339),
            }),
        );
    }
    if let Some(p) = &doc.parallel {
        let done = p.branches.iter().filter(|b| b.is_done()).count();
        let failed = p.branches.iter().filter(|b| b.failed()).count();
        let running = p.branches.iter().filter(|b| b.task_id.is_some()).count();
        map.insert(
            "parallel".into(),
            json!({"total": p.branches.len(), "done": done, "failed": failed, "running": running}),
        );
    }
    if let Some(s) = &doc.sub_job {
        map.insert("sub_job_id".into(), json!(s.job_id));
    }
    if let Some(parent) = &doc.parent {
        map.insert("parent_job_id".into(), json!(parent));
    }
    let tasks: Vec<Value> = job
        .tasks
        .iter()
        .map(|(id, slot)| match slot {
            TaskSlot::Queued { skill, .. } => {
                json!({"task_id": id, "type": skill, "state": "queued"})
            }
            TaskSlot::Delayed { skill } => {
                json!({"task_id": id, "type": skill, "state": "awaiting_retry"})
            }
            TaskSlot::Leased {
                skill,
                worker,
                claimed_ms,
            } => json!({
                "task_id": id, "type": skill, "state": "running",
                "worker_id": worker, "started_at": rfc3339(*claimed_ms)
            }),
        })
        .collect();
    map.insert("tasks".into(), Value::Array(tasks));
    view
}

/// A history entry as clients see it: stored entries carry `timestamp_ms`; the view adds
/// `event_id`, `job_id` and an RFC 3339 `timestamp`.
pub fn history_view(job_id: &str, index: usize, raw: &str) -> Value {
    let mut entry: Value = serde_json::from_str(raw)
        .unwrap_or_else(|_| json!({"event_type": "unreadable", "raw": raw}));
    if let Value::Object(map) = &mut entry {
        map.insert(
            "event_id".into(),
            Value::String(format!("{job_id}:{index}")),
        );
        map.insert("job_id".into(), Value::String(job_id.to_string()));
        if let Some(ms) = map.get("timestamp_ms").and_then(Value::as_i64) {
            map.insert("timestamp".into(), Value::String(rfc3339(ms)));
        }
    }
    entry
}
