//! The job listing (`GET /api/v1/jobs`) at a million stored jobs on Redis.
//!
//! The data: a few hundred real echo jobs (created, run and finished through the API, so
//! their index entries come from the real commits), then `jobs` more written straight
//! into Redis by `seed_jobs.lua` with the same fields and index entries commit.lua
//! writes (a million real lives would take hours), spread over a week: 90 % finished,
//! 5 % failed, 3 % quarantined, 20 blueprints and a rare one, 50 clients. The scenario
//! first checks that a real job's hash has every field the seed writes, so the listing
//! reads both alike.
//!
//! Then each query below is asked `samples` times, one after another, with the admin
//! token (the client-token case walks its client's set): the time to a full answer
//! (p50/p99/max) and the jobs a page held on average (a page may be short when the
//! filters are rare: each request looks at a bounded number of index entries).

use crate::client::BenchClient;
use crate::stats::{summarize, Summary};
use crate::target::{redis_command, Target, CLIENT_TOKEN};
use crate::workers::echo_workers;
use anyhow::{bail, Context, Result};
use serde::Serialize;
use serde_json::{json, Value};
use std::time::Instant;

pub const ADMIN_TOKEN: &str = "bench-admin";
const SEED: &str = include_str!("seed_jobs.lua");
/// Jobs per seeding call (one script run: keeps each call well under a second).
const CHUNK: usize = 20_000;
const WEEK_MS: i64 = 7 * 24 * 3600 * 1000;

#[derive(Debug, Clone, Serialize)]
pub struct Query {
    pub name: String,
    pub path: String,
    pub latency: Summary,
    pub jobs_per_page: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Listing {
    pub stored_jobs: usize,
    pub seed_seconds: f64,
    pub redis_used_mib: f64,
    pub queries: Vec<Query>,
}

pub struct Params {
    pub jobs: usize,
    pub real_jobs: usize,
    pub samples: usize,
    pub redis_port: u16,
    /// The orchestrator's key prefix (`BATON_KEY_PREFIX`).
    pub prefix: String,
}

/// Creates `n` echo jobs through the API and waits for their ends; returns one id.
async fn real_jobs(t: &Target, n: usize) -> Result<String> {
    let workers = echo_workers(&t.base_url, 1, 32)?;
    let client = BenchClient::new(&t.base_url);
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        ids.push(client.create(json!({"i": i})).await?);
    }
    for id in &ids {
        client.wait_end(id).await?;
    }
    crate::workers::shutdown(workers).await;
    ids.pop().context("no real job")
}

/// Fails unless a real job's hash holds every field the seed writes.
fn check_fields(port: u16, tag: &str, real_id: &str) -> Result<String> {
    let hash = format!("{tag}job:{real_id}");
    let keys = redis_command(port, &["HKEYS", &hash])?;
    for field in ["status", "bp", "owner", "created", "updated", "doc"] {
        if !keys.contains(field) {
            bail!("a real job's hash has no `{field}` ({keys}): the seed no longer matches commit.lua");
        }
    }
    Ok(redis_command(port, &["HGET", &hash, "owner"])?
        .trim()
        .to_string())
}

async fn seed(p: &Params, owner: &str) -> Result<f64> {
    let tag = format!("{{{}}}:", p.prefix);
    let now = chrono::Utc::now().timestamp_millis().to_string();
    let started = Instant::now();
    let mut done = 0;
    while done < p.jobs {
        let n = CHUNK.min(p.jobs - done);
        let (first, count, span) = (done.to_string(), n.to_string(), WEEK_MS.to_string());
        let port = p.redis_port;
        let args: Vec<String> = ["EVAL", SEED, "0", &tag, &first, &count, &now, &span, owner]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let reply = tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            redis_command(port, &refs)
        })
        .await??;
        if reply.starts_with('-') {
            bail!("seeding failed: {reply}");
        }
        done += n;
        if done % 200_000 == 0 {
            eprintln!("  seeded {done} jobs");
        }
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Asks `path` `samples` times; latencies and the mean page size.
async fn measure(
    client: &BenchClient,
    token: (&str, &str),
    name: &str,
    path: &str,
    samples: usize,
) -> Result<Query> {
    let url = format!("{}{path}", client.base_url);
    let mut us = Vec::with_capacity(samples);
    let mut rows = 0usize;
    for _ in 0..samples {
        let start = Instant::now();
        let resp = client
            .http
            .get(&url)
            .header(token.0, token.1)
            .send()
            .await?;
        let status = resp.status();
        let body: Value = resp.json().await?;
        us.push(start.elapsed().as_micros() as u64);
        if !status.is_success() {
            bail!("GET {path} answered {status}: {body}");
        }
        rows += body["jobs"].as_array().map_or(0, Vec::len);
    }
    Ok(Query {
        name: name.into(),
        path: path.into(),
        latency: summarize(us),
        jobs_per_page: rows as f64 / samples.max(1) as f64,
    })
}

/// The cursor after following `pages` pages of `path`.
async fn deep_cursor(client: &BenchClient, path: &str, pages: usize) -> Result<String> {
    let mut cursor = String::new();
    for _ in 0..pages {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = format!("{}{path}{sep}cursor={cursor}", client.base_url);
        let body: Value = client
            .http
            .get(&url)
            .header("X-Client-Token", ADMIN_TOKEN)
            .send()
            .await?
            .json()
            .await?;
        cursor = body["next_cursor"]
            .as_str()
            .context("the listing ended early")?
            .to_string();
    }
    Ok(cursor)
}

pub async fn run(t: &Target, p: &Params) -> Result<Listing> {
    let tag = format!("{{{}}}:", p.prefix);
    let real_id = real_jobs(t, p.real_jobs).await?;
    let owner = check_fields(p.redis_port, &tag, &real_id)?;
    let seed_seconds = seed(p, &owner).await?;
    let memory = redis_command(p.redis_port, &["INFO", "memory"])?;
    let used = crate::target::info_field(&memory, "used_memory")
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1048576.0;
    eprintln!(
        "  {} jobs seeded in {seed_seconds:.1} s, Redis {used:.0} MiB",
        p.jobs
    );

    let client = BenchClient::new(&t.base_url);
    let now = chrono::Utc::now().timestamp_millis();
    let (day2, day2_end) = (now - 2 * 86_400_000, now - 2 * 86_400_000 + 3_600_000);
    let deep = deep_cursor(&client, "/api/v1/jobs?limit=50", 200).await?;
    let admin = ("X-Client-Token", ADMIN_TOKEN);
    let own = ("X-Client-Token", CLIENT_TOKEN);
    let cases: Vec<(&str, String, (&str, &str))> = vec![
        ("newest 50", "/api/v1/jobs".into(), admin),
        ("status=failed", "/api/v1/jobs?status=failed".into(), admin),
        (
            "blueprint=bp-3",
            "/api/v1/jobs?blueprint=bp-3".into(),
            admin,
        ),
        (
            "client=client-7",
            "/api/v1/jobs?client=client-7".into(),
            admin,
        ),
        (
            "status+blueprint (quarantined, bp-1)",
            "/api/v1/jobs?status=quarantined&blueprint=bp-1".into(),
            admin,
        ),
        (
            "rare filters (failed, rare)",
            "/api/v1/jobs?status=failed&blueprint=rare".into(),
            admin,
        ),
        ("text in id (q=abc)", "/api/v1/jobs?q=abc".into(), admin),
        (
            "an hour two days ago",
            format!("/api/v1/jobs?from={day2}&to={day2_end}"),
            admin,
        ),
        (
            "page 201 (cursor)",
            format!("/api/v1/jobs?limit=50&cursor={deep}"),
            admin,
        ),
        ("client token, own jobs", "/api/v1/jobs".into(), own),
        (
            "client token, own failed",
            "/api/v1/jobs?status=failed".into(),
            own,
        ),
    ];
    let mut queries = Vec::new();
    for (name, path, token) in cases {
        let q = measure(&client, token, name, &path, p.samples).await?;
        eprintln!(
            "  {name}: p50 {:.2} ms, p99 {:.2} ms, {:.1} jobs/page",
            q.latency.p50_ms, q.latency.p99_ms, q.jobs_per_page
        );
        queries.push(q);
    }
    Ok(Listing {
        stored_jobs: p.jobs + p.real_jobs,
        seed_seconds,
        redis_used_mib: used,
        queries,
    })
}

/// Medians over the runs, one row per query.
pub fn table(runs: &[Listing]) -> String {
    let Some(first) = runs.first() else {
        return String::new();
    };
    let med = |f: &dyn Fn(&Query) -> f64, i: usize| {
        crate::stats::median(
            &runs
                .iter()
                .filter_map(|r| r.queries.get(i))
                .map(f)
                .collect::<Vec<_>>(),
        )
    };
    let mut out = format!(
        "\n| GET /api/v1/jobs at {} stored jobs (Redis) | p50 ms | p99 ms | max ms | jobs/page |\n|---|---|---|---|---|\n",
        first.stored_jobs
    );
    for (i, q) in first.queries.iter().enumerate() {
        out.push_str(&format!(
            "| {} | {:.2} | {:.2} | {:.2} | {:.1} |\n",
            q.name,
            med(&|q| q.latency.p50_ms, i),
            med(&|q| q.latency.p99_ms, i),
            med(&|q| q.latency.max_ms, i),
            med(&|q| q.jobs_per_page, i),
        ));
    }
    out
}
