//! A client's control of a job besides cancelling it: pause, resume, and running a job
//! that failed again from a state (a retry, or a workflow resumed from its checkpoint).
//!
//! **Pause** marks the document (`paused_ms`) and holds every task the job has not handed
//! out: a queued task leaves its queue and a delayed retry loses its timer; both stay
//! stored as `Delayed` slots with no timer ("held"). Tasks already running finish and
//! their results are applied as usual, but whatever they lead to is held too: while the
//! mark is there, [`Tx::dispatch`] stores a new task as held instead of queueing it, and
//! a delayed retry coming due stays held. The status says `paused` (see
//! [`Tx::into_commit`]) until the job ends, which a running task's result can still make
//! happen: the end of a job is not a step.
//!
//! **Resume** clears the mark, queues every held task, and re-arms what a paused job
//! ignored: an approval's deadline, a sub-job's start and end. Everything lives in the
//! job's document and slots, so a resume works on any orchestrator, also after all of
//! them were restarted.
//!
//! **Run again** takes a failed or quarantined job (never a cancelled one) back into a
//! state, by default the one that failed: the results of the states before it are kept,
//! its expiry is lifted and other orchestrators hear that its end is void.

use super::flow::Tx;
use super::tasks::Lane;
use super::{Engine, EngineError};
use crate::retry::{too_fast, until_committed, Round};
use baton_blueprint::StateKind;
use baton_protocol::job_status;
use baton_store::{TaskSlot, TimerKind};
use serde_json::json;

impl Engine {
    /// Pauses a job of `client`; the job's status afterwards (`paused`).
    pub async fn pause_job(&self, client: &str, job_id: &str) -> Result<String, EngineError> {
        until_committed!(
            {
                let (job, doc) = self.job_for_client(client, job_id).await?;
                if job_status::is_terminal(&job.status) {
                    return Err(EngineError::Conflict(format!(
                        "job is already {}",
                        job.status
                    )));
                }
                if doc.paused_ms.is_some() {
                    return Err(EngineError::Conflict("job is already paused".into()));
                }
                let bp = self.blueprint_of(&doc).await?;
                let mut tx = Tx::on(&self.cfg, &bp, &job, doc);
                tx.hold_all();
                tx.history("job_paused", json!({"client": client}));
                if self.apply(&job, tx).await? {
                    return Ok(Round::Done(job_status::PAUSED.to_string()));
                }
                Ok(Round::Lost)
            },
            too_fast("retry the pause")
        )
    }

    /// Resumes a paused job of `client`; its status afterwards.
    pub async fn resume_job(&self, client: &str, job_id: &str) -> Result<String, EngineError> {
        until_committed!(
            {
                let (job, doc) = self.job_for_client(client, job_id).await?;
                if doc.paused_ms.is_none() || job_status::is_terminal(&job.status) {
                    return Err(EngineError::Conflict(format!(
                        "job is not paused (status `{}`)",
                        job.status
                    )));
                }
                let bp = self.blueprint_of(&doc).await?;
                let mut tx = Tx::on(&self.cfg, &bp, &job, doc);
                tx.release_held();
                tx.history("job_resumed", json!({"client": client}));
                let status = tx.commit.status.clone();
                if self.apply(&job, tx).await? {
                    return Ok(Round::Done(status));
                }
                Ok(Round::Lost)
            },
            too_fast("retry the resume")
        )
    }

    /// Runs a failed or quarantined job of `client` again from `state` (default: the
    /// state that failed); its status afterwards.
    pub async fn run_again(
        &self,
        client: &str,
        job_id: &str,
        state: Option<&str>,
    ) -> Result<String, EngineError> {
        until_committed!(
            {
                let (job, doc) = self.job_for_client(client, job_id).await?;
                if job.status != job_status::FAILED && job.status != job_status::QUARANTINED {
                    return Err(EngineError::Conflict(format!(
                        "only a failed or quarantined job runs again; this one is {}",
                        job.status
                    )));
                }
                let bp = self.blueprint_of(&doc).await?;
                let from = match state.or(doc.failed_state.as_deref()) {
                    Some(s) => s.to_string(),
                    None => bp.start.clone(),
                };
                match bp.state(&from).map(|s| &s.kind) {
                    None => {
                        return Err(EngineError::Invalid(format!(
                            "blueprint `{}` has no state `{from}`",
                            bp.name
                        )))
                    }
                    Some(StateKind::End(_)) => {
                        return Err(EngineError::Invalid(format!(
                            "`{from}` is an end state; nothing would run"
                        )))
                    }
                    Some(_) => {}
                }
                let mut tx = Tx::on(&self.cfg, &bp, &job, doc);
                tx.revive(client, &from);
                let status = tx.commit.status.clone();
                if self.apply(&job, tx).await? {
                    self.live.snapshots.forget_ended(job_id);
                    return Ok(Round::Done(status));
                }
                Ok(Round::Lost)
            },
            too_fast("retry the request")
        )
    }
}

impl Tx<'_> {
    /// Takes every task not handed out off its queue or timer, keeping it stored.
    fn hold_all(&mut self) {
        self.doc.paused_ms = Some(self.now);
        let slots = self.slots;
        for (task_id, slot) in slots {
            match slot {
                TaskSlot::Queued { skill, member } => {
                    self.commit.dequeue.push((skill.clone(), member.clone()));
                    self.commit
                        .timers_del
                        .push(TimerKind::DispatchTimeout.member(&self.job_id, task_id));
                    self.commit.set_slots.push((
                        task_id.clone(),
                        TaskSlot::Delayed {
                            skill: skill.clone(),
                        },
                    ));
                }
                TaskSlot::Delayed { .. } => self
                    .commit
                    .timers_del
                    .push(TimerKind::DelayedEnqueue.member(&self.job_id, task_id)),
                TaskSlot::Leased { .. } => {}
            }
        }
    }

    /// Queues the held tasks and re-arms the waits a paused job ignored.
    fn release_held(&mut self) {
        self.doc.paused_ms = None;
        let bp = self.bp;
        let Some(kind) = bp.state(&self.doc.state).map(|s| &s.kind) else {
            return;
        };
        let slots = self.slots;
        let mut running = false;
        for (task_id, slot) in slots {
            match slot {
                TaskSlot::Delayed { .. } => {
                    if let Some(lane) = Lane::of(&self.doc, kind, task_id) {
                        self.enqueue(task_id, lane);
                    }
                }
                TaskSlot::Leased { .. } => running = true,
                TaskSlot::Queued { .. } => {}
            }
        }
        self.commit.status = match kind {
            StateKind::Dispatch(_) if running => job_status::RUNNING.into(),
            StateKind::Dispatch(_) => job_status::PENDING.into(),
            StateKind::Parallel(_) => job_status::WAITING_FOR_PARALLEL_TASKS.into(),
            StateKind::Approval(_) => {
                if let Some(deadline) = self.doc.approval.as_ref().and_then(|a| a.deadline_ms) {
                    let step = self.doc.step.to_string();
                    self.timer(TimerKind::ApprovalTimeout, &step, deadline.max(self.now));
                }
                job_status::WAITING_FOR_HUMAN.into()
            }
            StateKind::SubJob(_) => {
                if let Some(child) = self.doc.sub_job.as_ref().map(|w| w.job_id.clone()) {
                    // Both handlers are idempotent: the child is created once, and the
                    // parent moves only when the child has ended.
                    self.timer(TimerKind::StartChild, &child, self.now);
                    let member = TimerKind::ChildEnded.member(&self.job_id, &child);
                    self.commit.timers_add.push((member, self.now));
                }
                job_status::WAITING_FOR_SUB_JOB.into()
            }
            _ => self.commit.status.clone(),
        };
    }

    /// Takes an ended job back into `state`.
    fn revive(&mut self, client: &str, state: &str) {
        let ended = std::mem::take(&mut self.doc.error);
        self.doc.result = None;
        self.doc.finished_ms = None;
        self.doc.failed_state = None;
        self.doc.step = 0;
        self.doc.reruns += 1;
        self.commit.revived = true;
        self.commit.status = job_status::PENDING.into();
        self.history(
            "job_run_again",
            json!({"client": client, "from_state": state, "previous_error": ended, "run": self.doc.reruns + 1}),
        );
        self.enter(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EngineConfig;
    use crate::metrics::EngineMetrics;
    use crate::NewJob;
    use baton_blueprint::{load_str, Registry};
    use baton_protocol::clock::now_ms;
    use baton_protocol::{TaskError, TaskResult};
    use baton_store::memory::MemoryStore;
    use baton_store::{ClaimRequest, Store};
    use std::sync::Arc;

    const TWO_STEPS: &str = r#"
name: two
endpoint: /jobs/two
states:
  a:
    type: dispatch
    start: true
    task: work
    max_retries: 0
    transitions: { success: b, failure: failed }
  b:
    type: dispatch
    task: work
    max_retries: 0
    transitions: { success: done, failure: failed }
  done: { type: end, status: finished }
  failed: { type: end, status: failed }
"#;

    fn engine() -> (Arc<Engine>, Arc<MemoryStore>) {
        let registry = Registry::new(vec![load_str("two.yaml", TWO_STEPS).unwrap()]).unwrap();
        let cfg = Arc::new(EngineConfig::default());
        let store = Arc::new(MemoryStore::new(cfg.history_limit));
        let engine = Arc::new(Engine::new(
            store.clone(),
            Arc::new(registry),
            cfg,
            Arc::new(EngineMetrics::new(&prometheus::Registry::new())),
            crate::hooks::Hooks::new(),
        ));
        (engine, store)
    }

    async fn claim(store: &MemoryStore) -> Option<(String, String)> {
        let now = now_ms();
        let req = ClaimRequest {
            worker_id: "w".into(),
            skills: vec!["work".into()],
            now_ms: now,
            lease_deadline_ms: now + 60_000,
            max: 1,
        };
        let mut got = store.claim(&req).await.unwrap();
        got.pop().map(|t| (t.job_id, t.task_id))
    }

    fn result(job: &str, task: &str, failed: bool) -> TaskResult {
        TaskResult {
            job_id: job.into(),
            task_id: task.into(),
            status: Some(if failed { "failure" } else { "success" }.into()),
            error: failed.then(|| TaskError {
                code: "INVALID_INPUT_ERROR".into(),
                message: "bad".into(),
                details: None,
            }),
            ..TaskResult::default()
        }
    }

    async fn status(store: &MemoryStore, id: &str) -> String {
        store.get_job(id).await.unwrap().unwrap().status
    }

    /// A running task finishes while paused; the next one waits for the resume.
    #[tokio::test]
    async fn a_paused_job_starts_nothing_until_resumed() {
        let (engine, store) = engine();
        let bp = engine.blueprints.get("two").unwrap().clone();
        let id = engine
            .create_job("c", &bp, NewJob::default())
            .await
            .unwrap();
        let (_, task_a) = claim(&store).await.expect("a is queued");
        assert_eq!(engine.pause_job("c", &id).await.unwrap(), "paused");
        assert!(matches!(
            engine.pause_job("c", &id).await,
            Err(EngineError::Conflict(_))
        ));
        let ack = engine.submit_result("w", result(&id, &task_a, false)).await;
        assert_eq!(ack.unwrap().status, "accepted", "a running step finishes");
        assert_eq!(status(&store, &id).await, "paused");
        assert!(claim(&store).await.is_none(), "b is held, not queued");
        assert_eq!(engine.resume_job("c", &id).await.unwrap(), "pending");
        let (_, task_b) = claim(&store).await.expect("b queued on resume");
        engine
            .submit_result("w", result(&id, &task_b, false))
            .await
            .unwrap();
        assert_eq!(status(&store, &id).await, "finished");
        assert!(matches!(
            engine.resume_job("c", &id).await,
            Err(EngineError::Conflict(_))
        ));
    }

    /// A queued task leaves its queue at the pause and comes back at the resume.
    #[tokio::test]
    async fn pausing_takes_a_queued_task_off_its_queue() {
        let (engine, store) = engine();
        let bp = engine.blueprints.get("two").unwrap().clone();
        let id = engine
            .create_job("c", &bp, NewJob::default())
            .await
            .unwrap();
        engine.pause_job("c", &id).await.unwrap();
        assert!(claim(&store).await.is_none());
        assert!(
            matches!(
                engine.resume_job("other", &id).await,
                Err(EngineError::Forbidden(_))
            ),
            "another client's job"
        );
        engine.resume_job("c", &id).await.unwrap();
        assert!(claim(&store).await.is_some());
    }

    /// A job that failed in `b` runs `b` again and keeps `a`'s result.
    #[tokio::test]
    async fn a_failed_job_runs_again_from_the_state_that_failed() {
        let (engine, store) = engine();
        let bp = engine.blueprints.get("two").unwrap().clone();
        let id = engine
            .create_job("c", &bp, NewJob::default())
            .await
            .unwrap();
        let (_, a) = claim(&store).await.unwrap();
        engine
            .submit_result("w", result(&id, &a, false))
            .await
            .unwrap();
        let (_, b) = claim(&store).await.unwrap();
        engine
            .submit_result("w", result(&id, &b, true))
            .await
            .unwrap();
        assert_eq!(status(&store, &id).await, "failed");
        assert!(matches!(
            engine.run_again("c", &id, Some("done")).await,
            Err(EngineError::Invalid(_))
        ));
        assert_eq!(engine.run_again("c", &id, None).await.unwrap(), "pending");
        let (_, b2) = claim(&store).await.expect("b again");
        engine
            .submit_result("w", result(&id, &b2, false))
            .await
            .unwrap();
        let job = store.get_job(&id).await.unwrap().unwrap();
        assert_eq!(job.status, "finished");
        let doc = super::super::parse_doc(&job).unwrap();
        assert_eq!(
            doc.states["a"]["status"], "success",
            "a kept, not run again"
        );
        assert!(matches!(
            engine.run_again("c", &id, None).await,
            Err(EngineError::Conflict(_))
        ));
    }
}
