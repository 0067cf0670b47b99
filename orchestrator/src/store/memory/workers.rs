//! The memory store's workers: registrations, heartbeats and WebSocket flags, under the
//! store's lock (counterparts of register.lua, heartbeat.lua and set_websocket.lua).

use super::Inner;
use crate::store::{WorkerRecord, WorkerUpdate};
use std::collections::{HashMap, HashSet};

/// Lifetime of an entry created by a WebSocket before any registration.
const WS_ONLY_TTL_MS: i64 = 60_000;

pub(super) struct MemWorker {
    pub(super) status: String,
    pub(super) info: String,
    pub(super) skills: Vec<String>,
    pub(super) last_seen_ms: i64,
    pub(super) registered_ms: i64,
    pub(super) expires_ms: i64,
    pub(super) websocket: bool,
}

impl MemWorker {
    fn new(now_ms: i64, expires_ms: i64) -> MemWorker {
        MemWorker {
            status: String::new(),
            info: String::new(),
            skills: Vec::new(),
            last_seen_ms: now_ms,
            registered_ms: now_ms,
            expires_ms,
            websocket: false,
        }
    }

    /// Registered and not expired (a WebSocket may create the entry before registration).
    pub(super) fn registered(&self, now_ms: i64) -> bool {
        !self.info.is_empty() && self.expires_ms > now_ms
    }
}

impl Inner {
    pub(super) fn register_worker(&mut self, u: &WorkerUpdate) {
        let expires_ms = u.now_ms + u.ttl.as_millis() as i64;
        let w = self
            .workers
            .entry(u.worker_id.clone())
            .or_insert_with(|| MemWorker::new(u.now_ms, expires_ms));
        if !w.registered(u.now_ms) {
            w.registered_ms = u.now_ms;
        }
        w.status = u.status.clone();
        if let Some(info) = &u.info {
            w.info = info.clone();
        }
        if let Some(skills) = &u.skills {
            w.skills = skills.clone();
        }
        w.last_seen_ms = u.now_ms;
        w.expires_ms = expires_ms;
    }

    /// `None` if the worker is not registered; otherwise the task ids it must cancel.
    pub(super) fn heartbeat(&mut self, u: &WorkerUpdate) -> Option<Vec<String>> {
        let w = self
            .workers
            .get_mut(&u.worker_id)
            .filter(|w| w.registered(u.now_ms))?;
        if !u.status.is_empty() {
            w.status = u.status.clone();
        }
        if let Some(skills) = &u.skills {
            w.skills = skills.clone();
        }
        w.last_seen_ms = u.now_ms;
        w.expires_ms = u.now_ms + u.ttl.as_millis() as i64;
        for task_id in self.worker_tasks.get(&u.worker_id).into_iter().flatten() {
            self.leases
                .update_existing(task_id, u.lease_deadline_ms as f64);
        }
        let cancels = match (&u.current_tasks, self.worker_cancels.get(&u.worker_id)) {
            (Some(current), Some(pending)) => current
                .iter()
                .filter(|t| pending.contains(*t))
                .cloned()
                .collect(),
            _ => Vec::new(),
        };
        Some(cancels)
    }

    pub(super) fn set_websocket(&mut self, worker_id: &str, connected: bool, now_ms: i64) {
        // The socket may connect before the registration: keep the flag for it.
        let w = self
            .workers
            .entry(worker_id.to_string())
            .or_insert_with(|| MemWorker::new(now_ms, now_ms + WS_ONLY_TTL_MS));
        w.websocket = connected;
    }
}

pub(super) fn worker_record(
    id: &str,
    w: &MemWorker,
    worker_tasks: &HashMap<String, HashSet<String>>,
) -> WorkerRecord {
    let mut tasks: Vec<String> = worker_tasks
        .get(id)
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    tasks.sort();
    WorkerRecord {
        worker_id: id.to_string(),
        status: w.status.clone(),
        info: w.info.clone(),
        skills: w.skills.clone(),
        last_seen_ms: w.last_seen_ms,
        registered_ms: w.registered_ms,
        websocket: w.websocket,
        tasks,
    }
}
