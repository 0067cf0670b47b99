//! [`TriggerStore`] in memory (the embedded mode): maps behind one lock, so each call is
//! atomic as the Redis scripts are.

use super::{ScheduleCas, TriggerStore};
use crate::memory::MemoryWorkflows;
use crate::store::{RecordResult, Written};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};

/// The records of [`TriggerStore`], inside the memory store's state.
#[derive(Default)]
pub struct Triggers {
    schedules: BTreeMap<String, String>,
    /// id → due score
    due: HashMap<String, i64>,
    hooks: BTreeMap<String, String>,
    /// id → (deliveries, last one's ms)
    deliveries: HashMap<String, (u64, i64)>,
    /// owner → run id → (ms, row)
    runs: HashMap<String, HashMap<String, (i64, String)>>,
}

#[async_trait]
impl TriggerStore for MemoryWorkflows {
    async fn cas_schedule(&self, cas: ScheduleCas<'_>) -> RecordResult<bool> {
        self.with_triggers(|t| {
            if t.schedules.get(cas.id).map(String::as_str) != cas.expected {
                return false;
            }
            if let Some(claimed) = cas.claimed {
                if t.due.get(cas.id) != Some(&claimed) {
                    return false;
                }
            }
            match cas.new {
                None => {
                    t.schedules.remove(cas.id);
                    t.due.remove(cas.id);
                    t.runs.remove(&format!("schedule:{}", cas.id));
                }
                Some(doc) => {
                    t.schedules.insert(cas.id.to_string(), doc.to_string());
                    match cas.next_ms {
                        Some(at) => t.due.insert(cas.id.to_string(), at),
                        None => t.due.remove(cas.id),
                    };
                }
            }
            true
        })
    }

    async fn get_schedule(&self, id: &str) -> RecordResult<Option<String>> {
        self.with_triggers(|t| t.schedules.get(id).cloned())
    }

    async fn list_schedules(&self) -> RecordResult<Vec<String>> {
        self.with_triggers(|t| t.schedules.values().cloned().collect())
    }

    async fn claim_due(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> RecordResult<Vec<(String, i64)>> {
        let until = now_ms.saturating_add(lease_ms);
        self.with_triggers(|t| {
            let mut due: Vec<(i64, String)> = t
                .due
                .iter()
                .filter(|(_, at)| **at <= now_ms)
                .map(|(id, at)| (*at, id.clone()))
                .collect();
            due.sort();
            due.truncate(limit);
            due.into_iter()
                .map(|(_, id)| {
                    t.due.insert(id.clone(), until);
                    (id, until)
                })
                .collect()
        })
    }

    async fn next_due(&self) -> RecordResult<Option<i64>> {
        self.with_triggers(|t| t.due.values().min().copied())
    }

    async fn put_hook(&self, id: &str, doc: &str, create: bool) -> RecordResult<Written> {
        self.with_triggers(|t| match (create, t.hooks.contains_key(id)) {
            (true, true) => Written::Exists,
            (false, false) => Written::Missing,
            _ => {
                t.hooks.insert(id.to_string(), doc.to_string());
                Written::Done
            }
        })
    }

    async fn get_hook(&self, id: &str) -> RecordResult<Option<String>> {
        self.with_triggers(|t| t.hooks.get(id).cloned())
    }

    async fn list_hooks(&self) -> RecordResult<Vec<String>> {
        self.with_triggers(|t| t.hooks.values().cloned().collect())
    }

    async fn delete_hook(&self, id: &str) -> RecordResult<bool> {
        self.with_triggers(|t| {
            t.runs.remove(&format!("hook:{id}"));
            t.deliveries.remove(id);
            t.hooks.remove(id).is_some()
        })
    }

    async fn count_delivery(&self, id: &str, at_ms: i64) -> RecordResult<()> {
        self.with_triggers(|t| {
            let slot = t.deliveries.entry(id.to_string()).or_insert((0, at_ms));
            slot.0 += 1;
            slot.1 = at_ms;
        })
    }

    async fn deliveries(&self, id: &str) -> RecordResult<(u64, Option<i64>)> {
        self.with_triggers(|t| match t.deliveries.get(id) {
            Some((n, last)) => (*n, Some(*last)),
            None => (0, None),
        })
    }

    async fn put_run(
        &self,
        owner: &str,
        run_id: &str,
        at_ms: i64,
        row: &str,
        keep: usize,
    ) -> RecordResult<()> {
        self.with_triggers(|t| {
            let rows = t.runs.entry(owner.to_string()).or_default();
            rows.insert(run_id.to_string(), (at_ms, row.to_string()));
            let keep = keep.max(1);
            if rows.len() > keep {
                let mut order: Vec<(i64, String)> =
                    rows.iter().map(|(id, (at, _))| (*at, id.clone())).collect();
                order.sort();
                for (_, id) in order.into_iter().take(rows.len() - keep) {
                    rows.remove(&id);
                }
            }
        })
    }

    async fn update_run(&self, owner: &str, run_id: &str, row: &str) -> RecordResult<bool> {
        self.with_triggers(
            |t| match t.runs.get_mut(owner).and_then(|rows| rows.get_mut(run_id)) {
                Some(slot) => {
                    slot.1 = row.to_string();
                    true
                }
                None => false,
            },
        )
    }

    async fn runs(&self, owner: &str, limit: usize) -> RecordResult<Vec<String>> {
        self.with_triggers(|t| {
            let Some(rows) = t.runs.get(owner) else {
                return Vec::new();
            };
            let mut order: Vec<(&i64, &String, &String)> =
                rows.iter().map(|(id, (at, row))| (at, id, row)).collect();
            // Newest first; among rows of one millisecond, by id (Redis's ZREVRANGE order).
            order.sort_by(|a, b| b.0.cmp(a.0).then(b.1.cmp(a.1)));
            order
                .into_iter()
                .take(limit)
                .map(|(_, _, row)| row.clone())
                .collect()
        })
    }
}
