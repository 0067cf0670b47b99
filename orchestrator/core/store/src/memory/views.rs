//! The memory store's read-side summaries (queue stats, the quarantine index) and the
//! upkeep of that index, under the store's lock. Counterpart of queue_stats.lua,
//! quarantined.lua and prune_quarantine.lua.

use super::{Inner, MemJob};
use crate::zset::ZSet;
use crate::{member_enqueued_us, QuarantinedJob, QueueStats, StoredJob};
use baton_protocol::job_status::QUARANTINED;
use std::collections::BTreeMap;

/// Whether `job` is still there at `now_ms` and quarantined (an index entry is stale
/// otherwise).
fn quarantined_at(job: Option<&MemJob>, now_ms: i64) -> bool {
    job.is_some_and(|j| j.status == QUARANTINED && j.expires_ms.is_none_or(|t| t > now_ms))
}

impl Inner {
    pub(super) fn queue_stats(&self) -> BTreeMap<String, QueueStats> {
        self.queues
            .iter()
            .map(|(skill, queue)| {
                // Within a priority band members are FIFO, so the band's head is its oldest.
                let oldest_us = queue
                    .band_heads()
                    .filter_map(|(_, member)| member_enqueued_us(member))
                    .min();
                let stats = QueueStats {
                    depth: queue.len() as u64,
                    oldest_enqueued_ms: oldest_us.map(|us| us.div_euclid(1000)),
                };
                (skill.clone(), stats)
            })
            .collect()
    }

    /// Keeps `job_id`'s index entry in step with the status a commit gives it.
    pub(super) fn index_quarantine(
        &mut self,
        owner: &str,
        job_id: &str,
        old_status: Option<&str>,
        new_status: &str,
        now_ms: i64,
    ) {
        if new_status == QUARANTINED {
            let index = self.quarantined.entry(owner.to_string()).or_default();
            // Keep the original time if the job is already in (ZADD NX).
            if !index.contains(job_id) {
                index.insert(job_id, now_ms as f64);
            }
        } else if old_status == Some(QUARANTINED) {
            if let Some(index) = self.quarantined.get_mut(owner) {
                index.remove(job_id);
            }
        }
    }

    pub(super) fn quarantined_jobs(
        &self,
        owner: &str,
        limit: usize,
        now_ms: i64,
    ) -> Vec<QuarantinedJob> {
        let Some(index) = self.quarantined.get(owner) else {
            return Vec::new();
        };
        index
            .iter_rev()
            .filter_map(|(score, job_id)| {
                let job = self.jobs.get(job_id);
                if !quarantined_at(job, now_ms) {
                    return None; // expired: prune removes the entry
                }
                let j = job?;
                Some(QuarantinedJob {
                    quarantined_ms: score as i64,
                    job: StoredJob {
                        id: job_id.to_string(),
                        version: j.version,
                        status: j.status.clone(),
                        doc: j.doc.clone(),
                        progress: j.progress.clone(),
                        tasks: j.tasks.clone(),
                    },
                })
            })
            .take(limit)
            .collect()
    }

    /// Drops index entries of jobs that expired or left quarantine, and empty indexes.
    pub(super) fn prune_quarantine(&mut self, now_ms: i64) {
        let jobs = &self.jobs;
        self.quarantined.retain(|_, index: &mut ZSet| {
            let stale: Vec<String> = index
                .iter_rev()
                .filter(|(_, id)| !quarantined_at(jobs.get(*id), now_ms))
                .map(|(_, id)| id.to_string())
                .collect();
            for id in stale {
                index.remove(&id);
            }
            index.len() > 0
        });
    }
}
