//! [`RunStore`] in memory, behind its own mutex (runs never touch the other records):
//!
//! - `runs`: run id → (recording order, record, log); `order`: recording order → run id,
//!   so listings are newest first without sorting;
//! - `artifacts`: artifact id → (metadata, content); `by_name`: (run id, name) → id;
//! - `jobs`: job id → (index order, entry); `job_order`: index order → job id.

use super::MemoryRecords;
use crate::model::Id;
use crate::runs::*;
use crate::store::{RecordError, RecordResult};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};

#[derive(Default)]
pub(super) struct Executions {
    seq: u64,
    runs: HashMap<String, (u64, Run, String)>,
    order: BTreeMap<u64, String>,
    last_artifact: Id,
    artifacts: BTreeMap<Id, (RunArtifact, String)>,
    by_name: BTreeMap<(String, String), Id>,
    jobs: HashMap<String, (u64, QueueJob)>,
    job_order: BTreeMap<u64, String>,
}

fn no_run(run_id: &str) -> RecordError {
    RecordError::not_found("run", run_id)
}

#[async_trait]
impl RunStore for MemoryRecords {
    async fn record_run(
        &self,
        run: Run,
        log: String,
        artifacts: Vec<NewArtifact>,
    ) -> RecordResult<Run> {
        let mut g = self.exec.lock();
        let seq = match g.runs.get(&run.run_id) {
            Some((seq, _, _)) => *seq,
            None => {
                g.seq += 1;
                let seq = g.seq;
                g.order.insert(seq, run.run_id.clone());
                seq
            }
        };
        for a in artifacts {
            let key = (run.run_id.clone(), a.meta.name.clone());
            let id = match g.by_name.get(&key) {
                Some(id) => *id,
                None => {
                    g.last_artifact += 1;
                    let id = g.last_artifact;
                    g.by_name.insert(key, id);
                    id
                }
            };
            g.artifacts
                .insert(id, (RunArtifact { id, ..a.meta }, a.content));
        }
        if let (Some(started), Some((_, job))) = (run.started_at, g.jobs.get_mut(&run.job_id)) {
            job.started_at.get_or_insert(started);
        }
        g.runs.insert(run.run_id.clone(), (seq, run.clone(), log));
        Ok(run)
    }

    async fn get_run(&self, run_id: &str) -> RecordResult<Run> {
        let g = self.exec.lock();
        g.runs
            .get(run_id)
            .map(|(_, r, _)| r.clone())
            .ok_or_else(|| no_run(run_id))
    }

    async fn list_runs(&self, filter: &RunFilter) -> RecordResult<Vec<Run>> {
        let g = self.exec.lock();
        Ok(g.order
            .values()
            .rev()
            .take(RUN_SCAN)
            .filter_map(|id| g.runs.get(id).map(|(_, r, _)| r))
            .filter(|r| filter.matches(r))
            .take(filter.limit())
            .cloned()
            .collect())
    }

    async fn run_log(&self, run_id: &str) -> RecordResult<String> {
        let g = self.exec.lock();
        g.runs
            .get(run_id)
            .map(|(_, _, log)| log.clone())
            .ok_or_else(|| no_run(run_id))
    }

    async fn list_artifacts(
        &self,
        run_id: &str,
        kind: Option<&str>,
        limit: usize,
    ) -> RecordResult<Vec<RunArtifact>> {
        let g = self.exec.lock();
        if !g.runs.contains_key(run_id) {
            return Err(no_run(run_id));
        }
        let mut ids: Vec<Id> = g
            .by_name
            .range((run_id.to_string(), String::new())..)
            .take_while(|((r, _), _)| r == run_id)
            .map(|(_, id)| *id)
            .collect();
        ids.sort_unstable();
        Ok(ids
            .iter()
            .filter_map(|id| g.artifacts.get(id).map(|(a, _)| a))
            .filter(|a| kind.is_none_or(|k| a.kind == k))
            .take(limit.clamp(1, MAX_RUNS))
            .cloned()
            .collect())
    }

    async fn artifact_content(
        &self,
        run_id: &str,
        artifact_id: Id,
    ) -> RecordResult<(RunArtifact, String)> {
        let g = self.exec.lock();
        if !g.runs.contains_key(run_id) {
            return Err(no_run(run_id));
        }
        g.artifacts
            .get(&artifact_id)
            .filter(|(a, _)| a.run_id == run_id)
            .cloned()
            .ok_or_else(|| RecordError::not_found("artifact", artifact_id))
    }

    async fn index_job(&self, job: QueueJob) -> RecordResult<()> {
        let mut g = self.exec.lock();
        let seq = match g.jobs.get(&job.job_id) {
            Some((seq, _)) => *seq,
            None => {
                g.seq += 1;
                let seq = g.seq;
                g.job_order.insert(seq, job.job_id.clone());
                seq
            }
        };
        g.jobs.insert(job.job_id.clone(), (seq, job));
        Ok(())
    }

    async fn list_jobs(&self, limit: usize) -> RecordResult<Vec<QueueJob>> {
        let g = self.exec.lock();
        Ok(g.job_order
            .values()
            .rev()
            .take(limit.clamp(1, MAX_QUEUE_JOBS))
            .filter_map(|id| g.jobs.get(id).map(|(_, j)| j.clone()))
            .collect())
    }
}
