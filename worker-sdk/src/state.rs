//! State shared by the worker's loops.
//!
//! [`Shared`] is built once per worker and handed (in an `Arc`) to the poll loop, the
//! heartbeat loop, the WebSocket listener and every task runner. Its parts:
//! - the configuration, the skill set and the [`OrchestratorClient`];
//! - the incarnation: an id drawn when the worker is built and sent with every
//!   registration, so the orchestrator tells this process registering again (it keeps
//!   its leases) from a new process under the same worker id (the leases of the old one
//!   are taken back and their tasks re-dispatched at once);
//! - the concurrency [`Semaphore`]: one permit per running task, so the poll loop can
//!   only ask for work while a permit is free;
//! - the [`TaskRegistry`]: task id → cancellation token of every task this worker holds,
//!   read for `current_tasks` in heartbeats and written by cancel commands;
//! - the [`ResultQueue`] through which runners hand results to the batching sender;
//! - a [`Notify`] that asks the heartbeat loop for an early (debounced) heartbeat, and
//!   flags for re-registration, full skill sync and draining;
//! - the worker's stop token and the fatal error that fired it: a loop that hits an error
//!   the worker cannot go on after (a registration refused with 401/403) records it and
//!   stops the worker, and [`crate::Worker::run`] returns it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::client::OrchestratorClient;
use crate::config::WorkerConfig;
use crate::error::WorkerError;
use crate::results::ResultQueue;
use crate::skill::SkillSet;

/// How long a cancel for a task we do not hold yet is remembered: it can overtake the
/// long-poll answer that hands us the task.
const EARLY_CANCEL_TTL: Duration = Duration::from_secs(60);
const EARLY_CANCEL_MAX: usize = 1024;

pub(crate) struct Shared {
    pub config: WorkerConfig,
    pub skills: SkillSet,
    pub client: Arc<OrchestratorClient>,
    /// See the module docs.
    pub incarnation: String,
    pub permits: Arc<Semaphore>,
    pub tasks: TaskRegistry,
    pub results: ResultQueue,
    /// Batch routes in use: on while `config.batching` and the server has them.
    batch_routes: AtomicBool,
    heartbeat_nudge: Notify,
    reregister: AtomicBool,
    full_sync: AtomicBool,
    draining: AtomicBool,
    /// Fires when the worker is to stop: shutdown asked for, or a fatal error.
    stop: CancellationToken,
    fatal: Mutex<Option<WorkerError>>,
}

impl Shared {
    pub(crate) fn new(config: WorkerConfig, skills: SkillSet, client: OrchestratorClient) -> Self {
        let permits = Arc::new(Semaphore::new(config.max_concurrent_tasks));
        let batching = config.batching;
        Shared {
            config,
            skills,
            client: Arc::new(client),
            incarnation: uuid::Uuid::new_v4().simple().to_string(),
            permits,
            tasks: TaskRegistry::default(),
            results: ResultQueue::new(),
            batch_routes: AtomicBool::new(batching),
            heartbeat_nudge: Notify::new(),
            reregister: AtomicBool::new(false),
            full_sync: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            stop: CancellationToken::new(),
            fatal: Mutex::new(None),
        }
    }

    pub(crate) fn worker_id(&self) -> &str {
        &self.config.worker_id
    }

    pub(crate) fn batch_routes(&self) -> bool {
        self.batch_routes.load(Ordering::Relaxed)
    }

    /// The server answered 404/405 on a batch route: use the single routes from now on.
    pub(crate) fn disable_batch_routes(&self) {
        if self.batch_routes.swap(false, Ordering::Relaxed) {
            tracing::info!(worker_id = %self.worker_id(), "orchestrator has no batch routes; polling one task at a time");
        }
    }

    /// Asks for a heartbeat soon; the heartbeat loop debounces bursts.
    pub(crate) fn nudge_heartbeat(&self) {
        self.heartbeat_nudge.notify_one();
    }

    pub(crate) async fn heartbeat_nudged(&self) {
        self.heartbeat_nudge.notified().await;
    }

    /// The orchestrator no longer knows us: the heartbeat loop registers again.
    pub(crate) fn request_reregister(&self) {
        self.reregister.store(true, Ordering::SeqCst);
        self.nudge_heartbeat();
    }

    pub(crate) fn take_reregister(&self) -> bool {
        self.reregister.swap(false, Ordering::SeqCst)
    }

    /// The next heartbeat carries the full skill list.
    pub(crate) fn request_full_sync(&self) {
        self.full_sync.store(true, Ordering::SeqCst);
        self.nudge_heartbeat();
    }

    pub(crate) fn take_full_sync(&self) -> bool {
        self.full_sync.swap(false, Ordering::SeqCst)
    }

    pub(crate) fn set_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub(crate) fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// The token that stops the worker's poll loop (and so starts its shutdown).
    pub(crate) fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Records an error the worker cannot go on after and stops the worker; the first
    /// one recorded is what [`crate::Worker::run`] returns.
    pub(crate) fn fail(&self, error: WorkerError) {
        let mut slot = self.fatal.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(error);
        }
        drop(slot);
        self.stop.cancel();
    }

    pub(crate) fn take_fatal(&self) -> Option<WorkerError> {
        self.fatal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// One task this worker holds.
struct Held {
    /// Tells a re-dispatch of the same id apart from the entry it replaced.
    serial: u64,
    job_id: String,
    cancel: CancellationToken,
}

/// Task id → cancellation token of every task the worker holds; see the module docs.
#[derive(Default)]
pub(crate) struct TaskRegistry {
    inner: Mutex<RegistryInner>,
    next_serial: AtomicU64,
}

#[derive(Default)]
struct RegistryInner {
    held: HashMap<String, Held>,
    /// Cancels that arrived before their task: id → arrival time.
    early_cancels: HashMap<String, Instant>,
}

/// Proof of holding a task; give it back to [`TaskRegistry::release`].
pub(crate) struct Lease {
    serial: u64,
    pub cancel: CancellationToken,
}

impl TaskRegistry {
    fn lock(&self) -> MutexGuard<'_, RegistryInner> {
        // A panic while holding this lock cannot leave it half-updated (single inserts and
        // removes), so a poisoned lock is still good to use.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a task as held. Its token starts cancelled if a cancel came first.
    pub(crate) fn hold(&self, task_id: &str, job_id: &str) -> Lease {
        let serial = self.next_serial.fetch_add(1, Ordering::Relaxed);
        let cancel = CancellationToken::new();
        let mut inner = self.lock();
        if inner.early_cancels.remove(task_id).is_some() {
            tracing::info!(task_id, job_id, "task was cancelled before it arrived");
            cancel.cancel();
        }
        let previous = inner.held.insert(
            task_id.to_string(),
            Held {
                serial,
                job_id: job_id.to_string(),
                cancel: cancel.clone(),
            },
        );
        if previous.is_some() {
            tracing::warn!(
                task_id,
                job_id,
                "task id dispatched again while still running here"
            );
        }
        Lease { serial, cancel }
    }

    /// Forgets a task (unless a newer dispatch of the same id replaced it).
    pub(crate) fn release(&self, task_id: &str, lease: &Lease) {
        let mut inner = self.lock();
        if inner
            .held
            .get(task_id)
            .is_some_and(|h| h.serial == lease.serial)
        {
            inner.held.remove(task_id);
        }
    }

    /// Fires the token of a held task. An unknown id is remembered for a while when
    /// `remember_unknown` (a WebSocket cancel may overtake the task it cancels).
    pub(crate) fn cancel(
        &self,
        task_id: &str,
        source: &'static str,
        remember_unknown: bool,
    ) -> bool {
        let mut inner = self.lock();
        if let Some(held) = inner.held.get(task_id) {
            tracing::info!(task_id, job_id = %held.job_id, source, "cancelling task");
            held.cancel.cancel();
            return true;
        }
        if remember_unknown {
            let now = Instant::now();
            inner
                .early_cancels
                .retain(|_, at| now.duration_since(*at) < EARLY_CANCEL_TTL);
            if inner.early_cancels.len() < EARLY_CANCEL_MAX {
                inner.early_cancels.insert(task_id.to_string(), now);
            }
        }
        tracing::debug!(task_id, source, "cancel for a task not running here");
        false
    }

    /// Fires every held task's token (shutdown after the grace period).
    pub(crate) fn cancel_all(&self, source: &'static str) -> usize {
        let inner = self.lock();
        for (task_id, held) in &inner.held {
            tracing::info!(task_id = %task_id, job_id = %held.job_id, source, "cancelling task");
            held.cancel.cancel();
        }
        inner.held.len()
    }

    /// Ids of held tasks, sorted so heartbeats are stable.
    pub(crate) fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.lock().held.keys().cloned().collect();
        ids.sort();
        ids
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().held.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_reaches_held_tasks_and_waits_for_early_ones() {
        let registry = TaskRegistry::default();
        let lease = registry.hold("t1", "j1");
        assert!(registry.cancel("t1", "test", true));
        assert!(lease.cancel.is_cancelled());
        assert!(!registry.cancel("t2", "test", true), "not held yet");
        assert!(
            registry.hold("t2", "j2").cancel.is_cancelled(),
            "remembered cancel applies"
        );
        assert!(!registry.cancel("t3", "test", false));
        assert!(
            !registry.hold("t3", "j3").cancel.is_cancelled(),
            "heartbeat cancels are not remembered"
        );
        assert_eq!(registry.ids(), vec!["t1", "t2", "t3"]);
        registry.release("t1", &lease);
        assert_eq!(registry.len(), 2);
    }

    #[test]
    fn releasing_an_old_lease_keeps_the_new_dispatch() {
        let registry = TaskRegistry::default();
        let old = registry.hold("t", "j");
        let new = registry.hold("t", "j");
        registry.release("t", &old);
        assert_eq!(registry.ids(), vec!["t"]);
        assert_eq!(registry.cancel_all("test"), 1);
        assert!(new.cancel.is_cancelled() && !old.cancel.is_cancelled());
        registry.release("t", &new);
        assert_eq!(registry.len(), 0);
    }
}
