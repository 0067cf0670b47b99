//! Burst: N jobs created as fast as possible with no worker running, then W workers
//! drain them. Submit rate, drain rate, end-to-end time.

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
    pub submit_per_sec: f64,
    pub drain_per_sec: f64,
    pub end_to_end_seconds: f64,
}

pub async fn run(
    target: &Target,
    jobs: usize,
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
            while next.fetch_add(1, Ordering::Relaxed) < jobs {
                client.create(json!({"n": 1})).await?;
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
        submit_per_sec: jobs as f64 / submitted.as_secs_f64(),
        drain_per_sec: jobs as f64 / drained.as_secs_f64(),
        end_to_end_seconds: (submitted + drained).as_secs_f64(),
    })
}
