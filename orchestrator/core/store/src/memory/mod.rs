//! The embedded store: everything in process memory behind one mutex.
//!
//! It is a product feature (Baton runs with zero setup), not a test double: it keeps the
//! same guarantees as the Redis store within one process, and the conformance suite holds
//! both to the same behaviour. Nothing survives a restart.
//!
//! Every operation takes the mutex once and does no I/O while holding it, which plays the
//! part of Redis's single-threaded script execution.

use super::zset::ZSet;
use super::*;
mod claim;
mod index;
mod views;
mod workers;

use workers::{worker_record, MemWorker};

use parking_lot::Mutex;
use std::collections::{HashMap, HashSet, VecDeque};

struct MemJob {
    version: u64,
    status: String,
    doc: String,
    progress: Option<String>,
    tasks: BTreeMap<String, TaskSlot>,
    history: VecDeque<String>,
    /// Epoch ms after which the job is gone (set when it ends).
    expires_ms: Option<i64>,
}

#[derive(Default)]
struct Inner {
    jobs: HashMap<String, MemJob>,
    counts: BTreeMap<String, i64>,
    queues: HashMap<String, ZSet>,
    tasks: HashMap<String, TaskBlob>,
    leases: ZSet,
    timers: ZSet,
    workers: HashMap<String, MemWorker>,
    worker_tasks: HashMap<String, HashSet<String>>,
    worker_cancels: HashMap<String, HashSet<String>>,
    /// Owner → quarantined job id → when it entered quarantine (epoch ms).
    quarantined: HashMap<String, ZSet>,
    index: index::JobIndex,
}

pub struct MemoryStore {
    inner: Mutex<Inner>,
    notices: broadcast::Sender<Notice>,
    history_limit: usize,
}

impl MemoryStore {
    pub fn new(history_limit: usize) -> MemoryStore {
        let (notices, _) = broadcast::channel(4096);
        MemoryStore {
            inner: Mutex::new(Inner::default()),
            notices,
            history_limit,
        }
    }

    fn notify(&self, notice: Notice) {
        // No subscriber is fine: nobody is waiting.
        let _ = self.notices.send(notice);
    }
}

impl Inner {
    /// The job, unless it has expired (then it is removed, as Redis would).
    fn live_job(&mut self, job_id: &str, now_ms: i64) -> Option<&mut MemJob> {
        let expired = self
            .jobs
            .get(job_id)?
            .expires_ms
            .is_some_and(|t| t <= now_ms);
        if expired {
            self.jobs.remove(job_id);
            self.index.forget(job_id);
            return None;
        }
        self.jobs.get_mut(job_id)
    }

    fn count(&mut self, status: &str, delta: i64) {
        *self.counts.entry(status.to_string()).or_insert(0) += delta;
    }
}

fn now_ms() -> i64 {
    baton_protocol::clock::now_ms()
}

#[async_trait]
impl Store for MemoryStore {
    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }

    async fn commit(&self, c: &Commit) -> StoreResult<CommitOutcome> {
        let mut notices = Vec::new();
        let outcome = {
            let mut g = self.inner.lock();
            let inner = &mut *g;
            let now = now_ms();
            let current = inner
                .live_job(&c.job_id, now)
                .map(|j| (j.version, j.status.clone()));
            let old_status = match (c.expect, current) {
                (Expect::New, None) => None,
                (Expect::Version(v), Some((have, status))) if v == have => Some(status),
                _ => return Ok(CommitOutcome::Conflict),
            };
            if old_status.as_deref() != Some(c.status.as_str()) {
                if let Some(old) = &old_status {
                    inner.count(old, -1);
                }
                inner.count(&c.status, 1);
            }
            inner.index.committed(
                &c.job_id,
                old_status.as_deref(),
                &c.status,
                &c.blueprint,
                &c.owner,
                now,
            );
            let job = inner
                .jobs
                .entry(c.job_id.clone())
                .or_insert_with(|| MemJob {
                    version: 0,
                    status: String::new(),
                    doc: String::new(),
                    progress: None,
                    tasks: BTreeMap::new(),
                    history: VecDeque::new(),
                    expires_ms: None,
                });
            job.version += 1;
            job.status = c.status.clone();
            job.doc = c.doc.clone();
            for (task_id, slot) in &c.set_slots {
                job.tasks.insert(task_id.clone(), slot.clone());
            }
            for task_id in &c.del_slots {
                job.tasks.remove(task_id);
            }
            for entry in &c.history {
                job.history.push_back(entry.clone());
                while job.history.len() > self.history_limit {
                    job.history.pop_front();
                }
            }
            if let Some(after) = c.expire_after {
                job.expires_ms = Some(now + after.as_millis() as i64);
            } else if c.revived {
                job.expires_ms = None;
            }
            let version = job.version;
            inner.index_quarantine(&c.owner, &c.job_id, old_status.as_deref(), &c.status, now);
            for (task_id, blob) in &c.store_tasks {
                inner.tasks.insert(task_id.clone(), blob.clone());
            }
            for e in &c.enqueue {
                inner
                    .queues
                    .entry(e.skill.clone())
                    .or_default()
                    .insert(&e.member, -e.priority);
                notices.push(Notice::TaskReady {
                    skill: e.skill.clone(),
                    origin: c.origin.clone(),
                });
            }
            for (skill, member) in &c.dequeue {
                if let Some(q) = inner.queues.get_mut(skill) {
                    q.remove(member);
                }
            }
            for task_id in &c.drop_tasks {
                inner.tasks.remove(task_id);
            }
            for (task_id, worker) in &c.release {
                inner.leases.remove(task_id);
                if let Some(set) = inner.worker_tasks.get_mut(worker) {
                    set.remove(task_id);
                }
            }
            for n in &c.cancel {
                inner
                    .worker_cancels
                    .entry(n.worker_id.clone())
                    .or_default()
                    .insert(n.task_id.clone());
                notices.push(Notice::Command {
                    worker_id: n.worker_id.clone(),
                    payload: crate::rules::cancel_command(&n.task_id, &n.job_id),
                });
            }
            for (member, due) in &c.timers_add {
                inner.timers.insert(member, *due as f64);
            }
            for member in &c.timers_del {
                inner.timers.remove(member);
            }
            if baton_protocol::job_status::is_terminal(&c.status) || c.revived {
                notices.push(Notice::JobDone {
                    job_id: c.job_id.clone(),
                    origin: c.origin.clone(),
                });
            }
            CommitOutcome::Committed { version }
        };
        for n in notices {
            self.notify(n);
        }
        Ok(outcome)
    }

    async fn get_job(&self, job_id: &str) -> StoreResult<Option<StoredJob>> {
        let mut g = self.inner.lock();
        Ok(g.live_job(job_id, now_ms()).map(|j| StoredJob {
            id: job_id.to_string(),
            version: j.version,
            status: j.status.clone(),
            doc: j.doc.clone(),
            progress: j.progress.clone(),
            tasks: j.tasks.clone(),
        }))
    }

    async fn history(&self, job_id: &str) -> StoreResult<Vec<String>> {
        let mut g = self.inner.lock();
        Ok(g.live_job(job_id, now_ms())
            .map(|j| j.history.iter().cloned().collect())
            .unwrap_or_default())
    }

    async fn set_progress(&self, job_id: &str, task_id: &str, progress: &str) -> StoreResult<bool> {
        let mut g = self.inner.lock();
        match g.live_job(job_id, now_ms()) {
            Some(job) if job.tasks.contains_key(task_id) => {
                job.progress = Some(progress.to_string());
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn claim(&self, req: &ClaimRequest) -> StoreResult<Vec<ClaimedTask>> {
        Ok(self.inner.lock().claim(req, self.history_limit))
    }

    async fn task_blob(&self, task_id: &str) -> StoreResult<Option<TaskBlob>> {
        Ok(self.inner.lock().tasks.get(task_id).cloned())
    }

    async fn claim_due_timers(
        &self,
        now_ms: i64,
        limit: usize,
        visibility: Duration,
    ) -> StoreResult<Vec<String>> {
        Ok(self
            .inner
            .lock()
            .timers
            .claim_due(now_ms, limit, visibility))
    }

    async fn claim_timer(
        &self,
        member: &str,
        now_ms: i64,
        visibility: Duration,
    ) -> StoreResult<bool> {
        Ok(self
            .inner
            .lock()
            .timers
            .claim_one(member, now_ms, visibility))
    }

    async fn claim_expired_leases(
        &self,
        now_ms: i64,
        limit: usize,
        visibility: Duration,
    ) -> StoreResult<Vec<String>> {
        Ok(self
            .inner
            .lock()
            .leases
            .claim_due(now_ms, limit, visibility))
    }

    async fn forget_lease(&self, task_id: &str) -> StoreResult<()> {
        self.inner.lock().leases.remove(task_id);
        Ok(())
    }

    async fn replace_timer(&self, old: &str, new: Option<(&str, i64)>) -> StoreResult<()> {
        let mut g = self.inner.lock();
        g.timers.remove(old);
        if let Some((member, due)) = new {
            g.timers.insert(member, due as f64);
        }
        Ok(())
    }

    async fn register_worker(&self, u: &WorkerUpdate) -> StoreResult<Vec<String>> {
        Ok(self.inner.lock().register_worker(u))
    }

    async fn heartbeat(&self, u: &WorkerUpdate) -> StoreResult<Option<Vec<String>>> {
        Ok(self.inner.lock().heartbeat(u))
    }

    async fn set_worker_websocket(&self, worker_id: &str, connected: bool) -> StoreResult<()> {
        self.inner
            .lock()
            .set_websocket(worker_id, connected, now_ms());
        Ok(())
    }

    async fn get_worker(&self, worker_id: &str) -> StoreResult<Option<WorkerRecord>> {
        let g = self.inner.lock();
        let now = now_ms();
        Ok(g.workers
            .get(worker_id)
            .filter(|w| w.registered(now))
            .map(|w| worker_record(worker_id, w, &g.worker_tasks)))
    }

    async fn list_workers(&self, now_ms: i64, _ttl: Duration) -> StoreResult<Vec<WorkerRecord>> {
        let mut g = self.inner.lock();
        g.workers.retain(|_, w| w.expires_ms > now_ms);
        let mut out: Vec<WorkerRecord> = g
            .workers
            .iter()
            .filter(|(_, w)| w.registered(now_ms))
            .map(|(id, w)| worker_record(id, w, &g.worker_tasks))
            .collect();
        out.sort_by(|a, b| a.worker_id.cmp(&b.worker_id));
        Ok(out)
    }

    async fn active_workers(&self, now_ms: i64, _ttl: Duration) -> StoreResult<u64> {
        Ok(self
            .inner
            .lock()
            .workers
            .values()
            .filter(|w| w.registered(now_ms))
            .count() as u64)
    }

    async fn prune(&self, now_ms: i64, _ttl: Duration) -> StoreResult<()> {
        let mut g = self.inner.lock();
        let inner = &mut *g;
        // Redis expires these keys by itself; here nothing does unless we look.
        let gone: Vec<String> = inner
            .jobs
            .iter()
            .filter(|(_, j)| j.expires_ms.is_some_and(|t| t <= now_ms))
            .map(|(id, _)| id.clone())
            .collect();
        for id in &gone {
            inner.jobs.remove(id);
            inner.index.forget(id);
        }
        inner.workers.retain(|_, w| w.expires_ms > now_ms);
        let workers = &inner.workers;
        inner
            .worker_cancels
            .retain(|id, set| !set.is_empty() && workers.contains_key(id));
        inner.worker_tasks.retain(|_, set| !set.is_empty());
        inner.prune_quarantine(now_ms);
        Ok(())
    }

    async fn ack_cancel(&self, worker_id: &str, task_id: &str) -> StoreResult<()> {
        if let Some(set) = self.inner.lock().worker_cancels.get_mut(worker_id) {
            set.remove(task_id);
        }
        Ok(())
    }

    async fn job_counts(&self) -> StoreResult<BTreeMap<String, i64>> {
        Ok(self.inner.lock().counts.clone())
    }

    async fn list_jobs(&self, query: &JobQuery) -> StoreResult<JobPage> {
        let g = self.inner.lock();
        let mut page = g.index.list(query);
        // A job that expired since the last prune is gone, as on Redis.
        let now = now_ms();
        page.jobs.retain(|j| {
            g.jobs
                .get(&j.id)
                .is_some_and(|m| m.expires_ms.is_none_or(|t| t > now))
        });
        Ok(page)
    }

    async fn job_timeline(
        &self,
        start_ms: i64,
        bucket_ms: i64,
        buckets: usize,
    ) -> StoreResult<Vec<TimelineBucket>> {
        Ok(self
            .inner
            .lock()
            .index
            .timeline(start_ms, bucket_ms.max(1), buckets))
    }

    async fn prune_job_index(&self, now_ms: i64, _retention: Duration) -> StoreResult<u64> {
        // Expired jobs leave the index when they leave the map (here, or on access).
        let mut g = self.inner.lock();
        let inner = &mut *g;
        let gone: Vec<String> = inner
            .jobs
            .iter()
            .filter(|(_, j)| j.expires_ms.is_some_and(|t| t <= now_ms))
            .map(|(id, _)| id.clone())
            .collect();
        for id in &gone {
            inner.jobs.remove(id);
            inner.index.forget(id);
        }
        Ok(gone.len() as u64)
    }

    async fn queue_stats(&self) -> StoreResult<BTreeMap<String, QueueStats>> {
        Ok(self.inner.lock().queue_stats())
    }

    async fn quarantined_jobs(
        &self,
        owner: &str,
        limit: usize,
    ) -> StoreResult<Vec<QuarantinedJob>> {
        Ok(self.inner.lock().quarantined_jobs(owner, limit, now_ms()))
    }

    async fn flush(&self) -> StoreResult<()> {
        *self.inner.lock() = Inner::default();
        Ok(())
    }

    fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.notices.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn prune_forgets_expired_jobs_and_workers_nobody_asks_about() {
        let store = MemoryStore::new(10);
        let mut ended = Commit::new("old", Expect::New, "finished", "{}".into());
        ended.expire_after = Some(Duration::from_millis(1));
        store.commit(&ended).await.unwrap();
        store
            .commit(&Commit::new("live", Expect::New, "pending", "{}".into()))
            .await
            .unwrap();
        let mut quarantined = Commit::new("bad", Expect::New, "quarantined", "{}".into());
        quarantined.owner = "alice".into();
        quarantined.expire_after = Some(Duration::from_millis(1));
        store.commit(&quarantined).await.unwrap();
        let now = baton_protocol::clock::now_ms();
        store
            .register_worker(&WorkerUpdate {
                worker_id: "w".into(),
                now_ms: now,
                ttl: Duration::from_millis(1),
                status: "idle".into(),
                info: Some("{}".into()),
                skills: None,
                current_tasks: None,
                incarnation: None,
                lease_deadline_ms: now,
            })
            .await
            .unwrap();
        store
            .prune(now + 1_000, Duration::from_secs(45))
            .await
            .unwrap();
        let g = store.inner.lock();
        assert_eq!(g.jobs.keys().collect::<Vec<_>>(), vec!["live"]);
        assert!(g.workers.is_empty());
        assert!(
            g.quarantined.is_empty(),
            "index entry and empty index dropped"
        );
    }
}
