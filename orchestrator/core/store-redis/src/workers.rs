//! The Redis store's workers: registration, heartbeats, WebSocket flags and listings
//! (register.lua, heartbeat.lua, set_websocket.lua; the keys are in the table of
//! `super`).

use crate::{redis_err, RedisStore};
use ::redis::AsyncCommands;
use baton_store::{StoreResult, WorkerRecord, WorkerUpdate};
use std::collections::BTreeMap;
use std::time::Duration;

impl RedisStore {
    fn worker_record(
        &self,
        id: &str,
        map: BTreeMap<String, String>,
        tasks: Vec<String>,
    ) -> WorkerRecord {
        let num = |k: &str| map.get(k).and_then(|v| v.parse().ok()).unwrap_or(0);
        WorkerRecord {
            worker_id: id.to_string(),
            status: map.get("status").cloned().unwrap_or_default(),
            info: map.get("info").cloned().unwrap_or_else(|| "{}".into()),
            skills: map
                .get("skills")
                .and_then(|s| serde_json::from_str(s).ok())
                .unwrap_or_default(),
            last_seen_ms: num("last_seen"),
            registered_ms: num("registered"),
            websocket: map.get("ws").map(|v| v == "1").unwrap_or(false),
            tasks,
        }
    }

    pub(super) async fn register(&self, u: &WorkerUpdate) -> StoreResult<Vec<String>> {
        let skills = u.skills.clone().unwrap_or_default();
        let skills_json = serde_json::to_string(&skills).unwrap_or_else(|_| "[]".into());
        let mut inv = self.scripts.register.prepare_invoke();
        inv.key(self.keys.worker(&u.worker_id))
            .key(self.keys.k("workers"))
            .key(self.keys.k("skills"))
            .key(self.keys.worker_tasks(&u.worker_id))
            .key(self.keys.k("leases"))
            .arg(u.now_ms)
            .arg(u.ttl.as_millis() as i64)
            .arg(&u.worker_id)
            .arg(&u.status)
            .arg(u.info.as_deref().unwrap_or("{}"))
            .arg(skills_json)
            .arg(u.incarnation.as_deref().unwrap_or(""))
            .arg(u.lease_deadline_ms);
        for s in &skills {
            inv.arg(s);
        }
        let mut conn = self.conn().await?;
        inv.invoke_async(&mut conn).await.map_err(redis_err)
    }

    pub(super) async fn beat(&self, u: &WorkerUpdate) -> StoreResult<Option<Vec<String>>> {
        let skills_json = match &u.skills {
            Some(s) => serde_json::to_string(s).unwrap_or_default(),
            None => String::new(),
        };
        let mut inv = self.scripts.heartbeat.prepare_invoke();
        inv.key(self.keys.worker(&u.worker_id))
            .key(self.keys.k("workers"))
            .key(self.keys.worker_tasks(&u.worker_id))
            .key(self.keys.k("leases"))
            .key(self.keys.worker_cancels(&u.worker_id))
            .arg(u.now_ms)
            .arg(u.ttl.as_millis() as i64)
            .arg(u.lease_deadline_ms)
            .arg(&u.worker_id)
            .arg(&u.status)
            .arg(skills_json)
            .arg(if u.current_tasks.is_some() { "1" } else { "0" });
        for t in u.current_tasks.iter().flatten() {
            inv.arg(t);
        }
        let mut conn = self.conn().await?;
        let reply: Vec<::redis::Value> = inv.invoke_async(&mut conn).await.map_err(redis_err)?;
        let known = matches!(reply.first(), Some(::redis::Value::Int(1)));
        if !known {
            return Ok(None);
        }
        let cancels = reply
            .iter()
            .skip(1)
            .filter_map(|v| ::redis::from_redis_value_ref::<String>(v).ok())
            .collect();
        Ok(Some(cancels))
    }

    pub(super) async fn worker(&self, worker_id: &str) -> StoreResult<Option<WorkerRecord>> {
        let mut conn = self.conn().await?;
        let (map, mut tasks): (BTreeMap<String, String>, Vec<String>) = ::redis::pipe()
            .hgetall(self.keys.worker(worker_id))
            .smembers(self.keys.worker_tasks(worker_id))
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        if !map.contains_key("info") {
            return Ok(None);
        }
        tasks.sort(); // as listed by `workers_seen` and the memory store
        Ok(Some(self.worker_record(worker_id, map, tasks)))
    }

    pub(super) async fn workers_seen(
        &self,
        now_ms: i64,
        ttl: Duration,
    ) -> StoreResult<Vec<WorkerRecord>> {
        let mut conn = self.conn().await?;
        let cutoff = now_ms - ttl.as_millis() as i64;
        let workers_key = self.keys.k("workers");
        let _: i64 = conn
            .zrembyscore(&workers_key, "-inf", cutoff)
            .await
            .map_err(redis_err)?;
        let ids: Vec<String> = conn.zrange(&workers_key, 0, -1).await.map_err(redis_err)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = ::redis::pipe();
        for id in &ids {
            pipe.hgetall(self.keys.worker(id))
                .smembers(self.keys.worker_tasks(id));
        }
        let rows: Vec<(BTreeMap<String, String>, Vec<String>)> =
            pipe.query_async(&mut conn).await.map_err(redis_err)?;
        let mut out: Vec<WorkerRecord> = ids
            .iter()
            .zip(rows)
            .filter(|(_, (map, _))| map.contains_key("info"))
            .map(|(id, (map, mut tasks))| {
                tasks.sort();
                self.worker_record(id, map, tasks)
            })
            .collect();
        out.sort_by(|a, b| a.worker_id.cmp(&b.worker_id));
        Ok(out)
    }
}
