//! The worker's lifecycle: register, run the loops, shut down.
//!
//! One call of [`run`] owns everything the worker starts, in two `JoinSet`s: the
//! background loops (heartbeat, WebSocket) and the task runners. Dropping `run`'s future
//! (which is what [`crate::WorkerHandle::kill`] does by aborting it) drops both sets and so
//! aborts every loop and handler at once.
//!
//! The poll loop runs inline: it waits for a free concurrency permit, then long-polls; it
//! never holds a poll open without room for the tasks that could come back. With
//! batching on (and a server that has Baton's batch routes) one poll asks for as many
//! tasks as there are free permits, and results go through the batching sender of
//! [`crate::results`]. Phases of a
//! graceful shutdown, in order: stop polling (the in-flight long-poll is abandoned), let
//! tasks finish for `shutdown_timeout`, cancel the rest and wait for their `cancelled`
//! results, stop the heartbeat loop, send the `offline` heartbeat, close the WebSocket.
//!
//! A registration the orchestrator refuses (401/403) ends `run` with
//! [`WorkerError::Unauthorized`]: at once when it is the first one, after that same
//! graceful shutdown when it is a registration again (the heartbeat loop records the
//! error in [`Shared`] and fires the stop token).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::client::Polled;
use crate::error::WorkerError;
use crate::heartbeat::Registration;
use crate::state::Shared;
use crate::{heartbeat, results, task_runner, websocket};

/// An empty poll answered faster than this is suspicious (the server is not holding the
/// poll): pause `idle_poll_delay` before the next to avoid a hot loop.
const FAST_EMPTY_POLL: Duration = Duration::from_millis(100);
const POLL_BACKOFF_MIN: Duration = Duration::from_secs(1);
const POLL_BACKOFF_MAX: Duration = Duration::from_secs(30);
/// After cancelling leftover tasks at shutdown: how long their results may take beyond
/// the cancel grace before the runners are aborted.
const RESULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(60);
const BACKGROUND_STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// Most tasks asked for in one poll.
const MAX_POLL_BATCH: usize = 32;

pub(crate) async fn run<S>(shared: Arc<Shared>, shutdown: S) -> Result<(), WorkerError>
where
    S: Future<Output = ()> + Send,
{
    let stop = shared.stop_token();
    let watch_shutdown = async {
        shutdown.await;
        tracing::info!(worker_id = %shared.worker_id(), "shutdown requested");
        stop.cancel();
        // Keep this branch pending: only the lifecycle below ends `run`.
        std::future::pending::<()>().await;
    };
    tokio::select! {
        result = lifecycle(shared.clone(), stop.clone()) => result,
        _ = watch_shutdown => Ok(()),
    }
}

async fn lifecycle(shared: Arc<Shared>, stop: CancellationToken) -> Result<(), WorkerError> {
    let worker_id = shared.worker_id().to_string();
    tracing::info!(%worker_id, orchestrator = %shared.config.orchestrator_url, "worker starting");
    if !shared.config.signs_bodies() {
        // The usual first-run mistake: nothing configured, so the Python SDK's default
        // token goes out, which an orchestrator with real tokens refuses.
        tracing::warn!(%worker_id, "WORKER_TOKEN is not set: sending the SDK's default token");
    }
    match heartbeat::register(&shared, &stop).await {
        Registration::Registered => {}
        Registration::Stopped => {
            tracing::info!(%worker_id, "stopped before registering");
            return Ok(());
        }
        Registration::Refused(e) => return Err(e),
    }

    let heartbeat_stop = CancellationToken::new();
    let websocket_stop = CancellationToken::new();
    let results_stop = CancellationToken::new();
    let mut background = JoinSet::new();
    background.spawn(heartbeat::run(shared.clone(), heartbeat_stop.clone()));
    background.spawn(results::run(shared.clone(), results_stop.clone()));
    if shared.config.enable_websockets {
        background.spawn(websocket::run(shared.clone(), websocket_stop.clone()));
    }

    let mut tasks = JoinSet::new();
    poll_loop(&shared, &stop, &mut tasks).await;

    shared.set_draining();
    shared.nudge_heartbeat();
    drain(&shared, &mut tasks).await;

    // Every runner has its result's answer by now.
    results_stop.cancel();
    heartbeat_stop.cancel();
    websocket_stop.cancel();
    // The heartbeat loop abandons any heartbeat in flight at once; the WebSocket close
    // handshake is bounded too. Waiting keeps a stray idle heartbeat from following the
    // offline one.
    let _ = tokio::time::timeout(BACKGROUND_STOP_TIMEOUT, async {
        while background.join_next().await.is_some() {}
    })
    .await;
    heartbeat::send_offline(&shared).await;
    background.shutdown().await;
    if let Some(e) = shared.take_fatal() {
        tracing::error!(%worker_id, error = %e, "worker stopped");
        return Err(e);
    }
    tracing::info!(%worker_id, "worker stopped");
    Ok(())
}

/// Takes tasks until `stop` fires; see the module docs.
async fn poll_loop(shared: &Arc<Shared>, stop: &CancellationToken, tasks: &mut JoinSet<()>) {
    let skills = shared.skills.names();
    let hold = shared.config.task_poll_timeout;
    let mut backoff = POLL_BACKOFF_MIN;
    loop {
        reap(tasks);
        let permit = tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            permit = shared.permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                // The semaphore is never closed; treat it as the end of work anyway.
                Err(_) => return,
            },
        };
        // Room for more than one task: ask for as many as there are free slots.
        let mut permits = vec![permit];
        if shared.batch_routes() {
            while permits.len() < MAX_POLL_BATCH {
                match shared.permits.clone().try_acquire_owned() {
                    Ok(p) => permits.push(p),
                    Err(_) => break,
                }
            }
        }
        let asked = Instant::now();
        let polled = tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            polled = poll_once(shared, hold, &skills, permits.len()) => polled,
        };
        let pause = match polled {
            Ok(items) if !items.is_empty() => {
                backoff = POLL_BACKOFF_MIN;
                for item in items {
                    match item {
                        Polled::Task(task) => {
                            let Some(permit) = permits.pop() else {
                                tracing::error!(task_id = %task.task_id, "server sent more tasks than asked for");
                                break;
                            };
                            // Held before the runner starts, so a cancel right behind the task finds it.
                            let lease = shared.tasks.hold(&task.task_id, &task.job_id);
                            tasks.spawn(task_runner::run_task(
                                shared.clone(),
                                *task,
                                lease,
                                permit,
                            ));
                        }
                        Polled::Malformed {
                            job_id,
                            task_id,
                            reason,
                        } => {
                            tasks.spawn(task_runner::reject_malformed(
                                shared.clone(),
                                job_id,
                                task_id,
                                reason,
                            ));
                        }
                    }
                }
                None
            }
            Ok(_) => {
                backoff = POLL_BACKOFF_MIN;
                (asked.elapsed() < FAST_EMPTY_POLL).then_some(shared.config.idle_poll_delay)
            }
            Err(WorkerError::Killed) => return,
            Err(e) => {
                if e.is_worker_unknown() {
                    shared.request_reregister();
                }
                tracing::warn!(worker_id = %shared.worker_id(), error = %e, retry_in = ?backoff, "polling failed");
                let pause = backoff;
                backoff = (backoff * 2).min(POLL_BACKOFF_MAX);
                Some(pause)
            }
        };
        // Slots the answer did not fill go back.
        drop(permits);
        if let Some(pause) = pause.filter(|p| !p.is_zero()) {
            tokio::select! {
                biased;
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }
}

/// One long-poll for up to `max` tasks: the batch route while the server has it, else
/// the single RXON route.
async fn poll_once(
    shared: &Shared,
    hold: Duration,
    skills: &[String],
    max: usize,
) -> Result<Vec<Polled>, WorkerError> {
    if shared.batch_routes() {
        match shared.client.poll_batch(hold, skills, max).await {
            Err(e) if e.is_missing_route() => shared.disable_batch_routes(),
            other => return other,
        }
    }
    Ok(shared
        .client
        .poll(hold, skills)
        .await?
        .into_iter()
        .collect())
}

/// Collects finished runners so the set does not grow; a runner never panics (handler
/// panics are caught inside it), but say so if one does.
fn reap(tasks: &mut JoinSet<()>) {
    while let Some(joined) = tasks.try_join_next() {
        if let Err(e) = joined {
            tracing::error!(error = %e, "task runner ended abnormally");
        }
    }
}

/// Waits for running tasks, then cancels those still running; see the module docs.
async fn drain(shared: &Shared, tasks: &mut JoinSet<()>) {
    reap(tasks);
    if tasks.is_empty() {
        return;
    }
    let timeout = shared.config.shutdown_timeout;
    tracing::info!(worker_id = %shared.worker_id(), running = tasks.len(), ?timeout, "waiting for running tasks");
    if join_all(tasks, timeout).await {
        return;
    }
    let cancelled = shared.tasks.cancel_all("shutdown");
    tracing::warn!(worker_id = %shared.worker_id(), cancelled, "shutdown timeout reached; cancelling the remaining tasks");
    if !join_all(tasks, shared.config.cancel_grace + RESULT_DRAIN_TIMEOUT).await {
        tracing::error!(worker_id = %shared.worker_id(), left = tasks.len(), "results still pending; aborting");
        tasks.shutdown().await;
    }
}

/// Joins every runner; `false` if `limit` passed first.
async fn join_all(tasks: &mut JoinSet<()>, limit: Duration) -> bool {
    tokio::time::timeout(limit, async {
        while let Some(joined) = tasks.join_next().await {
            if let Err(e) = joined {
                tracing::error!(error = %e, "task runner ended abnormally");
            }
        }
    })
    .await
    .is_ok()
}
