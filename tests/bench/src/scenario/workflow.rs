//! Workflow executions next to echo jobs, in one run: C clients each execute a workflow
//! asynchronously (`POST /v1/workflows/{id}/execute`), wait for its end (the execution is
//! a job: `GET /api/v1/jobs/{id}?wait=` with the `workflows` client's token) and start
//! the next; the same loop with echo jobs first, as the baseline. Two workflows of
//! `transform` steps: one step, and three (`a`, then `b` and `c` in parallel). Workflow
//! workers (Rust SDK) serve the steps, echo workers the echo jobs.

use crate::client::BenchClient;
use crate::stats::{summarize, Summary};
use crate::target::{Target, WORKER_TOKEN};
use crate::workers;
use anyhow::{bail, Context, Result};
use baton_worker::{Worker, WorkerConfig, WorkerHandle};
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The token of the engine client that owns executions (see [`Target::spawn`]'s env).
pub const WORKFLOWS_CLIENT_TOKEN: &str = "bench-workflows";

/// What the orchestrator needs for this scenario: logins, no execute rate limit, a
/// client token of the client `workflows`.
pub fn env(clients_file: &std::path::Path) -> Vec<(&'static str, String)> {
    vec![
        ("ALLOW_DEMO_AUTH", "true".into()),
        (
            "SECRET_KEY",
            "bench-secret-bench-secret-bench-secret".into(),
        ),
        ("BATON_RATE_LIMIT_EXECUTE", "0".into()),
        ("BATON_RATE_LIMIT_HOOKS", "0".into()),
        ("BATON_CLIENTS_FILE", clients_file.display().to_string()),
    ]
}

/// Writes the clients file [`env`] names.
pub fn clients_file(dir: &std::path::Path) -> Result<std::path::PathBuf> {
    let path = dir.join("bench-clients.yaml");
    std::fs::write(
        &path,
        format!(
            "clients:\n  - {{name: default, token: {}}}\n  - {{name: workflows, token: {WORKFLOWS_CLIENT_TOKEN}}}\n",
            crate::target::CLIENT_TOKEN
        ),
    )?;
    Ok(path)
}

#[derive(Debug, Clone, Serialize)]
pub struct Loop {
    /// `echo`, `one-step` or `three-step`.
    pub kind: String,
    pub clients: usize,
    pub runs: usize,
    pub seconds: f64,
    pub per_sec: f64,
    pub latency: Summary,
    /// Redis commands per job or execution (Redis runs only).
    pub redis_commands: Option<f64>,
}

pub struct Params {
    pub clients: Vec<usize>,
    pub jobs: usize,
    pub workers: usize,
    pub concurrency: usize,
    pub redis_port: Option<u16>,
}

pub(crate) fn workflow_workers(
    base_url: &str,
    n: usize,
    concurrency: usize,
) -> Result<Vec<WorkerHandle>> {
    (0..n)
        .map(|i| {
            let id = format!(
                "bench-wf-{i}-{}",
                &uuid::Uuid::new_v4().simple().to_string()[..6]
            );
            let config = WorkerConfig::new(base_url)
                .token(WORKER_TOKEN)
                .worker_id(&id)
                .worker_type("bench-workflow")
                .max_concurrent_tasks(concurrency)
                .heartbeat_interval(Duration::from_secs(5));
            let settings = baton_worker_examples::workflow::WorkflowSettings::default();
            let builder =
                baton_worker_examples::workflow::workflow_skills(Worker::builder(config), settings);
            Ok(builder.build()?.spawn())
        })
        .collect()
}

fn definitions() -> [Value; 2] {
    let t = |id: &str, deps: &[&str]| {
        json!({"id": id, "type": "transform", "depends_on": deps,
               "params": {"merge": {id: 1}}, "outputs": [id]})
    };
    [
        json!({"id": "one-step", "name": "One step", "steps": [t("a", &[])]}),
        json!({"id": "three-step", "name": "Three steps",
               "steps": [t("a", &[]), t("b", &["a"]), t("c", &["a"])]}),
    ]
}

/// A logged-in caller that starts executions and echo jobs.
#[derive(Clone)]
pub(crate) struct Caller {
    pub(crate) client: BenchClient,
    pub(crate) bearer: String,
}

impl Caller {
    pub(crate) async fn login(client: BenchClient) -> Result<Caller> {
        let resp: Value = client
            .http
            .post(format!("{}/v1/auth/login", client.base_url))
            .json(&json!({"user_id": "bench", "password": "demo"}))
            .send()
            .await?
            .json()
            .await?;
        let bearer = resp["access_token"]
            .as_str()
            .context("login gave no token")?
            .to_string();
        for wf in definitions() {
            let resp = client
                .http
                .post(format!("{}/v1/workflows", client.base_url))
                .bearer_auth(&bearer)
                .json(&wf)
                .send()
                .await?;
            if !resp.status().is_success() && resp.status().as_u16() != 409 {
                bail!("creating a workflow answered {}", resp.status());
            }
        }
        Ok(Caller { client, bearer })
    }

    /// Starts one run of `kind` and waits for its end.
    pub(crate) async fn one(&self, kind: &str) -> Result<()> {
        if kind == "echo" {
            let id = self.client.create(json!({"n": 1})).await?;
            let status = self.client.wait_end(&id).await?;
            anyhow::ensure!(status == "finished", "job {id} ended {status}");
            return Ok(());
        }
        let base = &self.client.base_url;
        let resp = self
            .client
            .http
            .post(format!("{base}/v1/workflows/{kind}/execute"))
            .bearer_auth(&self.bearer)
            .json(&json!({}))
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!("execute answered {}", resp.status());
        }
        let body: Value = resp.json().await?;
        let id = body["execution_id"].as_str().context("no execution_id")?;
        loop {
            let job: Value = self
                .client
                .http
                .get(format!("{base}/api/v1/jobs/{id}?wait=30"))
                .header("X-Client-Token", WORKFLOWS_CLIENT_TOKEN)
                .send()
                .await?
                .json()
                .await?;
            match job["status"].as_str().unwrap_or_default() {
                "finished" => return Ok(()),
                "failed" | "quarantined" | "cancelled" => bail!("execution {id}: {job}"),
                _ => {}
            }
        }
    }
}

/// `runs` runs of `kind` by `clients` loops; their latencies (µs).
async fn drive(caller: &Caller, kind: &str, clients: usize, runs: usize) -> Result<Vec<u64>> {
    let next = Arc::new(AtomicUsize::new(0));
    let samples = Arc::new(Mutex::new(Vec::with_capacity(runs)));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (caller, next, samples, kind) = (
            caller.clone(),
            next.clone(),
            samples.clone(),
            kind.to_string(),
        );
        tasks.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < runs {
                let t0 = Instant::now();
                caller.one(&kind).await?;
                samples
                    .lock()
                    .map_err(|_| anyhow::anyhow!("poisoned"))?
                    .push(t0.elapsed().as_micros() as u64);
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let out = std::mem::take(&mut *samples.lock().map_err(|_| anyhow::anyhow!("poisoned"))?);
    Ok(out)
}

/// Every kind at every client count, interleaved, on one orchestrator.
pub async fn run(target: &Target, p: &Params) -> Result<Vec<Loop>> {
    let mut handles = workers::echo_workers(&target.base_url, p.workers, p.concurrency)?;
    handles.extend(workflow_workers(
        &target.base_url,
        p.workers,
        p.concurrency,
    )?);
    let caller = Caller::login(BenchClient::new(&target.base_url)).await?;
    let mut out = Vec::new();
    for &clients in &p.clients {
        let runs = if clients == 1 {
            p.jobs.min(2_000)
        } else {
            p.jobs
        };
        for kind in ["echo", "one-step", "three-step"] {
            drive(&caller, kind, clients, (runs / 10).max(50)).await?;
            let before = p.redis_port.map(super::redis_ref::snapshot).transpose()?;
            let start = Instant::now();
            let samples = drive(&caller, kind, clients, runs).await?;
            let seconds = start.elapsed().as_secs_f64();
            let redis_commands = match (before, p.redis_port) {
                (Some(before), Some(port)) => {
                    let after = super::redis_ref::snapshot(port)?;
                    Some(super::redis_ref::per_job(&before, &after, runs).commands)
                }
                _ => None,
            };
            let l = Loop {
                kind: kind.to_string(),
                clients,
                runs,
                seconds,
                per_sec: runs as f64 / seconds,
                latency: summarize(samples),
                redis_commands,
            };
            eprintln!(
                "  {kind} C={clients}: {:.0}/s, p50 {:.2} ms, p99 {:.2} ms, redis cmds {:?}",
                l.per_sec, l.latency.p50_ms, l.latency.p99_ms, l.redis_commands
            );
            out.push(l);
        }
    }
    workers::shutdown(handles).await;
    Ok(out)
}
