//! Readiness: an orchestrator serves before its store answers.
//!
//! The data: one flag, [`Readiness`], false until the store has answered a ping once
//! (the embedded store answers at once). [`try_first`] pings the store once before the
//! server accepts requests; if that fails, [`connect`] pings it with a doubling delay
//! until it answers, logging each failure with its error and the next
//! delay, so that an orchestrator started during a Redis outage waits for Redis instead
//! of exiting (a supervisor restarting processes one at a time would otherwise keep it
//! down). Until the flag is set the faces answer 503 (their gate) and the reaper waits.

use baton_store::Store;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// First delay between two pings of a store that does not answer; doubles up to
/// [`RETRY_MAX`].
const RETRY_MIN: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(5);
/// Longest wait for the ping made before serving.
const FIRST_PING: Duration = Duration::from_secs(1);

/// Whether the store has answered since the start; see the module docs.
#[derive(Default)]
pub struct Readiness {
    ready: AtomicBool,
    changed: Notify,
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    pub fn mark_ready(&self) {
        self.ready.store(true, Ordering::Release);
        self.changed.notify_waiters();
    }

    /// Returns once the store has answered.
    pub async fn wait(&self) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.is_ready() {
                return;
            }
            changed.await;
        }
    }
}

/// One ping before serving, bounded by [`FIRST_PING`]: when the store is up (the usual
/// case) the first request already finds the orchestrator ready.
pub async fn try_first(store: &dyn Store, readiness: &Readiness) {
    if let Ok(Ok(())) = tokio::time::timeout(FIRST_PING, store.ping()).await {
        readiness.mark_ready();
    }
}

/// Pings `store` until it answers (then marks `readiness`) or `shutdown` fires; returns at
/// once if it is ready already.
pub async fn connect(
    store: Arc<dyn Store>,
    readiness: Arc<Readiness>,
    shutdown: CancellationToken,
) {
    if readiness.is_ready() {
        return;
    }
    let mut delay = RETRY_MIN;
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        match store.ping().await {
            Ok(()) => {
                if attempts > 1 {
                    tracing::info!(store = store.kind(), attempts, "store reachable; serving");
                }
                readiness.mark_ready();
                return;
            }
            Err(e) => tracing::warn!(
                store = store.kind(),
                error = %e,
                attempt = attempts,
                retry_in_ms = delay.as_millis() as u64,
                "store unreachable; answering 503 until it is, retrying"
            ),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(RETRY_MAX);
    }
}
