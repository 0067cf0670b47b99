//! Gauges read from the store when metrics are scraped (jobs by status, queue depth and
//! oldest task per skill, live workers, store round trips), so no request path pays for
//! them. Every face's metrics endpoint calls [`Engine::refresh_gauges`] before rendering.

use crate::Engine;
use baton_protocol::clock::now_ms;

impl Engine {
    /// Sets the gauges from the store; a store that does not answer leaves them as they
    /// were (the scrape still answers).
    pub async fn refresh_gauges(&self) {
        let m = &self.metrics;
        let store = &self.store;
        if let Ok(counts) = store.job_counts().await {
            for (status, n) in counts {
                m.jobs_by_status.with_label_values(&[&status]).set(n);
            }
        }
        if let Ok(queues) = store.queue_stats().await {
            let now = now_ms();
            for (skill, q) in queues {
                m.queue_depth
                    .with_label_values(&[&skill])
                    .set(q.depth as i64);
                m.queue_oldest_age
                    .with_label_values(&[&skill])
                    .set(q.oldest_age_seconds(now).unwrap_or(0.0));
            }
        }
        if let Ok(n) = store
            .active_workers(now_ms(), self.cfg.heartbeat_timeout)
            .await
        {
            m.active_workers.set(n as i64);
        }
        m.store_round_trips.set(store.round_trips() as i64);
    }
}
