//! Handing tasks to long-polling workers.
//!
//! The dispatcher and the notice loop work on the process's [`Live`] registries, not on
//! the engine: the engine commits and wakes, the dispatcher claims and waits.
//!
//! [`Dispatcher::next_task`] registers the poller, tries a claim, and otherwise waits to be
//! fired by a notice, until its hold ends. [`spawn_notice_loop`] turns store notices
//! (from this or any other orchestrator) into wake-ups of pollers and of clients waiting
//! for a job ([`job_watch`]) and into WebSocket commands, and every
//! second nudges one waiter per waiting skill as a safety net against a lost notice.

use crate::live::Live;
use crate::metrics::EngineMetrics;
use baton_protocol::clock::now_ms;
use baton_store::{ClaimRequest, ClaimedTask, Notice, Store, StoreResult};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

pub struct Dispatcher {
    store: Arc<dyn Store>,
    live: Arc<Live>,
    metrics: Arc<EngineMetrics>,
    lease_timeout: Duration,
    shutdown: CancellationToken,
}

/// A claimed task ready to send: the payload with its `deadline`.
pub struct Handout {
    pub task: ClaimedTask,
    pub body: String,
}

impl Dispatcher {
    pub fn new(
        store: Arc<dyn Store>,
        metrics: Arc<EngineMetrics>,
        lease_timeout: Duration,
        live: Arc<Live>,
        shutdown: CancellationToken,
    ) -> Dispatcher {
        Dispatcher {
            store,
            live,
            metrics,
            lease_timeout,
            shutdown,
        }
    }

    async fn claim(
        &self,
        worker_id: &str,
        skills: &[String],
        max: usize,
    ) -> StoreResult<Vec<ClaimedTask>> {
        let now = now_ms();
        let req = ClaimRequest {
            worker_id: worker_id.to_string(),
            skills: skills.to_vec(),
            now_ms: now,
            lease_deadline_ms: now + self.lease_timeout.as_millis() as i64,
            max,
        };
        self.store.claim(&req).await
    }

    /// Up to `max` tasks for `worker_id`, waiting up to `hold` for the first; empty when
    /// nothing came (or the orchestrator is shutting down).
    pub async fn next_tasks(
        &self,
        worker_id: &str,
        skills: &[String],
        hold: Duration,
        max: usize,
    ) -> StoreResult<Vec<Handout>> {
        if skills.is_empty() {
            tokio::select! {
                _ = tokio::time::sleep(hold) => {}
                _ = self.shutdown.cancelled() => {}
            }
            return Ok(Vec::new());
        }
        let deadline = tokio::time::Instant::now() + hold;
        let registration = self.live.registration(worker_id);
        let mut guard = self.live.waiters.register(skills);
        self.metrics.long_polls_waiting.inc();
        let _gauge = scopeguard(|| self.metrics.long_polls_waiting.dec());
        loop {
            if self.live.registration(worker_id) != registration {
                // The worker registered again while this poll waited: the poll is the old
                // process's (see `Live::registered`). Its wake-up passes on.
                return Ok(Vec::new());
            }
            let tasks = self.claim(worker_id, skills, max).await?;
            if let Some(last) = tasks.last() {
                guard.consume();
                if last.remaining > 0 {
                    // More work queued: keep the chain going for the next poller.
                    self.live.waiters.wake_one(&last.skill);
                }
                return Ok(tasks
                    .into_iter()
                    .map(|mut task| {
                        if let Some(job) = task.job.take() {
                            self.live.snapshots.claimed(&task.task_id, job);
                        }
                        self.record(&task);
                        let body = with_deadline(&task);
                        Handout { task, body }
                    })
                    .collect());
            }
            guard.rearm();
            tokio::select! {
                _ = guard.fired() => {}
                _ = tokio::time::sleep_until(deadline) => return Ok(Vec::new()),
                _ = self.shutdown.cancelled() => return Ok(Vec::new()),
            }
        }
    }

    fn record(&self, task: &ClaimedTask) {
        self.metrics
            .tasks_dispatched
            .with_label_values(&[&task.skill])
            .inc();
        let waited = (task.claimed_ms - task.enqueued_ms).max(0) as f64 / 1000.0;
        self.metrics
            .schedule_to_start
            .with_label_values(&[&task.skill])
            .observe(waited);
    }
}

/// Adds `"deadline"` (epoch seconds, an integer) to the stored payload.
fn with_deadline(task: &ClaimedTask) -> String {
    if task.result_timeout_ms <= 0 || !task.payload.ends_with('}') {
        return task.payload.clone();
    }
    let deadline = (task.claimed_ms + task.result_timeout_ms) / 1000;
    let mut body = String::with_capacity(task.payload.len() + 24);
    body.push_str(&task.payload[..task.payload.len() - 1]);
    body.push_str(&format!(",\"deadline\":{deadline}}}"));
    body
}

struct ScopeGuard<F: FnMut()>(F);
impl<F: FnMut()> Drop for ScopeGuard<F> {
    fn drop(&mut self) {
        (self.0)()
    }
}
fn scopeguard<F: FnMut()>(f: F) -> ScopeGuard<F> {
    ScopeGuard(f)
}

/// Where WebSocket commands for locally connected workers go.
pub trait CommandSink: Send + Sync + 'static {
    fn send(&self, worker_id: &str, payload: &str);
}

/// Forwards store notices to the waiters and the WebSocket hub until shutdown.
pub fn spawn_notice_loop(
    store: Arc<dyn Store>,
    live: Arc<Live>,
    commands: Arc<dyn CommandSink>,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let mut rx = store.subscribe();
    tokio::spawn(async move {
        let mut nudge = tokio::time::interval(Duration::from_secs(1));
        nudge.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = nudge.tick() => {
                    for skill in live.waiters.waiting_skills() {
                        live.waiters.wake_one(&skill);
                    }
                }
                notice = rx.recv() => match notice {
                    Ok(Notice::TaskReady { skill, origin }) => {
                        // Our own enqueues woke our pollers already (Engine::apply).
                        if origin != live.instance_id {
                            live.waiters.wake_one(&skill);
                        }
                    }
                    Ok(Notice::JobDone { job_id, origin }) => {
                        // A job that ended here was handled by its commit (Engine::apply).
                        if origin != live.instance_id {
                            // Whatever end we remember is older than this change
                            // (it ended again elsewhere, or runs again).
                            live.snapshots.forget_ended(&job_id);
                            live.job_done(&job_id);
                        }
                    }
                    Ok(Notice::Command { worker_id, payload }) => commands.send(&worker_id, &payload),
                    Ok(Notice::Resync) | Err(RecvError::Lagged(_)) => live.resync(),
                    Err(RecvError::Closed) => break,
                },
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_is_spliced_as_an_integer() {
        let task = ClaimedTask {
            job_id: "j".into(),
            task_id: "t".into(),
            skill: "echo".into(),
            payload: r#"{"job_id":"j","timestamp":10}"#.into(),
            enqueued_ms: 0,
            claimed_ms: 10_500,
            result_timeout_ms: 60_000,
            remaining: 0,
            job: None,
        };
        let v: serde_json::Value = serde_json::from_str(&with_deadline(&task)).unwrap();
        assert_eq!(v["deadline"], serde_json::json!(70));
        assert_eq!(v["timestamp"], serde_json::json!(10));
    }
}
