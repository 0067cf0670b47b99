//! The memory store's workers: registrations, heartbeats and WebSocket flags, under the
//! store's lock (counterparts of register.lua, heartbeat.lua and set_websocket.lua).
//!
//! A worker's leases are the task ids in `worker_tasks[id]` whose lease is still in
//! `leases`. A registration takes them back (unless it is the same incarnation registering
//! again); a heartbeat extends those it lists in `current_tasks`, or all of them when it
//! lists none.

use super::Inner;
use crate::{WorkerRecord, WorkerUpdate};
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
    /// The registered process's incarnation, if it sent one.
    pub(super) incarnation: Option<String>,
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
            incarnation: None,
        }
    }

    /// Registered and not expired (a WebSocket may create the entry before registration).
    pub(super) fn registered(&self, now_ms: i64) -> bool {
        !self.info.is_empty() && self.expires_ms > now_ms
    }
}

impl Inner {
    /// Registers the worker; returns the tasks whose leases it took back (see
    /// `Store::register_worker`).
    pub(super) fn register_worker(&mut self, u: &WorkerUpdate) -> Vec<String> {
        let expires_ms = u.now_ms + u.ttl.as_millis() as i64;
        let w = self
            .workers
            .entry(u.worker_id.clone())
            .or_insert_with(|| MemWorker::new(u.now_ms, expires_ms));
        let live = w.registered(u.now_ms);
        let same_process = live && u.incarnation.is_some() && w.incarnation == u.incarnation;
        if !live {
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
        w.incarnation = u.incarnation.clone();
        if same_process {
            return Vec::new();
        }
        let held = self.worker_tasks.remove(&u.worker_id).unwrap_or_default();
        let mut revoked: Vec<String> = held
            .into_iter()
            .filter(|task_id| self.leases.contains(task_id))
            .collect();
        revoked.sort();
        for task_id in &revoked {
            self.leases.insert(task_id, u.lease_deadline_ms as f64);
        }
        revoked
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
        let held = self.worker_tasks.get(&u.worker_id);
        let extend: Vec<&String> = match &u.current_tasks {
            // Only tasks leased to this worker: a list cannot extend another's lease.
            Some(listed) => listed
                .iter()
                .filter(|t| held.is_some_and(|h| h.contains(*t)))
                .collect(),
            None => held.into_iter().flatten().collect(),
        };
        for task_id in extend {
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
