//! Registration and heartbeats.
//!
//! - [`register`] retries `POST /workers/register` with a doubling delay (1 s to 60 s)
//!   until it works or the worker stops, except when the orchestrator refuses the
//!   worker's credentials (401/403): that is reported at once as
//!   [`WorkerError::Unauthorized`], since retrying a wrong token only hides the mistake.
//! - [`run`] sends a heartbeat every `heartbeat_interval`, and sooner when nudged (a task
//!   started or ended), but never less than `heartbeat_cooldown` after the previous one,
//!   so a burst of short tasks costs one heartbeat. The answer's `cancel_task_ids` fire
//!   the matching tasks' tokens; an answer saying the worker is unknown makes it register
//!   again; `require_full_sync` adds the skill list to the next heartbeat.
//! - [`send_offline`] is the last heartbeat of a graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::{sleep, sleep_until, Instant};
use tokio_util::sync::CancellationToken;

use crate::body::{self, HeartbeatState};
use crate::error::WorkerError;
use crate::state::Shared;

const REGISTER_DELAY_MIN: Duration = Duration::from_secs(1);
const REGISTER_DELAY_MAX: Duration = Duration::from_secs(60);
const OFFLINE_TIMEOUT: Duration = Duration::from_secs(5);

/// How a registration ended.
pub(crate) enum Registration {
    Registered,
    /// The worker was asked to stop first.
    Stopped,
    /// The orchestrator refused the worker's credentials; not worth retrying.
    Refused(WorkerError),
}

/// Registers, retrying network trouble and other refusals until success or until `stop`
/// fires; a 401/403 ends it at once (see the module docs).
pub(crate) async fn register(shared: &Shared, stop: &CancellationToken) -> Registration {
    let mut delay = REGISTER_DELAY_MIN;
    loop {
        let registration =
            body::registration(&shared.config, &shared.skills.infos(), &shared.incarnation);
        let attempt = tokio::select! {
            biased;
            _ = stop.cancelled() => return Registration::Stopped,
            attempt = shared.client.register(&registration) => attempt,
        };
        match attempt {
            Ok(()) => {
                tracing::info!(
                    worker_id = %shared.worker_id(),
                    skills = ?shared.skills.names(),
                    orchestrator = %shared.config.orchestrator_url,
                    "registered; waiting for tasks"
                );
                return Registration::Registered;
            }
            Err(e) if e.is_auth_failure() => {
                let refused = WorkerError::Unauthorized {
                    url: shared.config.orchestrator_url.clone(),
                    status: e.status().unwrap_or_default(),
                    message: e.server_message().unwrap_or_default(),
                    default_token: !shared.config.signs_bodies(),
                };
                tracing::error!(
                    worker_id = %shared.worker_id(),
                    orchestrator = %shared.config.orchestrator_url,
                    status = e.status().unwrap_or_default(),
                    error = %refused,
                    "registration refused: bad or missing WORKER_TOKEN; not retrying"
                );
                return Registration::Refused(refused);
            }
            Err(e) => {
                tracing::error!(worker_id = %shared.worker_id(), error = %e, retry_in = ?delay, "registration failed")
            }
        }
        tokio::select! {
            biased;
            _ = stop.cancelled() => return Registration::Stopped,
            _ = sleep(delay) => {}
        }
        delay = (delay * 2).min(REGISTER_DELAY_MAX);
    }
}

/// The heartbeat loop; see the module docs. Returns when `stop` fires.
pub(crate) async fn run(shared: Arc<Shared>, stop: CancellationToken) {
    let interval = shared.config.heartbeat_interval;
    let cooldown = shared.config.heartbeat_cooldown;
    // `None` = send now (just registered).
    let mut last_sent: Option<Instant> = None;
    loop {
        if let Some(last) = last_sent {
            tokio::select! {
                biased;
                _ = stop.cancelled() => return,
                _ = sleep_until(last + interval) => {}
                _ = shared.heartbeat_nudged() => {
                    tokio::select! {
                        biased;
                        _ = stop.cancelled() => return,
                        _ = sleep_until(last + cooldown) => {}
                    }
                }
            }
        }
        if shared.take_reregister() {
            tracing::warn!(worker_id = %shared.worker_id(), "the orchestrator forgot this worker; registering again");
            match register(&shared, &stop).await {
                Registration::Registered => {}
                Registration::Stopped => return,
                // The token was taken away while we ran (or this is another orchestrator
                // with other tokens): stop the worker and let `run` report why.
                Registration::Refused(e) => {
                    shared.fail(e);
                    return;
                }
            }
        }
        let heartbeat = current_heartbeat(&shared);
        let answer = tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            answer = shared.client.heartbeat(&heartbeat) => answer,
        };
        last_sent = Some(Instant::now());
        match answer {
            Ok(response) => {
                for task_id in &response.cancel_task_ids {
                    shared.tasks.cancel(task_id, "heartbeat", false);
                }
                if response.require_full_sync {
                    shared.request_full_sync();
                }
            }
            Err(e) if e.is_worker_unknown() => {
                shared.request_reregister();
                last_sent = None;
            }
            Err(e) => {
                tracing::warn!(worker_id = %shared.worker_id(), error = %e, "heartbeat failed")
            }
        }
    }
}

fn current_heartbeat(shared: &Shared) -> baton_protocol::Heartbeat {
    let current_tasks = shared.tasks.ids();
    let full = current_tasks.len() >= shared.config.max_concurrent_tasks;
    // Python's statuses: idle = can take work, full = at capacity, busy = taking none.
    let status = if shared.is_draining() {
        "busy"
    } else if full {
        "full"
    } else {
        "idle"
    };
    let available_skills = (status == "idle").then(|| shared.skills.names());
    let supported_skills = shared
        .take_full_sync()
        .then(|| body::skill_entries(&shared.skills.infos()));
    body::heartbeat(
        shared.worker_id(),
        HeartbeatState {
            status,
            current_tasks,
            available_skills,
            supported_skills,
        },
    )
}

/// Tells the orchestrator this worker is leaving (one attempt, bounded in time).
pub(crate) async fn send_offline(shared: &Shared) {
    let heartbeat = body::heartbeat(
        shared.worker_id(),
        HeartbeatState {
            status: "offline",
            current_tasks: shared.tasks.ids(),
            available_skills: None,
            supported_skills: None,
        },
    );
    match tokio::time::timeout(OFFLINE_TIMEOUT, shared.client.heartbeat(&heartbeat)).await {
        Ok(Ok(_)) => tracing::info!(worker_id = %shared.worker_id(), "sent offline heartbeat"),
        Ok(Err(e)) => {
            tracing::warn!(worker_id = %shared.worker_id(), error = %e, "offline heartbeat failed")
        }
        Err(_) => tracing::warn!(worker_id = %shared.worker_id(), "offline heartbeat timed out"),
    }
}
