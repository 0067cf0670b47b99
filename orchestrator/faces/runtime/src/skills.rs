//! Which skills have a worker: the job view says when a queued task's skill has none
//! (instead of a job sitting `pending` with no word until its dispatch timeout), and a
//! job created for such a skill is logged.
//!
//! The set of skills of registered workers is read from the store at most every few
//! seconds and shared by all requests of this orchestrator, so job creation pays a set
//! lookup, not a store read.

use super::schemas::JobView;
use super::AppRef;
use baton_protocol::clock::now_ms;
use parking_lot::Mutex;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// How long a read of the registered skills is reused.
const FRESH_FOR: Duration = Duration::from_secs(5);

#[derive(Default)]
pub struct Skills {
    known: Mutex<Option<(Instant, HashSet<String>)>>,
}

impl Skills {
    /// The skills of the workers registered now (a few seconds old at most).
    pub async fn registered(&self, app: &AppRef) -> HashSet<String> {
        if let Some((at, set)) = self.known.lock().as_ref() {
            if at.elapsed() < FRESH_FOR {
                return set.clone();
            }
        }
        let workers = app
            .engine
            .store
            .list_workers(now_ms(), app.cfg.heartbeat_timeout)
            .await
            .unwrap_or_default();
        let set: HashSet<String> = workers.into_iter().flat_map(|w| w.skills).collect();
        *self.known.lock() = Some((Instant::now(), set.clone()));
        set
    }
}

/// The hint for a job whose queued tasks' skills no registered worker has.
pub async fn hint(app: &AppRef, view: &mut JobView) {
    let queued: Vec<&str> = view
        .tasks
        .iter()
        .filter(|t| t.state == "queued")
        .map(|t| t.task_type.as_str())
        .collect();
    if queued.is_empty() {
        return;
    }
    let have = app.skills.registered(app).await;
    let missing: Vec<&str> = queued.into_iter().filter(|s| !have.contains(*s)).collect();
    if let Some(skill) = missing.first() {
        view.hint = Some(format!(
            "no worker with skill `{skill}` is registered: the task waits for one (until its dispatch timeout); start a worker that has it"
        ));
    }
}

/// Logs a job created for a skill no registered worker has.
pub async fn warn_if_unserved(app: &AppRef, job_id: &str, skills: &[String]) {
    if skills.is_empty() {
        return;
    }
    let have = app.skills.registered(app).await;
    for skill in skills.iter().filter(|s| !have.contains(*s)) {
        tracing::warn!(job_id, skill = %skill, "job created for a skill no registered worker has: it waits until one registers or its dispatch timeout");
    }
}
