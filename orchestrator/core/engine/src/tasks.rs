//! Tasks of a job, by lane.
//!
//! A [`Lane`] says which task of the current state a task id belongs to: the one task of
//! a dispatch state ([`Lane::Main`], counters in `doc.run`) or one branch of a parallel
//! state ([`Lane::Branch`], counters in that branch). Dispatching, retrying, giving a
//! task back and handling its outcome work the same for both; only the end differs: the
//! main task moves the job on, a branch reports to its parallel state.

use super::flow::{backoff, classify, unhandled_status, FailureClass, Tx};
use super::job::Counters;
use baton_blueprint::{template, Branches, DispatchState, StateKind};
use baton_protocol::{
    error_codes, job_status, TaskPayload, TASK_STATUS_CANCELLED, TASK_STATUS_FAILURE,
};
use baton_store::TimerKind;
use baton_store::{queue_member, Enqueue, StoredJob, TaskBlob, TaskSlot};
use serde_json::{json, Value};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// The task of a dispatch state.
    Main,
    /// Branch `i` of a parallel state.
    Branch(usize),
}

impl Lane {
    /// The lane of `task_id` in the job's current state, if the task is current.
    pub fn of(tx_doc: &super::job::JobDoc, kind: &StateKind, task_id: &str) -> Option<Lane> {
        match kind {
            StateKind::Dispatch(_) => Some(Lane::Main),
            StateKind::Parallel(_) => tx_doc
                .parallel
                .as_ref()?
                .branches
                .iter()
                .position(|b| b.task_id.as_deref() == Some(task_id))
                .map(Lane::Branch),
            _ => None,
        }
    }
}

/// The leased slot of `task_id` if `worker_id` holds it.
pub fn leased_to<'j>(job: &'j StoredJob, task_id: &str, worker_id: &str) -> Option<&'j TaskSlot> {
    match job.tasks.get(task_id) {
        Some(slot @ TaskSlot::Leased { worker, .. }) if worker == worker_id => Some(slot),
        _ => None,
    }
}

impl Tx<'_> {
    /// The definition of the lane's task and, for a branch, the extra template context.
    fn spec(&self, lane: Lane) -> Option<(&DispatchState, Option<Value>)> {
        let kind = &self.bp.state(&self.doc.state)?.kind;
        match (kind, lane) {
            (StateKind::Dispatch(ds), Lane::Main) => Some((ds, None)),
            (StateKind::Parallel(ps), Lane::Branch(i)) => {
                let branch = self.doc.parallel.as_ref()?.branches.get(i)?;
                let ds = match &ps.branches {
                    Branches::Fixed(list) => &list.get(i)?.1,
                    Branches::Map { task, .. } => task,
                };
                let extra = json!({"item": branch.item, "branch": {"index": i, "key": branch.key}});
                Some((ds, Some(extra)))
            }
            _ => None,
        }
    }

    fn counters(&mut self, lane: Lane) -> &mut Counters {
        match lane {
            Lane::Branch(i) => {
                if let Some(b) = self
                    .doc
                    .parallel
                    .as_mut()
                    .and_then(|p| p.branches.get_mut(i))
                {
                    return &mut b.run;
                }
                &mut self.doc.run
            }
            Lane::Main => &mut self.doc.run,
        }
    }

    /// Creates the lane's next task: queued now, or after `delay` (a retry).
    pub fn dispatch(&mut self, lane: Lane, delay: Option<Duration>) {
        let Some((ds, extra)) = self.spec(lane) else {
            return;
        };
        let ds = ds.clone();
        let attempt = {
            let c = self.counters(lane);
            c.attempt += 1;
            c.attempt
        };
        let task_id = uuid::Uuid::new_v4().to_string();
        let params = if template::has_placeholders(&ds.params) {
            let mut ctx = self.doc.context(&self.job_id);
            if let (Value::Object(ctx), Some(Value::Object(extra))) = (&mut ctx, extra) {
                ctx.extend(extra);
            }
            template::render(&ds.params, &ctx)
        } else {
            ds.params.clone()
        };
        let result_timeout = self
            .doc
            .result_timeout_ms
            .map(Duration::from_millis)
            .or(ds.result_timeout)
            .unwrap_or(self.cfg.result_timeout);
        let payload = TaskPayload {
            job_id: self.job_id.clone(),
            task_id: task_id.clone(),
            task_type: ds.task.clone(),
            params,
            priority: ds.priority,
            step: self.doc.step,
            timestamp: self.now / 1000,
            tracing_context: Default::default(),
            metadata: self
                .doc
                .metadata
                .is_object()
                .then(|| self.doc.metadata.clone()),
            deadline: None,
            attempt: Some(attempt),
        };
        let blob = TaskBlob {
            job_id: self.job_id.clone(),
            result_timeout_ms: result_timeout.as_millis() as i64,
            enqueued_ms: self.now,
            payload: serde_json::to_string(&payload).unwrap_or_else(|_| "{}".into()),
        };
        self.commit.store_tasks.push((task_id.clone(), blob));
        if let Lane::Branch(i) = lane {
            if let Some(b) = self
                .doc
                .parallel
                .as_mut()
                .and_then(|p| p.branches.get_mut(i))
            {
                b.task_id = Some(task_id.clone());
            }
        }
        if self.doc.paused_ms.is_some() {
            // Held: stored, not queued; resuming queues it (see `control`).
            self.commit.set_slots.push((
                task_id.clone(),
                TaskSlot::Delayed {
                    skill: ds.task.clone(),
                },
            ));
            self.history(
                "task_held",
                json!({"task_id": task_id, "task_type": ds.task, "attempt": attempt}),
            );
            return;
        }
        match delay {
            None => self.enqueue(&task_id, lane),
            Some(delay) => {
                let due = self.now + delay.as_millis() as i64;
                self.commit.set_slots.push((
                    task_id.clone(),
                    TaskSlot::Delayed {
                        skill: ds.task.clone(),
                    },
                ));
                self.timer(TimerKind::DelayedEnqueue, &task_id, due);
                if lane == Lane::Main {
                    self.commit.status = job_status::AWAITING_RETRY.into();
                }
                self.history("retry_scheduled", json!({"task_id": task_id, "attempt": attempt, "delay_ms": delay.as_millis() as u64}));
            }
        }
    }

    /// Puts a stored task into its queue (first dispatch, or a delayed retry coming due).
    pub fn enqueue(&mut self, task_id: &str, lane: Lane) {
        let Some((ds, _)) = self.spec(lane) else {
            return;
        };
        let (skill, priority) = (ds.task.clone(), ds.priority);
        let dispatch_timeout = self
            .doc
            .dispatch_timeout_ms
            .map(Duration::from_millis)
            .or(ds.dispatch_timeout)
            .unwrap_or(self.cfg.dispatch_timeout);
        let member = queue_member(baton_protocol::clock::now_us(), task_id);
        self.commit.set_slots.push((
            task_id.to_string(),
            TaskSlot::Queued {
                skill: skill.clone(),
                member: member.clone(),
            },
        ));
        self.commit.enqueue.push(Enqueue {
            skill: skill.clone(),
            member,
            priority,
        });
        self.timer(
            TimerKind::DispatchTimeout,
            task_id,
            self.now + dispatch_timeout.as_millis() as i64,
        );
        if lane == Lane::Main {
            self.commit.status = job_status::PENDING.into();
        }
        let attempt = self.counters(lane).attempt;
        self.history(
            "task_queued",
            json!({"task_id": task_id, "task_type": skill, "attempt": attempt}),
        );
    }

    /// A worker's result for the lane's task (already removed from the job).
    pub fn task_outcome(
        &mut self,
        lane: Lane,
        status: &str,
        data: Option<&Value>,
        error: Option<Value>,
        worker_id: &str,
    ) {
        if lane == Lane::Main {
            self.record_outcome(status, data, error.as_ref(), Some(worker_id));
        }
        match status {
            TASK_STATUS_FAILURE => {
                let error = error.unwrap_or_else(|| json!({"code": error_codes::TRANSIENT, "message": "failure without an error"}));
                self.fail_task(lane, error, Some(worker_id));
            }
            TASK_STATUS_CANCELLED => {
                // Nobody cancelled the job (that case is answered before): the worker
                // gave the task back, e.g. while shutting down. Hand it to another.
                if lane != Lane::Main || !self.follow(TASK_STATUS_CANCELLED) {
                    self.release(lane, "released by worker");
                }
            }
            _ => match lane {
                Lane::Main => {
                    if !self.follow(status) {
                        let error = json!({"code": "UNHANDLED_STATUS", "message": format!("state `{}` has no transition for result status `{status}`", self.doc.state)});
                        self.finish(job_status::FAILED, None, Some(error));
                    }
                }
                // Any status but failure completes a branch; the aggregate keeps it.
                Lane::Branch(i) => {
                    self.branch_done(i, status, data.cloned(), None, Some(worker_id))
                }
            },
        }
    }

    /// A failure of the lane's task: retry with backoff while the error is retryable and
    /// attempts remain, else give up on it.
    pub fn fail_task(&mut self, lane: Lane, error: Value, worker_id: Option<&str>) {
        let Some((ds, _)) = self.spec(lane) else {
            return;
        };
        let max_retries = ds.max_retries.unwrap_or(self.cfg.max_retries);
        let code = error
            .get("code")
            .and_then(Value::as_str)
            .unwrap_or(error_codes::TRANSIENT);
        let retry = classify(code) == FailureClass::Retry;
        let failures = self.counters(lane).failures;
        if retry && failures < max_retries {
            self.counters(lane).failures += 1;
            let delay = backoff(self.cfg, failures + 1);
            self.dispatch(lane, Some(delay));
            return;
        }
        let status = unhandled_status(&error);
        self.give_up(lane, error, status, worker_id);
    }

    /// The lane's task failed for good: the state fails (main) or the branch does.
    pub fn give_up(&mut self, lane: Lane, error: Value, status: &str, worker_id: Option<&str>) {
        match lane {
            Lane::Main => self.fail_state(error, status),
            Lane::Branch(i) => {
                self.branch_done(i, TASK_STATUS_FAILURE, None, Some(error), worker_id)
            }
        }
    }

    /// Re-dispatches a task a worker gave back or lost; a task that keeps coming back is
    /// given up (quarantined) instead of circulating forever.
    pub fn release(&mut self, lane: Lane, why: &str) {
        let Some((ds, _)) = self.spec(lane) else {
            return;
        };
        let limit = ds.max_retries.unwrap_or(self.cfg.max_retries).max(3) * 3;
        let releases = {
            let c = self.counters(lane);
            c.releases += 1;
            c.releases
        };
        if releases > limit {
            let error =
                json!({"code": "WORKER_LOST", "message": format!("task {why} {releases} times")});
            self.give_up(lane, error, job_status::QUARANTINED, None);
        } else {
            self.history("task_released", json!({"reason": why}));
            self.dispatch(lane, None);
        }
    }

    /// The `d` timer of a lane's queued task: no worker took it in time.
    pub fn dispatch_timed_out(&mut self, lane: Lane, task_id: &str, slot: &TaskSlot) {
        self.remove_task(task_id, slot, false);
        let error = json!({"code": "DISPATCH_TIMEOUT", "message": format!("no worker with skill `{}` took the task in time", slot.skill())});
        self.history("dispatch_timed_out", json!({"task_id": task_id}));
        // Failed, not quarantined: nothing is broken, no worker for the skill showed up.
        self.give_up(lane, error, job_status::FAILED, None);
    }

    /// The `r` timer of a lane's leased task: its worker did not answer in time.
    pub fn result_timed_out(&mut self, lane: Lane, task_id: &str, slot: &TaskSlot) {
        self.remove_task(task_id, slot, true);
        let worker = match slot {
            TaskSlot::Leased { worker, .. } => worker.clone(),
            _ => String::new(),
        };
        let error =
            json!({"code": error_codes::TIMEOUT, "message": "no result within the result timeout"});
        if lane == Lane::Main {
            self.record_outcome("failure", None, Some(&error), Some(&worker));
        }
        self.history(
            "task_timed_out",
            json!({"task_id": task_id, "worker_id": worker}),
        );
        self.fail_task(lane, error, Some(&worker));
    }

    /// The `e` timer of a delayed retry: into the queue it goes.
    pub fn retry_due(&mut self, lane: Lane, task_id: &str) {
        self.commit
            .timers_del
            .push(TimerKind::DelayedEnqueue.member(&self.job_id, task_id));
        // A paused job keeps the retry held; resuming queues it.
        if self.doc.paused_ms.is_none() {
            self.enqueue(task_id, lane);
        }
    }
}
