//! [`StepState`] on Redis: a field update of one step hash (only if it exists), and
//! multi-step changes as one Lua script (`scripts/change_steps.lua`) so a policy's reset
//! of several steps and its compare-and-set on the guard step's `runtime_state` are one
//! atomic change.

use super::super::model::{Id, ProtocolRun, StepRun};
use super::super::status::StepStatus;
use super::super::step_state::{StepChange, StepState, StepUpdate};
use super::super::store::{RecordError, RecordResult, RecordStore, Transition};
use super::records::from_fields;
use super::{dec, enc, redis_err, RedisRecords};
use ::redis::Script;
use async_trait::async_trait;
use baton_protocol::clock::now_ms;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::LazyLock;

static CHANGE_STEPS: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("../scripts/change_steps.lua")));

/// A change as the script reads it (absent keys, never nulls: Lua's cjson decodes null as
/// a truthy value).
fn encode(change: &StepChange) -> String {
    let mut c = Map::new();
    let from: Vec<String> = change.allowed_from.iter().map(|s| enc(*s)).collect();
    c.insert("from".into(), json!(from));
    if let Some(to) = change.to {
        c.insert("to".into(), json!(enc(to)));
    }
    if let Some(expected) = &change.expect_runtime_state {
        let raw = expected.as_ref().map(Value::to_string).unwrap_or_default();
        c.insert("state".into(), json!(raw));
    }
    let set: Map<String, Value> = change
        .update
        .fields()
        .into_iter()
        .map(|(f, v)| (f.to_string(), Value::String(v)))
        .collect();
    c.insert("set".into(), Value::Object(set));
    c.insert("add_retries".into(), json!(change.update.add_retries));
    Value::Object(c).to_string()
}

#[async_trait]
impl StepState for RedisRecords {
    async fn update_step(&self, id: Id, update: StepUpdate) -> RecordResult<StepRun> {
        let change = StepChange {
            id,
            update,
            ..StepChange::default()
        };
        self.change_steps(vec![change]).await?;
        self.get_step_run(id).await
    }

    async fn change_steps(&self, changes: Vec<StepChange>) -> RecordResult<Transition<StepStatus>> {
        let Some(guard) = changes.first() else {
            return Err(RecordError::not_found("step run", "(no change given)"));
        };
        let guard_id = guard.id;
        let mut inv = CHANGE_STEPS.prepare_invoke();
        inv.arg(now_ms());
        for change in &changes {
            inv.key(self.k(&format!("step:{}", change.id)))
                .arg(encode(change));
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
            _ => Err(RecordError::not_found("step run", guard_id)),
        }
    }

    async fn set_run_template(
        &self,
        run: Id,
        template_config: Value,
        template_source: Value,
    ) -> RecordResult<ProtocolRun> {
        let key = self.k(&format!("run:{run}"));
        let mut inv = self.scripts.update_existing.prepare_invoke();
        // No companion key: the run hash stands in for it with an empty value.
        inv.key(&key).key(&key).arg("");
        inv.arg("template_config").arg(template_config.to_string());
        inv.arg("template_source").arg(template_source.to_string());
        inv.arg("updated_at").arg(now_ms());
        let mut conn = self.conn().await?;
        let map: BTreeMap<String, String> = inv.invoke_async(&mut conn).await.map_err(redis_err)?;
        from_fields(&key, map)?.ok_or_else(|| RecordError::not_found("protocol run", run))
    }
}
