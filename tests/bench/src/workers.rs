//! Rust SDK echo workers inside the benchmark process.

use crate::target::WORKER_TOKEN;
use baton_worker::{TaskContext, TaskError, Worker, WorkerConfig, WorkerHandle};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

pub fn config(base_url: &str, id: &str, concurrency: usize) -> WorkerConfig {
    WorkerConfig::new(base_url)
        .token(WORKER_TOKEN)
        .worker_id(id)
        .worker_type("bench-echo")
        .max_concurrent_tasks(concurrency)
        .heartbeat_interval(Duration::from_secs(5))
}

/// `n` echo workers.
pub fn echo_workers(
    base_url: &str,
    n: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<WorkerHandle>> {
    (0..n)
        .map(|i| {
            let id = format!(
                "bench-echo-{i}-{}",
                &uuid::Uuid::new_v4().simple().to_string()[..6]
            );
            let builder = baton_worker_examples::echo_skill(Worker::builder(config(
                base_url,
                &id,
                concurrency,
            )));
            Ok(builder.build()?.spawn())
        })
        .collect()
}

/// When each job's task reached a worker.
#[derive(Default)]
pub struct Arrivals {
    seen: Mutex<HashMap<String, Instant>>,
    notify: Notify,
}

impl Arrivals {
    pub async fn wait_for(&self, job_id: &str, timeout: Duration) -> Option<Instant> {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.notify.notified();
            if let Some(t) = self.seen.lock().ok()?.remove(job_id) {
                return Some(t);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            let _ = tokio::time::timeout(left, notified).await;
        }
    }
}

/// `n` workers whose echo records the arrival time of each task.
pub fn recording_workers(
    base_url: &str,
    n: usize,
    arrivals: Arc<Arrivals>,
) -> anyhow::Result<Vec<WorkerHandle>> {
    (0..n)
        .map(|i| {
            let arrivals = arrivals.clone();
            let id = format!(
                "bench-rec-{i}-{}",
                &uuid::Uuid::new_v4().simple().to_string()[..6]
            );
            let builder = Worker::builder(config(base_url, &id, 4)).skill(
                "echo",
                move |p: Map<String, Value>, ctx: TaskContext| {
                    let arrived = Instant::now();
                    let arrivals = arrivals.clone();
                    async move {
                        if let Ok(mut seen) = arrivals.seen.lock() {
                            seen.insert(ctx.job_id().to_string(), arrived);
                        }
                        arrivals.notify.notify_waiters();
                        Ok::<_, TaskError>(Value::Object(p))
                    }
                },
            );
            Ok(builder.build()?.spawn())
        })
        .collect()
}

pub async fn shutdown(workers: Vec<WorkerHandle>) {
    for w in workers {
        let _ = w.shutdown().await;
    }
}
