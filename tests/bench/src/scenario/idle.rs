//! Idle scale: K workers long-polling with nothing to do. Orchestrator memory and CPU,
//! and the Redis connections it holds (idle polls should hold none).

use crate::client::BenchClient;
use crate::target::{info_field, redis_info, Target, WORKER_TOKEN};
use anyhow::Result;
use serde::Serialize;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Serialize)]
pub struct Idle {
    pub pollers: usize,
    pub waiting: usize,
    pub rss_mib_before: f64,
    pub rss_mib_idle: f64,
    pub cpu_percent: f64,
    /// Connections to Redis while the polls wait (none for the memory store).
    pub redis_connections: Option<u64>,
    pub redis_pool_size: usize,
}

pub async fn run(
    target: &Target,
    pollers: usize,
    redis_port: Option<u16>,
    measure: Duration,
) -> Result<Idle> {
    let rss_before = target.rss_mib().unwrap_or(f64::NAN);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(pollers)
        .build()?;
    let mut tasks = Vec::with_capacity(pollers);
    for i in 0..pollers {
        let http = http.clone();
        let url = format!(
            "{}/_worker/workers/idle-{i}/tasks/next?timeout=25&available_skills=idle-skill",
            target.base_url
        );
        let worker_id = format!("idle-{i}");
        tasks.push(tokio::spawn(async move {
            loop {
                let sent = http
                    .get(&url)
                    .header("X-Worker-Token", WORKER_TOKEN)
                    .header("X-Worker-ID", &worker_id)
                    .timeout(Duration::from_secs(40))
                    .send()
                    .await;
                if sent.is_err() {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }));
        if i % 500 == 499 {
            // Ramp up without a SYN flood on the loopback backlog.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let client = BenchClient::new(&target.base_url);
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut waiting = 0.0;
    while Instant::now() < deadline {
        waiting = client
            .metric("baton_long_polls_waiting")
            .await
            .unwrap_or(0.0);
        if waiting as usize >= pollers {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let cpu0 = target.cpu_seconds().unwrap_or(0.0);
    let t0 = Instant::now();
    tokio::time::sleep(measure).await;
    let cpu = (target.cpu_seconds().unwrap_or(0.0) - cpu0) / t0.elapsed().as_secs_f64() * 100.0;
    let rss = target.rss_mib().unwrap_or(f64::NAN);
    let redis_connections = match redis_port {
        // Our own INFO connection is one of them.
        Some(port) => info_field(&redis_info(port, "clients")?, "connected_clients")
            .and_then(|v| v.parse::<u64>().ok())
            .map(|n| n.saturating_sub(1)),
        None => None,
    };
    for t in tasks {
        t.abort();
    }
    Ok(Idle {
        pollers,
        waiting: waiting as usize,
        rss_mib_before: rss_before,
        rss_mib_idle: rss,
        cpu_percent: cpu,
        redis_connections,
        redis_pool_size: target.pool_size,
    })
}
