//! The reaper: every orchestrator runs one; it fires due timers and takes back expired
//! leases. Items are claimed atomically (hidden from other orchestrators for a visibility
//! window), so each fires once whichever instance sees it first; an instance that dies
//! mid-way leaves them to reappear when the window ends.
//!
//! Leases a worker's registration took back (its previous process is gone) are
//! re-dispatched here too, by [`Engine::revoke_leases`], called by the orchestrator that
//! took the registration; the store hid them for [`LEASE_VISIBILITY`], so a reaper takes
//! them over only if that orchestrator fails to.

use super::flow::Tx;
use super::{Engine, EngineError};
use crate::retry::{until_committed, Round};
use baton_protocol::clock::now_ms;
use baton_protocol::job_status;
use baton_store::{TaskSlot, Timer, TimerKind};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long a claimed timer or lease stays hidden from other orchestrators.
const VISIBILITY: Duration = Duration::from_secs(30);
/// How long a lease taken back by a registration stays hidden from reapers.
pub const LEASE_VISIBILITY: Duration = VISIBILITY;
/// How often the store's housekeeping runs.
const PRUNE_EVERY: Duration = Duration::from_secs(30);
/// Items taken per tick.
const BATCH: usize = 256;

pub fn spawn_reaper(
    engine: Arc<Engine>,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(engine.cfg.reaper_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_prune = tokio::time::Instant::now();
        let mut kicked = engine.kicked.lock().take();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => {}
                Some(member) = async { match kicked.as_mut() { Some(rx) => rx.recv().await, None => None } } => {
                    let engine = engine.clone();
                    tokio::spawn(async move {
                        // Claimed first, like the reaper's pass does: a pass that runs at
                        // this moment must not fire it a second time.
                        let fired = match engine.store.claim_timer(&member, now_ms(), VISIBILITY).await {
                            Ok(true) => engine.fire_timer(&member).await,
                            Ok(false) => Ok(()),
                            Err(e) => Err(e.into()),
                        };
                        if let Err(e) = fired {
                            tracing::debug!(timer = %member, error = %e, "kicked timer failed; the reaper fires it later");
                        }
                    });
                    continue;
                }
            }
            if let Err(e) = engine.reap_once().await {
                tracing::warn!(error = %e, "reaper pass failed; retrying next tick");
            }
            if last_prune.elapsed() >= PRUNE_EVERY {
                last_prune = tokio::time::Instant::now();
                if let Err(e) = engine
                    .store
                    .prune(now_ms(), engine.cfg.heartbeat_timeout)
                    .await
                {
                    tracing::warn!(error = %e, "store housekeeping failed; retrying later");
                }
                match engine
                    .store
                    .prune_job_index(now_ms(), engine.cfg.job_retention)
                    .await
                {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(removed = n, "job index pruned"),
                    Err(e) => {
                        tracing::warn!(error = %e, "job index housekeeping failed; retrying later")
                    }
                }
            }
        }
    })
}

impl Engine {
    /// One pass: due timers, then expired leases. Public for tests.
    pub async fn reap_once(self: &Arc<Self>) -> Result<(), EngineError> {
        let now = now_ms();
        for member in self.store.claim_due_timers(now, BATCH, VISIBILITY).await? {
            if let Err(e) = self.fire_timer(&member).await {
                tracing::warn!(timer = %member, error = %e, "timer failed; it will fire again");
            }
        }
        for task_id in self
            .store
            .claim_expired_leases(now, BATCH, VISIBILITY)
            .await?
        {
            if let Err(e) = self.lease_expired(&task_id).await {
                tracing::warn!(task_id, error = %e, "lease expiry failed; it will be retried");
            }
        }
        Ok(())
    }

    async fn fire_timer(self: &Arc<Self>, member: &str) -> Result<(), EngineError> {
        let Some(Timer { kind, job_id, rest }) = Timer::parse(member) else {
            return Ok(self.store.replace_timer(member, None).await?);
        };
        match kind {
            TimerKind::Webhook | TimerKind::ApprovalWebhook => {
                let engine = self.clone();
                let (member, job_id, rest) =
                    (member.to_string(), job_id.to_string(), rest.to_string());
                // Deliveries run beside the reaper: a slow endpoint must not delay timers.
                tokio::spawn(async move { engine.deliver_webhook(&member, &job_id, &rest).await });
                return Ok(());
            }
            TimerKind::ApprovalTimeout => self.approval_timed_out(job_id, rest).await?,
            TimerKind::StartChild => self.start_child(job_id, rest).await?,
            TimerKind::ChildEnded => self.child_ended(job_id, rest).await?,
            TimerKind::CancelChild => self.cancel_child(job_id).await?,
            TimerKind::JobEnded => self.hook_job_ended(job_id).await?,
            // A task timer's commit drops the timer: no second round trip for that.
            TimerKind::DispatchTimeout | TimerKind::ResultTimeout | TimerKind::DelayedEnqueue => {
                if self.task_timer(member, kind, job_id, rest).await? {
                    return Ok(());
                }
            }
        }
        // Handled, or moot: this drops the timer (a no-op where a commit already did).
        Ok(self.store.replace_timer(member, None).await?)
    }

    /// Dispatch timeout (`d`), result timeout (`r`) or delayed retry (`e`) of a task;
    /// whether a commit applied it (and so dropped the timer).
    async fn task_timer(
        &self,
        member: &str,
        kind: TimerKind,
        job_id: &str,
        task_id: &str,
    ) -> Result<bool, EngineError> {
        until_committed!(
            {
                let Some(job) = self.store.get_job(job_id).await? else {
                    return Ok(Round::Done(false));
                };
                let slot = job.tasks.get(task_id).cloned();
                let relevant = matches!(
                    (kind, &slot),
                    (TimerKind::DispatchTimeout, Some(TaskSlot::Queued { .. }))
                        | (TimerKind::ResultTimeout, Some(TaskSlot::Leased { .. }))
                        | (TimerKind::DelayedEnqueue, Some(TaskSlot::Delayed { .. }))
                );
                if !relevant || job_status::is_terminal(&job.status) {
                    return Ok(Round::Done(false));
                }
                let Some(slot) = slot else {
                    return Ok(Round::Done(false));
                };
                let Some((doc, bp, lane)) = self.task_context(&job, task_id).await? else {
                    return Ok(Round::Done(false));
                };
                let mut tx = Tx::on(&self.cfg, &bp, &job, doc);
                match kind {
                    TimerKind::DispatchTimeout => tx.dispatch_timed_out(lane, task_id, &slot),
                    TimerKind::ResultTimeout => tx.result_timed_out(lane, task_id, &slot),
                    _ => tx.retry_due(lane, task_id),
                }
                let status = tx.commit.status.clone();
                if self.apply(&job, tx).await? {
                    self.count_end(&bp.name, &status);
                    tracing::debug!(timer = member, job_id, status, "timer fired");
                    return Ok(Round::Done(true));
                }
                Ok(Round::Lost)
            },
            Ok(false)
        )
    }

    /// A worker went silent: its task goes to another worker as a new attempt.
    async fn lease_expired(self: &Arc<Self>, task_id: &str) -> Result<(), EngineError> {
        self.take_back(task_id, None).await
    }

    /// `worker_id` registered again (a new process) and the store took back the leases
    /// its previous process held: their tasks go to a worker as new attempts now, not when
    /// the leases would have expired. A failure is logged: the lease's deadline (see
    /// [`LEASE_VISIBILITY`]) lets a reaper do it later.
    pub async fn revoke_leases(self: &Arc<Self>, worker_id: &str, task_ids: &[String]) {
        for task_id in task_ids {
            if let Err(e) = self.take_back(task_id, Some(worker_id)).await {
                tracing::warn!(task_id, worker_id, error = %e, "re-dispatching a revoked lease failed; the reaper will");
            }
        }
    }

    /// Ends the lease of `task_id` and re-dispatches its task: expired (`revoked_from`
    /// `None`), or taken back from a worker that registered again.
    async fn take_back(
        self: &Arc<Self>,
        task_id: &str,
        revoked_from: Option<&str>,
    ) -> Result<(), EngineError> {
        let Some(blob) = self.store.task_blob(task_id).await? else {
            return Ok(self.store.forget_lease(task_id).await?);
        };
        until_committed!(
            {
                let Some(job) = self.store.get_job(&blob.job_id).await? else {
                    return Ok(Round::Done(self.store.forget_lease(task_id).await?));
                };
                let Some(slot @ TaskSlot::Leased { .. }) = job.tasks.get(task_id).cloned() else {
                    return Ok(Round::Done(self.store.forget_lease(task_id).await?));
                };
                let worker = match &slot {
                    TaskSlot::Leased { worker, .. } => worker.clone(),
                    _ => String::new(),
                };
                if revoked_from.is_some_and(|w| w != worker) {
                    return Ok(Round::Done(())); // not that worker's task (never expected): leave it be
                }
                let Some((doc, bp, lane)) = self.task_context(&job, task_id).await? else {
                    return Ok(Round::Done(self.store.forget_lease(task_id).await?));
                };
                let mut tx = Tx::on(&self.cfg, &bp, &job, doc);
                // A silent worker may still run the task: tell it to stop. A revoked lease's
                // process is gone, and the new one never had the task.
                tx.remove_task(task_id, &slot, revoked_from.is_none());
                match revoked_from {
                    None => tx.history(
                        "lease_expired",
                        json!({"task_id": task_id, "worker_id": worker}),
                    ),
                    Some(_) => tx.history(
                        "lease_revoked",
                        json!({"task_id": task_id, "worker_id": worker, "reason": "worker_registered_again"}),
                    ),
                }
                tx.release(lane, "lost with its worker");
                if self.apply(&job, tx).await? {
                    if revoked_from.is_some() {
                        self.metrics.lease_revocations.inc();
                        tracing::info!(task_id, job_id = %job.id, worker_id = %worker, "worker registered again; its previous process's task re-dispatched");
                    } else {
                        self.metrics.lease_expiries.inc();
                        tracing::info!(task_id, job_id = %job.id, worker_id = %worker, "lease expired; task re-dispatched");
                    }
                    return Ok(Round::Done(()));
                }
                Ok(Round::Lost)
            },
            Ok(())
        )
    }
}
