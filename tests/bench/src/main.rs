//! `baton-bench`: measures Baton end to end and against the ceiling of the Redis it uses.
//!
//! Each scenario starts a fresh `baton serve` process (so its memory and CPU can be read
//! from `/proc`), on the embedded store or on a throwaway `redis-server`, and drives it
//! with clients and Rust SDK echo workers from this process. Every scenario is repeated
//! `--runs` times and the table shows medians; `--json` keeps every run.
//!
//! ```text
//! cargo build --release -p baton-orchestrator -p baton-bench
//! target/release/baton-bench --plot bench-results/closed-loop.png
//! ```

mod client;
mod plot;
mod report;
mod scenario;
mod stats;
mod target;
mod workers;

// The default allocator was ~15% of the orchestrator's CPU under load (profiled).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::{Context, Result};
use baton_tests::RedisServer;
use clap::{Parser, ValueEnum};
use report::{machine, table};
use scenario::{burst, closed_loop, idle, latency, listing, redis_ref, schedules, workflow};
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use target::{StoreKind, Target};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Scenario {
    ClosedLoop,
    Burst,
    Latency,
    Idle,
    RedisRef,
    /// Workflow executions (one and three `transform` steps) next to echo jobs.
    Workflow,
    /// Many schedules, some due together: firing lag, idle CPU; webhook deliveries
    /// (not in the default list: it waits for a minute to turn).
    Schedules,
    /// The job listing at a million stored jobs, Redis only (not in the default list:
    /// it fills Redis with ~1 GiB).
    Listing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StoreChoice {
    Memory,
    Redis,
    Both,
}

#[derive(Parser, Debug)]
#[command(
    name = "baton-bench",
    about = "Benchmarks Baton: closed loop, burst, dispatch latency, idle long-polls, Redis ceiling, workflow executions"
)]
struct Args {
    /// Scenarios to run (default: all of them).
    #[arg(value_enum)]
    scenarios: Vec<Scenario>,
    /// Which store(s) to benchmark.
    #[arg(long, value_enum, default_value = "both")]
    store: StoreChoice,
    /// Repetitions of each scenario; the table shows medians.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Closed-loop client counts (one closed-loop run per value).
    #[arg(long, value_delimiter = ',', default_value = "1,20")]
    clients: Vec<usize>,
    /// Rust SDK echo workers.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Concurrent tasks per worker.
    #[arg(long, default_value_t = 32)]
    worker_concurrency: usize,
    /// Jobs per closed-loop run (after a warm-up of a tenth of that).
    #[arg(long, default_value_t = 20_000)]
    jobs: usize,
    /// Jobs in the burst.
    #[arg(long, default_value_t = 20_000)]
    burst_jobs: usize,
    /// Jobs per creation request in the burst (1: one request per job).
    #[arg(long, default_value_t = 500)]
    burst_batch: usize,
    /// Runs of each kind (echo, one-step, three-step) per client count in the workflow
    /// scenario (C=1 runs at most 2,000).
    #[arg(long, default_value_t = 5_000)]
    workflow_runs: usize,
    /// Active schedules in the schedules scenario.
    #[arg(long, default_value_t = 10_000)]
    schedules: usize,
    /// Of those, how many are due in the same second.
    #[arg(long, default_value_t = 1_000)]
    schedules_due: usize,
    /// Stored jobs in the listing scenario.
    #[arg(long, default_value_t = 1_000_000)]
    listing_jobs: usize,
    /// Requests per query in the listing scenario.
    #[arg(long, default_value_t = 100)]
    listing_samples: usize,
    /// Jobs measured for dispatch latency.
    #[arg(long, default_value_t = 1_000)]
    latency_samples: usize,
    /// Idle long-polling workers.
    #[arg(long, default_value_t = 10_000)]
    idle_pollers: usize,
    /// Runtime threads of the orchestrator (BATON_WORKER_THREADS; 0 = its default, one
    /// per core). On a small machine shared with Redis and the load, 1 does best.
    #[arg(long, default_value_t = 0)]
    orchestrator_threads: usize,
    /// Redis pool size of the orchestrator.
    #[arg(long, default_value_t = 16)]
    pool_size: usize,
    /// The `baton` binary (default: next to this one).
    #[arg(long)]
    baton: Option<PathBuf>,
    /// Use this Redis (localhost) instead of a throwaway redis-server.
    #[arg(long)]
    redis_url: Option<String>,
    /// Where to write every measurement as JSON.
    #[arg(long, default_value = "bench-results/latest.json")]
    json: PathBuf,
    /// Draw closed-loop latency-over-time and throughput charts to this PNG.
    #[arg(long)]
    plot: Option<PathBuf>,
}

struct RedisTarget {
    url: String,
    port: u16,
    _server: Option<RedisServer>,
}

impl RedisTarget {
    fn new(url: Option<&str>) -> Result<RedisTarget> {
        match url {
            Some(url) => {
                let port = url
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.trim_end_matches('/').split('/').next())
                    .and_then(|p| p.parse().ok())
                    .context("--redis-url needs an explicit port")?;
                Ok(RedisTarget {
                    url: url.to_string(),
                    port,
                    _server: None,
                })
            }
            None => {
                let server = RedisServer::start();
                Ok(RedisTarget {
                    url: server.url(),
                    port: server.port,
                    _server: Some(server),
                })
            }
        }
    }

    fn flush(&self) {
        if self._server.is_some() {
            let _ = target::redis_command(self.port, &["FLUSHALL"]);
        }
    }
}

/// Every run of every scenario, by store.
#[derive(Default, Serialize)]
struct Results {
    closed_loop: BTreeMap<String, Vec<closed_loop::ClosedLoop>>,
    burst: Vec<burst::Burst>,
    latency: Vec<stats::Summary>,
    idle: Vec<idle::Idle>,
    redis_per_job: Option<redis_ref::PerJob>,
    /// Per run: every loop of the workflow scenario.
    workflow: Vec<Vec<workflow::Loop>>,
    schedules: Vec<schedules::Schedules>,
    listing: Vec<listing::Listing>,
}

async fn spawn(
    args: &Args,
    baton: &std::path::Path,
    store: StoreKind,
    redis: Option<&RedisTarget>,
) -> Result<Target> {
    spawn_with(args, baton, store, redis, Vec::new()).await
}

async fn spawn_with(
    args: &Args,
    baton: &std::path::Path,
    store: StoreKind,
    redis: Option<&RedisTarget>,
    mut env: Vec<(&'static str, String)>,
) -> Result<Target> {
    let url = match store {
        StoreKind::Redis => redis.map(|r| r.url.as_str()),
        StoreKind::Memory => None,
    };
    if args.orchestrator_threads > 0 {
        env.push((
            "BATON_WORKER_THREADS",
            args.orchestrator_threads.to_string(),
        ));
    }
    Target::spawn(baton, url, args.pool_size, &env).await
}

async fn run_store(
    args: &Args,
    baton: &std::path::Path,
    store: StoreKind,
    redis: Option<&RedisTarget>,
    scenarios: &[Scenario],
) -> Result<Results> {
    let mut out = Results::default();
    for run in 1..=args.runs {
        for scenario in scenarios {
            if let Some(r) = redis {
                r.flush();
            }
            eprintln!("[{} run {run}/{}] {scenario:?}", store.name(), args.runs);
            match scenario {
                Scenario::ClosedLoop => {
                    for &clients in &args.clients {
                        let t = spawn(args, baton, store, redis).await?;
                        let jobs = if clients == 1 {
                            args.jobs.min(5_000)
                        } else {
                            args.jobs
                        };
                        let params = closed_loop::Params {
                            redis_port: redis.filter(|_| store == StoreKind::Redis).map(|r| r.port),
                            clients,
                            workers: args.workers,
                            concurrency: args.worker_concurrency,
                            jobs,
                            warmup: (jobs / 10).max(100),
                        };
                        let before = match (store, redis) {
                            (StoreKind::Redis, Some(r))
                                if run == 1
                                    && clients
                                        == *args.clients.iter().max().unwrap_or(&clients) =>
                            {
                                Some(redis_ref::snapshot(r.port)?)
                            }
                            _ => None,
                        };
                        let result = closed_loop::run(&t, &params).await?;
                        if let (Some(before), Some(r)) = (before, redis) {
                            let after = redis_ref::snapshot(r.port)?;
                            out.redis_per_job =
                                Some(redis_ref::per_job(&before, &after, jobs + params.warmup));
                        }
                        eprintln!(
                            "  C={clients}: {:.0} jobs/s, p50 {:.2} ms, p99 {:.2} ms",
                            result.jobs_per_sec, result.latency.p50_ms, result.latency.p99_ms
                        );
                        eprintln!("  HTTP requests per job: {:?}", result.requests_per_job);
                        out.closed_loop
                            .entry(format!("C={clients}"))
                            .or_default()
                            .push(result);
                    }
                }
                Scenario::Burst => {
                    let t = spawn(args, baton, store, redis).await?;
                    let b = burst::run(
                        &t,
                        args.burst_jobs,
                        args.burst_batch,
                        20,
                        args.workers,
                        args.worker_concurrency,
                    )
                    .await?;
                    eprintln!(
                        "  submit {:.0}/s, drain {:.0}/s, {:.2} s end to end",
                        b.submit_per_sec, b.drain_per_sec, b.end_to_end_seconds
                    );
                    out.burst.push(b);
                }
                Scenario::Latency => {
                    let t = spawn(args, baton, store, redis).await?;
                    let s = latency::run(&t, args.latency_samples, args.workers).await?;
                    eprintln!("  dispatch p50 {:.2} ms, p99 {:.2} ms", s.p50_ms, s.p99_ms);
                    out.latency.push(s);
                }
                Scenario::Idle => {
                    let t = spawn(args, baton, store, redis).await?;
                    let port = if store == StoreKind::Redis {
                        redis.map(|r| r.port)
                    } else {
                        None
                    };
                    let i = idle::run(&t, args.idle_pollers, port, Duration::from_secs(10)).await?;
                    eprintln!(
                        "  {} waiting: RSS {:.0} MiB, CPU {:.1}%, redis conns {:?}",
                        i.waiting, i.rss_mib_idle, i.cpu_percent, i.redis_connections
                    );
                    out.idle.push(i);
                }
                Scenario::Workflow => {
                    let dir = std::env::temp_dir();
                    let env = workflow::env(&workflow::clients_file(&dir)?);
                    let t = spawn_with(args, baton, store, redis, env).await?;
                    let params = workflow::Params {
                        clients: args.clients.clone(),
                        jobs: args.workflow_runs,
                        workers: args.workers,
                        concurrency: args.worker_concurrency,
                        redis_port: redis.filter(|_| store == StoreKind::Redis).map(|r| r.port),
                    };
                    out.workflow.push(workflow::run(&t, &params).await?);
                }
                Scenario::Schedules => {
                    let dir = std::env::temp_dir();
                    let env = workflow::env(&workflow::clients_file(&dir)?);
                    let t = spawn_with(args, baton, store, redis, env).await?;
                    let params = schedules::Params {
                        schedules: args.schedules,
                        due: args.schedules_due,
                        clients: args.clients.iter().copied().max().unwrap_or(20),
                        deliveries: args.workflow_runs,
                        workers: args.workers,
                        concurrency: args.worker_concurrency,
                    };
                    out.schedules.push(schedules::run(&t, &params).await?);
                }
                Scenario::Listing => {
                    let Some(r) = redis.filter(|_| store == StoreKind::Redis) else {
                        eprintln!("  (the listing scenario runs on Redis only)");
                        continue;
                    };
                    let prefix = format!("bench-list-{run}");
                    let env = vec![
                        ("BATON_KEY_PREFIX", prefix.clone()),
                        ("BATON_ADMIN_TOKEN", listing::ADMIN_TOKEN.to_string()),
                    ];
                    let t = spawn_with(args, baton, store, redis, env).await?;
                    let params = listing::Params {
                        jobs: args.listing_jobs,
                        real_jobs: 500,
                        samples: args.listing_samples,
                        redis_port: r.port,
                        prefix,
                    };
                    out.listing.push(listing::run(&t, &params).await?);
                    r.flush();
                }
                Scenario::RedisRef => {}
            }
        }
    }
    Ok(out)
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BENCH_LOG")
                .unwrap_or_else(|_| "error".into()),
        )
        .init();
    let args = Args::parse();
    let baton = args
        .baton
        .clone()
        .unwrap_or_else(target::default_baton_path);
    let scenarios: Vec<Scenario> = if args.scenarios.is_empty() {
        vec![
            Scenario::ClosedLoop,
            Scenario::Burst,
            Scenario::Latency,
            Scenario::Idle,
            Scenario::RedisRef,
            Scenario::Workflow,
        ]
    } else {
        args.scenarios.clone()
    };
    let stores: Vec<StoreKind> = match args.store {
        StoreChoice::Memory => vec![StoreKind::Memory],
        StoreChoice::Redis => vec![StoreKind::Redis],
        StoreChoice::Both => vec![StoreKind::Memory, StoreKind::Redis],
    };
    let needs_redis = stores.contains(&StoreKind::Redis) || scenarios.contains(&Scenario::RedisRef);
    let redis = if needs_redis {
        Some(RedisTarget::new(args.redis_url.as_deref())?)
    } else {
        None
    };

    let mut results: BTreeMap<&str, Results> = BTreeMap::new();
    for store in &stores {
        results.insert(
            store.name(),
            run_store(&args, &baton, *store, redis.as_ref(), &scenarios).await?,
        );
    }
    let ceiling = match (&redis, scenarios.contains(&Scenario::RedisRef)) {
        (Some(r), true) => {
            r.flush();
            eprintln!("redis-benchmark...");
            Some(redis_ref::ceiling(r.port, 200_000)?)
        }
        _ => None,
    };

    let mut report = table(&results, &args);
    if let Some(r) = results.get("redis") {
        report.push_str(&listing::table(&r.listing));
    }
    if let Some(c) = &ceiling {
        report.push_str("\n| redis-benchmark on this machine (-c 20) | requests/s |\n|---|---|\n");
        for (cmd, rps) in &c.ops_per_sec {
            report.push_str(&format!("| {cmd} | {rps:.0} |\n"));
        }
    }
    if let Some(p) = results.get("redis").and_then(|r| r.redis_per_job.as_ref()) {
        let by: Vec<String> = p
            .by_command
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        report.push_str(&format!(
            "\nRedis commands per job (closed loop): {}\n",
            by.join(", ")
        ));
    }
    let machine = machine();
    println!(
        "\nMachine: {} ({} cores), {}\n\n{report}",
        machine["cpu"].as_str().unwrap_or("?"),
        machine["cores"],
        machine["redis"].as_str().unwrap_or("?")
    );

    if let Some(dir) = args.json.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let doc = json!({"machine": machine, "args": format!("{args:?}"), "results": results, "redis_ceiling": ceiling, "table": report});
    std::fs::write(&args.json, serde_json::to_string_pretty(&doc)?)?;
    eprintln!("wrote {}", args.json.display());

    if let Some(path) = &args.plot {
        let mut series = Vec::new();
        for (store, r) in &results {
            for (clients, runs) in &r.closed_loop {
                if let Some(first) = runs.first() {
                    series.push(plot::Series {
                        label: format!("{store} {clients}"),
                        points: &first.series,
                    });
                }
            }
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        plot::draw(path, &series)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
