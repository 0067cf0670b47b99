//! [`TaskContext`]: what a skill handler knows about its task and how it talks back.
//!
//! A context is a cheap, cloneable handle (an `Arc`) over:
//! - the [`TaskPayload`] as the orchestrator sent it (ids, attempt, deadline, metadata);
//! - the task's [`CancellationToken`], fired by a cancel command, a heartbeat's
//!   `cancel_task_ids` or a shutdown that ran out of time;
//! - the custom result status the handler may choose;
//! - where events go: the orchestrator, or, for a [`TaskContext::detached`] context built
//!   in unit tests, an in-memory list read back with [`TaskContext::recorded_events`].

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use baton_protocol::{TaskPayload, EVENT_TYPE_PROGRESS};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::body;
use crate::client::OrchestratorClient;
use crate::error::WorkerError;

/// An event a [`TaskContext::detached`] context recorded instead of sending.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    pub event_type: String,
    pub payload: Value,
}

enum EventSink {
    Orchestrator(Arc<OrchestratorClient>),
    Recorder(Mutex<Vec<RecordedEvent>>),
}

struct Inner {
    task: TaskPayload,
    worker_id: String,
    cancel: CancellationToken,
    status: Mutex<Option<String>>,
    sink: EventSink,
}

/// Handle given to every skill handler; see the module docs.
#[derive(Clone)]
pub struct TaskContext {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for TaskContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskContext")
            .field("task_id", &self.inner.task.task_id)
            .field("job_id", &self.inner.task.job_id)
            .field("attempt", &self.attempt())
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

impl TaskContext {
    pub(crate) fn attached(
        task: TaskPayload,
        cancel: CancellationToken,
        client: Arc<OrchestratorClient>,
    ) -> Self {
        TaskContext {
            inner: Arc::new(Inner {
                worker_id: client.worker_id().to_string(),
                task,
                cancel,
                status: Mutex::new(None),
                sink: EventSink::Orchestrator(client),
            }),
        }
    }

    /// A context attached to no worker, for unit-testing handlers: events are recorded
    /// (see [`TaskContext::recorded_events`]) and cancellation is up to the test
    /// (`ctx.cancellation().cancel()`).
    pub fn detached(task: TaskPayload) -> Self {
        TaskContext {
            inner: Arc::new(Inner {
                task,
                worker_id: "detached-worker".to_string(),
                cancel: CancellationToken::new(),
                status: Mutex::new(None),
                sink: EventSink::Recorder(Mutex::new(Vec::new())),
            }),
        }
    }

    pub fn task_id(&self) -> &str {
        &self.inner.task.task_id
    }

    pub fn job_id(&self) -> &str {
        &self.inner.task.job_id
    }

    /// The skill name the task asked for (the task's `type`).
    pub fn task_type(&self) -> &str {
        &self.inner.task.task_type
    }

    pub fn worker_id(&self) -> &str {
        &self.inner.worker_id
    }

    /// Which dispatch of this piece of work this is, starting at 1 (servers that do not
    /// send `attempt` always give 1).
    pub fn attempt(&self) -> u32 {
        self.inner.task.attempt.unwrap_or(1).max(1)
    }

    /// When the orchestrator stops waiting for the result, if it set a deadline.
    pub fn deadline(&self) -> Option<SystemTime> {
        let secs = u64::try_from(self.inner.task.deadline?).ok()?;
        UNIX_EPOCH.checked_add(Duration::from_secs(secs))
    }

    /// The task's `metadata`, as the client that created the job passed it.
    pub fn metadata(&self) -> Option<&Value> {
        self.inner.task.metadata.as_ref()
    }

    /// The whole task as received (params included).
    pub fn payload(&self) -> &TaskPayload {
        &self.inner.task
    }

    /// Reports progress (`fraction` in 0..=1) as a `progress` event; the orchestrator
    /// shows it as the job's `progress` and `progress_message`. Failures are returned,
    /// not retried: progress is advisory, so callers usually ignore them.
    pub async fn progress(
        &self,
        fraction: f64,
        message: impl Into<String>,
    ) -> Result<(), WorkerError> {
        let fraction = if fraction.is_nan() {
            0.0
        } else {
            fraction.clamp(0.0, 1.0)
        };
        let payload = json!({"progress": fraction, "message": message.into()});
        self.event(EVENT_TYPE_PROGRESS, payload).await
    }

    /// Sends a custom event about this task (`POST /_worker/events`).
    pub async fn event(
        &self,
        event_type: impl Into<String>,
        payload: Value,
    ) -> Result<(), WorkerError> {
        let event_type = event_type.into();
        match &self.inner.sink {
            EventSink::Recorder(events) => {
                events
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(RecordedEvent {
                        event_type,
                        payload,
                    });
                Ok(())
            }
            EventSink::Orchestrator(client) => {
                let event =
                    body::event(&self.inner.worker_id, &self.inner.task, event_type, payload);
                let sent = client.post_event(&event).await;
                if let Err(e) = &sent {
                    tracing::warn!(error = %e, event_type = %event.event_type, "event not delivered");
                }
                sent
            }
        }
    }

    /// The task's cancellation token (a clone): fired when the task must stop.
    pub fn cancellation(&self) -> CancellationToken {
        self.inner.cancel.clone()
    }

    pub fn is_cancelled(&self) -> bool {
        self.inner.cancel.is_cancelled()
    }

    /// Completes when the task is cancelled; use it in `tokio::select!` next to the work.
    pub async fn cancelled(&self) {
        self.inner.cancel.cancelled().await;
    }

    /// Finishes the task with a custom result status (e.g. `"needs_review"`) that a
    /// blueprint can route on; the handler's data is still sent. Failures should be
    /// returned as [`crate::TaskError`] instead.
    pub fn set_status(&self, status: impl Into<String>) {
        *self
            .inner
            .status
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(status.into());
    }

    /// The custom status set with [`TaskContext::set_status`], if any.
    pub fn status(&self) -> Option<String> {
        self.inner
            .status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Events recorded by a [`TaskContext::detached`] context (always empty otherwise).
    pub fn recorded_events(&self) -> Vec<RecordedEvent> {
        match &self.inner.sink {
            EventSink::Recorder(events) => events
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            EventSink::Orchestrator(_) => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn detached_context_exposes_the_task_and_records_events() {
        let ctx = TaskContext::detached(TaskPayload {
            job_id: "j".into(),
            task_id: "t".into(),
            deadline: Some(100),
            attempt: Some(3),
            metadata: Some(json!({"trace": "x"})),
            ..Default::default()
        });
        assert_eq!((ctx.task_id(), ctx.job_id(), ctx.attempt()), ("t", "j", 3));
        assert_eq!(ctx.deadline(), Some(UNIX_EPOCH + Duration::from_secs(100)));
        assert_eq!(ctx.metadata(), Some(&json!({"trace": "x"})));
        ctx.progress(1.7, "done").await.unwrap();
        ctx.event("custom", json!({"k": 1})).await.unwrap();
        let events = ctx.recorded_events();
        assert_eq!(
            events[0].payload,
            json!({"progress": 1.0, "message": "done"})
        );
        assert_eq!(events[1].event_type, "custom");
        ctx.set_status("needs_review");
        assert_eq!(ctx.status().as_deref(), Some("needs_review"));
        assert!(!ctx.is_cancelled());
        ctx.cancellation().cancel();
        ctx.cancelled().await;
        assert!(ctx.clone().is_cancelled());
    }

    #[test]
    fn attempt_defaults_to_one() {
        let ctx = TaskContext::detached(TaskPayload::default());
        assert_eq!(ctx.attempt(), 1);
        assert_eq!(ctx.deadline(), None);
    }
}
