//! Closed loop: C clients each create a job, wait for its end, and create the next; W
//! echo workers serve them. Throughput and submit → finished latency.

use crate::client::BenchClient;
use crate::stats::{summarize, Summary};
use crate::target::Target;
use crate::workers;
use anyhow::Result;
use serde::Serialize;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Debug, Clone, Serialize)]
pub struct ClosedLoop {
    pub clients: usize,
    pub workers: usize,
    pub jobs: usize,
    pub seconds: f64,
    pub jobs_per_sec: f64,
    pub latency: Summary,
    /// Requests the orchestrator sent to its store per job (0 for the memory store).
    pub store_round_trips_per_job: f64,
    /// CPU time per measured job (user + system), in ms: the orchestrator process,
    /// Redis (`INFO cpu`; `None` on the embedded store) and this process (the clients
    /// and the echo workers).
    pub cpu_ms_per_job: CpuPerJob,
    /// HTTP requests the orchestrator served per job, by route (warm-up included).
    pub requests_per_job: std::collections::BTreeMap<String, f64>,
    /// (seconds since start, latency ms) per job, for the plot.
    #[serde(skip)]
    pub series: Vec<(f64, f64)>,
}

/// (seconds since start, latency µs) of each measured job.
type Samples = Arc<Mutex<Vec<(f64, u64)>>>;

/// CPU milliseconds per job, by process.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CpuPerJob {
    pub orchestrator: f64,
    pub redis: Option<f64>,
    pub load_and_workers: f64,
}

/// CPU seconds so far: the orchestrator, Redis, this process.
struct CpuClock {
    orchestrator: f64,
    redis: Option<f64>,
    own: f64,
}

impl CpuClock {
    fn read(target: &Target, redis_port: Option<u16>) -> CpuClock {
        CpuClock {
            orchestrator: target.cpu_seconds().unwrap_or(f64::NAN),
            redis: redis_port.and_then(crate::target::redis_cpu_seconds),
            own: crate::target::own_cpu_seconds().unwrap_or(f64::NAN),
        }
    }

    /// Milliseconds per job since `before`.
    fn per_job(&self, before: &CpuClock, jobs: usize) -> CpuPerJob {
        let ms = |after: f64, before: f64| (after - before) * 1000.0 / jobs.max(1) as f64;
        CpuPerJob {
            orchestrator: ms(self.orchestrator, before.orchestrator),
            redis: self.redis.zip(before.redis).map(|(a, b)| ms(a, b)),
            load_and_workers: ms(self.own, before.own),
        }
    }
}

pub struct Params {
    /// The Redis of the run, for its CPU time (`None` on the embedded store).
    pub redis_port: Option<u16>,
    pub clients: usize,
    pub workers: usize,
    pub concurrency: usize,
    pub jobs: usize,
    pub warmup: usize,
}

async fn drive(
    client: &BenchClient,
    clients: usize,
    jobs: usize,
    start: Instant,
    record: Option<Samples>,
) -> Result<()> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, next, record) = (client.clone(), next.clone(), record.clone());
        tasks.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < jobs {
                let t0 = Instant::now();
                let id = client.create(json!({"n": 1})).await?;
                let status = client.wait_end(&id).await?;
                anyhow::ensure!(status == "finished", "job {id} ended {status}");
                if let Some(rec) = &record {
                    let at = t0.duration_since(start).as_secs_f64();
                    rec.lock()
                        .map_err(|_| anyhow::anyhow!("poisoned"))?
                        .push((at, t0.elapsed().as_micros() as u64));
                }
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

pub async fn run(target: &Target, p: &Params) -> Result<ClosedLoop> {
    let workers = workers::echo_workers(&target.base_url, p.workers, p.concurrency)?;
    let client = BenchClient::new(&target.base_url);
    let trips_before = client
        .metric("baton_store_round_trips_total")
        .await
        .unwrap_or(0.0);
    drive(&client, p.clients, p.warmup, Instant::now(), None).await?;
    let record = Arc::new(Mutex::new(Vec::with_capacity(p.jobs)));
    let cpu_before = CpuClock::read(target, p.redis_port);
    let start = Instant::now();
    drive(&client, p.clients, p.jobs, start, Some(record.clone())).await?;
    let seconds = start.elapsed().as_secs_f64();
    let cpu_ms_per_job = CpuClock::read(target, p.redis_port).per_job(&cpu_before, p.jobs);
    let total = (p.jobs + p.warmup) as f64;
    let trips = client
        .metric("baton_store_round_trips_total")
        .await
        .unwrap_or(0.0)
        - trips_before;
    let requests_per_job = client
        .requests_by_route()
        .await?
        .into_iter()
        .map(|(route, n)| (route, (n / total * 100.0).round() / 100.0))
        .filter(|(_, n)| *n > 0.0)
        .collect();
    workers::shutdown(workers).await;
    let samples = std::mem::take(&mut *record.lock().map_err(|_| anyhow::anyhow!("poisoned"))?);
    let series = samples
        .iter()
        .map(|(at, us)| (*at, *us as f64 / 1000.0))
        .collect();
    Ok(ClosedLoop {
        clients: p.clients,
        workers: p.workers,
        jobs: p.jobs,
        seconds,
        jobs_per_sec: p.jobs as f64 / seconds,
        latency: summarize(samples.into_iter().map(|(_, us)| us).collect()),
        requests_per_job,
        cpu_ms_per_job,
        store_round_trips_per_job: (trips / total * 100.0).round() / 100.0,
        series,
    })
}
