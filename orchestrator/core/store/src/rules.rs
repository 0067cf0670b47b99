//! Rules a claim applies inside the store, written once here for the memory store and the
//! Redis store's Rust side; `claim.lua` does the same and the conformance suite checks
//! that both stores agree.

use super::timers::TimerKind;
use baton_protocol::job_status;
use serde_json::json;

/// The WebSocket command that cancels a task (also kept for heartbeats).
pub fn cancel_command(task_id: &str, job_id: &str) -> String {
    json!({"command": baton_protocol::COMMAND_CANCEL_TASK, "task_id": task_id, "job_id": job_id})
        .to_string()
}

/// Statuses a claim turns into `running` (kept in step with claim.lua).
pub fn claim_sets_running(status: &str) -> bool {
    matches!(
        status,
        job_status::PENDING | job_status::WAITING_FOR_WORKER | job_status::AWAITING_RETRY
    )
}

/// History entry written by a claim (kept in step with claim.lua).
pub fn dispatch_history(task_id: &str, worker_id: &str, now_ms: i64) -> String {
    format!(
        r#"{{"event_type":"task_dispatched","task_id":"{task_id}","worker_id":"{worker_id}","timestamp_ms":{now_ms}}}"#
    )
}

/// The timers a claim changes: the task's dispatch timeout goes, its result timeout comes
/// (when it has one).
pub fn claim_timers(job_id: &str, task_id: &str) -> (String, String) {
    (
        TimerKind::DispatchTimeout.member(job_id, task_id),
        TimerKind::ResultTimeout.member(job_id, task_id),
    )
}
