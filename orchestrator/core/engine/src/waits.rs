//! States that wait for something other than a worker: a person (approval) or a child job
//! (sub-job). Entering them records what is awaited in the document and schedules timers
//! in the same commit; the timers carry the work that must not be lost:
//!
//! | timer | fires | does |
//! |---|---|---|
//! | `a\|job\|step` | at the approval deadline | follows `timeout` if still waiting |
//! | `h\|job\|step.n` | now, then with backoff | sends the `approval_requested` webhook |
//! | `s\|job\|child` | now | creates the child job (idempotent: fixed id) |
//! | `c\|parent\|child` | when the child ends | moves the parent on |
//! | `x\|child\|parent` | when the parent is cancelled | cancels the child |
//!
//! `s`, `c` and `x` are also fired at once by the orchestrator that commits them, so a
//! sub-job starts without waiting for a reaper tick; the reaper is the safety net.

use super::flow::Tx;
use super::job::{ApprovalWait, SubJobWait};
use baton_blueprint::{template, ApprovalState, SubJobState};
use baton_protocol::job_status;
use baton_store::TimerKind;
use serde_json::json;

/// Deepest nesting of sub-jobs (a blueprint that starts itself stops here).
pub const MAX_SUB_JOB_DEPTH: u32 = 8;

impl Tx<'_> {
    pub(super) fn enter_approval(&mut self, st: &ApprovalState) {
        let message = template::render(&st.message, &self.doc.context(&self.job_id));
        let deadline_ms = st.timeout.map(|t| self.now + t.as_millis() as i64);
        let step = self.doc.step.to_string();
        if let Some(deadline) = deadline_ms {
            self.timer(TimerKind::ApprovalTimeout, &step, deadline);
        }
        if self.doc.webhook_url.is_some() {
            self.timer(TimerKind::ApprovalWebhook, &format!("{step}.1"), self.now);
        }
        self.doc.approval = Some(ApprovalWait {
            secret: uuid::Uuid::new_v4().simple().to_string(),
            message,
            decisions: st.decisions.clone(),
            requested_ms: self.now,
            deadline_ms,
        });
        self.commit.status = job_status::WAITING_FOR_HUMAN.into();
        self.history(
            "approval_requested",
            json!({"decisions": st.decisions, "timeout_ms": st.timeout.map(|t| t.as_millis() as u64)}),
        );
    }

    /// A decision (or `timeout`) ends the wait and moves on.
    pub(super) fn decide(&mut self, decision: &str, by: &str, comment: Option<serde_json::Value>) {
        if self.doc.approval.take().is_some() {
            let step = self.doc.step.to_string();
            self.commit
                .timers_del
                .push(TimerKind::ApprovalTimeout.member(&self.job_id, &step));
        }
        let data = json!({"decision": decision, "decided_by": by, "comment": comment});
        let state = self.doc.state.clone();
        self.doc
            .states
            .insert(state.clone(), json!({"status": decision, "data": data}));
        self.doc.last_state = Some(state);
        let event = if by == "timeout" {
            "approval_timed_out"
        } else {
            "approval_received"
        };
        self.history(event, json!({"decision": decision, "decided_by": by}));
        self.follow(decision);
    }

    pub(super) fn enter_sub_job(&mut self, st: &SubJobState) {
        if self.doc.depth >= MAX_SUB_JOB_DEPTH {
            let message = format!(
                "sub-jobs nest deeper than {MAX_SUB_JOB_DEPTH}; does `{}` start itself?",
                st.blueprint
            );
            self.fail_state(
                json!({"code": "SUB_JOB_DEPTH", "message": message}),
                job_status::FAILED,
            );
            return;
        }
        let child = uuid::Uuid::new_v4().to_string();
        let initial_data = template::render(&st.initial_data, &self.doc.context(&self.job_id));
        self.timer(TimerKind::StartChild, &child, self.now);
        self.doc.sub_job = Some(SubJobWait {
            job_id: child.clone(),
            blueprint: st.blueprint.clone(),
            initial_data,
        });
        self.commit.status = job_status::WAITING_FOR_SUB_JOB.into();
        self.history(
            "sub_job_started",
            json!({"sub_job_id": child, "blueprint": st.blueprint}),
        );
    }

    /// The child ended with `status`, `result` and `error`: record it and move on.
    pub(super) fn sub_job_ended(
        &mut self,
        child: &str,
        status: &str,
        result: Option<serde_json::Value>,
        error: Option<serde_json::Value>,
    ) {
        self.commit
            .timers_del
            .push(TimerKind::ChildEnded.member(&self.job_id, child));
        self.doc.sub_job = None;
        let state = self.doc.state.clone();
        self.doc.states.insert(
            state.clone(),
            json!({"status": status, "data": result, "error": error, "job_id": child}),
        );
        self.doc.last_state = Some(state);
        self.history(
            "sub_job_finished",
            json!({"sub_job_id": child, "result_status": status}),
        );
        if status == job_status::FINISHED {
            self.follow("success");
        } else {
            let message = format!("sub-job {child} ended {status}");
            let error = json!({"code": "SUB_JOB_FAILED", "message": message, "sub_job_id": child, "error": error});
            self.fail_state(error, job_status::FAILED);
        }
    }

    /// Ends the waits of a job being cancelled: its child is cancelled too (through the
    /// `x` timer) and an approval deadline is dropped.
    pub(super) fn cancel_waits(&mut self) {
        if let Some(wait) = &self.doc.sub_job {
            let member = TimerKind::CancelChild.member(&wait.job_id, &self.job_id);
            self.commit.timers_add.push((member, self.now));
        }
        if self.doc.approval.is_some() {
            let step = self.doc.step.to_string();
            self.commit
                .timers_del
                .push(TimerKind::ApprovalTimeout.member(&self.job_id, &step));
        }
    }
}
