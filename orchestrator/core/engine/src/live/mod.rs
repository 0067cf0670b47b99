//! What one orchestrator process knows besides the store, shared by the engine and the
//! dispatcher: the long-polls waiting for tasks ([`waiters`]), the clients waiting for
//! jobs to end ([`watchers`]), the job states it saw recently ([`snapshots`]) and how
//! many times each worker id registered here ([`Live::registered`]). All of
//! it can be lost with the process: the store has the truth, and these only save reads
//! and wake waiters sooner.

pub mod snapshots;
pub mod waiters;
pub mod watchers;

use snapshots::Snapshots;
use std::sync::Arc;
use waiters::Waiters;
use watchers::JobWatchers;

pub struct Live {
    /// This process's id: tags its commits' notices so it can skip their echo.
    pub instance_id: String,
    pub snapshots: Snapshots,
    pub watchers: JobWatchers,
    pub waiters: Arc<Waiters>,
    /// Registrations per worker id: a long-poll started before the latest registration of
    /// its worker id belongs to a process that registered again (restarted): it must not
    /// take a task, or the task would go to a connection whose process is gone.
    registrations: dashmap::DashMap<String, u64>,
}

impl Live {
    pub fn new() -> Live {
        Live {
            instance_id: uuid::Uuid::new_v4().simple().to_string(),
            snapshots: Snapshots::default(),
            watchers: JobWatchers::default(),
            waiters: Waiters::new(),
            registrations: Default::default(),
        }
    }

    /// Counts a registration of `worker_id` (before its previous leases are taken back).
    pub fn registered(&self, worker_id: &str) {
        *self.registrations.entry(worker_id.to_string()).or_default() += 1;
    }

    /// How many times `worker_id` registered here.
    pub fn registration(&self, worker_id: &str) -> u64 {
        self.registrations.get(worker_id).map_or(0, |n| *n)
    }

    /// A job ended (here, or anywhere by notice): wake its waiters.
    pub fn job_done(&self, job_id: &str) {
        self.snapshots.done(job_id);
        self.watchers.done(job_id);
    }

    /// Notices may have been missed: waiters re-read, nothing is assumed live.
    pub fn resync(&self) {
        self.snapshots.resync();
        self.watchers.wake_all();
        self.waiters.wake_all();
    }
}

impl Default for Live {
    fn default() -> Self {
        Self::new()
    }
}
