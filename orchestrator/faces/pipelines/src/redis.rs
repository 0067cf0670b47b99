//! The Redis [`RecordStore`].
//!
//! Keys live under `{<prefix>}:pl:`, the job store's hash tag, so every key of one
//! deployment is in one cluster slot and the Lua scripts (`scripts/*.lua`, each with its
//! KEYS/ARGV header) may touch any of them atomically.
//!
//! | key | type | holds |
//! |---|---|---|
//! | `pl:seq` | hash | last id per kind (`project`, `run`, `step`, `event`) |
//! | `pl:project:<id>` | hash | the public project record |
//! | `pl:secrets:<id>` | string | the project's secrets (JSON); never read with the project |
//! | `pl:projects` | zset | project ids, score = id |
//! | `pl:run:<id>` / `pl:runs:<project>` | hash / zset | a run / the project's run ids |
//! | `pl:step:<id>` / `pl:steps:<run>` | hash / zset | a step / the run's step ids, score = step index |
//! | `pl:event:<id>` | string | the event (JSON, never changes) |
//! | `pl:events`, `pl:events:run:<id>`, `pl:events:project:<id>` | zset | event ids, score = id |
//! | `pl:clar:<scope>:<key>` / `pl:clars:<scope>` | hash / zset | a clarification / the scope's keys (lex order) |
//! | `pl:xrun:*`, `pl:art:*`, `pl:qjob:*`, ... | | runs, artifacts, the queue index: see [`runs`] |
//!
//! Records are hashes with one field per top-level JSON field, each value JSON-encoded
//! (nulls omitted): a status compare-and-set or a partial update changes fields in place
//! without Lua having to parse and re-encode the record.

use super::model::*;
use super::status::{ProtocolStatus, StatusName, StepStatus};
use super::status::{CANCELLABLE_PROTOCOL, CANCELLABLE_STEP};
use super::store::*;
use ::redis::{AsyncCommands, Script};
use async_trait::async_trait;
use baton_protocol::clock::now_ms;
use baton_store::StoreError;
use baton_store_redis::pool::{self, Connection, Pool};
use baton_store_redis::Keys;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

mod events;
mod records;
mod runs;
mod step_state;
use records::*;

struct Scripts {
    transition: Script,
    cancel_protocol: Script,
    create_step: Script,
    update_existing: Script,
}

pub struct RedisRecords {
    pool: Pool,
    keys: Keys,
    scripts: Scripts,
}

fn redis_err(e: ::redis::RedisError) -> RecordError {
    RecordError::Store(StoreError::Redis(e.to_string()))
}

fn corrupt(what: String) -> RecordError {
    RecordError::Store(StoreError::Corrupt(what))
}

/// A status as stored: JSON-encoded.
fn enc<S: StatusName>(s: S) -> String {
    format!("\"{}\"", s.as_str())
}

fn dec<S: StatusName>(raw: &str) -> RecordResult<S> {
    serde_json::from_str::<String>(raw)
        .ok()
        .and_then(|s| S::parse(&s))
        .ok_or_else(|| corrupt(format!("status {raw}")))
}

fn scope_key(scope: ClarificationScope) -> String {
    match scope {
        ClarificationScope::Project(id) => format!("p{id}"),
        ClarificationScope::ProtocolRun(id) => format!("r{id}"),
    }
}

impl RedisRecords {
    /// Connects with its own pool of `pool_size` connections and checks the server answers.
    pub async fn connect(url: &str, prefix: &str, pool_size: usize) -> RecordResult<RedisRecords> {
        let manager = pool::Manager::new(url).map_err(redis_err)?;
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .runtime(deadpool::Runtime::Tokio1)
            // Requests share the connection handed back last (see baton_store_redis::pool).
            .queue_mode(deadpool::managed::QueueMode::Lifo)
            .wait_timeout(Some(Duration::from_secs(5)))
            .create_timeout(Some(Duration::from_secs(3)))
            .build()
            .map_err(|e| RecordError::Store(StoreError::Unavailable(e.to_string())))?;
        let store = RedisRecords::with_pool(pool, Keys::new(prefix));
        let mut conn = store.conn().await?;
        let _: String = ::redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(store)
    }

    /// On a pool already made (the job store's: one set of connections per deployment),
    /// under the same key prefix.
    pub fn with_pool(pool: Pool, keys: Keys) -> RedisRecords {
        RedisRecords {
            pool,
            keys,
            scripts: Scripts {
                transition: Script::new(include_str!("scripts/transition.lua")),
                cancel_protocol: Script::new(include_str!("scripts/cancel_protocol.lua")),
                create_step: Script::new(include_str!("scripts/create_step.lua")),
                update_existing: Script::new(include_str!("scripts/update_existing.lua")),
            },
        }
    }

    async fn conn(&self) -> RecordResult<Connection> {
        Connection::checkout(&self.pool)
            .await
            .map_err(|e| RecordError::Store(StoreError::Unavailable(e.to_string())))
    }

    fn k(&self, rest: &str) -> String {
        self.keys.k(&format!("pl:{rest}"))
    }

    async fn next_id(&self, conn: &mut Connection, kind: &str) -> RecordResult<Id> {
        conn.hincr(self.k("seq"), kind, 1).await.map_err(redis_err)
    }

    /// Reads one record hash; `NotFound` when it is missing.
    async fn read<T: DeserializeOwned>(
        &self,
        conn: &mut Connection,
        kind: &'static str,
        key: String,
        id: impl ToString,
    ) -> RecordResult<T> {
        let map: BTreeMap<String, String> = conn.hgetall(&key).await.map_err(redis_err)?;
        from_fields(&key, map)?.ok_or_else(|| RecordError::not_found(kind, id))
    }

    /// Reads the records of `ids` (in that order) in one round trip, skipping missing ones.
    async fn read_many<T: DeserializeOwned>(
        &self,
        conn: &mut Connection,
        prefix: &str,
        ids: &[String],
    ) -> RecordResult<Vec<T>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = ::redis::pipe();
        for id in ids {
            pipe.hgetall(self.k(&format!("{prefix}:{id}")));
        }
        let maps: Vec<BTreeMap<String, String>> =
            pipe.query_async(conn).await.map_err(redis_err)?;
        let mut out = Vec::with_capacity(maps.len());
        for (id, map) in ids.iter().zip(maps) {
            out.extend(from_fields(&format!("{prefix}:{id}"), map)?);
        }
        Ok(out)
    }

    async fn list_zset<T: DeserializeOwned>(
        &self,
        index: String,
        prefix: &str,
    ) -> RecordResult<Vec<T>> {
        let mut conn = self.conn().await?;
        let ids: Vec<String> = conn.zrange(index, 0, -1).await.map_err(redis_err)?;
        self.read_many(&mut conn, prefix, &ids).await
    }

    async fn cas<S: StatusName>(
        &self,
        kind: &'static str,
        key: String,
        id: Id,
        allowed_from: &[S],
        to: S,
    ) -> RecordResult<Transition<S>> {
        let mut inv = self.scripts.transition.prepare_invoke();
        inv.key(key).arg(enc(to)).arg(now_ms());
        for s in allowed_from {
            inv.arg(enc(*s));
        }
        let mut conn = self.conn().await?;
        let (code, status): (i64, String) = inv.invoke_async(&mut conn).await.map_err(redis_err)?;
        match code {
            1 => Ok(Transition::Applied {
                from: dec(&status)?,
            }),
            2 => Ok(Transition::Conflict {
                current: dec(&status)?,
            }),
            _ => Err(RecordError::not_found(kind, id)),
        }
    }
}

#[async_trait]
impl RecordStore for RedisRecords {
    fn kind(&self) -> &'static str {
        "redis"
    }

    async fn create_project(&self, new: NewProject) -> RecordResult<Project> {
        let mut conn = self.conn().await?;
        let id = self.next_id(&mut conn, "project").await?;
        let (project, secrets) = new.into_record(id, now_ms());
        let secrets = to_json(&secrets)?;
        let key = self.k(&format!("project:{id}"));
        ::redis::pipe()
            .atomic()
            .hset_multiple(&key, &to_fields(&project)?)
            .ignore()
            .set(self.k(&format!("secrets:{id}")), secrets)
            .ignore()
            .zadd(self.k("projects"), id, id)
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(project)
    }

    async fn get_project(&self, id: Id) -> RecordResult<Project> {
        let mut conn = self.conn().await?;
        self.read(&mut conn, "project", self.k(&format!("project:{id}")), id)
            .await
    }

    async fn list_projects(&self) -> RecordResult<Vec<Project>> {
        self.list_zset(self.k("projects"), "project").await
    }

    async fn project_secrets(&self, id: Id) -> RecordResult<ProjectSecrets> {
        let mut conn = self.conn().await?;
        let raw: Option<String> = conn
            .get(self.k(&format!("secrets:{id}")))
            .await
            .map_err(redis_err)?;
        let raw = raw.ok_or_else(|| RecordError::not_found("project", id))?;
        serde_json::from_str(&raw).map_err(|e| corrupt(format!("secrets of project {id}: {e}")))
    }

    async fn update_project(&self, id: Id, u: ProjectUpdate) -> RecordResult<Project> {
        let secrets = match &u.secrets {
            Some(s) => to_json(s)?,
            None => String::new(),
        };
        let mut fields = to_fields(&ProjectUpdate { secrets: None, ..u })?;
        fields.push(("updated_at".into(), now_ms().to_string()));
        let key = self.k(&format!("project:{id}"));
        let mut inv = self.scripts.update_existing.prepare_invoke();
        inv.key(&key)
            .key(self.k(&format!("secrets:{id}")))
            .arg(secrets);
        for (f, v) in &fields {
            inv.arg(f).arg(v);
        }
        let mut conn = self.conn().await?;
        let map: BTreeMap<String, String> = inv.invoke_async(&mut conn).await.map_err(redis_err)?;
        from_fields(&key, map)?.ok_or_else(|| RecordError::not_found("project", id))
    }

    async fn create_protocol_run(&self, new: NewProtocolRun) -> RecordResult<ProtocolRun> {
        let mut conn = self.conn().await?;
        // Projects are never deleted, so checking first cannot race with a removal.
        let exists: bool = conn
            .exists(self.k(&format!("project:{}", new.project_id)))
            .await
            .map_err(redis_err)?;
        if !exists {
            return Err(RecordError::not_found("project", new.project_id));
        }
        let id = self.next_id(&mut conn, "run").await?;
        let run = new.into_record(id, now_ms());
        ::redis::pipe()
            .atomic()
            .hset_multiple(self.k(&format!("run:{id}")), &to_fields(&run)?)
            .ignore()
            .zadd(self.k(&format!("runs:{}", run.project_id)), id, id)
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(run)
    }

    async fn get_protocol_run(&self, id: Id) -> RecordResult<ProtocolRun> {
        let mut conn = self.conn().await?;
        self.read(&mut conn, "protocol run", self.k(&format!("run:{id}")), id)
            .await
    }

    async fn list_protocol_runs(&self, project_id: Id) -> RecordResult<Vec<ProtocolRun>> {
        self.list_zset(self.k(&format!("runs:{project_id}")), "run")
            .await
    }

    async fn create_step_run(&self, new: NewStepRun) -> RecordResult<StepRun> {
        let mut conn = self.conn().await?;
        let id = self.next_id(&mut conn, "step").await?;
        let run_id = new.protocol_run_id;
        let step = new.into_record(id, now_ms());
        let mut inv = self.scripts.create_step.prepare_invoke();
        inv.key(self.k(&format!("run:{run_id}")))
            .key(self.k(&format!("steps:{run_id}")))
            .key(self.k(&format!("step:{id}")))
            .arg(step.step_index)
            .arg(id);
        for (f, v) in to_fields(&step)? {
            inv.arg(f).arg(v);
        }
        let reply: Vec<String> = inv.invoke_async(&mut conn).await.map_err(redis_err)?;
        match reply.first().map(String::as_str) {
            Some("1") => Ok(step),
            Some("2") => Err(RecordError::DuplicateStepIndex {
                protocol_run_id: run_id,
                step_index: step.step_index,
                existing: reply
                    .get(1)
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| corrupt(format!("steps of run {run_id}")))?,
            }),
            _ => Err(RecordError::not_found("protocol run", run_id)),
        }
    }

    async fn get_step_run(&self, id: Id) -> RecordResult<StepRun> {
        let mut conn = self.conn().await?;
        self.read(&mut conn, "step run", self.k(&format!("step:{id}")), id)
            .await
    }

    async fn list_step_runs(&self, protocol_run_id: Id) -> RecordResult<Vec<StepRun>> {
        self.list_zset(self.k(&format!("steps:{protocol_run_id}")), "step")
            .await
    }

    async fn transition_protocol(
        &self,
        id: Id,
        allowed_from: &[ProtocolStatus],
        to: ProtocolStatus,
    ) -> RecordResult<Transition<ProtocolStatus>> {
        let key = self.k(&format!("run:{id}"));
        self.cas("protocol run", key, id, allowed_from, to).await
    }

    async fn transition_step(
        &self,
        id: Id,
        allowed_from: &[StepStatus],
        to: StepStatus,
    ) -> RecordResult<Transition<StepStatus>> {
        let key = self.k(&format!("step:{id}"));
        self.cas("step run", key, id, allowed_from, to).await
    }

    async fn cancel_protocol(&self, id: Id) -> RecordResult<CancelOutcome> {
        let mut inv = self.scripts.cancel_protocol.prepare_invoke();
        inv.key(self.k(&format!("run:{id}")))
            .key(self.k(&format!("steps:{id}")))
            .arg(now_ms())
            .arg(self.k("step:"))
            .arg(enc(ProtocolStatus::Cancelled))
            .arg(CANCELLABLE_PROTOCOL.len());
        for s in CANCELLABLE_PROTOCOL {
            inv.arg(enc(*s));
        }
        for s in CANCELLABLE_STEP {
            inv.arg(enc(*s));
        }
        let mut conn = self.conn().await?;
        let reply: Vec<String> = inv.invoke_async(&mut conn).await.map_err(redis_err)?;
        let status = reply.get(1).map(String::as_str).unwrap_or_default();
        match reply.first().map(String::as_str) {
            Some("1") => Ok(CancelOutcome::Cancelled {
                from: dec(status)?,
                steps: reply
                    .get(2..)
                    .unwrap_or_default()
                    .iter()
                    .map(|s| s.parse().map_err(|_| corrupt(format!("step id {s}"))))
                    .collect::<RecordResult<_>>()?,
            }),
            Some("2") => Ok(CancelOutcome::Conflict {
                current: dec(status)?,
            }),
            _ => Err(RecordError::not_found("protocol run", id)),
        }
    }

    async fn append_event(&self, new: NewEvent) -> RecordResult<Event> {
        self.append_event_impl(new).await
    }

    async fn list_events(&self, protocol_run_id: Id, limit: usize) -> RecordResult<Vec<Event>> {
        self.events_of(self.k(&format!("events:run:{protocol_run_id}")), limit)
            .await
    }

    async fn recent_events(
        &self,
        project_id: Option<Id>,
        limit: usize,
    ) -> RecordResult<Vec<Event>> {
        let index = match project_id {
            Some(p) => self.k(&format!("events:project:{p}")),
            None => self.k("events"),
        };
        self.events_of(index, limit).await
    }

    async fn upsert_clarification(
        &self,
        scope: ClarificationScope,
        new: NewClarification,
    ) -> RecordResult<Clarification> {
        self.upsert_clarification_impl(scope, new).await
    }

    async fn list_clarifications(
        &self,
        scope: ClarificationScope,
    ) -> RecordResult<Vec<Clarification>> {
        self.list_clarifications_impl(scope).await
    }

    async fn answer_clarification(
        &self,
        scope: ClarificationScope,
        key: &str,
        answer: Value,
        answered_by: Option<String>,
    ) -> RecordResult<Clarification> {
        self.answer_clarification_impl(scope, key, answer, answered_by)
            .await
    }
}
