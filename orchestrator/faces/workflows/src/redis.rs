//! The Redis [`WorkflowStore`], on the job store's connections and key prefix.
//!
//! Keys live under `{<prefix>}:wf:`, the job store's hash tag, so one deployment is one
//! cluster slot and the Lua scripts (`scripts/*.lua`, each with its KEYS/ARGV header) may
//! touch several keys atomically.
//!
//! | key | type | holds |
//! |---|---|---|
//! | `wf:workflow:<id>` | string | a [`StoredWorkflow`] (JSON) |
//! | `wf:workflows` | zset | workflow ids, score 0 (lexical order) |
//! | `wf:bp:<name>` | string | a compiled blueprint (JSON), written once (`SET NX`) |
//! | `wf:prompt:<id>` / `wf:prompts` | string / zset | a prompt template (JSON) / their ids |
//! | `wf:versions:<name>` / `wf:versioned` | string / zset | a workflow's versions (JSON) / the names |
//! | `wf:executions` | zset | execution ids, score = start (epoch ms) |
//! | `wf:deleted:<id>` | string | an execution deleted by a client; expires with its job |
//! | `wf:rate:<bucket>` | string | requests in the bucket's window; expires with it |

use crate::store::*;
use ::redis::{AsyncCommands, Script};
use async_trait::async_trait;
use baton_store::StoreError;
use baton_store_redis::pool::{Connection, Pool};
use baton_store_redis::Keys;

struct Scripts {
    create: Script,
    delete: Script,
    delete_execution: Script,
    cas: Script,
    rate: Script,
}

pub struct RedisWorkflows {
    pool: Pool,
    keys: Keys,
    scripts: Scripts,
}

pub(crate) fn redis_err(e: ::redis::RedisError) -> RecordError {
    RecordError::Store(StoreError::Redis(e.to_string()))
}

fn corrupt(what: String) -> RecordError {
    RecordError::Store(StoreError::Corrupt(what))
}

impl RedisWorkflows {
    /// On the job store's pool, under the same key prefix.
    pub fn with_pool(pool: Pool, keys: Keys) -> RedisWorkflows {
        RedisWorkflows {
            pool,
            keys,
            scripts: Scripts {
                create: Script::new(include_str!("scripts/create_workflow.lua")),
                delete: Script::new(include_str!("scripts/delete_workflow.lua")),
                delete_execution: Script::new(include_str!("scripts/delete_execution.lua")),
                cas: Script::new(include_str!("scripts/cas_document.lua")),
                rate: Script::new(include_str!("scripts/rate_count.lua")),
            },
        }
    }

    pub(crate) async fn conn(&self) -> RecordResult<Connection> {
        Connection::checkout(&self.pool)
            .await
            .map_err(|e| RecordError::Store(StoreError::Unavailable(e.to_string())))
    }

    pub(crate) fn k(&self, rest: &str) -> String {
        self.keys.k(&format!("wf:{rest}"))
    }

    /// Every record of an index: the ids of the zset `index`, then their `<kind>:<id>`
    /// strings in one MGET, as `(id, text)`; an id whose record went between the two
    /// reads was deleted and is left out.
    pub(crate) async fn indexed(
        &self,
        index: &str,
        kind: &str,
    ) -> RecordResult<Vec<(String, String)>> {
        let mut conn = self.conn().await?;
        let ids: Vec<String> = conn.zrange(self.k(index), 0, -1).await.map_err(redis_err)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ids
            .iter()
            .map(|id| self.k(&format!("{kind}:{id}")))
            .collect();
        let raws: Vec<Option<String>> = ::redis::cmd("MGET")
            .arg(&keys)
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(ids
            .into_iter()
            .zip(raws)
            .filter_map(|(id, raw)| raw.map(|r| (id, r)))
            .collect())
    }

    fn encode(wf: &StoredWorkflow) -> RecordResult<String> {
        serde_json::to_string(wf).map_err(|e| corrupt(format!("workflow encoding: {e}")))
    }

    fn decode(id: &str, raw: &str) -> RecordResult<StoredWorkflow> {
        serde_json::from_str(raw).map_err(|e| corrupt(format!("workflow {id}: {e}")))
    }
}

#[async_trait]
impl WorkflowStore for RedisWorkflows {
    fn kind(&self) -> &'static str {
        "redis"
    }

    async fn create_workflow(&self, wf: &StoredWorkflow) -> RecordResult<Written> {
        let id = &wf.workflow.id;
        let mut conn = self.conn().await?;
        let saved: i64 = self
            .scripts
            .create
            .key(self.k(&format!("workflow:{id}")))
            .key(self.k("workflows"))
            .arg(id)
            .arg(Self::encode(wf)?)
            .invoke_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(if saved == 1 {
            Written::Done
        } else {
            Written::Exists
        })
    }

    async fn replace_workflow(&self, wf: &StoredWorkflow) -> RecordResult<Written> {
        let mut conn = self.conn().await?;
        // SET ... XX: only over an existing record, in one command.
        let set: Option<String> = ::redis::cmd("SET")
            .arg(self.k(&format!("workflow:{}", wf.workflow.id)))
            .arg(Self::encode(wf)?)
            .arg("XX")
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(if set.is_some() {
            Written::Done
        } else {
            Written::Missing
        })
    }

    async fn get_workflow(&self, id: &str) -> RecordResult<Option<StoredWorkflow>> {
        let mut conn = self.conn().await?;
        let raw: Option<String> = conn
            .get(self.k(&format!("workflow:{id}")))
            .await
            .map_err(redis_err)?;
        raw.map(|r| Self::decode(id, &r)).transpose()
    }

    async fn workflow_sources(
        &self,
        id: &str,
    ) -> RecordResult<(Option<String>, Option<StoredWorkflow>)> {
        let mut conn = self.conn().await?;
        let (versions, raw): (Option<String>, Option<String>) = ::redis::cmd("MGET")
            .arg(self.k(&format!("versions:{id}")))
            .arg(self.k(&format!("workflow:{id}")))
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok((versions, raw.map(|r| Self::decode(id, &r)).transpose()?))
    }

    async fn list_workflows(&self) -> RecordResult<Vec<StoredWorkflow>> {
        self.indexed("workflows", "workflow")
            .await?
            .iter()
            .map(|(id, raw)| Self::decode(id, raw))
            .collect()
    }

    async fn delete_workflow(&self, id: &str) -> RecordResult<bool> {
        let mut conn = self.conn().await?;
        let n: i64 = self
            .scripts
            .delete
            .key(self.k(&format!("workflow:{id}")))
            .key(self.k("workflows"))
            .arg(id)
            .invoke_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(n > 0)
    }

    async fn put_blueprint(&self, name: &str, definition: &str) -> RecordResult<()> {
        let mut conn = self.conn().await?;
        let _: Option<String> = ::redis::cmd("SET")
            .arg(self.k(&format!("bp:{name}")))
            .arg(definition)
            .arg("NX")
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(())
    }

    async fn get_blueprint(&self, name: &str) -> RecordResult<Option<String>> {
        let mut conn = self.conn().await?;
        conn.get(self.k(&format!("bp:{name}")))
            .await
            .map_err(redis_err)
    }

    async fn create_prompt(&self, id: &str, prompt: &str) -> RecordResult<Written> {
        let mut conn = self.conn().await?;
        // The workflow script is generic: a record and its index, created together.
        let saved: i64 = self
            .scripts
            .create
            .key(self.k(&format!("prompt:{id}")))
            .key(self.k("prompts"))
            .arg(id)
            .arg(prompt)
            .invoke_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(if saved == 1 {
            Written::Done
        } else {
            Written::Exists
        })
    }

    async fn get_prompt(&self, id: &str) -> RecordResult<Option<String>> {
        let mut conn = self.conn().await?;
        conn.get(self.k(&format!("prompt:{id}")))
            .await
            .map_err(redis_err)
    }

    async fn list_prompts(&self) -> RecordResult<Vec<String>> {
        Ok(self
            .indexed("prompts", "prompt")
            .await?
            .into_iter()
            .map(|(_, raw)| raw)
            .collect())
    }

    async fn delete_prompt(&self, id: &str) -> RecordResult<bool> {
        let mut conn = self.conn().await?;
        let n: i64 = self
            .scripts
            .delete
            .key(self.k(&format!("prompt:{id}")))
            .key(self.k("prompts"))
            .arg(id)
            .invoke_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(n > 0)
    }

    async fn get_versions(&self, name: &str) -> RecordResult<Option<String>> {
        let mut conn = self.conn().await?;
        conn.get(self.k(&format!("versions:{name}")))
            .await
            .map_err(redis_err)
    }

    async fn cas_versions(
        &self,
        name: &str,
        expected: Option<&str>,
        new: &str,
    ) -> RecordResult<bool> {
        let mut conn = self.conn().await?;
        let n: i64 = self
            .scripts
            .cas
            .key(self.k(&format!("versions:{name}")))
            .key(self.k("versioned"))
            .arg(expected.unwrap_or(""))
            .arg(new)
            .arg(name)
            .invoke_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(n == 1)
    }

    async fn list_versions(&self) -> RecordResult<Vec<String>> {
        Ok(self
            .indexed("versioned", "versions")
            .await?
            .into_iter()
            .map(|(_, raw)| raw)
            .collect())
    }

    async fn add_execution(&self, id: &str, created_ms: i64) -> RecordResult<()> {
        let mut conn = self.conn().await?;
        conn.zadd::<_, _, _, ()>(self.k("executions"), id, created_ms)
            .await
            .map_err(redis_err)
    }

    async fn recent_executions(&self, limit: usize) -> RecordResult<Vec<String>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut conn = self.conn().await?;
        let stop = isize::try_from(limit).unwrap_or(isize::MAX) - 1;
        conn.zrevrange(self.k("executions"), 0, stop)
            .await
            .map_err(redis_err)
    }

    async fn remove_execution(&self, id: &str) -> RecordResult<()> {
        let mut conn = self.conn().await?;
        conn.zrem::<_, _, ()>(self.k("executions"), id)
            .await
            .map_err(redis_err)
    }

    async fn delete_execution(&self, id: &str, keep_ms: u64) -> RecordResult<()> {
        let mut conn = self.conn().await?;
        let _: i64 = self
            .scripts
            .delete_execution
            .key(self.k("executions"))
            .key(self.k(&format!("deleted:{id}")))
            .arg(id)
            .arg(keep_ms.max(1))
            .invoke_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(())
    }

    async fn is_deleted(&self, id: &str) -> RecordResult<bool> {
        let mut conn = self.conn().await?;
        conn.exists(self.k(&format!("deleted:{id}")))
            .await
            .map_err(redis_err)
    }

    async fn count_request(
        &self,
        bucket: &str,
        window_ms: u64,
        _now_ms: i64,
    ) -> RecordResult<RateCount> {
        let mut conn = self.conn().await?;
        let (count, ttl): (u64, i64) = self
            .scripts
            .rate
            .key(self.k(&format!("rate:{bucket}")))
            .arg(window_ms.max(1))
            .invoke_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(RateCount {
            count,
            resets_in_ms: u64::try_from(ttl).unwrap_or(0),
        })
    }

    async fn block(&self, client: &str, until_ms: i64) -> RecordResult<()> {
        let mut conn = self.conn().await?;
        // GT: a later deadline replaces an earlier one, never the other way round.
        ::redis::cmd("ZADD")
            .arg(self.k("blocked"))
            .arg("GT")
            .arg(until_ms)
            .arg(client)
            .query_async::<()>(&mut conn)
            .await
            .map_err(redis_err)
    }

    async fn blocked(&self, now_ms: i64) -> RecordResult<Vec<(String, i64)>> {
        let mut conn = self.conn().await?;
        let key = self.k("blocked");
        let (_, list): (i64, Vec<(String, i64)>) = ::redis::pipe()
            .cmd("ZREMRANGEBYSCORE")
            .arg(&key)
            .arg("-inf")
            .arg(now_ms)
            .cmd("ZRANGE")
            .arg(&key)
            .arg(0)
            .arg(-1)
            .arg("WITHSCORES")
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(list)
    }

    async fn set_circuit(&self, engine: &str, state: &str) -> RecordResult<()> {
        let mut conn = self.conn().await?;
        conn.hset(self.k("circuits"), engine, state)
            .await
            .map_err(redis_err)
    }

    async fn circuits(&self) -> RecordResult<Vec<(String, String)>> {
        let mut conn = self.conn().await?;
        let all: std::collections::BTreeMap<String, String> =
            conn.hgetall(self.k("circuits")).await.map_err(redis_err)?;
        Ok(all.into_iter().collect())
    }
}
