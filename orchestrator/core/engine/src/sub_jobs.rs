//! Sub-jobs, across two jobs and therefore two commits, made lossless by timers (see
//! [`super::waits`]): the parent's commit schedules `s` (create the child), the child's
//! end schedules `c` (wake the parent), a parent's cancel schedules `x` (cancel the
//! child). Each handler is idempotent, because the reaper and the kick that fires them at
//! once may both run one: the child has a fixed id (a second create is a conflict), and
//! the parent only moves while it still waits for that child.

use super::flow::Tx;
use super::job::JobDoc;
use super::{parse_doc, Engine, EngineError};
use crate::retry::{until_committed, Round};
use baton_protocol::clock::now_ms;
use baton_protocol::job_status;
use baton_store::{CommitOutcome, Expect};
use serde_json::json;
use std::sync::Arc;

impl Engine {
    /// `s|parent|child`: creates the child the parent waits for.
    pub(super) async fn start_child(
        self: &Arc<Self>,
        parent_id: &str,
        child_id: &str,
    ) -> Result<(), EngineError> {
        let Some(parent) = self.store.get_job(parent_id).await? else {
            return Ok(());
        };
        let pdoc = parse_doc(&parent)?;
        let Some(wait) = pdoc.sub_job.as_ref().filter(|w| w.job_id == child_id) else {
            return Ok(());
        };
        if parent.status != job_status::WAITING_FOR_SUB_JOB {
            return Ok(());
        }
        let bp = self
            .blueprints
            .get(&wait.blueprint)
            .cloned()
            .ok_or_else(|| {
                EngineError::Internal(format!(
                    "blueprint `{}` is no longer loaded",
                    wait.blueprint
                ))
            })?;
        let now = now_ms();
        let doc = JobDoc {
            blueprint: bp.name.clone(),
            client: pdoc.client.clone(),
            initial_data: wait.initial_data.clone(),
            metadata: pdoc.metadata.clone(),
            created_ms: now,
            updated_ms: now,
            parent: Some(parent_id.to_string()),
            depth: pdoc.depth + 1,
            ..JobDoc::default()
        };
        let mut tx = Tx::new(
            &self.cfg,
            &bp,
            child_id,
            Expect::New,
            job_status::PENDING,
            doc,
            now,
        );
        tx.history(
            "job_created",
            json!({"blueprint": bp.name, "client": pdoc.client, "parent_job_id": parent_id}),
        );
        tx.enter(&bp.start);
        let ended = job_status::is_terminal(&tx.commit.status);
        match self.commit(&mut tx.into_commit()).await? {
            CommitOutcome::Committed { .. } => {
                self.metrics
                    .jobs_created
                    .with_label_values(&[&bp.name])
                    .inc();
                if ended {
                    self.job_done(child_id);
                }
                tracing::debug!(parent_id, child_id, blueprint = %bp.name, "sub-job created");
            }
            // Created already, by the other firing of this timer.
            CommitOutcome::Conflict => {}
        }
        Ok(())
    }

    /// `c|parent|child`: the child ended; the parent moves on if it still waits for it.
    pub(super) async fn child_ended(
        self: &Arc<Self>,
        parent_id: &str,
        child_id: &str,
    ) -> Result<(), EngineError> {
        until_committed!(
            {
                let Some(parent) = self.store.get_job(parent_id).await? else {
                    return Ok(Round::Done(()));
                };
                let doc = parse_doc(&parent)?;
                let waiting = parent.status == job_status::WAITING_FOR_SUB_JOB
                    && doc.sub_job.as_ref().is_some_and(|w| w.job_id == child_id);
                if !waiting {
                    return Ok(Round::Done(()));
                }
                let (status, result, error) = match self.store.get_job(child_id).await? {
                    Some(child) if job_status::is_terminal(&child.status) => {
                        let cdoc = parse_doc(&child)?;
                        (child.status.clone(), cdoc.result, cdoc.error)
                    }
                    // The timer only exists once the child ended; a live child means a stale
                    // timer, so leave the parent waiting.
                    Some(_) => return Ok(Round::Done(())),
                    None => (
                        job_status::FAILED.to_string(),
                        None,
                        Some(
                            json!({"code": "SUB_JOB_LOST", "message": "the sub-job no longer exists"}),
                        ),
                    ),
                };
                let bp = self.blueprint_of(&doc).await?;
                let mut tx = Tx::on(&self.cfg, &bp, &parent, doc);
                tx.sub_job_ended(child_id, &status, result, error);
                let new_status = tx.commit.status.clone();
                if self.apply(&parent, tx).await? {
                    if job_status::is_terminal(&new_status) {
                        self.metrics
                            .jobs_ended
                            .with_label_values(&[&bp.name, &new_status])
                            .inc();
                    }
                    return Ok(Round::Done(()));
                }
                Ok(Round::Lost)
            },
            {
                Err(EngineError::Conflict(format!(
                    "parent job {parent_id} is changing too fast"
                )))
            }
        )
    }

    /// `x|child|parent`: the parent was cancelled, so is the child.
    pub(super) async fn cancel_child(&self, child_id: &str) -> Result<(), EngineError> {
        match self.cancel(None, child_id).await {
            Ok(_) | Err(EngineError::NotFound(_)) => Ok(()),
            Err(EngineError::Conflict(m)) if m.starts_with("job is already") => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EngineConfig;
    use crate::metrics::EngineMetrics;
    use crate::NewJob;
    use baton_blueprint::{load_str, Registry};
    use baton_store::memory::MemoryStore;
    use baton_store::Store;

    const PARENT: &str = r#"
name: parent
endpoint: /jobs/parent
states:
  child:
    type: sub_job
    start: true
    blueprint: child
    initial_data: { x: "{{ initial_data.x }}" }
    transitions:
      success: done
  done:
    type: end
    status: finished
    result: "{{ states.child.data }}"
"#;

    const CHILD: &str = r#"
name: child
endpoint: /jobs/child
states:
  end:
    type: end
    start: true
    status: finished
    result: { got: "{{ initial_data.x }}" }
"#;

    /// The orchestrator that committed the parent never fires its timers (as if it died
    /// right after the commit): the reaper's passes alone create the child and wake the
    /// parent.
    #[tokio::test]
    async fn the_reaper_alone_carries_a_sub_job_through() {
        let registry = Registry::new(vec![
            load_str("parent.yaml", PARENT).unwrap(),
            load_str("child.yaml", CHILD).unwrap(),
        ])
        .unwrap();
        let cfg = Arc::new(EngineConfig::default());
        let store = Arc::new(MemoryStore::new(cfg.history_limit));
        // No reaper task runs: the kicked timers are never received.
        let engine = Arc::new(Engine::new(
            store.clone(),
            Arc::new(registry.clone()),
            cfg,
            Arc::new(EngineMetrics::new(&prometheus::Registry::new())),
            crate::hooks::Hooks::new(),
        ));
        let bp = registry.get("parent").unwrap().clone();
        let new = NewJob {
            initial_data: json!({"x": 7}),
            ..NewJob::default()
        };
        let id = engine.create_job("c", &bp, new).await.unwrap();
        let parent = store.get_job(&id).await.unwrap().unwrap();
        assert_eq!(parent.status, job_status::WAITING_FOR_SUB_JOB);

        engine.reap_once().await.unwrap(); // `s`: creates the child, which ends at once
        engine.reap_once().await.unwrap(); // `c`: wakes the parent
        let parent = store.get_job(&id).await.unwrap().unwrap();
        assert_eq!(parent.status, job_status::FINISHED);
        let doc = parse_doc(&parent).unwrap();
        assert_eq!(doc.result, Some(json!({"got": 7})));
        // Firing the same timers again changes nothing.
        engine.reap_once().await.unwrap();
        assert_eq!(
            store.get_job(&id).await.unwrap().unwrap().version,
            parent.version
        );
    }
}
