//! Transitions: pure functions from (blueprint, job document, event) to one [`Commit`].
//!
//! A [`Tx`] carries the document being changed and the commit being built. Entering a
//! state, dispatching a task, handling an outcome and finishing a job each add to it;
//! the caller then commits it (compare-and-set on the job version) and, on a conflict,
//! re-reads the job and builds a new one. Nothing here does I/O.

use super::job::JobDoc;
use crate::blueprint::{template, Blueprint, DispatchState, EndStatus, StateKind};
use crate::config::Config;
use crate::store::{queue_member, CancelNotice, Commit, Enqueue, Expect, TaskBlob, TaskSlot};
use baton_protocol::{error_codes, job_status, TaskPayload};
use serde_json::{json, Value};
use std::time::Duration;

/// Upper bound on states entered by one job: a blueprint that cycles fails instead of
/// running forever.
pub const MAX_TRANSITIONS: u32 = 100;

/// How a failed result is handled, by error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// Worth another attempt (with backoff) until the retry limit.
    Retry,
    /// The input is bad: the job fails.
    Fail,
    /// Something is wrong beyond this job (worker, contract, security): quarantine.
    Quarantine,
}

pub fn classify(code: &str) -> FailureClass {
    match code {
        error_codes::INVALID_INPUT | error_codes::INTEGRITY_MISMATCH => FailureClass::Fail,
        error_codes::PERMANENT
        | error_codes::SECURITY
        | error_codes::DEPENDENCY_MISSING
        | error_codes::DEPENDENCY
        | error_codes::CONTRACT_VIOLATION => FailureClass::Quarantine,
        _ => FailureClass::Retry,
    }
}

pub struct Tx<'a> {
    pub cfg: &'a Config,
    pub bp: &'a Blueprint,
    pub job_id: String,
    pub doc: JobDoc,
    pub commit: Commit,
    pub now: i64,
    /// The state the job moved to, for the result answer.
    pub transition: Option<String>,
}

impl<'a> Tx<'a> {
    pub fn new(
        cfg: &'a Config,
        bp: &'a Blueprint,
        job_id: &str,
        expect: Expect,
        status: &str,
        doc: JobDoc,
        now: i64,
    ) -> Tx<'a> {
        Tx {
            cfg,
            bp,
            job_id: job_id.to_string(),
            doc,
            commit: Commit::new(job_id, expect, status, String::new()),
            now,
            transition: None,
        }
    }

    /// A change of the stored `job` (compare-and-set on its version), now.
    pub fn on(
        cfg: &'a Config,
        bp: &'a Blueprint,
        job: &crate::store::StoredJob,
        doc: JobDoc,
    ) -> Tx<'a> {
        Tx::new(
            cfg,
            bp,
            &job.id,
            Expect::Version(job.version),
            &job.status,
            doc,
            crate::clock::now_ms(),
        )
    }

    /// The commit, with the document serialized.
    pub fn into_commit(mut self) -> Commit {
        self.doc.updated_ms = self.now;
        self.commit.doc = serde_json::to_string(&self.doc).unwrap_or_else(|_| "{}".into());
        self.commit.owner.clone_from(&self.doc.client);
        self.commit
    }

    pub fn history(&mut self, event_type: &str, fields: Value) {
        let mut entry = json!({"event_type": event_type, "timestamp_ms": self.now});
        if !self.doc.state.is_empty() {
            entry["state"] = json!(self.doc.state);
        }
        if let (Value::Object(e), Value::Object(f)) = (&mut entry, fields) {
            e.extend(f);
        }
        self.commit.history.push(entry.to_string());
    }

    /// Moves the job to `state` and runs its entry action.
    pub fn enter(&mut self, state: &str) {
        let previous = std::mem::replace(&mut self.doc.state, state.to_string());
        self.transition = Some(state.to_string());
        self.doc.step += 1;
        self.history(
            "state_started",
            json!({"previous_state": previous, "next_state": state}),
        );
        if self.doc.step > MAX_TRANSITIONS {
            self.finish(
                job_status::FAILED,
                None,
                Some(json!({"code": "LOOP_GUARD", "message": format!("job entered more than {MAX_TRANSITIONS} states; the blueprint cycles")})),
            );
            return;
        }
        let Some(def) = self.bp.state(state) else {
            let message = format!("blueprint `{}` has no state `{state}`", self.bp.name);
            self.finish(
                job_status::FAILED,
                None,
                Some(json!({"code": "BLUEPRINT_ERROR", "message": message})),
            );
            return;
        };
        match &def.kind {
            StateKind::Dispatch(ds) => {
                self.doc.attempt = 0;
                self.doc.failures = 0;
                self.doc.releases = 0;
                let ds = ds.clone();
                self.dispatch(&ds, None);
            }
            StateKind::End(end) => {
                let result = match &end.result {
                    Some(t) => template::render(t, &self.doc.context(&self.job_id)),
                    None => self.doc.last_data(),
                };
                // A failed end keeps the error that led there (or says where it ended).
                let error = match end.status {
                    EndStatus::Finished => None,
                    EndStatus::Failed => Some(self.doc.error.clone().unwrap_or_else(
                        || json!({"code": "FAILED", "message": format!("job ended in state `{state}`")}),
                    )),
                };
                self.finish(end.status.as_str(), Some(result), error);
            }
        }
    }

    /// Creates the next task of a dispatch state: queued now, or after `delay` (a retry).
    pub fn dispatch(&mut self, ds: &DispatchState, delay: Option<Duration>) {
        self.doc.attempt += 1;
        let task_id = uuid::Uuid::new_v4().to_string();
        let params = if template::has_placeholders(&ds.params) {
            template::render(&ds.params, &self.doc.context(&self.job_id))
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
            attempt: Some(self.doc.attempt),
        };
        let blob = TaskBlob {
            job_id: self.job_id.clone(),
            result_timeout_ms: result_timeout.as_millis() as i64,
            enqueued_ms: self.now,
            payload: serde_json::to_string(&payload).unwrap_or_else(|_| "{}".into()),
        };
        self.commit.store_tasks.push((task_id.clone(), blob));
        match delay {
            None => self.enqueue(&task_id, ds),
            Some(delay) => {
                let due = self.now + delay.as_millis() as i64;
                self.commit.set_slots.push((
                    task_id.clone(),
                    TaskSlot::Delayed {
                        skill: ds.task.clone(),
                    },
                ));
                self.commit
                    .timers_add
                    .push((timer_member("e", &self.job_id, &task_id), due));
                self.commit.status = job_status::AWAITING_RETRY.into();
                self.history("retry_scheduled", json!({"task_id": task_id, "attempt": self.doc.attempt, "delay_ms": delay.as_millis() as u64}));
            }
        }
    }

    /// Puts a stored task into its queue (first dispatch, or a delayed retry coming due).
    pub fn enqueue(&mut self, task_id: &str, ds: &DispatchState) {
        let member = queue_member(crate::clock::now_us(), task_id);
        let dispatch_timeout = self
            .doc
            .dispatch_timeout_ms
            .map(Duration::from_millis)
            .or(ds.dispatch_timeout)
            .unwrap_or(self.cfg.dispatch_timeout);
        self.commit.set_slots.push((
            task_id.to_string(),
            TaskSlot::Queued {
                skill: ds.task.clone(),
                member: member.clone(),
            },
        ));
        self.commit.enqueue.push(Enqueue {
            skill: ds.task.clone(),
            member,
            priority: ds.priority,
        });
        self.commit.timers_add.push((
            timer_member("d", &self.job_id, task_id),
            self.now + dispatch_timeout.as_millis() as i64,
        ));
        self.commit.status = job_status::PENDING.into();
        self.history(
            "task_queued",
            json!({"task_id": task_id, "task_type": ds.task, "attempt": self.doc.attempt}),
        );
    }

    /// Takes a task out of wherever it is; a leased task's worker is told to stop when
    /// `tell_worker`.
    pub fn remove_task(&mut self, task_id: &str, slot: &TaskSlot, tell_worker: bool) {
        self.commit.del_slots.push(task_id.to_string());
        self.commit.drop_tasks.push(task_id.to_string());
        match slot {
            TaskSlot::Queued { skill, member } => {
                self.commit.dequeue.push((skill.clone(), member.clone()));
                self.commit
                    .timers_del
                    .push(timer_member("d", &self.job_id, task_id));
            }
            TaskSlot::Delayed { .. } => {
                self.commit
                    .timers_del
                    .push(timer_member("e", &self.job_id, task_id));
            }
            TaskSlot::Leased { worker, .. } => {
                self.commit
                    .release
                    .push((task_id.to_string(), worker.clone()));
                self.commit
                    .timers_del
                    .push(timer_member("r", &self.job_id, task_id));
                if tell_worker {
                    self.commit.cancel.push(CancelNotice {
                        worker_id: worker.clone(),
                        task_id: task_id.to_string(),
                        job_id: self.job_id.clone(),
                    });
                }
            }
        }
    }

    /// Records a task outcome in the context under the state's name.
    pub fn record_outcome(
        &mut self,
        status: &str,
        data: Option<&Value>,
        error: Option<&Value>,
        worker_id: Option<&str>,
    ) {
        let state = self.doc.state.clone();
        self.doc.states.insert(
            state.clone(),
            json!({"status": status, "data": data, "error": error, "worker_id": worker_id, "attempt": self.doc.attempt}),
        );
        self.doc.last_state = Some(state);
    }

    /// Follows `transitions[key]` of the current state; false if there is none.
    pub fn follow(&mut self, key: &str) -> bool {
        let next = self
            .bp
            .state(&self.doc.state)
            .and_then(|s| s.transitions.get(key))
            .cloned();
        match next {
            Some(next) => {
                self.enter(&next);
                true
            }
            None => false,
        }
    }

    /// A failure of the current dispatch state's task (already removed from the job):
    /// retry with backoff while the error is retryable and attempts remain, else follow the
    /// state's `failure` transition, else fail or quarantine the job.
    pub fn fail_dispatch(&mut self, ds: &DispatchState, error: Value) {
        let code = error
            .get("code")
            .and_then(Value::as_str)
            .unwrap_or(error_codes::TRANSIENT)
            .to_string();
        let class = classify(&code);
        let max_retries = ds.max_retries.unwrap_or(self.cfg.max_retries);
        if class == FailureClass::Retry && self.doc.failures < max_retries {
            self.doc.failures += 1;
            let delay = backoff(self.cfg, self.doc.failures);
            self.dispatch(ds, Some(delay));
            return;
        }
        self.doc.error = Some(error.clone());
        if self.follow("failure") {
            return;
        }
        let status = match class {
            FailureClass::Fail => job_status::FAILED,
            FailureClass::Retry | FailureClass::Quarantine => job_status::QUARANTINED,
        };
        self.finish(status, None, Some(error));
    }

    /// Ends the job. Finished, failed and quarantined jobs with a webhook get a delivery
    /// timer in the same commit, so the notification cannot be lost.
    pub fn finish(&mut self, status: &str, result: Option<Value>, error: Option<Value>) {
        self.commit.status = status.to_string();
        self.doc.result = result;
        self.doc.error = error;
        self.doc.finished_ms = Some(self.now);
        self.commit.expire_after = Some(self.cfg.job_retention);
        let event = match status {
            job_status::FINISHED => "job_finished",
            job_status::FAILED => "job_failed",
            job_status::QUARANTINED => "job_quarantined",
            _ => "job_cancelled",
        };
        self.history(event, json!({"status": status, "error": self.doc.error}));
        if self.doc.webhook_url.is_some() && event != "job_cancelled" {
            self.commit
                .timers_add
                .push((timer_member("w", &self.job_id, "1"), self.now));
        }
    }
}

/// Delay before retry `n` (1-based): the configured backoff doubling, capped.
pub fn backoff(cfg: &Config, n: u32) -> Duration {
    let factor = 2u32.saturating_pow(n.saturating_sub(1).min(20));
    cfg.retry_backoff
        .saturating_mul(factor)
        .min(cfg.retry_backoff_max)
}

/// Timer member `kind|job_id|rest`.
pub fn timer_member(kind: &str, job_id: &str, rest: &str) -> String {
    format!("{kind}|{job_id}|{rest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_classified_like_the_reference_server() {
        assert_eq!(classify("TRANSIENT_ERROR"), FailureClass::Retry);
        assert_eq!(classify("SOMETHING_NEW"), FailureClass::Retry);
        assert_eq!(classify("PERMANENT_ERROR"), FailureClass::Quarantine);
        assert_eq!(
            classify("CONTRACT_VIOLATION_ERROR"),
            FailureClass::Quarantine
        );
        assert_eq!(classify("INVALID_INPUT_ERROR"), FailureClass::Fail);
        assert_eq!(classify("INTEGRITY_MISMATCH_ERROR"), FailureClass::Fail);
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let cfg = Config {
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_millis(350),
            ..Config::default()
        };
        assert_eq!(backoff(&cfg, 1), Duration::from_millis(100));
        assert_eq!(backoff(&cfg, 2), Duration::from_millis(200));
        assert_eq!(backoff(&cfg, 3), Duration::from_millis(350));
        assert_eq!(backoff(&cfg, 40), Duration::from_millis(350));
    }
}
