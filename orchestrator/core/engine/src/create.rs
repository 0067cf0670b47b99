//! Job creation: one job, or a batch of them (`POST .../batch`) committed together.
//!
//! A new job is a commit like any other (expecting no job under its id): its document,
//! the start state entered (tasks queued, timers armed) and its first history entries.
//! A batch builds each job's commit on its own and hands them to the store at once
//! ([`baton_store::Store::commit_many`]: one round trip on Redis); each applies or fails
//! alone, so one bad item never costs the others.

use crate::flow::Tx;
use crate::job::JobDoc;
use crate::{Engine, EngineError, NewJob};
use baton_blueprint::Blueprint;
use baton_protocol::clock::now_ms;
use baton_protocol::job_status;
use baton_store::{Commit, CommitOutcome, Expect};
use serde_json::json;

/// A job's creation, beside its commit.
struct Creation {
    job_id: String,
    /// The caller chose the id (a conflict means it is taken, not a collision).
    derived: bool,
    /// The status the job starts in.
    status: String,
}

impl Engine {
    /// Creates a job of `bp` owned by `client` and enters its start state.
    pub async fn create_job(
        &self,
        client: &str,
        bp: &Blueprint,
        req: NewJob,
    ) -> Result<String, EngineError> {
        let (c, mut commit) = self.creation(client, bp, req, now_ms());
        let outcome = self.commit(&mut commit).await?;
        self.created(bp, c, outcome)
    }

    /// Creates several jobs of `bp` in one store round trip; each item's id or error,
    /// in order. Only a store failure of the whole batch is an `Err`.
    pub async fn create_jobs(
        &self,
        client: &str,
        bp: &Blueprint,
        reqs: Vec<NewJob>,
    ) -> Result<Vec<Result<String, EngineError>>, EngineError> {
        let now = now_ms();
        let (creations, mut commits): (Vec<Creation>, Vec<Commit>) = reqs
            .into_iter()
            .map(|req| self.creation(client, bp, req, now))
            .unzip();
        for commit in &mut commits {
            commit.origin.clone_from(&self.live.instance_id);
        }
        let outcomes = self.store.commit_many(&commits).await?;
        let mut out = Vec::with_capacity(creations.len());
        for ((c, commit), outcome) in creations.into_iter().zip(&commits).zip(outcomes) {
            if let CommitOutcome::Committed { .. } = outcome {
                self.committed(commit);
            }
            out.push(self.created(bp, c, outcome));
        }
        Ok(out)
    }

    /// The commit that creates the job `req` asks for.
    fn creation(&self, client: &str, bp: &Blueprint, req: NewJob, now: i64) -> (Creation, Commit) {
        let derived = req.id.is_some();
        let job_id = req.id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let doc = JobDoc {
            blueprint: bp.name.clone(),
            client: client.to_string(),
            state: String::new(),
            initial_data: req.initial_data,
            metadata: req.metadata,
            webhook_url: req.webhook_url,
            dispatch_timeout_ms: req.dispatch_timeout_ms,
            result_timeout_ms: req.result_timeout_ms,
            hook: req.hook,
            created_ms: now,
            updated_ms: now,
            ..JobDoc::default()
        };
        let mut tx = Tx::new(
            &self.cfg,
            bp,
            &job_id,
            Expect::New,
            job_status::PENDING,
            doc,
            now,
        );
        tx.history(
            "job_created",
            json!({"blueprint": bp.name, "client": client}),
        );
        tx.enter(&bp.start);
        let status = tx.commit.status.clone();
        if !job_status::is_terminal(&status) {
            // Before the commit: its end may be noticed before the creation returns.
            self.live.snapshots.created(&job_id);
        }
        let c = Creation {
            job_id,
            derived,
            status,
        };
        (c, tx.into_commit())
    }

    /// What a creation's commit came to.
    fn created(
        &self,
        bp: &Blueprint,
        c: Creation,
        outcome: CommitOutcome,
    ) -> Result<String, EngineError> {
        match outcome {
            CommitOutcome::Committed { .. } => {
                if job_status::is_terminal(&c.status) {
                    self.job_done(&c.job_id);
                }
                self.metrics
                    .jobs_created
                    .with_label_values(&[&bp.name])
                    .inc();
                tracing::debug!(job_id = %c.job_id, blueprint = %bp.name, status = %c.status, "job created");
                Ok(c.job_id)
            }
            CommitOutcome::Conflict if c.derived => Err(EngineError::Exists(c.job_id)),
            CommitOutcome::Conflict => Err(EngineError::Internal("job id collision".into())),
        }
    }
}
