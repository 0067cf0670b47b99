//! The Redis store's read-side summaries, quarantine upkeep and flush. What they mean is
//! in the store's `views` module; how the data is walked is in queue_stats.lua,
//! quarantined.lua and prune_quarantine.lua.

use crate::{redis_err, RedisStore};
use ::redis::AsyncCommands;
use baton_store::{QuarantinedJob, QueueStats, StoreError, StoreResult, StoredJob};
use std::collections::BTreeMap;

/// Index entries `prune_quarantine.lua` removes per call at most.
const PRUNE_BUDGET: usize = 1_000;
/// Keys asked for per SCAN step when flushing (also the most deleted per UNLINK).
const FLUSH_BATCH: usize = 500;

impl RedisStore {
    pub(super) async fn stats_of_queues(&self) -> StoreResult<BTreeMap<String, QueueStats>> {
        let mut conn = self.conn().await?;
        let skills: Vec<String> = conn
            .smembers(self.keys.k("skills"))
            .await
            .map_err(redis_err)?;
        if skills.is_empty() {
            return Ok(BTreeMap::new());
        }
        let mut inv = self.scripts.queue_stats.prepare_invoke();
        for s in &skills {
            inv.key(self.keys.queue(s));
        }
        self.count_round_trip();
        let rows: Vec<(u64, i64)> = inv.invoke_async(&mut conn).await.map_err(redis_err)?;
        Ok(skills
            .into_iter()
            .zip(rows)
            .map(|(skill, (depth, oldest_us))| {
                let oldest_enqueued_ms = (oldest_us >= 0).then(|| oldest_us.div_euclid(1000));
                (
                    skill,
                    QueueStats {
                        depth,
                        oldest_enqueued_ms,
                    },
                )
            })
            .collect())
    }

    pub(super) async fn list_quarantined(
        &self,
        owner: &str,
        limit: usize,
    ) -> StoreResult<Vec<QuarantinedJob>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut conn = self.conn().await?;
        let rows: Vec<(String, String, Vec<String>)> = self
            .scripts
            .quarantined
            .key(self.keys.quarantine(owner))
            .arg(&self.keys.tag)
            .arg(limit)
            .invoke_async(&mut conn)
            .await
            .map_err(redis_err)?;
        let mut out = Vec::with_capacity(rows.len());
        for (job_id, score, fields) in rows {
            let quarantined_ms = score
                .parse::<f64>()
                .map_err(|_| StoreError::Corrupt(format!("quarantine index score {score}")))?
                as i64;
            let mut pairs = fields.into_iter();
            let pairs = std::iter::from_fn(move || Some((pairs.next()?, pairs.next()?)));
            // The script only returns jobs it found; a hash without a version is skipped.
            if let Some(job) = StoredJob::from_fields(&job_id, pairs)? {
                out.push(QuarantinedJob {
                    quarantined_ms,
                    job,
                });
            }
        }
        Ok(out)
    }

    pub(super) async fn prune_quarantine(&self) -> StoreResult<u64> {
        let mut conn = self.conn().await?;
        self.scripts
            .prune_quarantine
            .key(self.keys.quarantine_owners())
            .arg(&self.keys.tag)
            .arg(PRUNE_BUDGET)
            .invoke_async(&mut conn)
            .await
            .map_err(redis_err)
    }

    /// SCAN + UNLINK of every key under the prefix. Never FLUSHDB: the database may hold
    /// other data (other deployments, other applications). Keys written while the scan
    /// runs may survive it; this is for debugging, not a consistent snapshot.
    pub(super) async fn delete_prefix(&self) -> StoreResult<u64> {
        let pattern = self.keys.scan_pattern();
        let mut conn = self.conn().await?;
        let mut cursor: u64 = 0;
        let mut deleted = 0u64;
        loop {
            let (next, keys): (u64, Vec<Vec<u8>>) = ::redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(FLUSH_BATCH)
                .query_async(&mut conn)
                .await
                .map_err(redis_err)?;
            if !keys.is_empty() {
                self.count_round_trip();
                let n: u64 = ::redis::cmd("UNLINK")
                    .arg(&keys)
                    .query_async(&mut conn)
                    .await
                    .map_err(redis_err)?;
                deleted += n;
            }
            if next == 0 {
                return Ok(deleted);
            }
            self.count_round_trip();
            cursor = next;
        }
    }
}
