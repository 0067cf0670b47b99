//! The embedded [`WorkflowStore`]: maps behind one lock, nothing kept past the process.

use crate::store::*;
use async_trait::async_trait;
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};

#[derive(Default)]
struct State {
    workflows: BTreeMap<String, StoredWorkflow>,
    blueprints: HashMap<String, String>,
    prompts: BTreeMap<String, String>,
    versions: BTreeMap<String, String>,
    /// (started ms, id), oldest first.
    executions: std::collections::BTreeSet<(i64, String)>,
    started: HashMap<String, i64>,
    deleted: std::collections::HashSet<String>,
    /// bucket → (count, window end in epoch ms)
    windows: HashMap<String, (u64, i64)>,
    /// client → when it is let in again (epoch ms)
    blocked: HashMap<String, i64>,
    circuits: BTreeMap<String, String>,
    triggers: crate::triggers::memory::Triggers,
}

#[derive(Default)]
pub struct MemoryWorkflows {
    state: Mutex<State>,
}

impl MemoryWorkflows {
    pub fn new() -> MemoryWorkflows {
        MemoryWorkflows::default()
    }

    /// Runs `f` on the schedules' and webhooks' records, under the one lock.
    pub(crate) fn with_triggers<R>(
        &self,
        f: impl FnOnce(&mut crate::triggers::memory::Triggers) -> R,
    ) -> RecordResult<R> {
        Ok(f(&mut self.state.lock().triggers))
    }
}

/// Windows kept before closed ones are swept (one sweep per this many new buckets).
const SWEEP_EVERY: usize = 4096;

#[async_trait]
impl WorkflowStore for MemoryWorkflows {
    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn create_workflow(&self, wf: &StoredWorkflow) -> RecordResult<Written> {
        let mut s = self.state.lock();
        if s.workflows.contains_key(&wf.workflow.id) {
            return Ok(Written::Exists);
        }
        s.workflows.insert(wf.workflow.id.clone(), wf.clone());
        Ok(Written::Done)
    }

    async fn replace_workflow(&self, wf: &StoredWorkflow) -> RecordResult<Written> {
        let mut s = self.state.lock();
        match s.workflows.get_mut(&wf.workflow.id) {
            Some(slot) => {
                *slot = wf.clone();
                Ok(Written::Done)
            }
            None => Ok(Written::Missing),
        }
    }

    async fn get_workflow(&self, id: &str) -> RecordResult<Option<StoredWorkflow>> {
        Ok(self.state.lock().workflows.get(id).cloned())
    }

    async fn list_workflows(&self) -> RecordResult<Vec<StoredWorkflow>> {
        Ok(self.state.lock().workflows.values().cloned().collect())
    }

    async fn delete_workflow(&self, id: &str) -> RecordResult<bool> {
        Ok(self.state.lock().workflows.remove(id).is_some())
    }

    async fn put_blueprint(&self, name: &str, definition: &str) -> RecordResult<()> {
        self.state
            .lock()
            .blueprints
            .entry(name.to_string())
            .or_insert_with(|| definition.to_string());
        Ok(())
    }

    async fn get_blueprint(&self, name: &str) -> RecordResult<Option<String>> {
        Ok(self.state.lock().blueprints.get(name).cloned())
    }

    async fn create_prompt(&self, id: &str, prompt: &str) -> RecordResult<Written> {
        let mut s = self.state.lock();
        if s.prompts.contains_key(id) {
            return Ok(Written::Exists);
        }
        s.prompts.insert(id.to_string(), prompt.to_string());
        Ok(Written::Done)
    }

    async fn get_prompt(&self, id: &str) -> RecordResult<Option<String>> {
        Ok(self.state.lock().prompts.get(id).cloned())
    }

    async fn list_prompts(&self) -> RecordResult<Vec<String>> {
        Ok(self.state.lock().prompts.values().cloned().collect())
    }

    async fn delete_prompt(&self, id: &str) -> RecordResult<bool> {
        Ok(self.state.lock().prompts.remove(id).is_some())
    }

    async fn get_versions(&self, name: &str) -> RecordResult<Option<String>> {
        Ok(self.state.lock().versions.get(name).cloned())
    }

    async fn cas_versions(
        &self,
        name: &str,
        expected: Option<&str>,
        new: &str,
    ) -> RecordResult<bool> {
        let mut s = self.state.lock();
        if s.versions.get(name).map(String::as_str) != expected {
            return Ok(false);
        }
        s.versions.insert(name.to_string(), new.to_string());
        Ok(true)
    }

    async fn list_versions(&self) -> RecordResult<Vec<String>> {
        Ok(self.state.lock().versions.values().cloned().collect())
    }

    async fn add_execution(&self, id: &str, created_ms: i64) -> RecordResult<()> {
        let mut s = self.state.lock();
        if let Some(old) = s.started.insert(id.to_string(), created_ms) {
            s.executions.remove(&(old, id.to_string()));
        }
        s.executions.insert((created_ms, id.to_string()));
        Ok(())
    }

    async fn recent_executions(&self, limit: usize) -> RecordResult<Vec<String>> {
        let s = self.state.lock();
        Ok(s.executions
            .iter()
            .rev()
            .take(limit)
            .map(|(_, id)| id.clone())
            .collect())
    }

    async fn remove_execution(&self, id: &str) -> RecordResult<()> {
        let mut s = self.state.lock();
        if let Some(at) = s.started.remove(id) {
            s.executions.remove(&(at, id.to_string()));
        }
        Ok(())
    }

    async fn delete_execution(&self, id: &str, _keep_ms: u64) -> RecordResult<()> {
        let mut s = self.state.lock();
        if let Some(at) = s.started.remove(id) {
            s.executions.remove(&(at, id.to_string()));
        }
        s.deleted.insert(id.to_string());
        Ok(())
    }

    async fn is_deleted(&self, id: &str) -> RecordResult<bool> {
        Ok(self.state.lock().deleted.contains(id))
    }

    async fn count_request(
        &self,
        bucket: &str,
        window_ms: u64,
        now_ms: i64,
    ) -> RecordResult<RateCount> {
        let mut s = self.state.lock();
        if s.windows.len() >= SWEEP_EVERY && !s.windows.contains_key(bucket) {
            s.windows.retain(|_, (_, end)| *end > now_ms);
        }
        let window = i64::try_from(window_ms).unwrap_or(i64::MAX);
        let slot = s
            .windows
            .entry(bucket.to_string())
            .or_insert((0, now_ms.saturating_add(window)));
        if slot.1 <= now_ms {
            *slot = (0, now_ms.saturating_add(window));
        }
        slot.0 += 1;
        Ok(RateCount {
            count: slot.0,
            resets_in_ms: u64::try_from(slot.1 - now_ms).unwrap_or(0),
        })
    }

    async fn block(&self, client: &str, until_ms: i64) -> RecordResult<()> {
        let mut s = self.state.lock();
        if s.blocked.len() >= SWEEP_EVERY {
            let now = baton_protocol::clock::now_ms();
            s.blocked.retain(|_, until| *until > now);
        }
        let slot = s.blocked.entry(client.to_string()).or_insert(until_ms);
        *slot = (*slot).max(until_ms);
        Ok(())
    }

    async fn blocked(&self, now_ms: i64) -> RecordResult<Vec<(String, i64)>> {
        let mut s = self.state.lock();
        s.blocked.retain(|_, until| *until > now_ms);
        let mut out: Vec<(String, i64)> = s.blocked.iter().map(|(c, u)| (c.clone(), *u)).collect();
        out.sort_by_key(|(c, u)| (*u, c.clone()));
        Ok(out)
    }

    async fn set_circuit(&self, engine: &str, state: &str) -> RecordResult<()> {
        self.state
            .lock()
            .circuits
            .insert(engine.to_string(), state.to_string());
        Ok(())
    }

    async fn circuits(&self) -> RecordResult<Vec<(String, String)>> {
        let s = self.state.lock();
        Ok(s.circuits
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}
