//! The job index on Redis: list_jobs.lua, job_timeline.lua and prune_index.lua (see
//! [`baton_store::listing`] for what the index holds).

use crate::{redis_err, RedisStore};
use baton_store::{JobCursor, JobPage, JobQuery, JobSummary, StoreResult, TimelineBucket};
use std::time::Duration;

/// Entries `prune_index.lua` looks at per set and call at most.
const PRUNE_BUDGET: usize = 1_000;

impl RedisStore {
    pub(super) async fn list_page(&self, q: &JobQuery) -> StoreResult<JobPage> {
        let mut conn = self.conn().await?;
        let (high, cursor_id) = match (&q.cursor, q.to_ms) {
            (Some(c), _) => (c.score_ms.to_string(), c.id.clone()),
            (None, Some(to)) => (to.to_string(), String::new()),
            (None, None) => ("+inf".to_string(), String::new()),
        };
        let low = q.from_ms.map_or("-inf".to_string(), |f| f.to_string());
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        self.count_round_trip();
        let (flat, next_score, next_id): (Vec<String>, String, String) = self
            .scripts
            .list_jobs
            .key(self.keys.k(&format!("ix:{}", q.index())))
            .arg(&self.keys.tag)
            .arg(high)
            .arg(cursor_id)
            .arg(low)
            .arg(q.limit)
            .arg(q.scan_limit.max(1))
            .arg(opt(&q.status))
            .arg(opt(&q.blueprint))
            .arg(opt(&q.client))
            .arg(opt(&q.id_contains))
            .invoke_async(&mut conn)
            .await
            .map_err(redis_err)?;
        let jobs = flat
            .chunks_exact(6)
            .map(|r| JobSummary {
                id: r[0].clone(),
                status: r[1].clone(),
                blueprint: r[2].clone(),
                client: r[3].clone(),
                created_ms: r[4].parse().unwrap_or(0),
                updated_ms: r[5].parse().unwrap_or(0),
            })
            .collect();
        let next = (!next_id.is_empty()).then(|| JobCursor {
            score_ms: next_score.parse::<f64>().map_or(0, |s| s as i64),
            id: next_id,
        });
        Ok(JobPage { jobs, next })
    }

    pub(super) async fn timeline(
        &self,
        start_ms: i64,
        bucket_ms: i64,
        buckets: usize,
    ) -> StoreResult<Vec<TimelineBucket>> {
        let mut conn = self.conn().await?;
        self.count_round_trip();
        let flat: Vec<u64> = self
            .scripts
            .job_timeline
            .key(self.keys.k("ix:all"))
            .key(self.keys.k("ix:s:finished"))
            .key(self.keys.k("ix:s:failed"))
            .key(self.keys.k("ix:s:quarantined"))
            .arg(start_ms)
            .arg(bucket_ms.max(1))
            .arg(buckets)
            .invoke_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(flat
            .chunks_exact(3)
            .enumerate()
            .map(|(i, c)| TimelineBucket {
                start_ms: start_ms + i as i64 * bucket_ms.max(1),
                created: c[0],
                finished: c[1],
                failed: c[2],
            })
            .collect())
    }

    pub(super) async fn prune_index(&self, now_ms: i64, retention: Duration) -> StoreResult<u64> {
        let mut conn = self.conn().await?;
        let cutoff =
            now_ms.saturating_sub(i64::try_from(retention.as_millis()).unwrap_or(i64::MAX));
        self.scripts
            .prune_index
            .key(self.keys.k("ix:bps"))
            .key(self.keys.k("ix:owners"))
            .arg(&self.keys.tag)
            .arg(cutoff)
            .arg(PRUNE_BUDGET)
            .invoke_async(&mut conn)
            .await
            .map_err(redis_err)
    }
}
