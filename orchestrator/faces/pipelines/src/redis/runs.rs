//! [`RunStore`] in Redis (keys under the same `{<prefix>}:pl:` hash tag as the records):
//!
//! | key | type | holds |
//! |---|---|---|
//! | `pl:xrun:<run>` / `pl:xlog:<run>` | string / string | the run (JSON) / its log |
//! | `pl:xruns`, `pl:xruns:project:<id>`, `pl:xruns:protocol:<id>`, `pl:xruns:step:<id>` | zset | run ids, score = recording order (`pl:seq` field `xrun`) |
//! | `pl:arts:<run>` | hash | artifact name → artifact id (`pl:seq` field `artifact`) |
//! | `pl:art:<id>` / `pl:artc:<id>` | string / string | artifact metadata (JSON, no id) / content |
//! | `pl:qjob:<job>` / `pl:qjobs` | hash / zset | a queue index entry / job ids, score = order |
//!
//! A run and everything with it is written by one script (`scripts/record_run.lua`).
//! Filtered listings start from the narrowest index (step, protocol run, project, all)
//! and read it newest first in pages, up to [`RUN_SCAN`] ids.

use super::records::*;
use super::{corrupt, redis_err, RedisRecords};
use crate::model::Id;
use crate::runs::*;
use crate::store::{RecordError, RecordResult};
use ::redis::{AsyncCommands, Script};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::LazyLock;

static RECORD_RUN: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("../scripts/record_run.lua")));

fn parse<T: serde::de::DeserializeOwned>(key: &str, raw: &str) -> RecordResult<T> {
    serde_json::from_str(raw).map_err(|e| corrupt(format!("{key}: {e}")))
}

impl RedisRecords {
    async fn run_exists(&self, conn: &mut super::Connection, run_id: &str) -> RecordResult<()> {
        let found: bool = conn
            .exists(self.k(&format!("xrun:{run_id}")))
            .await
            .map_err(redis_err)?;
        if found {
            Ok(())
        } else {
            Err(RecordError::not_found("run", run_id))
        }
    }
}

#[async_trait]
impl RunStore for RedisRecords {
    async fn record_run(
        &self,
        run: Run,
        log: String,
        artifacts: Vec<NewArtifact>,
    ) -> RecordResult<Run> {
        let id = &run.run_id;
        let mut inv = RECORD_RUN.prepare_invoke();
        inv.key(self.k("seq"))
            .key(self.k(&format!("xrun:{id}")))
            .key(self.k(&format!("xlog:{id}")))
            .key(self.k(&format!("arts:{id}")))
            .key(self.k(&format!("qjob:{}", run.job_id)))
            .key(self.k("xruns"));
        for (index, value) in [
            ("project", run.project_id),
            ("protocol", run.protocol_run_id),
            ("step", run.step_run_id),
        ] {
            if let Some(v) = value {
                inv.key(self.k(&format!("xruns:{index}:{v}")));
            }
        }
        inv.arg(id)
            .arg(to_json(&run)?)
            .arg(&log)
            .arg(run.started_at.map(|t| t.to_string()).unwrap_or_default())
            .arg(self.k("art:"))
            .arg(self.k("artc:"));
        for a in &artifacts {
            inv.arg(&a.meta.name).arg(to_json(&a.meta)?).arg(&a.content);
        }
        let mut conn = self.conn().await?;
        let _: Vec<String> = inv.invoke_async(&mut conn).await.map_err(redis_err)?;
        Ok(run)
    }

    async fn get_run(&self, run_id: &str) -> RecordResult<Run> {
        let key = self.k(&format!("xrun:{run_id}"));
        let mut conn = self.conn().await?;
        let raw: Option<String> = conn.get(&key).await.map_err(redis_err)?;
        parse(
            &key,
            &raw.ok_or_else(|| RecordError::not_found("run", run_id))?,
        )
    }

    async fn list_runs(&self, filter: &RunFilter) -> RecordResult<Vec<Run>> {
        let index = match (
            filter.step_run_id,
            filter.protocol_run_id,
            filter.project_id,
        ) {
            (Some(s), _, _) => self.k(&format!("xruns:step:{s}")),
            (None, Some(p), _) => self.k(&format!("xruns:protocol:{p}")),
            (None, None, Some(p)) => self.k(&format!("xruns:project:{p}")),
            _ => self.k("xruns"),
        };
        let want = filter.limit();
        let page = (want * 2).max(200);
        let mut conn = self.conn().await?;
        let mut out = Vec::new();
        let mut start = 0;
        while out.len() < want && start < RUN_SCAN {
            let stop = (start + page).min(RUN_SCAN) - 1;
            let ids: Vec<String> = conn
                .zrevrange(&index, start as isize, stop as isize)
                .await
                .map_err(redis_err)?;
            if ids.is_empty() {
                break;
            }
            let keys: Vec<String> = ids.iter().map(|i| self.k(&format!("xrun:{i}"))).collect();
            let docs: Vec<Option<String>> = conn.mget(&keys).await.map_err(redis_err)?;
            for (key, doc) in keys.iter().zip(docs) {
                let Some(doc) = doc else { continue };
                let run: Run = parse(key, &doc)?;
                if filter.matches(&run) && out.len() < want {
                    out.push(run);
                }
            }
            if ids.len() < page {
                break;
            }
            start += page;
        }
        Ok(out)
    }

    async fn run_log(&self, run_id: &str) -> RecordResult<String> {
        let mut conn = self.conn().await?;
        let (found, log): (bool, Option<String>) = ::redis::pipe()
            .exists(self.k(&format!("xrun:{run_id}")))
            .get(self.k(&format!("xlog:{run_id}")))
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        if !found {
            return Err(RecordError::not_found("run", run_id));
        }
        Ok(log.unwrap_or_default())
    }

    async fn list_artifacts(
        &self,
        run_id: &str,
        kind: Option<&str>,
        limit: usize,
    ) -> RecordResult<Vec<RunArtifact>> {
        let mut conn = self.conn().await?;
        self.run_exists(&mut conn, run_id).await?;
        let by_name: BTreeMap<String, Id> = conn
            .hgetall(self.k(&format!("arts:{run_id}")))
            .await
            .map_err(redis_err)?;
        let mut ids: Vec<Id> = by_name.into_values().collect();
        ids.sort_unstable();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ids.iter().map(|i| self.k(&format!("art:{i}"))).collect();
        let docs: Vec<Option<String>> = conn.mget(&keys).await.map_err(redis_err)?;
        let mut out = Vec::new();
        for ((id, key), doc) in ids.iter().zip(&keys).zip(docs) {
            let Some(doc) = doc else { continue };
            let mut a: RunArtifact = parse(key, &doc)?;
            a.id = *id;
            if kind.is_none_or(|k| a.kind == k) {
                out.push(a);
            }
        }
        out.truncate(limit.clamp(1, MAX_RUNS));
        Ok(out)
    }

    async fn artifact_content(
        &self,
        run_id: &str,
        artifact_id: Id,
    ) -> RecordResult<(RunArtifact, String)> {
        let mut conn = self.conn().await?;
        self.run_exists(&mut conn, run_id).await?;
        let key = self.k(&format!("art:{artifact_id}"));
        let (meta, content): (Option<String>, Option<String>) = ::redis::pipe()
            .get(&key)
            .get(self.k(&format!("artc:{artifact_id}")))
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        let missing = || RecordError::not_found("artifact", artifact_id);
        let mut a: RunArtifact = parse(&key, &meta.ok_or_else(missing)?)?;
        if a.run_id != run_id {
            return Err(missing());
        }
        a.id = artifact_id;
        Ok((a, content.unwrap_or_default()))
    }

    async fn index_job(&self, job: QueueJob) -> RecordResult<()> {
        let mut conn = self.conn().await?;
        let order: u64 = conn
            .hincr(self.k("seq"), "qjob", 1)
            .await
            .map_err(redis_err)?;
        ::redis::pipe()
            .atomic()
            .hset_multiple(self.k(&format!("qjob:{}", job.job_id)), &to_fields(&job)?)
            .ignore()
            .cmd("ZADD")
            .arg(self.k("qjobs"))
            .arg("NX")
            .arg(order)
            .arg(&job.job_id)
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(redis_err)
    }

    async fn list_jobs(&self, limit: usize) -> RecordResult<Vec<QueueJob>> {
        let stop = limit.clamp(1, MAX_QUEUE_JOBS) as isize - 1;
        let mut conn = self.conn().await?;
        let ids: Vec<String> = conn
            .zrevrange(self.k("qjobs"), 0, stop)
            .await
            .map_err(redis_err)?;
        self.read_many(&mut conn, "qjob", &ids).await
    }
}
