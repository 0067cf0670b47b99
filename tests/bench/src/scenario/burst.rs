//! Burst: N jobs created as fast as possible with no worker running, then W workers
//! drain them. Submit rate, drain rate, end-to-end time. With `batch` > 1 the jobs are
//! created that many per request (`POST /api/v1/jobs/echo/batch`), as BullMQ's `addBulk`
//! and Celery's `group` users submit bursts; 1 creates them one request each.

use crate::client::BenchClient;
use crate::target::Target;
use crate::workers;
use anyhow::Result;
use serde::Serialize;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Serialize)]
pub struct Burst {
    pub jobs: usize,
    /// Jobs per creation request.
    pub batch: usize,
    pub submit_per_sec: f64,
    pub drain_per_sec: f64,
    pub end_to_end_seconds: f64,
}

pub async fn run(
    target: &Target,
    jobs: usize,
    batch: usize,
    submitters: usize,
    n_workers: usize,
    concurrency: usize,
) -> Result<Burst> {
    let client = BenchClient::new(&target.base_url);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..submitters {
        let (client, next) = (client.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let first = next.fetch_add(batch, Ordering::Relaxed);
                if first >= jobs {
                    break;
                }
                let n = batch.min(jobs - first);
                if batch <= 1 {
                    client.create(json!({"n": 1})).await?;
                } else {
                    client.create_batch(n, json!({"n": 1})).await?;
                }
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let submitted = start.elapsed();
    let drain_start = Instant::now();
    let workers = workers::echo_workers(&target.base_url, n_workers, concurrency)?;
    loop {
        let dash = client.dashboard().await?;
        let finished = dash["jobs"]["finished"].as_u64().unwrap_or(0) as usize;
        if finished >= jobs {
            break;
        }
        anyhow::ensure!(
            drain_start.elapsed() < Duration::from_secs(600),
            "drain stalled at {finished}/{jobs}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let drained = drain_start.elapsed();
    workers::shutdown(workers).await;
    Ok(Burst {
        jobs,
        batch: batch.max(1),
        submit_per_sec: jobs as f64 / submitted.as_secs_f64(),
        drain_per_sec: jobs as f64 / drained.as_secs_f64(),
        end_to_end_seconds: (submitted + drained).as_secs_f64(),
    })
}
