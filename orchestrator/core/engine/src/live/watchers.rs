//! Clients waiting for a job to end (`GET /api/v1/jobs/{id}?wait=<seconds>`).
//!
//! One [`Notify`] per watched job id, shared by its waiters; a `JobDone` notice (from this
//! or another orchestrator) wakes them all and drops the entry. A waiter enables its
//! notification *before* reading the job, so an end between the read and the wait is not
//! missed.

use dashmap::DashMap;
use std::sync::Arc;
use tokio::sync::Notify;

#[derive(Default)]
pub struct JobWatchers {
    map: DashMap<String, Arc<Notify>>,
}

impl JobWatchers {
    pub fn watch(&self, job_id: &str) -> Arc<Notify> {
        self.map
            .entry(job_id.to_string())
            .or_insert_with(|| Arc::new(Notify::new()))
            .clone()
    }

    /// The job ended: wake its waiters.
    pub fn done(&self, job_id: &str) {
        if let Some((_, notify)) = self.map.remove(job_id) {
            notify.notify_waiters();
        }
    }

    /// Wakes every waiter (after notices may have been lost); they re-read their job.
    pub fn wake_all(&self) {
        let all: Vec<String> = self.map.iter().map(|e| e.key().clone()).collect();
        for id in all {
            self.done(&id);
        }
    }

    /// A waiter leaves; the entry goes with the last one.
    pub fn release(&self, job_id: &str, notify: Arc<Notify>) {
        drop(notify);
        self.map.remove_if(job_id, |_, n| Arc::strong_count(n) == 1);
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn done_wakes_an_enabled_waiter_and_entries_are_cleaned_up() {
        let w = JobWatchers::default();
        let n = w.watch("j");
        let notified = n.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        w.done("j");
        tokio::time::timeout(Duration::from_millis(100), notified)
            .await
            .expect("woken");
        assert!(w.is_empty());
        let a = w.watch("k");
        let b = w.watch("k");
        w.release("k", a);
        assert_eq!(w.len(), 1, "b still waits");
        w.release("k", b);
        assert!(w.is_empty());
    }
}
