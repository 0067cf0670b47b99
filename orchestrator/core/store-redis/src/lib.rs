//! The Redis store.
//!
//! Keys all start with `{<prefix>}:`; the braces make the prefix the Redis Cluster hash
//! tag, so every key of one deployment lives in one slot and each Lua script can touch
//! all of them atomically. See `scripts/*.lua` for the KEYS/ARGV of each script.
//!
//! | key | type | holds |
//! |---|---|---|
//! | `job:<id>` | hash | `v`, `status`, `doc`, `progress`, `t:<task_id>` slots; `bp`, `owner`, `created`, `updated` for listings |
//! | `hist:<id>` | list | history entries (JSON), trimmed to the limit |
//! | `counts` | hash | jobs by status |
//! | `q:<skill>` | zset | queued tasks, score = -priority, member = `<enqueue µs>|<task id>` |
//! | `tasks` | hash | task id → [`TaskBlob`] |
//! | `leases` | zset | task id → lease deadline (epoch ms) |
//! | `timers` | zset | `kind|job|x` → due (epoch ms) |
//! | `skills` | set | skills ever queued or registered |
//! | `worker:<id>` | hash | registration, status, last seen, incarnation; expires with the heartbeat timeout |
//! | `workers` | zset | worker id → last seen |
//! | `wtasks:<id>` / `wcancel:<id>` | set | tasks a worker holds / must cancel |
//! | `quarantine:<client>` | zset | the client's quarantined job ids → when they entered quarantine (epoch ms) |
//! | `quarantine_owners` | set | clients with a `quarantine:` index (for pruning) |
//! | `ix:all`, `ix:b:<blueprint>`, `ix:c:<client>` | zset | the job index: job id → created (epoch ms) |
//! | `ix:s:<status>` | zset | the job index: job id → when it took its status |
//! | `ix:bps` / `ix:owners` | set | blueprints / clients with an `ix:` set (for pruning) |
//!
//! Channels `wake` (a skill got a task), `done` (a job ended) and `cmd` (a worker
//! command, prefixed with the worker id) reach every orchestrator through one subscription;
//! idle long-polls hold no Redis connection.

mod commit_args;
mod keys;
mod listing;
pub mod pool;
mod pubsub;
mod views;
mod workers;

use commit_args::commit_invocation;
pub use keys::Keys;

use ::redis::{AsyncCommands, Script};
use async_trait::async_trait;
use baton_store::*;
use pool::{Connection, Pool};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

struct Scripts {
    commit: Script,
    claim: Script,
    claim_due: Script,
    heartbeat: Script,
    register: Script,
    progress: Script,
    replace_timer: Script,
    set_websocket: Script,
    queue_stats: Script,
    quarantined: Script,
    prune_quarantine: Script,
    list_jobs: Script,
    job_timeline: Script,
    prune_index: Script,
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
            queue_stats: Script::new(include_str!("scripts/queue_stats.lua")),
            quarantined: Script::new(include_str!("scripts/quarantined.lua")),
            prune_quarantine: Script::new(include_str!("scripts/prune_quarantine.lua")),
            list_jobs: Script::new(include_str!("scripts/list_jobs.lua")),
            job_timeline: Script::new(include_str!("scripts/job_timeline.lua")),
            prune_index: Script::new(include_str!("scripts/prune_index.lua")),
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
    /// Whether the notice subscription is up (see [`RedisStore::notices_subscribed`]).
    subscribed: tokio::sync::watch::Receiver<bool>,
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

/// What the faces' record stores share with the job store: its connections and its key
/// builder (same prefix and hash tag).
#[derive(Clone)]
pub struct Shared {
    pub pool: Pool,
    pub keys: Keys,
}

impl RedisStore {
    /// The pool and key builder, for records kept beside the jobs.
    pub fn shared(&self) -> Shared {
        Shared {
            pool: self.pool.clone(),
            keys: self.keys.clone(),
        }
    }

    /// [`RedisStore::open`], then checks that the server answers.
    pub async fn connect(
        url: &str,
        prefix: &str,
        pool_size: usize,
        history_limit: usize,
    ) -> StoreResult<RedisStore> {
        let store = Self::open(url, prefix, pool_size, history_limit)?;
        store.ping().await?;
        Ok(store)
    }

    /// The store of the server at `url`, without contacting it: connections are made
    /// when needed (a call fails with [`StoreError::Unavailable`] or
    /// [`StoreError::Redis`] while the server is down) and the notice subscription
    /// retries until it is up. Fails only for a malformed URL.
    pub fn open(
        url: &str,
        prefix: &str,
        pool_size: usize,
        history_limit: usize,
    ) -> StoreResult<RedisStore> {
        let manager = pool::Manager::new(url).map_err(redis_err)?;
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .runtime(deadpool::Runtime::Tokio1)
            // The connection handed back last goes out first: requests share it (see
            // `pool`).
            .queue_mode(deadpool::managed::QueueMode::Lifo)
            .wait_timeout(Some(Duration::from_secs(5)))
            .create_timeout(Some(Duration::from_secs(3)))
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let client = ::redis::Client::open(url).map_err(redis_err)?;
        let keys = Keys::new(prefix);
        let (notices, _) = broadcast::channel(4096);
        let (up, subscribed) = tokio::sync::watch::channel(false);
        let subscriber = pubsub::spawn(client, keys.clone(), notices.clone(), up);
        let store = RedisStore {
            pool,
            round_trips: Default::default(),
            keys,
            scripts: Arc::new(Scripts::load()),
            history_limit: history_limit.max(1),
            notices,
            subscribed,
            subscriber,
        };
        Ok(store)
    }

    /// Resolves once the notice subscription is up: notices published before that are
    /// not heard here (the subscriber then sends [`Notice::Resync`]). Tests that wait
    /// for a notice wait for this first.
    pub async fn notices_subscribed(&self) {
        let mut rx = self.subscribed.clone();
        let _ = rx.wait_for(|up| *up).await;
    }

    /// A pooled connection for one request (each call is one round trip).
    async fn conn(&self) -> StoreResult<Connection> {
        self.count_round_trip();
        Connection::checkout(&self.pool)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    /// commit.lua's call for `c`.
    fn commit_call(&self, c: &Commit, now_ms: i64) -> ::redis::ScriptInvocation<'_> {
        // commit.lua: > 0 expires the job, -1 lifts an expiry (a revived job), 0 keeps it.
        let expire_ms = match (c.expire_after, c.revived) {
            (Some(d), _) => d.as_millis() as i64,
            (None, true) => -1,
            (None, false) => 0,
        };
        commit_invocation(
            &self.scripts.commit,
            &self.keys,
            c,
            self.history_limit,
            expire_ms,
            now_ms,
        )
    }

    /// One more request on a connection already taken.
    fn count_round_trip(&self) {
        self.round_trips
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// commit.lua's answer: `{1, version}` applied, `{0, _}` a conflict.
fn commit_outcome((ok, version): (i64, u64)) -> CommitOutcome {
    if ok == 1 {
        CommitOutcome::Committed { version }
    } else {
        CommitOutcome::Conflict
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
        let inv = self.commit_call(c, baton_protocol::clock::now_ms());
        let mut conn = self.conn().await?;
        let answer: (i64, u64) = inv.invoke_async(&mut conn).await.map_err(redis_err)?;
        Ok(commit_outcome(answer))
    }

    async fn commit_many(&self, commits: &[Commit]) -> StoreResult<Vec<CommitOutcome>> {
        if commits.is_empty() {
            return Ok(Vec::new());
        }
        let now = baton_protocol::clock::now_ms();
        let calls: Vec<_> = commits.iter().map(|c| self.commit_call(c, now)).collect();
        // One round trip: the script is loaded first (a no-op when it is), since a
        // pipelined EVALSHA is not retried as EVAL the way a single invocation is.
        let mut pipe = ::redis::pipe();
        pipe.load_script(&self.scripts.commit).ignore();
        for call in &calls {
            pipe.invoke_script(call);
        }
        let mut conn = self.conn().await?;
        let answers: Vec<(i64, u64)> = pipe.query_async(&mut conn).await.map_err(redis_err)?;
        Ok(answers.into_iter().map(commit_outcome).collect())
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

    async fn claim_timer(
        &self,
        member: &str,
        now_ms: i64,
        visibility: Duration,
    ) -> StoreResult<bool> {
        let mut conn = self.conn().await?;
        let taken: Vec<String> = self
            .scripts
            .claim_due
            .key(self.keys.k("timers"))
            .arg(now_ms)
            .arg(1)
            .arg(visibility.as_millis() as i64)
            .arg(member)
            .invoke_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(!taken.is_empty())
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

    async fn register_worker(&self, u: &WorkerUpdate) -> StoreResult<Vec<String>> {
        self.register(u).await
    }

    async fn heartbeat(&self, u: &WorkerUpdate) -> StoreResult<Option<Vec<String>>> {
        self.beat(u).await
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
        self.worker(worker_id).await
    }

    async fn list_workers(&self, now_ms: i64, ttl: Duration) -> StoreResult<Vec<WorkerRecord>> {
        self.workers_seen(now_ms, ttl).await
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
        drop(conn);
        // Job keys expire by themselves; their quarantine index entries do not.
        self.prune_quarantine().await?;
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

    async fn list_jobs(&self, query: &JobQuery) -> StoreResult<JobPage> {
        self.list_page(query).await
    }

    async fn job_timeline(
        &self,
        start_ms: i64,
        bucket_ms: i64,
        buckets: usize,
    ) -> StoreResult<Vec<TimelineBucket>> {
        self.timeline(start_ms, bucket_ms, buckets).await
    }

    async fn prune_job_index(&self, now_ms: i64, retention: Duration) -> StoreResult<u64> {
        self.prune_index(now_ms, retention).await
    }

    async fn queue_stats(&self) -> StoreResult<BTreeMap<String, QueueStats>> {
        self.stats_of_queues().await
    }

    async fn quarantined_jobs(
        &self,
        owner: &str,
        limit: usize,
    ) -> StoreResult<Vec<QuarantinedJob>> {
        self.list_quarantined(owner, limit).await
    }

    async fn flush(&self) -> StoreResult<()> {
        let deleted = self.delete_prefix().await?;
        tracing::info!(deleted, prefix = %self.keys.tag, "deleted every key under the prefix");
        Ok(())
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
