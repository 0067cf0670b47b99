//! Running one task, from the moment the poll loop hands it over to the result's delivery.
//!
//! The handler runs in a tokio task of its own so that a panic is caught (as a
//! `JoinError`) and so it can be aborted: the runner waits for either the handler or the
//! task's cancellation token. After a cancel, the handler has `cancel_grace` to return;
//! then it is aborted. The rule for the reported status is simple and documented: once
//! cancellation was requested, the result is `cancelled`, whatever the handler returned.
//!
//! The runner keeps the concurrency permit and the task's registry entry until the result
//! is delivered (or given up), so `current_tasks` stays truthful and a worker that cannot
//! reach the server stops taking new work.

use std::sync::Arc;
use std::time::{Duration, Instant};

use baton_protocol::{TaskPayload, TASK_STATUS_CANCELLED};
use tokio::sync::OwnedSemaphorePermit;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::body::{self, Outcome};
use crate::context::TaskContext;
use crate::error::{TaskError, WorkerError};
use crate::state::{Lease, Shared};

/// Aborts the handler if the runner itself goes away (worker killed).
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `task` (already in the registry under `lease`) and delivers its result.
pub(crate) async fn run_task(
    shared: Arc<Shared>,
    task: TaskPayload,
    lease: Lease,
    permit: OwnedSemaphorePermit,
) {
    let span = tracing::info_span!(
        "task",
        worker_id = %shared.worker_id(),
        task_id = %task.task_id,
        job_id = %task.job_id,
        skill = %task.task_type,
        attempt = task.attempt.unwrap_or(1),
    );
    async move {
        // Info, like the registration: a worker that says nothing cannot be told from a
        // stuck one. The span carries the task's ids and skill.
        tracing::info!("task taken");
        shared.nudge_heartbeat();
        let started = Instant::now();
        let outcome = execute(&shared, &task, &lease).await;
        let elapsed = started.elapsed();
        tracing::info!(
            status = outcome.label(),
            elapsed_ms = elapsed.as_millis() as u64,
            "task finished"
        );
        if let Outcome::Failure(e) = &outcome {
            tracing::warn!(code = e.code(), message = e.message(), "task failed");
        }
        let result = body::task_result(shared.worker_id(), &task, outcome, elapsed);
        deliver(&shared, &result).await;
        shared.tasks.release(&task.task_id, &lease);
        drop(permit);
        shared.nudge_heartbeat();
    }
    .instrument(span)
    .await
}

/// Answers a task that could not even be read, so its job does not wait for a timeout.
pub(crate) async fn reject_malformed(
    shared: Arc<Shared>,
    job_id: String,
    task_id: String,
    reason: String,
) {
    tracing::error!(%job_id, %task_id, %reason, "unreadable task");
    if task_id.is_empty() {
        return;
    }
    let task = TaskPayload {
        job_id,
        task_id,
        ..Default::default()
    };
    let outcome = Outcome::Failure(TaskError::invalid_input(reason));
    let result = body::task_result(shared.worker_id(), &task, outcome, Duration::ZERO);
    deliver(&shared, &result).await;
}

async fn execute(shared: &Shared, task: &TaskPayload, lease: &Lease) -> Outcome {
    let Some(skill) = shared.skills.get(&task.task_type) else {
        return Outcome::Failure(TaskError::permanent(format!(
            "Unsupported skill: {:?} (this worker has {:?})",
            task.task_type,
            shared.skills.names()
        )));
    };
    let cancel = lease.cancel.clone();
    if cancel.is_cancelled() {
        return Outcome::Cancelled;
    }
    let ctx = TaskContext::attached(task.clone(), cancel.clone(), shared.client.clone());
    let handler = skill.handler.clone();
    let params = task.params.clone();
    let handler_ctx = ctx.clone();
    // Calling the handler happens inside the spawned task too, so a panic while building
    // its future is caught like any other.
    let mut running = AbortOnDrop(tokio::spawn(
        async move { handler(params, handler_ctx).await }.instrument(tracing::Span::current()),
    ));

    let joined = tokio::select! {
        biased;
        joined = &mut running.0 => joined,
        _ = cancel.cancelled() => {
            let grace = shared.config.cancel_grace;
            tracing::info!(grace_ms = grace.as_millis() as u64, "cancellation requested; waiting for the handler");
            if tokio::time::timeout(grace, &mut running.0).await.is_err() {
                tracing::warn!("handler ignored cancellation; aborting it");
                running.0.abort();
            }
            return Outcome::Cancelled;
        }
    };
    if cancel.is_cancelled() {
        return Outcome::Cancelled;
    }
    match joined {
        Ok(Ok(data)) => Outcome::Success {
            data,
            status: ctx.status(),
        },
        Ok(Err(e)) => Outcome::Failure(e),
        Err(e) if e.is_panic() => {
            let message = panic_message(e.into_panic());
            tracing::error!(panic = %message, "handler panicked");
            Outcome::Failure(TaskError::transient(format!("handler panicked: {message}")))
        }
        // Only an abort ends a handler without a panic, and aborts follow a cancel.
        Err(_) => Outcome::Cancelled,
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

async fn deliver(shared: &Shared, result: &baton_protocol::TaskResult) {
    let sent = shared.results.submit(result.clone()).await;
    match sent {
        Ok(ack) if ack.status == "error" => {
            let reason = ack.reason.as_deref().unwrap_or("none given");
            tracing::error!(reason, "result refused by the orchestrator");
        }
        Ok(ack) if ack.status == "ignored" => {
            // Expected after a cancel: the server already closed the job.
            let cancelled = result.status.as_deref() == Some(TASK_STATUS_CANCELLED);
            let reason = ack.reason.as_deref().unwrap_or("none given");
            if cancelled {
                tracing::info!(reason, "result ignored by the orchestrator");
            } else {
                tracing::warn!(reason, "result ignored by the orchestrator");
            }
        }
        Ok(ack) => tracing::debug!(status = %ack.status, "result delivered"),
        Err(WorkerError::Killed) => {}
        Err(e) => tracing::error!(error = %e, "result could not be delivered; giving up"),
    }
}
