//! The job index of the memory store (see [`crate::listing`]): the same sets the Redis
//! store keeps, as [`ZSet`]s by name (`all`, `s:<status>`, `b:<blueprint>`,
//! `c:<client>`), and each job's summary fields.

use crate::listing::{JobCursor, JobPage, JobQuery, JobSummary, TimelineBucket};
use crate::zset::ZSet;
use std::collections::HashMap;

#[derive(Default)]
pub(super) struct JobIndex {
    sets: HashMap<String, ZSet>,
    summaries: HashMap<String, JobSummary>,
}

impl JobIndex {
    fn set(&mut self, name: String) -> &mut ZSet {
        self.sets.entry(name).or_default()
    }

    /// A commit of job `id` took it from `old` to `status` at `now`.
    pub(super) fn committed(
        &mut self,
        id: &str,
        old: Option<&str>,
        status: &str,
        blueprint: &str,
        owner: &str,
        now: i64,
    ) {
        if old.is_none() {
            let at = now as f64;
            self.set("all".into()).insert(id, at);
            self.set(format!("b:{blueprint}")).insert(id, at);
            self.set(format!("c:{owner}")).insert(id, at);
            self.summaries.insert(
                id.to_string(),
                JobSummary {
                    id: id.to_string(),
                    status: status.to_string(),
                    blueprint: blueprint.to_string(),
                    client: owner.to_string(),
                    created_ms: now,
                    updated_ms: now,
                },
            );
        }
        if old != Some(status) {
            if let Some(old) = old {
                self.set(format!("s:{old}")).remove(id);
            }
            self.set(format!("s:{status}")).insert(id, now as f64);
        }
        if let Some(s) = self.summaries.get_mut(id) {
            s.status = status.to_string();
            s.updated_ms = now;
        }
    }

    /// Job `id` is gone: out of every set.
    pub(super) fn forget(&mut self, id: &str) {
        let Some(s) = self.summaries.remove(id) else {
            return;
        };
        for name in [
            "all".to_string(),
            format!("s:{}", s.status),
            format!("b:{}", s.blueprint),
            format!("c:{}", s.client),
        ] {
            if let Some(set) = self.sets.get_mut(&name) {
                set.remove(id);
                if set.len() == 0 {
                    self.sets.remove(&name);
                }
            }
        }
    }

    pub(super) fn list(&self, q: &JobQuery) -> JobPage {
        let Some(set) = self.sets.get(&q.index()) else {
            return JobPage::default();
        };
        let to = q.to_ms.map_or(f64::INFINITY, |t| t as f64);
        let from = q.from_ms.map_or(f64::NEG_INFINITY, |t| t as f64);
        let start = match &q.cursor {
            Some(c) => Some((c.score_ms as f64, c.id.as_str())),
            // Just above `to`: entries scored `to` are in.
            None if to.is_finite() => Some((to, "\u{10FFFF}")),
            None => None,
        };
        let mut page = JobPage::default();
        let mut last = None;
        for (looked, (score, id)) in set.rev_before(start).enumerate() {
            if score < from {
                return page; // past the range: nothing further
            }
            if looked >= q.scan_limit.max(1) || page.jobs.len() >= q.limit {
                page.next = last.map(|(s, id): (f64, &str)| JobCursor {
                    score_ms: s as i64,
                    id: id.to_string(),
                });
                return page;
            }
            last = Some((score, id));
            if score > to {
                continue;
            }
            if let Some(s) = self.summaries.get(id).filter(|s| q.keeps(s)) {
                page.jobs.push(s.clone());
            }
        }
        page
    }

    pub(super) fn timeline(
        &self,
        start_ms: i64,
        bucket_ms: i64,
        buckets: usize,
    ) -> Vec<TimelineBucket> {
        let count = |name: &str, lo: i64, hi: i64| {
            self.sets
                .get(name)
                .map_or(0, |s| s.count_between(lo as f64, hi as f64))
        };
        (0..buckets)
            .map(|i| {
                let lo = start_ms + i as i64 * bucket_ms;
                let hi = lo + bucket_ms - 1;
                TimelineBucket {
                    start_ms: lo,
                    created: count("all", lo, hi),
                    finished: count("s:finished", lo, hi),
                    failed: count("s:failed", lo, hi) + count("s:quarantined", lo, hi),
                }
            })
            .collect()
    }
}
