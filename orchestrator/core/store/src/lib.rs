//! The store: everything an orchestrator knows lives here, so orchestrators stay
//! stateless and any number of them can share one Redis.
//!
//! ## Data model
//! - **Job**: `version` (bumped by every change, the compare-and-set guard), `status`,
//!   `doc` (the engine's JSON document: blueprint, state, context, result...), optional
//!   `progress` (JSON, written by worker events without bumping the version), and one
//!   [`TaskSlot`] per active task: queued, delayed (waiting for a timer) or leased to a
//!   worker.
//! - **Task blob** ([`TaskBlob`]): what a worker receives, plus the job id and result
//!   timeout the claim needs. Stored from enqueue until the task is dropped.
//! - **Queues**: one per skill, ordered by priority (higher first), then enqueue time.
//! - **Leases**: task id → deadline (epoch ms). Heartbeats push the deadlines of a worker's
//!   tasks forward (those it says it runs); an expired lease is re-dispatched by the
//!   reaper, a lease taken back by a registration (see [`Store::register_worker`]) by the
//!   orchestrator that registered the worker.
//! - **Timers**: member `kind|job_id|rest` → due time (epoch ms); the kinds are the
//!   [`TimerKind`] enum ([`timers`]).
//! - **Workers**: registration info (with the process's incarnation, when the worker sends
//!   one) with a TTL of the heartbeat timeout, the set of task ids a worker holds and the
//!   set of those it has been told to cancel.
//! - **Quarantine index**: per owning client, the ids of its quarantined jobs by the time
//!   they entered quarantine (see [`views`]).
//!
//! Every change of a job is one [`Commit`]: the new status and document plus the side
//! effects (queue, lease, timer, history changes), applied atomically and only if the
//! job still has the version the engine read. A lost race is reported as
//! [`CommitOutcome::Conflict`]; the engine re-reads and decides again.
//!
//! Two implementations: [`memory::MemoryStore`] (zero-setup mode) and
//! [`redis::RedisStore`] (Lua scripts, one per multi-key change). The conformance suite
//! in [`conformance`] runs against both.

/// The behaviour every store must show, run against both by the test suite (feature
/// `conformance`: not compiled into the orchestrator).
// Always compiled (not behind a feature) so that the workspace's test build and a
// `cargo run -p` of one binary build this crate the same way and share it.
pub mod conformance;
pub mod listing;
pub mod memory;
pub mod rules;
pub mod timers;
mod views;
mod zset;

pub use listing::{JobCursor, JobPage, JobQuery, JobSummary, TimelineBucket};
pub use timers::{Timer, TimerKind};
pub use views::{member_enqueued_us, QuarantinedJob, QueueStats};

use async_trait::async_trait;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::broadcast;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("redis error: {0}")]
    Redis(String),
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("corrupt record: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Where a task of a job is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskSlot {
    /// In the queue of `skill` under `member` (needed to remove it).
    Queued { skill: String, member: String },
    /// Stored, waiting for its `e|` timer to enqueue it.
    Delayed { skill: String },
    /// Claimed by `worker` at `claimed_ms`.
    Leased {
        skill: String,
        worker: String,
        claimed_ms: i64,
    },
}

impl TaskSlot {
    pub fn skill(&self) -> &str {
        match self {
            TaskSlot::Queued { skill, .. }
            | TaskSlot::Delayed { skill }
            | TaskSlot::Leased { skill, .. } => skill,
        }
    }

    /// Compact text form used by the Redis store (and written by its Lua scripts).
    pub fn encode(&self) -> String {
        match self {
            TaskSlot::Queued { skill, member } => format!("q|{skill}|{member}"),
            TaskSlot::Delayed { skill } => format!("d|{skill}"),
            TaskSlot::Leased {
                skill,
                worker,
                claimed_ms,
            } => {
                format!("l|{skill}|{worker}|{claimed_ms}")
            }
        }
    }

    pub fn decode(s: &str) -> Option<TaskSlot> {
        let mut parts = s.splitn(3, '|');
        let kind = parts.next()?;
        let skill = parts.next()?.to_string();
        let rest = parts.next();
        match kind {
            "q" => Some(TaskSlot::Queued {
                skill,
                member: rest?.to_string(),
            }),
            "d" => Some(TaskSlot::Delayed { skill }),
            "l" => {
                let (worker, claimed) = rest?.rsplit_once('|')?;
                Some(TaskSlot::Leased {
                    skill,
                    worker: worker.to_string(),
                    claimed_ms: claimed.parse().ok()?,
                })
            }
            _ => None,
        }
    }
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredJob {
    pub id: String,
    pub version: u64,
    pub status: String,
    pub doc: String,
    pub progress: Option<String>,
    /// Active tasks by task id.
    pub tasks: BTreeMap<String, TaskSlot>,
}

impl StoredJob {
    /// Builds a job from its hash fields; `None` for a hash without a version (nothing,
    /// or only a stray field of an expired job).
    pub fn from_fields(
        job_id: &str,
        fields: impl IntoIterator<Item = (String, String)>,
    ) -> StoreResult<Option<StoredJob>> {
        let mut job = StoredJob {
            id: job_id.to_string(),
            version: 0,
            status: String::new(),
            doc: String::new(),
            progress: None,
            tasks: BTreeMap::new(),
        };
        for (field, value) in fields {
            match field.as_str() {
                "v" => {
                    job.version = value
                        .parse()
                        .map_err(|_| StoreError::Corrupt(format!("job {job_id} version")))?
                }
                "status" => job.status = value,
                "doc" => job.doc = value,
                "progress" => job.progress = Some(value),
                f => {
                    if let Some(task_id) = f.strip_prefix("t:") {
                        let slot = TaskSlot::decode(&value).ok_or_else(|| {
                            StoreError::Corrupt(format!("job {job_id} slot {value}"))
                        })?;
                        job.tasks.insert(task_id.to_string(), slot);
                    }
                }
            }
        }
        Ok((job.version > 0).then_some(job))
    }

    /// The job as `commit` (applied at `version`) leaves it.
    pub fn after(&self, commit: &Commit, version: u64) -> StoredJob {
        let mut tasks = self.tasks.clone();
        for (id, slot) in &commit.set_slots {
            tasks.insert(id.clone(), slot.clone());
        }
        for id in &commit.del_slots {
            tasks.remove(id);
        }
        StoredJob {
            id: self.id.clone(),
            version,
            status: commit.status.clone(),
            doc: commit.doc.clone(),
            progress: self.progress.clone(),
            tasks,
        }
    }
}

/// A stored task: the payload a worker receives and what the claim needs besides.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskBlob {
    pub job_id: String,
    /// 0 = no result timeout.
    pub result_timeout_ms: i64,
    pub enqueued_ms: i64,
    /// `TaskPayload` JSON (without `deadline`, added at claim time).
    pub payload: String,
}

impl TaskBlob {
    /// `job_id \t result_timeout_ms \t enqueued_ms \t payload` (parsed by claim.lua).
    pub fn encode(&self) -> String {
        format!(
            "{}\t{}\t{}\t{}",
            self.job_id, self.result_timeout_ms, self.enqueued_ms, self.payload
        )
    }

    pub fn decode(s: &str) -> Option<TaskBlob> {
        let mut parts = s.splitn(4, '\t');
        Some(TaskBlob {
            job_id: parts.next()?.to_string(),
            result_timeout_ms: parts.next()?.parse().ok()?,
            enqueued_ms: parts.next()?.parse().ok()?,
            payload: parts.next()?.to_string(),
        })
    }
}

/// Queue member of a task: enqueue time in microseconds (zero-padded, so equal
/// priorities pop in FIFO order) and the task id.
pub fn queue_member(enqueued_us: i64, task_id: &str) -> String {
    format!("{enqueued_us:016}|{task_id}")
}

/// Task id of a queue member.
pub fn member_task_id(member: &str) -> &str {
    member.split_once('|').map(|(_, id)| id).unwrap_or(member)
}

/// A new task put in a queue.
#[derive(Debug, Clone, PartialEq)]
pub struct Enqueue {
    pub skill: String,
    pub member: String,
    pub priority: f64,
}

/// Tells a worker to stop a task: recorded for its next heartbeat and sent over its
/// WebSocket by whichever orchestrator holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct CancelNotice {
    pub worker_id: String,
    pub task_id: String,
    pub job_id: String,
}

/// What the commit expects to find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The job must not exist yet.
    New,
    /// The job must have this version.
    Version(u64),
}

/// One atomic change of a job and its side effects, applied in the order of the fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Commit {
    pub job_id: String,
    /// Id of the orchestrator making the change (tags the notices it causes).
    pub origin: String,
    /// Client owning the job: keys the job's entry in the quarantine index.
    pub owner: String,
    /// The job's blueprint (its entry in the job index, see [`listing`]).
    pub blueprint: String,
    pub expect: Expect,
    pub status: String,
    pub doc: String,
    pub set_slots: Vec<(String, TaskSlot)>,
    pub del_slots: Vec<String>,
    /// Task blobs to store (queued and delayed tasks both need one).
    pub store_tasks: Vec<(String, TaskBlob)>,
    pub enqueue: Vec<Enqueue>,
    /// `(skill, member)` to take out of a queue.
    pub dequeue: Vec<(String, String)>,
    /// Task blobs to delete.
    pub drop_tasks: Vec<String>,
    /// `(task_id, worker_id)` leases to end.
    pub release: Vec<(String, String)>,
    pub cancel: Vec<CancelNotice>,
    pub timers_add: Vec<(String, i64)>,
    pub timers_del: Vec<String>,
    /// History entries (JSON) appended to the job's bounded history.
    pub history: Vec<String>,
    /// Set when the job ends: it and its history expire after this long.
    pub expire_after: Option<Duration>,
    /// The job leaves an end (it runs again): its expiry is lifted, and the change is
    /// announced like an end ([`Notice::JobDone`]) so that every orchestrator forgets the
    /// end it remembers.
    pub revived: bool,
}

impl Commit {
    pub fn new(job_id: &str, expect: Expect, status: &str, doc: String) -> Commit {
        Commit {
            job_id: job_id.to_string(),
            origin: String::new(),
            owner: String::new(),
            blueprint: String::new(),
            expect,
            status: status.to_string(),
            doc,
            set_slots: Vec::new(),
            del_slots: Vec::new(),
            store_tasks: Vec::new(),
            enqueue: Vec::new(),
            dequeue: Vec::new(),
            drop_tasks: Vec::new(),
            release: Vec::new(),
            cancel: Vec::new(),
            timers_add: Vec::new(),
            timers_del: Vec::new(),
            history: Vec::new(),
            expire_after: None,
            revived: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    Committed {
        version: u64,
    },
    /// The job changed (or exists, for [`Expect::New`]); nothing was written.
    Conflict,
}

/// A worker asking for work.
#[derive(Debug, Clone)]
pub struct ClaimRequest {
    pub worker_id: String,
    pub skills: Vec<String>,
    pub now_ms: i64,
    pub lease_deadline_ms: i64,
    /// Most tasks to take (at least one is asked for).
    pub max: usize,
}

/// A task a claim handed out (its lease already recorded).
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedTask {
    pub job_id: String,
    pub task_id: String,
    pub skill: String,
    pub payload: String,
    pub enqueued_ms: i64,
    pub claimed_ms: i64,
    pub result_timeout_ms: i64,
    /// Tasks left in the queue the task came from.
    pub remaining: u64,
    /// The job right after the claim (same version): lets the result of this task be
    /// applied without reading the job again, when nothing changed it meanwhile.
    pub job: Option<StoredJob>,
}

/// A worker's registration or heartbeat, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerUpdate {
    pub worker_id: String,
    pub now_ms: i64,
    pub ttl: Duration,
    pub status: String,
    /// Registration info (JSON) when it changed.
    pub info: Option<String>,
    /// Skills when known (registration, or heartbeat with skills).
    pub skills: Option<Vec<String>>,
    /// Heartbeat: the task ids the worker says it runs; only their leases are extended.
    /// `None` (an empty-body ping, or a body without the list) extends every lease
    /// recorded for the worker.
    pub current_tasks: Option<Vec<String>>,
    /// Registration: the process's incarnation (an id it draws at start), if it sends one.
    pub incarnation: Option<String>,
    /// Heartbeat: the new deadline of the leases it extends. Registration: the deadline
    /// given to the leases it takes back, which hides them from reapers until then (the
    /// registering orchestrator re-dispatches them at once; a reaper does if it fails to).
    pub lease_deadline_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WorkerRecord {
    pub worker_id: String,
    pub status: String,
    pub info: String,
    pub skills: Vec<String>,
    pub last_seen_ms: i64,
    pub registered_ms: i64,
    pub websocket: bool,
    pub tasks: Vec<String>,
}

/// Cross-instance notices.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// A task was queued for `skill` by the orchestrator `origin` (which already woke its
    /// own pollers).
    TaskReady { skill: String, origin: String },
    /// A job reached a terminal status in a commit of the orchestrator `origin` (which
    /// already woke its own waiters).
    JobDone { job_id: String, origin: String },
    /// A command (JSON) for a worker's WebSocket.
    Command { worker_id: String, payload: String },
    /// Notices may have been missed (subscription reconnected): wake everything.
    Resync,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `"memory"` or `"redis"`.
    fn kind(&self) -> &'static str;
    async fn ping(&self) -> StoreResult<()>;

    async fn commit(&self, commit: &Commit) -> StoreResult<CommitOutcome>;
    /// Several commits at once (a batch of new jobs): each applies or conflicts on its
    /// own, as [`Store::commit`] would, and the outcomes come back in order. A store
    /// that can send them together does (Redis: one round trip per batch).
    async fn commit_many(&self, commits: &[Commit]) -> StoreResult<Vec<CommitOutcome>> {
        let mut out = Vec::with_capacity(commits.len());
        for c in commits {
            out.push(self.commit(c).await?);
        }
        Ok(out)
    }
    async fn get_job(&self, job_id: &str) -> StoreResult<Option<StoredJob>>;
    async fn history(&self, job_id: &str) -> StoreResult<Vec<String>>;
    /// Sets a job's progress if `task_id` is one of its active tasks.
    async fn set_progress(&self, job_id: &str, task_id: &str, progress: &str) -> StoreResult<bool>;

    /// Takes up to `req.max` of the best tasks (highest priority, then oldest) among
    /// `skills` and leases them, in that order; empty when nothing is queued.
    async fn claim(&self, req: &ClaimRequest) -> StoreResult<Vec<ClaimedTask>>;
    async fn task_blob(&self, task_id: &str) -> StoreResult<Option<TaskBlob>>;
    /// Due timers, made invisible to other callers for `visibility`.
    async fn claim_due_timers(
        &self,
        now_ms: i64,
        limit: usize,
        visibility: Duration,
    ) -> StoreResult<Vec<String>>;
    /// Takes one timer the way [`Store::claim_due_timers`] does, if it is due; whether it
    /// did (false: another caller has it, or it is gone).
    async fn claim_timer(
        &self,
        member: &str,
        now_ms: i64,
        visibility: Duration,
    ) -> StoreResult<bool>;
    /// Task ids with expired leases, made invisible to other callers for `visibility`.
    async fn claim_expired_leases(
        &self,
        now_ms: i64,
        limit: usize,
        visibility: Duration,
    ) -> StoreResult<Vec<String>>;
    /// Drops a lease whose task is gone (nothing else refers to it).
    async fn forget_lease(&self, task_id: &str) -> StoreResult<()>;
    /// Removes timer `old` and, if given, adds another in one step.
    async fn replace_timer(&self, old: &str, new: Option<(&str, i64)>) -> StoreResult<()>;

    /// Registers (or re-registers) a worker, in one atomic step with taking back the
    /// leases recorded for its id: a registration comes from a process that starts (or
    /// whose registration expired), so the tasks recorded for the id belong to a previous
    /// process. They leave the worker's task set and their leases get
    /// `update.lease_deadline_ms`; their ids are returned, for the caller to re-dispatch.
    /// Only a registration with the same `incarnation` as the live registration before it
    /// (the same process registering again) keeps them, and returns none.
    async fn register_worker(&self, update: &WorkerUpdate) -> StoreResult<Vec<String>>;
    /// Records a heartbeat and extends the leases of the tasks it lists in
    /// `current_tasks` that are leased to this worker (all of the worker's leases when it
    /// lists none, see [`WorkerUpdate::current_tasks`]). `None` if the worker is not
    /// registered (expired); otherwise the task ids it must cancel.
    async fn heartbeat(&self, update: &WorkerUpdate) -> StoreResult<Option<Vec<String>>>;
    async fn set_worker_websocket(&self, worker_id: &str, connected: bool) -> StoreResult<()>;
    async fn get_worker(&self, worker_id: &str) -> StoreResult<Option<WorkerRecord>>;
    /// Workers seen within `ttl` of `now_ms`.
    async fn list_workers(&self, now_ms: i64, ttl: Duration) -> StoreResult<Vec<WorkerRecord>>;
    /// Number of workers seen within `ttl` of `now_ms`.
    async fn active_workers(&self, now_ms: i64, ttl: Duration) -> StoreResult<u64>;
    /// Housekeeping, run now and then by every orchestrator: forgets workers not seen for
    /// `ttl`, quarantine index entries of expired jobs (and, in memory, jobs past their
    /// retention) so long-running deployments do not accumulate them.
    async fn prune(&self, now_ms: i64, ttl: Duration) -> StoreResult<()>;
    /// The worker no longer runs `task_id`: forget the request to cancel it.
    async fn ack_cancel(&self, worker_id: &str, task_id: &str) -> StoreResult<()>;

    /// Jobs by status.
    async fn job_counts(&self) -> StoreResult<BTreeMap<String, i64>>;
    /// A page of jobs by the job index ([`listing`]), newest first.
    async fn list_jobs(&self, query: &JobQuery) -> StoreResult<JobPage>;
    /// Jobs created, finished and failed per bucket of `bucket_ms` from `start_ms`.
    async fn job_timeline(
        &self,
        start_ms: i64,
        bucket_ms: i64,
        buckets: usize,
    ) -> StoreResult<Vec<TimelineBucket>>;
    /// Drops index entries of jobs that are gone (ended more than `retention` ago, so
    /// expired); how many.
    async fn prune_job_index(&self, now_ms: i64, retention: Duration) -> StoreResult<u64>;
    /// Queued tasks by skill: how many, and since when the oldest waits.
    async fn queue_stats(&self) -> StoreResult<BTreeMap<String, QueueStats>>;
    /// Quarantined jobs of `owner`, newest first, at most `limit`.
    async fn quarantined_jobs(&self, owner: &str, limit: usize)
        -> StoreResult<Vec<QuarantinedJob>>;
    /// Deletes everything this store holds (Redis: every key under the prefix and nothing
    /// else). For the debug endpoint only.
    async fn flush(&self) -> StoreResult<()>;

    fn subscribe(&self) -> broadcast::Receiver<Notice>;

    /// Requests sent to the backing server so far (a pipeline or script counts once);
    /// 0 for the in-memory store.
    fn round_trips(&self) -> u64 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_and_blobs_round_trip() {
        for slot in [
            TaskSlot::Queued {
                skill: "echo".into(),
                member: queue_member(12, "t1"),
            },
            TaskSlot::Delayed {
                skill: "echo".into(),
            },
            TaskSlot::Leased {
                skill: "echo".into(),
                worker: "w-1".into(),
                claimed_ms: 99,
            },
        ] {
            assert_eq!(TaskSlot::decode(&slot.encode()), Some(slot));
        }
        let blob = TaskBlob {
            job_id: "j".into(),
            result_timeout_ms: 5,
            enqueued_ms: 7,
            payload: "{\"a\":\"x\\ty\"}".into(),
        };
        assert_eq!(TaskBlob::decode(&blob.encode()), Some(blob));
        assert_eq!(member_task_id(&queue_member(5, "abc")), "abc");
    }
}
