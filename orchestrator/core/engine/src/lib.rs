//! The engine: jobs advance on events (created, result arrived, cancel asked, timer fired,
//! lease expired), each handled as read → decide ([`flow`]) → one atomic commit, retried
//! from a fresh read when another orchestrator changed the job in between.

pub mod config;
mod control;
mod create;
pub mod dispatch;
mod flow;
mod gauges;
pub mod hooks;
pub mod job;
pub mod live;
pub mod metrics;
mod parallel;
pub mod readiness;
mod reaper;
mod retry;
mod signals;
mod sub_jobs;
mod tasks;
mod waits;
mod webhook;

pub use flow::{backoff, classify, FailureClass};
pub use reaper::{spawn_reaper, LEASE_VISIBILITY};
pub use signals::ApprovalProof;
pub use waits::MAX_SUB_JOB_DEPTH;

use crate::metrics::EngineMetrics;
use crate::retry::{too_fast, until_committed, Round};
use baton_blueprint::{Blueprint, Registry};
use baton_protocol::clock::now_ms;
use baton_protocol::{ignored_reasons, job_status, ResultAck, TaskResult};
use baton_store::{CommitOutcome, Store, StoreError, StoredJob, TaskSlot};
pub use config::EngineConfig;
use flow::Tx;
use job::JobDoc;
use live::Live;
use serde_json::{json, Value};
use std::sync::Arc;
use tasks::{leased_to, Lane};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    /// A job created under an id the caller gave exists already.
    #[error("job {0} exists")]
    Exists(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

/// A validated job creation request.
#[derive(Debug, Clone, Default)]
pub struct NewJob {
    pub initial_data: Value,
    pub metadata: Value,
    pub webhook_url: Option<String>,
    pub dispatch_timeout_ms: Option<u64>,
    pub result_timeout_ms: Option<u64>,
    /// The engine hook told of this job's results and end ([`hooks`]): the face that
    /// creates the job names its own.
    pub hook: Option<String>,
    /// The job's id, when the caller derives it (so that creating it twice creates one:
    /// the second gets [`EngineError::Exists`]); else a new UUID.
    pub id: Option<String>,
}

/// How a cancel request was delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelDelivery {
    /// A worker running the job's task has a WebSocket: the command went out at once.
    Sent,
    /// Recorded; a running worker learns it on its next heartbeat.
    Accepted,
}

pub struct Engine {
    pub store: Arc<dyn Store>,
    /// What this process knows besides the store: waiting long-polls and clients, and
    /// recently seen job states ([`live`]).
    pub live: Arc<Live>,
    pub blueprints: Arc<Registry>,
    pub cfg: Arc<EngineConfig>,
    pub metrics: Arc<EngineMetrics>,
    /// The faces' hooks, by the name their jobs carry, and their blueprint sources.
    hooks: hooks::Hooks,
    /// Blueprints the sources gave, by name (content-addressed: never stale).
    sourced: parking_lot::RwLock<std::collections::HashMap<String, Arc<Blueprint>>>,
    http: reqwest::Client,
    /// Timers committed here that are due at once (sub-job starts, ends and cancels):
    /// the reaper fires them without waiting for its next pass.
    kick: tokio::sync::mpsc::UnboundedSender<String>,
    kicked: parking_lot::Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<String>>>,
}

fn parse_doc(job: &StoredJob) -> Result<JobDoc, EngineError> {
    serde_json::from_str(&job.doc).map_err(|e| {
        EngineError::Internal(format!("job {} has an unreadable document: {e}", job.id))
    })
}

/// The client name of an operator's token (`BATON_ADMIN_TOKEN`): it sees and acts on
/// every client's jobs. No configured client may take this name.
pub const ADMIN_CLIENT: &str = "*";

/// The job and its document if `client` owns it (or is the admin).
fn owned_by(job: StoredJob, client: &str) -> Result<(StoredJob, JobDoc), EngineError> {
    let doc = parse_doc(&job)?;
    if doc.client != client && client != ADMIN_CLIENT {
        return Err(EngineError::Forbidden(
            "this job belongs to another client".into(),
        ));
    }
    Ok((job, doc))
}

fn ignored(reason: &str) -> ResultAck {
    ResultAck {
        status: "ignored".into(),
        reason: Some(reason.into()),
        transition: None,
    }
}

impl Engine {
    pub fn new(
        store: Arc<dyn Store>,
        blueprints: Arc<Registry>,
        cfg: Arc<EngineConfig>,
        metrics: Arc<EngineMetrics>,
        hooks: hooks::Hooks,
    ) -> Engine {
        let http = reqwest::Client::builder()
            .timeout(cfg.webhook_timeout)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        let (kick, kicked) = tokio::sync::mpsc::unbounded_channel();
        Engine {
            kick,
            kicked: parking_lot::Mutex::new(Some(kicked)),
            store,
            live: Arc::new(Live::new()),
            blueprints,
            cfg,
            metrics,
            hooks,
            sourced: Default::default(),
            http,
        }
    }

    async fn blueprint_of(&self, doc: &JobDoc) -> Result<Arc<Blueprint>, EngineError> {
        self.blueprint(&doc.blueprint).await?.ok_or_else(|| {
            EngineError::Internal(format!("blueprint `{}` is no longer loaded", doc.blueprint))
        })
    }

    /// A blueprint by name: one loaded from files, else one a face's source has.
    pub async fn blueprint(&self, name: &str) -> Result<Option<Arc<Blueprint>>, EngineError> {
        if let Some(bp) = self.blueprints.get(name) {
            return Ok(Some(bp.clone()));
        }
        if let Some(bp) = self.sourced.read().get(name) {
            return Ok(Some(bp.clone()));
        }
        for source in &self.hooks.sources {
            if let Some(bp) = source.blueprint(name).await? {
                let bp = Arc::new(bp);
                self.sourced.write().insert(name.to_string(), bp.clone());
                return Ok(Some(bp));
            }
        }
        Ok(None)
    }

    /// The job's document, blueprint and the lane of `task_id` when the task belongs to
    /// the job's current state; `None` for a task of an earlier state.
    async fn task_context(
        &self,
        job: &StoredJob,
        task_id: &str,
    ) -> Result<Option<(JobDoc, Arc<Blueprint>, Lane)>, EngineError> {
        let doc = parse_doc(job)?;
        let bp = self.blueprint_of(&doc).await?;
        let lane = match bp.state(&doc.state) {
            Some(state) => Lane::of(&doc, &state.kind, task_id),
            None => None,
        };
        Ok(lane.map(|lane| (doc, bp, lane)))
    }

    /// Like [`Engine::job_for_client`], but a job that just ended here is served from
    /// memory (its end woke the caller).
    pub async fn ended_job_for_client(
        &self,
        client: &str,
        job_id: &str,
    ) -> Result<(StoredJob, JobDoc), EngineError> {
        match self.live.snapshots.get_ended(job_id) {
            Some(job) => owned_by(job, client),
            None => self.job_for_client(client, job_id).await,
        }
    }

    /// A job with its document, whoever owns it (not found: an error).
    pub(crate) async fn job_with_doc(
        &self,
        job_id: &str,
    ) -> Result<(StoredJob, JobDoc), EngineError> {
        let job = self
            .store
            .get_job(job_id)
            .await?
            .ok_or_else(|| EngineError::NotFound("Job not found".into()))?;
        let doc = parse_doc(&job)?;
        Ok((job, doc))
    }

    /// A job with its document, if it exists (whoever owns it).
    pub async fn job(&self, job_id: &str) -> Result<Option<(StoredJob, JobDoc)>, EngineError> {
        match self.store.get_job(job_id).await? {
            Some(job) => {
                let doc = parse_doc(&job)?;
                Ok(Some((job, doc)))
            }
            None => Ok(None),
        }
    }

    /// A job's history entries (JSON), oldest first.
    pub async fn history(&self, job_id: &str) -> Result<Vec<String>, EngineError> {
        Ok(self.store.history(job_id).await?)
    }

    /// The end-of-job hook of a job that ended (a [`baton_store::TimerKind::JobEnded`]
    /// timer).
    async fn hook_job_ended(self: &Arc<Self>, job_id: &str) -> Result<(), EngineError> {
        let Some((job, doc)) = self.job(job_id).await? else {
            return Ok(());
        };
        let Some(name) = doc.hook.as_deref() else {
            return Ok(());
        };
        match self.hooks.get(name) {
            Some(hook) => hook.job_ended(self, &job, &doc).await,
            None => {
                tracing::warn!(
                    job_id,
                    hook = name,
                    "job ended with a hook nobody registered"
                );
                Ok(())
            }
        }
    }

    /// A job with its document, checked to belong to `client`.
    pub async fn job_for_client(
        &self,
        client: &str,
        job_id: &str,
    ) -> Result<(StoredJob, JobDoc), EngineError> {
        let job = self
            .store
            .get_job(job_id)
            .await?
            .ok_or_else(|| EngineError::NotFound("Job not found".into()))?;
        owned_by(job, client)
    }

    /// Applies a worker's result; stale or misdirected results change nothing.
    pub async fn submit_result(
        &self,
        worker_id: &str,
        mut result: TaskResult,
    ) -> Result<ResultAck, EngineError> {
        // The job as this orchestrator's claim left it, if it handed the task out.
        let mut cached = self
            .live
            .snapshots
            .take_claimed(&result.task_id)
            .filter(|j| j.id == result.job_id);
        // A hooked job's `before_result`, called once (the loop may read the job again).
        let mut hooked = false;
        let mut after_commit = None;
        until_committed!(
            {
                let job = match cached.take() {
                    Some(job) => job,
                    None => match self.store.get_job(&result.job_id).await? {
                        Some(job) => job,
                        None => return Ok(Round::Done(ignored(ignored_reasons::JOB_NOT_FOUND))),
                    },
                };
                if job_status::is_terminal(&job.status) {
                    let reason = if job.status == job_status::CANCELLED {
                        ignored_reasons::JOB_CANCELLED
                    } else {
                        ignored_reasons::JOB_ALREADY_TERMINATED
                    };
                    return self
                        .ignore_result(worker_id, &result.task_id, reason)
                        .await
                        .map(Round::Done);
                }
                let Some(slot) = leased_to(&job, &result.task_id, worker_id).cloned() else {
                    let reason = match job.tasks.get(&result.task_id) {
                        Some(TaskSlot::Leased { .. }) => ignored_reasons::WORKER_MISMATCH,
                        _ => ignored_reasons::STALE_TASK,
                    };
                    return self
                        .ignore_result(worker_id, &result.task_id, reason)
                        .await
                        .map(Round::Done);
                };
                let Some((doc, bp, lane)) = self.task_context(&job, &result.task_id).await? else {
                    return self
                        .ignore_result(worker_id, &result.task_id, ignored_reasons::STALE_TASK)
                        .await
                        .map(Round::Done);
                };
                if !hooked {
                    hooked = true;
                    if let Some(hook) = doc.hook.as_deref().and_then(|h| self.hooks.get(h)) {
                        let claimed_ms = match &slot {
                            TaskSlot::Leased { claimed_ms, .. } => Some(*claimed_ms),
                            _ => None,
                        };
                        let task_id = result.task_id.clone();
                        let attempt = hooks::Attempt {
                            job: &job,
                            doc: &doc,
                            task_id: &task_id,
                            worker_id,
                            claimed_ms,
                        };
                        after_commit = hook.before_result(self, attempt, &mut result).await?;
                    }
                }
                let mut tx = Tx::on(&self.cfg, &bp, &job, doc);
                tx.remove_task(&result.task_id, &slot, false);
                let status = result.status().to_string();
                let error = result.error.as_ref().map(|e| json!(e));
                let duration_ms = match &slot {
                    TaskSlot::Leased { claimed_ms, .. } => tx.now - claimed_ms,
                    _ => 0,
                };
                tx.history(
                    "task_finished",
                    json!({"task_id": result.task_id, "worker_id": worker_id, "result_status": status, "duration_ms": duration_ms, "error": error}),
                );
                tx.task_outcome(lane, &status, result.data.as_ref(), error, worker_id);
                let transition = tx.transition.clone();
                let new_status = tx.commit.status.clone();
                let blueprint = bp.name.clone();
                if self.apply(&job, tx).await? {
                    self.metrics.results.with_label_values(&[&status]).inc();
                    if let Some(after) = after_commit.take() {
                        after();
                    }
                    if job_status::is_terminal(&new_status) {
                        self.metrics
                            .jobs_ended
                            .with_label_values(&[&blueprint, &new_status])
                            .inc();
                    }
                    return Ok(Round::Done(ResultAck {
                        status: "accepted".into(),
                        reason: None,
                        transition,
                    }));
                }
                Ok(Round::Lost)
            },
            too_fast("retry the result")
        )
    }

    /// Commits, tagged with this instance, and wakes local pollers for what it queued
    /// (other orchestrators are woken by the store's notice).
    async fn commit(&self, commit: &mut baton_store::Commit) -> Result<CommitOutcome, EngineError> {
        commit.origin.clone_from(&self.live.instance_id);
        let outcome = self.store.commit(commit).await?;
        if let CommitOutcome::Committed { .. } = outcome {
            self.committed(commit);
        }
        Ok(outcome)
    }

    /// After a commit applied: wake the long-polls of the skills it queued and run its
    /// timers that are due now.
    fn committed(&self, commit: &baton_store::Commit) {
        for e in &commit.enqueue {
            self.live.waiters.wake_one(&e.skill);
        }
        let now = now_ms();
        for (member, due) in &commit.timers_add {
            if *due <= now
                && baton_store::Timer::parse(member).is_some_and(|t| t.kind.fires_at_once())
            {
                // A closed channel means the reaper stopped (shutdown): the timer
                // stays in the store for whichever orchestrator runs next.
                let _ = self.kick.send(member.clone());
            }
        }
    }

    /// A job ended (here, or anywhere by notice): wake its waiters.
    pub fn job_done(&self, job_id: &str) {
        self.live.job_done(job_id);
    }

    /// Notices may have been missed: waiters re-read, nothing is assumed live.
    pub fn resync(&self) {
        self.live.resync();
    }

    /// Commits `tx` against `before`; false on a conflict (the caller reads again). A job
    /// that ended is remembered and its local waiters woken at once.
    pub(crate) async fn apply(&self, before: &StoredJob, tx: Tx<'_>) -> Result<bool, EngineError> {
        let mut commit = tx.into_commit();
        match self.commit(&mut commit).await? {
            CommitOutcome::Committed { version } => {
                if job_status::is_terminal(&commit.status) {
                    self.live.snapshots.ended(before.after(&commit, version));
                    self.job_done(&commit.job_id);
                }
                Ok(true)
            }
            CommitOutcome::Conflict => Ok(false),
        }
    }

    /// Answers a result that changes nothing. The worker may have been told to stop this
    /// task (cancel, lost lease, result timeout): it has stopped, so forget that request.
    async fn ignore_result(
        &self,
        worker_id: &str,
        task_id: &str,
        reason: &str,
    ) -> Result<ResultAck, EngineError> {
        self.store.ack_cancel(worker_id, task_id).await?;
        Ok(ignored(reason))
    }

    /// Cancels a job of `client` in any non-terminal status.
    pub async fn cancel_job(
        &self,
        client: &str,
        job_id: &str,
    ) -> Result<CancelDelivery, EngineError> {
        self.cancel(Some(client), job_id).await
    }

    /// Cancels a job, checked to belong to `client` when one is given (a parent cancelling
    /// its child is not a client). Running tasks' workers are told to stop, a child job is
    /// cancelled in turn, and an approval can no longer be given.
    pub(crate) async fn cancel(
        &self,
        client: Option<&str>,
        job_id: &str,
    ) -> Result<CancelDelivery, EngineError> {
        until_committed!(
            {
                let (job, doc) = match client {
                    Some(client) => self.job_for_client(client, job_id).await?,
                    None => self.job_with_doc(job_id).await?,
                };
                if job_status::is_terminal(&job.status) {
                    return Err(EngineError::Conflict(format!(
                        "job is already {}",
                        job.status
                    )));
                }
                let bp = self.blueprint_of(&doc).await?;
                let mut tx = Tx::on(&self.cfg, &bp, &job, doc);
                let workers = tx.remove_all_tasks();
                tx.cancel_waits();
                let by = client.map_or_else(
                    || json!({"parent_job_id": tx.doc.parent}),
                    |c| json!({"client": c}),
                );
                tx.history("job_cancel_requested", by);
                tx.finish(job_status::CANCELLED, None, None);
                let blueprint = bp.name.clone();
                if self.apply(&job, tx).await? {
                    self.metrics
                        .jobs_ended
                        .with_label_values(&[&blueprint, job_status::CANCELLED])
                        .inc();
                    for w in workers {
                        if self
                            .store
                            .get_worker(&w)
                            .await?
                            .is_some_and(|r| r.websocket)
                        {
                            return Ok(Round::Done(CancelDelivery::Sent));
                        }
                    }
                    return Ok(Round::Done(CancelDelivery::Accepted));
                }
                Ok(Round::Lost)
            },
            too_fast("retry the cancel")
        )
    }

    /// Records a worker's progress event on the job.
    pub async fn record_progress(
        &self,
        job_id: &str,
        task_id: &str,
        progress: Option<f64>,
        message: Option<&str>,
    ) -> Result<bool, EngineError> {
        let body = json!({"progress": progress, "message": message}).to_string();
        Ok(self.store.set_progress(job_id, task_id, &body).await?)
    }
}
