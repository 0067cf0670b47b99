//! The Redis store.
//!
//! Keys all start with `{<prefix>}:`; the braces make the prefix the Redis Cluster hash
//! tag, so every key of one deployment lives in one slot and each Lua script can touch
//! all of them atomically. See `scripts/*.lua` for the KEYS/ARGV of each script.
//!
//! | key | type | holds |
//! |---|---|---|
//! | `job:<id>` | hash | `v`, `status`, `doc`, `progress`, `t:<task_id>` slots |
//! | `hist:<id>` | list | history entries (JSON), trimmed to the limit |
//! | `counts` | hash | jobs by status |
//! | `q:<skill>` | zset | queued tasks, score = -priority, member = `<enqueue µs>|<task id>` |
//! | `tasks` | hash | task id → [`TaskBlob`] |
//! | `leases` | zset | task id → lease deadline (epoch ms) |
//! | `timers` | zset | `kind|job|x` → due (epoch ms) |
//! | `skills` | set | skills ever queued or registered |
//! | `worker:<id>` | hash | registration, status, last seen; expires with the heartbeat timeout |
//! | `workers` | zset | worker id → last seen |
//! | `wtasks:<id>` / `wcancel:<id>` | set | tasks a worker holds / must cancel |
//!
//! Channels `wake` (a skill got a task), `done` (a job ended) and `cmd` (a worker
//! command, prefixed with the worker id) reach every orchestrator through one subscription;
//! idle long-polls hold no Redis connection.

mod commit_args;
mod keys;
mod pool;
mod pubsub;

use commit_args::commit_invocation;
pub(crate) use keys::Keys;

use super::*;
use ::redis::{AsyncCommands, Script};
use pool::{Connection, Pool};
use std::sync::Arc;

struct Scripts {
    commit: Script,
    claim: Script,
    claim_due: Script,
    heartbeat: Script,
    register: Script,
    progress: Script,
    replace_timer: Script,
    set_websocket: Script,
}

impl Scripts {
    fn load() -> Scripts {
        Scripts {
            commit: Script::new(include_str!("scripts/commit.lua")),
            claim: Script::new(include_str!("scripts/claim.lua")),
            claim_due: Script::new(include_str!("scripts/claim_due.lua")),
            heartbeat: Script::new(include_str!("scripts/heartbeat.lua")),
            register: Script::new(include_str!("scripts/register.lua")),
            progress: Script::new(include_str!("scripts/progress.lua")),
            replace_timer: Script::new(include_str!("scripts/replace_timer.lua")),
            set_websocket: Script::new(include_str!("scripts/set_websocket.lua")),
        }
    }
}

/// Lifetime of a worker hash created by a WebSocket before any registration.
const WS_ONLY_TTL_MS: i64 = 60_000;

pub struct RedisStore {
    pool: Pool,
    round_trips: std::sync::atomic::AtomicU64,
    keys: Keys,
    scripts: Arc<Scripts>,
    history_limit: usize,
    notices: broadcast::Sender<Notice>,
    subscriber: tokio::task::JoinHandle<()>,
}

impl Drop for RedisStore {
    fn drop(&mut self) {
        self.subscriber.abort();
    }
}

fn redis_err(e: ::redis::RedisError) -> StoreError {
    StoreError::Redis(e.to_string())
}

impl RedisStore {
    /// Connects (checking the server answers) and starts the notice subscription.
    pub async fn connect(
        url: &str,
        prefix: &str,
        pool_size: usize,
        history_limit: usize,
    ) -> StoreResult<RedisStore> {
        let manager = pool::Manager::new(url).map_err(redis_err)?;
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .runtime(deadpool::Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(5)))
            .create_timeout(Some(Duration::from_secs(3)))
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let client = ::redis::Client::open(url).map_err(redis_err)?;
        let keys = Keys::new(prefix);
        let (notices, _) = broadcast::channel(4096);
        let subscriber = pubsub::spawn(client, keys.clone(), notices.clone());
        let store = RedisStore {
            pool,
            round_trips: Default::default(),
            keys,
            scripts: Arc::new(Scripts::load()),
            history_limit: history_limit.max(1),
            notices,
            subscriber,
        };
        store.ping().await?;
        Ok(store)
    }

    /// A pooled connection for one request (each call is one round trip).
    async fn conn(&self) -> StoreResult<Connection> {
        self.round_trips
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.pool
            .get()
            .await
            .map(Connection)
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }

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
}

#[async_trait]
impl Store for RedisStore {
    fn kind(&self) -> &'static str {
        "redis"
    }

    async fn ping(&self) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        let _: String = ::redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(())
    }

    async fn commit(&self, c: &Commit) -> StoreResult<CommitOutcome> {
        let expire_ms = c.expire_after.map(|d| d.as_millis() as i64).unwrap_or(0);
        let inv = commit_invocation(
            &self.scripts.commit,
            &self.keys,
            c,
            self.history_limit,
            expire_ms,
        );
        let mut conn = self.conn().await?;
        let (ok, version): (i64, u64) = inv.invoke_async(&mut conn).await.map_err(redis_err)?;
        Ok(if ok == 1 {
            CommitOutcome::Committed { version }
        } else {
            CommitOutcome::Conflict
        })
    }

    async fn get_job(&self, job_id: &str) -> StoreResult<Option<StoredJob>> {
        let mut conn = self.conn().await?;
        let map: BTreeMap<String, String> = conn
            .hgetall(self.keys.job(job_id))
            .await
            .map_err(redis_err)?;
        if map.is_empty() {
            return Ok(None);
        }
        StoredJob::from_fields(job_id, map)
    }

    async fn history(&self, job_id: &str) -> StoreResult<Vec<String>> {
        let mut conn = self.conn().await?;
        conn.lrange(self.keys.hist(job_id), 0, -1)
            .await
            .map_err(redis_err)
    }

    async fn set_progress(&self, job_id: &str, task_id: &str, progress: &str) -> StoreResult<bool> {
        let mut conn = self.conn().await?;
        let set: i64 = self
            .scripts
            .progress
            .key(self.keys.job(job_id))
            .arg(task_id)
            .arg(progress)
            .invoke_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(set == 1)
    }

    async fn claim(&self, req: &ClaimRequest) -> StoreResult<Vec<ClaimedTask>> {
        if req.skills.is_empty() {
            return Ok(Vec::new());
        }
        let mut inv = self.scripts.claim.prepare_invoke();
        inv.key(self.keys.k("leases"))
            .key(self.keys.k("tasks"))
            .key(self.keys.k("timers"))
            .key(self.keys.k("counts"))
            .key(self.keys.worker_tasks(&req.worker_id));
        for skill in &req.skills {
            inv.key(self.keys.queue(skill));
        }
        inv.arg(req.now_ms)
            .arg(req.lease_deadline_ms)
            .arg(&req.worker_id)
            .arg(&self.keys.tag)
            .arg(self.history_limit)
            .arg(req.max.max(1));
        for skill in &req.skills {
            inv.arg(skill);
        }
        let mut conn = self.conn().await?;
        type Row = (String, String, String, String, i64, i64, u64, Vec<String>);
        let rows: Vec<Row> = inv.invoke_async(&mut conn).await.map_err(redis_err)?;
        rows.into_iter()
            .map(
                |(
                    job_id,
                    task_id,
                    skill,
                    payload,
                    enqueued_ms,
                    result_timeout_ms,
                    remaining,
                    fields,
                )| {
                    let mut pairs = fields.into_iter();
                    let pairs = std::iter::from_fn(move || Some((pairs.next()?, pairs.next()?)));
                    let job = StoredJob::from_fields(&job_id, pairs)?;
                    Ok(ClaimedTask {
                        job_id,
                        task_id,
                        skill,
                        payload,
                        enqueued_ms,
                        claimed_ms: req.now_ms,
                        result_timeout_ms,
                        remaining,
                        job,
                    })
                },
            )
            .collect()
    }

    async fn task_blob(&self, task_id: &str) -> StoreResult<Option<TaskBlob>> {
        let mut conn = self.conn().await?;
        let raw: Option<String> = conn
            .hget(self.keys.k("tasks"), task_id)
            .await
            .map_err(redis_err)?;
        Ok(raw.and_then(|s| TaskBlob::decode(&s)))
    }

    async fn claim_due_timers(
        &self,
        now_ms: i64,
        limit: usize,
        visibility: Duration,
    ) -> StoreResult<Vec<String>> {
        self.claim_due("timers", now_ms, limit, visibility).await
    }

    async fn claim_expired_leases(
        &self,
        now_ms: i64,
        limit: usize,
        visibility: Duration,
    ) -> StoreResult<Vec<String>> {
        self.claim_due("leases", now_ms, limit, visibility).await
    }

    async fn forget_lease(&self, task_id: &str) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        let _: i64 = conn
            .zrem(self.keys.k("leases"), task_id)
            .await
            .map_err(redis_err)?;
        Ok(())
    }

    async fn replace_timer(&self, old: &str, new: Option<(&str, i64)>) -> StoreResult<()> {
        let (member, due) = new.unwrap_or(("", 0));
        let mut conn = self.conn().await?;
        let _: i64 = self
            .scripts
            .replace_timer
            .key(self.keys.k("timers"))
            .arg(old)
            .arg(member)
            .arg(due)
            .invoke_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(())
    }

    async fn register_worker(&self, u: &WorkerUpdate) -> StoreResult<()> {
        let skills = u.skills.clone().unwrap_or_default();
        let skills_json = serde_json::to_string(&skills).unwrap_or_else(|_| "[]".into());
        let mut inv = self.scripts.register.prepare_invoke();
        inv.key(self.keys.worker(&u.worker_id))
            .key(self.keys.k("workers"))
            .key(self.keys.k("skills"))
            .arg(u.now_ms)
            .arg(u.ttl.as_millis() as i64)
            .arg(&u.worker_id)
            .arg(&u.status)
            .arg(u.info.as_deref().unwrap_or("{}"))
            .arg(skills_json);
        for s in &skills {
            inv.arg(s);
        }
        let mut conn = self.conn().await?;
        let _: i64 = inv.invoke_async(&mut conn).await.map_err(redis_err)?;
        Ok(())
    }

    async fn heartbeat(&self, u: &WorkerUpdate) -> StoreResult<Option<Vec<String>>> {
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

    async fn set_worker_websocket(&self, worker_id: &str, connected: bool) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        let _: i64 = self
            .scripts
            .set_websocket
            .key(self.keys.worker(worker_id))
            .arg(if connected { "1" } else { "0" })
            .arg(WS_ONLY_TTL_MS)
            .invoke_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(())
    }

    async fn get_worker(&self, worker_id: &str) -> StoreResult<Option<WorkerRecord>> {
        let mut conn = self.conn().await?;
        let (map, tasks): (BTreeMap<String, String>, Vec<String>) = ::redis::pipe()
            .hgetall(self.keys.worker(worker_id))
            .smembers(self.keys.worker_tasks(worker_id))
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        if !map.contains_key("info") {
            return Ok(None);
        }
        Ok(Some(self.worker_record(worker_id, map, tasks)))
    }

    async fn list_workers(&self, now_ms: i64, ttl: Duration) -> StoreResult<Vec<WorkerRecord>> {
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

    async fn active_workers(&self, now_ms: i64, ttl: Duration) -> StoreResult<u64> {
        let mut conn = self.conn().await?;
        let cutoff = now_ms - ttl.as_millis() as i64;
        conn.zcount(self.keys.k("workers"), cutoff, "+inf")
            .await
            .map_err(redis_err)
    }

    async fn prune(&self, now_ms: i64, ttl: Duration) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        let cutoff = now_ms - ttl.as_millis() as i64;
        // Worker hashes expire by themselves; their entries in the index do not.
        let _: i64 = conn
            .zrembyscore(self.keys.k("workers"), "-inf", cutoff)
            .await
            .map_err(redis_err)?;
        Ok(())
    }

    async fn ack_cancel(&self, worker_id: &str, task_id: &str) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        let _: i64 = conn
            .srem(self.keys.worker_cancels(worker_id), task_id)
            .await
            .map_err(redis_err)?;
        Ok(())
    }

    async fn job_counts(&self) -> StoreResult<BTreeMap<String, i64>> {
        let mut conn = self.conn().await?;
        conn.hgetall(self.keys.k("counts")).await.map_err(redis_err)
    }

    async fn queue_depths(&self) -> StoreResult<BTreeMap<String, u64>> {
        let mut conn = self.conn().await?;
        let skills: Vec<String> = conn
            .smembers(self.keys.k("skills"))
            .await
            .map_err(redis_err)?;
        if skills.is_empty() {
            return Ok(BTreeMap::new());
        }
        let mut pipe = ::redis::pipe();
        for s in &skills {
            pipe.zcard(self.keys.queue(s));
        }
        let depths: Vec<u64> = pipe.query_async(&mut conn).await.map_err(redis_err)?;
        Ok(skills.into_iter().zip(depths).collect())
    }

    fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.notices.subscribe()
    }

    fn round_trips(&self) -> u64 {
        self.round_trips.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl RedisStore {
    async fn claim_due(
        &self,
        zset: &str,
        now_ms: i64,
        limit: usize,
        visibility: Duration,
    ) -> StoreResult<Vec<String>> {
        let mut conn = self.conn().await?;
        self.scripts
            .claim_due
            .key(self.keys.k(zset))
            .arg(now_ms)
            .arg(limit)
            .arg(visibility.as_millis() as i64)
            .invoke_async(&mut conn)
            .await
            .map_err(redis_err)
    }
}
