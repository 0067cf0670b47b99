//! Transitions: pure functions from (blueprint, job document, event) to one [`Commit`].
//!
//! A [`Tx`] carries the document being changed, the job's task slots as read, and the
//! commit being built. Entering a state, dispatching a task, handling an outcome and
//! finishing a job each add to it; the caller then commits it (compare-and-set on the job
//! version) and, on a conflict, re-reads the job and builds a new one. Nothing here does
//! I/O. Task handling per lane is in [`super::tasks`], parallel states in
//! [`super::parallel`], approvals and sub-jobs in [`super::waits`].

use super::job::JobDoc;
use crate::config::EngineConfig;
use baton_blueprint::{template, Blueprint, EndStatus, StateKind};
use baton_protocol::{error_codes, job_status};
use baton_store::{CancelNotice, Commit, Expect, StoredJob, TaskSlot, TimerKind};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

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
        error_codes::INVALID_INPUT
        | error_codes::INTEGRITY_MISMATCH
        | error_codes::BUDGET_EXCEEDED => FailureClass::Fail,
        error_codes::PERMANENT
        | error_codes::SECURITY
        | error_codes::DEPENDENCY_MISSING
        | error_codes::DEPENDENCY
        | error_codes::CONTRACT_VIOLATION => FailureClass::Quarantine,
        _ => FailureClass::Retry,
    }
}

/// The job status for an error nobody handled: bad input fails the job, anything else
/// (exhausted retries, a broken worker or contract) quarantines it for a person to look at.
pub fn unhandled_status(error: &Value) -> &'static str {
    let code = error.get("code").and_then(Value::as_str).unwrap_or("");
    if code == "DISPATCH_TIMEOUT" {
        return job_status::FAILED;
    }
    match classify(code) {
        FailureClass::Fail => job_status::FAILED,
        FailureClass::Retry | FailureClass::Quarantine => job_status::QUARANTINED,
    }
}

/// Slots of a job not read from the store (a job being created).
static NO_SLOTS: BTreeMap<String, TaskSlot> = BTreeMap::new();

pub struct Tx<'a> {
    pub cfg: &'a EngineConfig,
    pub bp: &'a Blueprint,
    pub job_id: String,
    pub doc: JobDoc,
    /// The job's task slots as read (the commit's changes are not applied to them).
    pub slots: &'a BTreeMap<String, TaskSlot>,
    pub commit: Commit,
    pub now: i64,
    /// The state the job moved to, for the result answer.
    pub transition: Option<String>,
}

impl<'a> Tx<'a> {
    pub fn new(
        cfg: &'a EngineConfig,
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
            slots: &NO_SLOTS,
            commit: Commit::new(job_id, expect, status, String::new()),
            now,
            transition: None,
        }
    }

    /// A change of the stored `job` (compare-and-set on its version), now.
    pub fn on(cfg: &'a EngineConfig, bp: &'a Blueprint, job: &'a StoredJob, doc: JobDoc) -> Tx<'a> {
        let mut tx = Tx::new(
            cfg,
            bp,
            &job.id,
            Expect::Version(job.version),
            &job.status,
            doc,
            baton_protocol::clock::now_ms(),
        );
        tx.slots = &job.tasks;
        tx
    }

    /// The commit, with the document serialized.
    pub fn into_commit(mut self) -> Commit {
        self.doc.updated_ms = self.now;
        // A paused job says so whatever its state would make of it, until it ends.
        if self.doc.paused_ms.is_some() && !job_status::is_terminal(&self.commit.status) {
            job_status::PAUSED.clone_into(&mut self.commit.status);
        }
        self.commit.doc = serde_json::to_string(&self.doc).unwrap_or_else(|_| "{}".into());
        self.commit.owner.clone_from(&self.doc.client);
        self.commit.blueprint.clone_from(&self.doc.blueprint);
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

    /// Adds a timer, due at `due_ms`.
    pub fn timer(&mut self, kind: TimerKind, rest: &str, due_ms: i64) {
        let member = kind.member(&self.job_id, rest);
        self.commit.timers_add.push((member, due_ms));
    }

    /// Moves the job to `state` and runs its entry action.
    pub fn enter(&mut self, state: &str) {
        if !self.doc.state.is_empty() {
            let duration_ms = self.now - self.doc.entered_ms;
            self.history("state_finished", json!({"duration_ms": duration_ms}));
        }
        let previous = std::mem::replace(&mut self.doc.state, state.to_string());
        self.transition = Some(state.to_string());
        self.doc.step += 1;
        self.doc.entered_ms = self.now;
        self.history(
            "state_started",
            json!({"previous_state": previous, "next_state": state}),
        );
        if self.doc.step > self.bp.max_transitions {
            let message = format!(
                "job entered more than {} states; the blueprint cycles",
                self.bp.max_transitions
            );
            self.finish(
                job_status::FAILED,
                None,
                Some(json!({"code": "LOOP_GUARD", "message": message})),
            );
            return;
        }
        let bp = self.bp;
        let Some(def) = bp.state(state) else {
            let message = format!("blueprint `{}` has no state `{state}`", bp.name);
            self.finish(
                job_status::FAILED,
                None,
                Some(json!({"code": "BLUEPRINT_ERROR", "message": message})),
            );
            return;
        };
        match &def.kind {
            StateKind::Dispatch(_) => {
                self.doc.run = Default::default();
                self.dispatch(super::tasks::Lane::Main, None);
            }
            StateKind::Approval(a) => self.enter_approval(a),
            StateKind::Branch(b) => {
                let ctx = self.doc.context(&self.job_id);
                let (case, next) = b
                    .cases
                    .iter()
                    .enumerate()
                    .find(|(_, (cond, _))| cond.eval(&ctx))
                    .map(|(i, (_, next))| (Some(i + 1), next.clone()))
                    .unwrap_or((None, b.default.clone()));
                let outcome = json!({"status": "taken", "data": {"case": case, "next": next}});
                self.doc.states.insert(state.to_string(), outcome);
                self.history("branch_taken", json!({"case": case, "next": next}));
                self.enter(&next);
            }
            StateKind::Parallel(p) => self.enter_parallel(p),
            StateKind::SubJob(s) => self.enter_sub_job(s),
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
                    .push(TimerKind::DispatchTimeout.member(&self.job_id, task_id));
            }
            TaskSlot::Delayed { .. } => {
                self.commit
                    .timers_del
                    .push(TimerKind::DelayedEnqueue.member(&self.job_id, task_id));
            }
            TaskSlot::Leased { worker, .. } => {
                self.commit
                    .release
                    .push((task_id.to_string(), worker.clone()));
                self.commit
                    .timers_del
                    .push(TimerKind::ResultTimeout.member(&self.job_id, task_id));
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

    /// Removes every task the job had when read (and not yet removed by this change);
    /// running ones' workers are told to stop. Returns the workers told.
    pub fn remove_all_tasks(&mut self) -> Vec<String> {
        let slots = self.slots;
        let mut told = Vec::new();
        for (task_id, slot) in slots {
            if self.commit.del_slots.contains(task_id) {
                continue;
            }
            if let TaskSlot::Leased { worker, .. } = slot {
                told.push(worker.clone());
            }
            self.remove_task(task_id, slot, true);
        }
        told
    }

    /// Records an outcome in the context under the current state's name.
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
            json!({"status": status, "data": data, "error": error, "worker_id": worker_id, "attempt": self.doc.run.attempt}),
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

    /// The current state failed with `error`: follow its `failure` transition, else end the
    /// job as `status`.
    pub fn fail_state(&mut self, error: Value, status: &str) {
        self.doc.error = Some(error.clone());
        self.doc.failed_state = Some(self.doc.state.clone());
        if !self.follow("failure") {
            self.finish(status, None, Some(error));
        }
    }

    /// Ends the job. Finished, failed and quarantined jobs with a webhook get a delivery
    /// timer in the same commit, so the notification cannot be lost; a sub-job's end
    /// schedules its parent's wake-up the same way.
    pub fn finish(&mut self, status: &str, result: Option<Value>, error: Option<Value>) {
        self.commit.status = status.to_string();
        self.doc.result = result;
        self.doc.error = error;
        self.doc.finished_ms = Some(self.now);
        self.doc.approval = None;
        self.doc.parallel = None;
        self.doc.paused_ms = None;
        self.commit.expire_after = Some(self.cfg.job_retention);
        let event = match status {
            job_status::FINISHED => "job_finished",
            job_status::FAILED => "job_failed",
            job_status::QUARANTINED => "job_quarantined",
            _ => "job_cancelled",
        };
        self.history(event, json!({"status": status, "error": self.doc.error}));
        if self.doc.webhook_url.is_some() && event != "job_cancelled" {
            self.timer(TimerKind::Webhook, "1", self.now);
        }
        if self.doc.hook.is_some() {
            // The face that created the job hears of its end (`p|<job>|1`, see `hooks`).
            self.timer(TimerKind::JobEnded, "1", self.now);
        }
        if let Some(parent) = self.doc.parent.clone() {
            // `c|<parent>|<child>`: the parent is woken by this job's end.
            let member = TimerKind::ChildEnded.member(&parent, &self.job_id);
            self.commit.timers_add.push((member, self.now));
        }
    }
}

/// Delay before retry `n` (1-based): the configured backoff doubling, capped.
pub fn backoff(cfg: &EngineConfig, n: u32) -> Duration {
    let factor = 2u32.saturating_pow(n.saturating_sub(1).min(20));
    cfg.retry_backoff
        .saturating_mul(factor)
        .min(cfg.retry_backoff_max)
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
        assert_eq!(classify("BUDGET_EXCEEDED_ERROR"), FailureClass::Fail);
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let cfg = EngineConfig {
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_millis(350),
            ..EngineConfig::default()
        };
        assert_eq!(backoff(&cfg, 1), Duration::from_millis(100));
        assert_eq!(backoff(&cfg, 2), Duration::from_millis(200));
        assert_eq!(backoff(&cfg, 3), Duration::from_millis(350));
        assert_eq!(backoff(&cfg, 40), Duration::from_millis(350));
    }
}
