//! Schedules and webhooks at scale: N active schedules of which M are due in the same
//! second (cron `* * * * *`, the rest yearly), the orchestrator's CPU while none is due,
//! the firing lag of the M (due time → execution created, from their history rows); then
//! webhook deliveries (signed, each waiting for its execution's end) by C clients next to
//! `POST /v1/workflows/{id}/execute` + wait of the same workflow.

use super::workflow::{workflow_workers, Caller};
use crate::client::BenchClient;
use crate::stats::{summarize, Summary};
use crate::target::Target;
use anyhow::{bail, Context, Result};
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::Sha256;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Serialize)]
pub struct Schedules {
    pub schedules: usize,
    pub due_together: usize,
    /// Seconds the schedules took to create.
    pub create_seconds: f64,
    /// Orchestrator CPU while none was due, in % of one core.
    pub idle_cpu_percent: f64,
    /// Due time → execution created, over the M that fired together.
    pub lag: Summary,
    /// Of those, how many fired (exactly one row each).
    pub fired: usize,
    pub hook_per_sec: f64,
    pub hook_latency: Summary,
    pub execute_per_sec: f64,
    pub execute_latency: Summary,
}

pub struct Params {
    pub schedules: usize,
    pub due: usize,
    pub clients: usize,
    pub deliveries: usize,
    pub workers: usize,
    pub concurrency: usize,
}

async fn post(caller: &Caller, path: &str, body: &Value) -> Result<Value> {
    let resp = caller
        .client
        .http
        .post(format!("{}{path}", caller.client.base_url))
        .bearer_auth(&caller.bearer)
        .json(body)
        .send()
        .await?;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("POST {path} answered {status}: {body}");
    }
    Ok(body)
}

/// Creates `n` schedules, `due` of them every minute, 16 requests at a time.
async fn create(caller: &Caller, n: usize, due: usize) -> Result<()> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (caller, next) = (caller.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, anyhow::Error>(());
                }
                let (minute, month) = if i < due { ("*", "*") } else { ("0", "1") };
                let body = json!({"id": format!("s{i}"), "workflow_id": "one-step", "name": "bench",
                    "schedule_type": "cron",
                    "cron_config": {"minute": minute, "hour": if i < due {"*"} else {"0"},
                                    "day": if i < due {"*"} else {"1"}, "month": month, "day_of_week": "*"}});
                post(&caller, "/v1/schedules", &body).await?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

fn parse_ms(v: &Value) -> Option<i64> {
    let t = chrono::DateTime::parse_from_rfc3339(v.as_str()?).ok()?;
    Some(t.timestamp_millis())
}

/// The lag of each due schedule's newest run.
async fn lags(caller: &Caller, due: usize) -> Result<Vec<u64>> {
    let mut out = Vec::with_capacity(due);
    for i in 0..due {
        let rows: Value = caller
            .client
            .http
            .get(format!(
                "{}/v1/schedules/s{i}/history?limit=1",
                caller.client.base_url
            ))
            .bearer_auth(&caller.bearer)
            .send()
            .await?
            .json()
            .await?;
        if let Some(row) = rows.get(0) {
            let (Some(at), Some(due)) = (
                parse_ms(&row["executed_at"]),
                parse_ms(&row["scheduled_for"]),
            ) else {
                continue;
            };
            out.push(u64::try_from(at - due).unwrap_or(0) * 1000);
        }
    }
    Ok(out)
}

async fn pause_all(caller: &Caller, due: usize) -> Result<()> {
    for i in 0..due {
        post(caller, &format!("/v1/schedules/s{i}/pause"), &json!({})).await?;
    }
    Ok(())
}

/// `total` deliveries (or executions) by `clients` loops; rate and latencies (µs).
async fn closed_loop<F, Fut>(clients: usize, total: usize, one: F) -> Result<(f64, Summary)>
where
    F: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let samples = Arc::new(parking_lot::Mutex::new(Vec::with_capacity(total)));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (next, samples, one) = (next.clone(), samples.clone(), one.clone());
        tasks.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < total {
                let t0 = Instant::now();
                one().await?;
                samples.lock().push(t0.elapsed().as_micros() as u64);
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let seconds = start.elapsed().as_secs_f64();
    let samples = std::mem::take(&mut *samples.lock());
    Ok((total as f64 / seconds, summarize(samples)))
}

async fn deliveries(caller: &Caller, p: &Params) -> Result<(f64, Summary)> {
    let created = post(caller, "/v1/webhooks", &json!({"id": "bench-hook", "name": "bench",
        "workflow_id": "one-step", "payload_mappings": [{"source_path": "n", "target_variable": "n"}]}))
    .await?;
    let secret = created["secret"].as_str().context("no secret")?.to_string();
    let http = caller.client.http.clone();
    let url = format!("{}/hooks/bench-hook", caller.client.base_url);
    closed_loop(p.clients, p.deliveries, move || {
        let (http, url, secret) = (http.clone(), url.clone(), secret.clone());
        async move {
            let body = r#"{"n": 1}"#;
            let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())?;
            mac.update(body.as_bytes());
            let sig = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
            let resp = http
                .post(&url)
                .header("X-Webhook-Signature", sig)
                .body(body)
                .send()
                .await?;
            if resp.status().as_u16() != 200 {
                bail!("delivery answered {}", resp.status());
            }
            Ok(())
        }
    })
    .await
}

pub async fn run(target: &Target, p: &Params) -> Result<Schedules> {
    let workers = workflow_workers(&target.base_url, p.workers, p.concurrency)?;
    let caller = Caller::login(BenchClient::new(&target.base_url)).await?;
    let t0 = Instant::now();
    create(&caller, p.schedules, p.due).await?;
    let create_seconds = t0.elapsed().as_secs_f64();
    eprintln!(
        "  {} schedules created in {create_seconds:.1} s",
        p.schedules
    );
    // Idle: until 3 s before the next minute (at least 5 s of it), none is due.
    let now = chrono::Utc::now();
    let to_minute = 60 - chrono::Timelike::second(&now) as u64;
    if to_minute < 9 {
        tokio::time::sleep(Duration::from_secs(to_minute + 1)).await;
    }
    let now = chrono::Utc::now();
    let window = (60 - chrono::Timelike::second(&now) as u64)
        .saturating_sub(3)
        .max(5);
    let cpu0 = target.cpu_seconds().unwrap_or(0.0);
    tokio::time::sleep(Duration::from_secs(window)).await;
    let idle_cpu_percent = (target.cpu_seconds().unwrap_or(0.0) - cpu0) / window as f64 * 100.0;
    eprintln!(
        "  idle with {} schedules: {idle_cpu_percent:.2} % of a core over {window} s",
        p.schedules
    );
    // The minute turns: the due ones fire together.
    let now = chrono::Utc::now();
    let wait = 60 - chrono::Timelike::second(&now) as u64 + 4;
    tokio::time::sleep(Duration::from_secs(wait)).await;
    pause_all(&caller, p.due).await?;
    let lag = lags(&caller, p.due).await?;
    let fired = lag.len();
    let lag = summarize(lag);
    eprintln!(
        "  {fired} fired together: lag p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        lag.p50_ms, lag.p99_ms, lag.max_ms
    );
    let (hook_per_sec, hook_latency) = deliveries(&caller, p).await?;
    let exec = caller.clone();
    let (execute_per_sec, execute_latency) = closed_loop(p.clients, p.deliveries, move || {
        let exec = exec.clone();
        async move { exec.one("one-step").await }
    })
    .await?;
    eprintln!("  C={}: deliveries {hook_per_sec:.0}/s (p50 {:.2} ms), execute+wait {execute_per_sec:.0}/s (p50 {:.2} ms)",
        p.clients, hook_latency.p50_ms, execute_latency.p50_ms);
    crate::workers::shutdown(workers).await;
    Ok(Schedules {
        schedules: p.schedules,
        due_together: p.due,
        create_seconds,
        idle_cpu_percent,
        lag,
        fired,
        hook_per_sec,
        hook_latency,
        execute_per_sec,
        execute_latency,
    })
}
