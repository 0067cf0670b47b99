//! Events and clarifications in Redis (see the key table in [`super`]): the bodies of
//! those [`RecordStore`](super::RecordStore) methods, kept apart to keep files short.

use super::records::*;
use super::*;

impl RedisRecords {
    pub(super) async fn append_event_impl(&self, new: NewEvent) -> RecordResult<Event> {
        let mut conn = self.conn().await?;
        let run_key = self.k(&format!("run:{}", new.protocol_run_id));
        let project: Option<String> = conn.hget(&run_key, "project_id").await.map_err(redis_err)?;
        let project_id: Id = project
            .ok_or_else(|| RecordError::not_found("protocol run", new.protocol_run_id))?
            .parse()
            .map_err(|_| corrupt(format!("{run_key} project_id")))?;
        let id = self.next_id(&mut conn, "event").await?;
        let event = new.into_record(id, project_id, now_ms());
        ::redis::pipe()
            .atomic()
            .set(self.k(&format!("event:{id}")), to_json(&event)?)
            .ignore()
            .zadd(self.k("events"), id, id)
            .ignore()
            .zadd(
                self.k(&format!("events:run:{}", event.protocol_run_id)),
                id,
                id,
            )
            .ignore()
            .zadd(self.k(&format!("events:project:{project_id}")), id, id)
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(event)
    }

    pub(super) async fn upsert_clarification_impl(
        &self,
        scope: ClarificationScope,
        new: NewClarification,
    ) -> RecordResult<Clarification> {
        let mut conn = self.conn().await?;
        // Projects and runs are never deleted, so checking first cannot race.
        self.scope_exists(&mut conn, scope).await?;
        let key = self.clar_key(scope, &new.key);
        let now = now_ms().to_string();
        let (set, unset) = question_fields(&new)?;
        let mut pipe = ::redis::pipe();
        pipe.atomic()
            .hset_multiple(&key, &set)
            .ignore()
            .hset(&key, "updated_at", &now)
            .ignore();
        if !unset.is_empty() {
            pipe.hdel(&key, unset).ignore();
        }
        // Set only on creation: a re-asked question keeps its answer and status.
        for (field, value) in [
            ("scope", to_json(&scope)?),
            ("key", to_json(&new.key)?),
            ("status", to_json(&ClarificationStatus::Open)?),
            ("created_at", now.clone()),
        ] {
            pipe.hset_nx(&key, field, value).ignore();
        }
        pipe.zadd(self.k(&format!("clars:{}", scope_key(scope))), &new.key, 0)
            .ignore()
            .hgetall(&key);
        let (map,): (BTreeMap<String, String>,) =
            pipe.query_async(&mut conn).await.map_err(redis_err)?;
        from_fields(&key, map)?.ok_or_else(|| corrupt(format!("{key} vanished")))
    }

    pub(super) async fn list_clarifications_impl(
        &self,
        scope: ClarificationScope,
    ) -> RecordResult<Vec<Clarification>> {
        let mut conn = self.conn().await?;
        let keys: Vec<String> = conn
            .zrange(self.k(&format!("clars:{}", scope_key(scope))), 0, -1)
            .await
            .map_err(redis_err)?;
        let ids: Vec<String> = keys
            .iter()
            .map(|k| format!("{}:{k}", scope_key(scope)))
            .collect();
        self.read_many(&mut conn, "clar", &ids).await
    }

    pub(super) async fn answer_clarification_impl(
        &self,
        scope: ClarificationScope,
        key: &str,
        answer: Value,
        answered_by: Option<String>,
    ) -> RecordResult<Clarification> {
        let record_key = self.clar_key(scope, key);
        let now = now_ms().to_string();
        let mut fields = vec![
            ("answer".to_string(), to_json(&answer)?),
            (
                "status".to_string(),
                to_json(&ClarificationStatus::Answered)?,
            ),
            ("answered_at".to_string(), now.clone()),
            ("updated_at".to_string(), now),
        ];
        // Always written (`null` when absent) so a new answer never keeps an old author.
        fields.push(("answered_by".into(), to_json(&answered_by)?));
        let mut inv = self.scripts.update_existing.prepare_invoke();
        // No companion key: ARGV[1] is '' so KEYS[2] is never written.
        inv.key(&record_key).key(&record_key).arg("");
        for (f, v) in &fields {
            inv.arg(f).arg(v);
        }
        let mut conn = self.conn().await?;
        let map: BTreeMap<String, String> = inv.invoke_async(&mut conn).await.map_err(redis_err)?;
        from_fields(&record_key, map)?.ok_or_else(|| RecordError::not_found("clarification", key))
    }

    pub(super) async fn events_of(&self, index: String, limit: usize) -> RecordResult<Vec<Event>> {
        let mut conn = self.conn().await?;
        let stop = clamp_limit(limit) as isize - 1;
        let ids: Vec<String> = conn.zrevrange(index, 0, stop).await.map_err(redis_err)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ids
            .iter()
            .map(|id| self.k(&format!("event:{id}")))
            .collect();
        let docs: Vec<Option<String>> = conn.mget(keys).await.map_err(redis_err)?;
        docs.into_iter()
            .flatten()
            .map(|d| serde_json::from_str(&d).map_err(|e| corrupt(format!("event: {e}"))))
            .collect()
    }

    fn clar_key(&self, scope: ClarificationScope, key: &str) -> String {
        self.k(&format!("clar:{}:{key}", scope_key(scope)))
    }

    async fn scope_exists(
        &self,
        conn: &mut Connection,
        scope: ClarificationScope,
    ) -> RecordResult<()> {
        let key = match scope {
            ClarificationScope::Project(id) => self.k(&format!("project:{id}")),
            ClarificationScope::ProtocolRun(id) => self.k(&format!("run:{id}")),
        };
        let found: bool = conn.exists(key).await.map_err(redis_err)?;
        if found {
            Ok(())
        } else {
            Err(crate::memory::scope_not_found(scope))
        }
    }
}
