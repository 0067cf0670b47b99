//! The engine's Prometheus metrics (`baton_*`), registered on the registry the server
//! exports.
//!
//! Counters and histograms are per process (Prometheus sums instances); the gauges of
//! shared state (jobs by status, queue depths and oldest task ages, active workers) are
//! read from the store at scrape time ([`crate::Engine::refresh_gauges`]), so every
//! instance reports the same cluster-wide values.

use prometheus::{
    GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};

pub struct EngineMetrics {
    pub jobs_created: IntCounterVec,
    pub jobs_ended: IntCounterVec,
    pub jobs_by_status: IntGaugeVec,
    pub tasks_dispatched: IntCounterVec,
    pub schedule_to_start: HistogramVec,
    pub queue_depth: IntGaugeVec,
    pub queue_oldest_age: GaugeVec,
    pub active_workers: IntGauge,
    pub lease_expiries: IntCounter,
    pub lease_revocations: IntCounter,
    pub results: IntCounterVec,
    pub webhooks: IntCounterVec,
    pub long_polls_waiting: IntGauge,
    pub store_round_trips: IntGauge,
}

pub fn must<T>(r: prometheus::Result<T>) -> T {
    // Metric definitions are static; a failure here is a programming error caught by tests.
    r.unwrap_or_else(|e| panic!("invalid metric definition: {e}"))
}

impl EngineMetrics {
    pub fn new(registry: &Registry) -> EngineMetrics {
        let counter_vec = |name: &str, help: &str, labels: &[&str]| {
            let c = must(IntCounterVec::new(Opts::new(name, help), labels));
            must(registry.register(Box::new(c.clone())));
            c
        };
        let gauge_vec = |name: &str, help: &str, labels: &[&str]| {
            let g = must(IntGaugeVec::new(Opts::new(name, help), labels));
            must(registry.register(Box::new(g.clone())));
            g
        };
        let histogram_vec = |name: &str, help: &str, labels: &[&str], buckets: Vec<f64>| {
            let h = must(HistogramVec::new(
                HistogramOpts::new(name, help).buckets(buckets),
                labels,
            ));
            must(registry.register(Box::new(h.clone())));
            h
        };
        let latency_buckets = vec![
            0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            30.0, 60.0,
        ];
        let active_workers = must(IntGauge::new(
            "baton_active_workers",
            "Workers that heartbeated within the heartbeat timeout",
        ));
        must(registry.register(Box::new(active_workers.clone())));
        let lease_expiries = must(IntCounter::new(
            "baton_lease_expiries_total",
            "Leases taken back from silent workers",
        ));
        must(registry.register(Box::new(lease_expiries.clone())));
        let lease_revocations = must(IntCounter::new(
            "baton_lease_revocations_total",
            "Leases taken back from a worker's previous process when the worker registered again",
        ));
        must(registry.register(Box::new(lease_revocations.clone())));
        let store_round_trips = must(IntGauge::new(
            "baton_store_round_trips_total",
            "Requests this orchestrator sent to Redis (a script or pipeline counts once)",
        ));
        must(registry.register(Box::new(store_round_trips.clone())));
        let long_polls_waiting = must(IntGauge::new(
            "baton_long_polls_waiting",
            "Worker long-polls held by this orchestrator",
        ));
        must(registry.register(Box::new(long_polls_waiting.clone())));
        EngineMetrics {
            jobs_created: counter_vec("baton_jobs_created_total", "Jobs created", &["blueprint"]),
            jobs_ended: counter_vec(
                "baton_jobs_ended_total",
                "Jobs that reached a terminal status",
                &["blueprint", "status"],
            ),
            jobs_by_status: gauge_vec("baton_jobs", "Jobs by status (cluster-wide)", &["status"]),
            tasks_dispatched: counter_vec(
                "baton_tasks_dispatched_total",
                "Tasks handed to workers",
                &["skill"],
            ),
            schedule_to_start: histogram_vec(
                "baton_schedule_to_start_seconds",
                "Time from a task being queued to a worker taking it",
                &["skill"],
                latency_buckets.clone(),
            ),
            queue_depth: gauge_vec(
                "baton_queue_depth",
                "Queued tasks by skill (cluster-wide)",
                &["skill"],
            ),
            queue_oldest_age: {
                let g = must(GaugeVec::new(
                    Opts::new(
                        "baton_queue_oldest_task_age_seconds",
                        "Age of the oldest queued task by skill, 0 when none (cluster-wide)",
                    ),
                    &["skill"],
                ));
                must(registry.register(Box::new(g.clone())));
                g
            },
            active_workers,
            lease_expiries,
            lease_revocations,
            results: counter_vec(
                "baton_task_results_total",
                "Accepted task results by status",
                &["status"],
            ),
            webhooks: counter_vec(
                "baton_webhook_deliveries_total",
                "Completion webhook attempts",
                &["result"],
            ),
            long_polls_waiting,
            store_round_trips,
        }
    }
}
