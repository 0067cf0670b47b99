//! The memory store's claim: the counterpart of claim.lua, under the store's lock.

use super::Inner;
use crate::{member_task_id, ClaimRequest, ClaimedTask, StoredJob, TaskSlot};

impl Inner {
    pub(super) fn claim(&mut self, req: &ClaimRequest, history_limit: usize) -> Vec<ClaimedTask> {
        let inner = self;
        let mut out = Vec::new();
        while out.len() < req.max.max(1) {
            // Best head among the worker's queues: lowest score (= highest priority),
            // then lowest member (= oldest).
            let mut best: Option<(f64, String, String)> = None;
            for skill in &req.skills {
                if let Some((score, member)) = inner.queues.get(skill).and_then(|q| q.first()) {
                    let better = match &best {
                        None => true,
                        Some((s, m, _)) => score < *s || (score == *s && member < m.as_str()),
                    };
                    if better {
                        best = Some((score, member.to_string(), skill.clone()));
                    }
                }
            }
            let Some((_, member, skill)) = best else {
                break;
            };
            let queue = inner.queues.get_mut(&skill).expect("queue seen above");
            queue.remove(&member);
            let remaining = queue.len() as u64;
            let task_id = member_task_id(&member).to_string();
            let Some(blob) = inner.tasks.get(&task_id).cloned() else {
                continue; // dropped task: skip it, as claim.lua does
            };
            let Some(job) = inner.live_job(&blob.job_id, req.now_ms) else {
                inner.tasks.remove(&task_id);
                continue;
            };
            if !matches!(job.tasks.get(&task_id), Some(TaskSlot::Queued { .. })) {
                inner.tasks.remove(&task_id);
                continue;
            }
            job.tasks.insert(
                task_id.clone(),
                TaskSlot::Leased {
                    skill: skill.clone(),
                    worker: req.worker_id.clone(),
                    claimed_ms: req.now_ms,
                },
            );
            job.version += 1;
            let old_status = job.status.clone();
            if crate::rules::claim_sets_running(&old_status) {
                job.status = baton_protocol::job_status::RUNNING.to_string();
            }
            job.history.push_back(crate::rules::dispatch_history(
                &task_id,
                &req.worker_id,
                req.now_ms,
            ));
            while job.history.len() > history_limit {
                job.history.pop_front();
            }
            let new_status = job.status.clone();
            let snapshot = StoredJob {
                id: blob.job_id.clone(),
                version: job.version,
                status: job.status.clone(),
                doc: job.doc.clone(),
                progress: job.progress.clone(),
                tasks: job.tasks.clone(),
            };
            if new_status != old_status {
                inner.count(&old_status, -1);
                inner.count(&new_status, 1);
            }
            inner.leases.insert(&task_id, req.lease_deadline_ms as f64);
            inner
                .worker_tasks
                .entry(req.worker_id.clone())
                .or_default()
                .insert(task_id.clone());
            let (dispatch_timer, result_timer) = crate::rules::claim_timers(&blob.job_id, &task_id);
            inner.timers.remove(&dispatch_timer);
            if blob.result_timeout_ms > 0 {
                inner
                    .timers
                    .insert(&result_timer, (req.now_ms + blob.result_timeout_ms) as f64);
            }
            out.push(ClaimedTask {
                job_id: blob.job_id,
                task_id,
                skill,
                payload: blob.payload,
                enqueued_ms: blob.enqueued_ms,
                claimed_ms: req.now_ms,
                result_timeout_ms: blob.result_timeout_ms,
                remaining,
                job: Some(snapshot),
            });
        }
        out
    }
}
