//! [`TriggerStore`] on Redis, beside the face's other records (same pool, same prefix
//! and hash tag): every multi-key change is one Lua script (`src/scripts/*.lua`).

use super::{ScheduleCas, TriggerStore};
use crate::redis::{redis_err, RedisWorkflows};
use crate::store::{RecordResult, Written};
use ::redis::{AsyncCommands, Script};
use async_trait::async_trait;
use std::sync::LazyLock;

static CAS_SCHEDULE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("../scripts/cas_schedule.lua")));
static CLAIM_DUE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("../scripts/claim_due.lua")));
static PUT_RUN: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("../scripts/put_run.lua")));
static UPDATE_RUN: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("../scripts/update_run.lua")));
static CREATE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("../scripts/create_workflow.lua")));
static DELETE_HOOK: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("../scripts/delete_hook.lua")));

fn opt(v: Option<i64>) -> String {
    v.map(|n| n.to_string()).unwrap_or_default()
}

#[async_trait]
impl TriggerStore for RedisWorkflows {
    async fn cas_schedule(&self, cas: ScheduleCas<'_>) -> RecordResult<bool> {
        let mut conn = self.conn().await?;
        let id = cas.id;
        let written: i64 = CAS_SCHEDULE
            .key(self.k(&format!("schedule:{id}")))
            .key(self.k("schedules:due"))
            .key(self.k("schedules"))
            .key(self.k(&format!("runs:schedule:{id}")))
            .key(self.k(&format!("runs-order:schedule:{id}")))
            .arg(id)
            .arg(cas.expected.unwrap_or(""))
            .arg(cas.new.unwrap_or(""))
            .arg(opt(cas.next_ms))
            .arg(opt(cas.claimed))
            .invoke_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(written == 1)
    }

    async fn get_schedule(&self, id: &str) -> RecordResult<Option<String>> {
        let mut conn = self.conn().await?;
        conn.get(self.k(&format!("schedule:{id}")))
            .await
            .map_err(redis_err)
    }

    async fn list_schedules(&self) -> RecordResult<Vec<String>> {
        Ok(self
            .indexed("schedules", "schedule")
            .await?
            .into_iter()
            .map(|(_, doc)| doc)
            .collect())
    }

    async fn claim_due(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> RecordResult<Vec<(String, i64)>> {
        let mut conn = self.conn().await?;
        let until = now_ms.saturating_add(lease_ms);
        let ids: Vec<String> = CLAIM_DUE
            .key(self.k("schedules:due"))
            .arg(now_ms)
            .arg(until)
            .arg(limit)
            .invoke_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(ids.into_iter().map(|id| (id, until)).collect())
    }

    async fn next_due(&self) -> RecordResult<Option<i64>> {
        let mut conn = self.conn().await?;
        let first: Vec<(String, f64)> = conn
            .zrange_withscores(self.k("schedules:due"), 0, 0)
            .await
            .map_err(redis_err)?;
        Ok(first.first().map(|(_, score)| *score as i64))
    }

    async fn put_hook(&self, id: &str, doc: &str, create: bool) -> RecordResult<Written> {
        let mut conn = self.conn().await?;
        let key = self.k(&format!("hook:{id}"));
        if create {
            let saved: i64 = CREATE
                .key(&key)
                .key(self.k("hooks"))
                .arg(id)
                .arg(doc)
                .invoke_async(&mut conn)
                .await
                .map_err(redis_err)?;
            return Ok(if saved == 1 {
                Written::Done
            } else {
                Written::Exists
            });
        }
        let replaced: Option<String> = ::redis::cmd("SET")
            .arg(&key)
            .arg(doc)
            .arg("XX")
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(if replaced.is_some() {
            Written::Done
        } else {
            Written::Missing
        })
    }

    async fn get_hook(&self, id: &str) -> RecordResult<Option<String>> {
        let mut conn = self.conn().await?;
        conn.get(self.k(&format!("hook:{id}")))
            .await
            .map_err(redis_err)
    }

    async fn list_hooks(&self) -> RecordResult<Vec<String>> {
        Ok(self
            .indexed("hooks", "hook")
            .await?
            .into_iter()
            .map(|(_, doc)| doc)
            .collect())
    }

    async fn delete_hook(&self, id: &str) -> RecordResult<bool> {
        let mut conn = self.conn().await?;
        let n: i64 = DELETE_HOOK
            .key(self.k(&format!("hook:{id}")))
            .key(self.k("hooks"))
            .key(self.k(&format!("runs:hook:{id}")))
            .key(self.k(&format!("runs-order:hook:{id}")))
            .key(self.k("hook-stats"))
            .arg(id)
            .invoke_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(n == 1)
    }

    async fn count_delivery(&self, id: &str, at_ms: i64) -> RecordResult<()> {
        let mut conn = self.conn().await?;
        let stats = self.k("hook-stats");
        ::redis::pipe()
            .hincr(&stats, format!("{id}:count"), 1)
            .ignore()
            .hset(&stats, format!("{id}:last"), at_ms)
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(redis_err)
    }

    async fn deliveries(&self, id: &str) -> RecordResult<(u64, Option<i64>)> {
        let mut conn = self.conn().await?;
        let (count, last): (Option<u64>, Option<i64>) = ::redis::cmd("HMGET")
            .arg(self.k("hook-stats"))
            .arg(format!("{id}:count"))
            .arg(format!("{id}:last"))
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok((count.unwrap_or(0), last))
    }

    async fn put_run(
        &self,
        owner: &str,
        run_id: &str,
        at_ms: i64,
        row: &str,
        keep: usize,
    ) -> RecordResult<()> {
        let mut conn = self.conn().await?;
        let _dropped: i64 = PUT_RUN
            .key(self.k(&format!("runs:{owner}")))
            .key(self.k(&format!("runs-order:{owner}")))
            .arg(run_id)
            .arg(at_ms)
            .arg(row)
            .arg(keep.max(1))
            .invoke_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(())
    }

    async fn update_run(&self, owner: &str, run_id: &str, row: &str) -> RecordResult<bool> {
        let mut conn = self.conn().await?;
        let n: i64 = UPDATE_RUN
            .key(self.k(&format!("runs:{owner}")))
            .arg(run_id)
            .arg(row)
            .invoke_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(n == 1)
    }

    async fn runs(&self, owner: &str, limit: usize) -> RecordResult<Vec<String>> {
        let mut conn = self.conn().await?;
        if limit == 0 {
            return Ok(Vec::new());
        }
        let stop = isize::try_from(limit).unwrap_or(isize::MAX) - 1;
        let ids: Vec<String> = conn
            .zrevrange(self.k(&format!("runs-order:{owner}")), 0, stop)
            .await
            .map_err(redis_err)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<Option<String>> = ::redis::cmd("HMGET")
            .arg(self.k(&format!("runs:{owner}")))
            .arg(&ids)
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(rows.into_iter().flatten().collect())
    }
}
