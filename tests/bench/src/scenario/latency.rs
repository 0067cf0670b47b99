//! Dispatch latency: with workers already waiting, the time from a job's creation request
//! to its task reaching a worker's handler. One job at a time.

use crate::client::BenchClient;
use crate::stats::{summarize, Summary};
use crate::target::Target;
use crate::workers::{self, Arrivals};
use anyhow::{Context, Result};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub async fn run(target: &Target, samples: usize, n_workers: usize) -> Result<Summary> {
    let arrivals = Arc::new(Arrivals::default());
    let workers = workers::recording_workers(&target.base_url, n_workers, arrivals.clone())?;
    let client = BenchClient::new(&target.base_url);
    // Warm up connections and let every worker reach its long-poll.
    for _ in 0..20 {
        let id = client.create(json!({})).await?;
        client.wait_end(&id).await?;
    }
    let mut us = Vec::with_capacity(samples);
    for _ in 0..samples {
        tokio::time::sleep(Duration::from_millis(2)).await;
        let t0 = Instant::now();
        let id = client.create(json!({})).await?;
        let arrived = arrivals
            .wait_for(&id, Duration::from_secs(30))
            .await
            .context("task never arrived")?;
        us.push(arrived.saturating_duration_since(t0).as_micros() as u64);
        client.wait_end(&id).await?;
    }
    workers::shutdown(workers).await;
    Ok(summarize(us))
}
