//! The ceiling: `redis-benchmark` on the same machine for the commands a job's life uses,
//! and how many Redis commands Baton spends per job.

use crate::target::command_calls;
use anyhow::{Context, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::process::Command;

#[derive(Debug, Clone, Serialize)]
pub struct RedisCeiling {
    /// Command → requests per second (20 clients, no pipelining).
    pub ops_per_sec: BTreeMap<String, f64>,
}

/// Runs `redis-benchmark` against `port`.
pub fn ceiling(port: u16, requests: usize) -> Result<RedisCeiling> {
    let base = |extra: &[&str]| -> Result<String> {
        let out = Command::new("redis-benchmark")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-c",
                "20",
                "-n",
                &requests.to_string(),
                "-q",
            ])
            .args(extra)
            .output()
            .context("redis-benchmark is not installed (it comes with redis-server)")?;
        Ok(String::from_utf8_lossy(&out.stdout).to_string())
    };
    let mut ops = BTreeMap::new();
    let text = base(&["-t", "ping,set,get,hset,zadd,zpopmin,lpush"])?;
    for line in text.split(['\n', '\r']) {
        if let Some((name, rest)) = line.split_once(": ") {
            if let Some(rps) = rest
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<f64>().ok())
            {
                ops.insert(name.trim().to_string(), rps);
            }
        }
    }
    // A script of the size of a commit: the shape of Baton's one round trip per transition.
    let script = "redis.call('HINCRBY',KEYS[1],'v',1) redis.call('HSET',KEYS[1],'status',ARGV[1],'doc',ARGV[2]) \
                  redis.call('ZADD',KEYS[2],1,ARGV[1]) redis.call('HSET',KEYS[3],ARGV[1],ARGV[2]) \
                  redis.call('RPUSH',KEYS[4],ARGV[2]) redis.call('LTRIM',KEYS[4],-200,-1) return 1";
    let text = base(&[
        "EVAL",
        script,
        "4",
        "{b}:j",
        "{b}:q",
        "{b}:t",
        "{b}:h",
        "pending",
        "{\"doc\":\"x\"}",
    ])?;
    if let Some(rps) = text
        .split(": ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse::<f64>().ok())
    {
        ops.insert("EVAL (commit-sized script, 7 commands)".into(), rps);
    }
    Ok(RedisCeiling { ops_per_sec: ops })
}

/// Calls per command during a run, divided by the jobs of that run.
#[derive(Debug, Clone, Serialize, Default)]
pub struct PerJob {
    /// Every command Redis executed, including those inside scripts.
    pub commands: f64,
    pub by_command: BTreeMap<String, f64>,
}

pub fn snapshot(port: u16) -> Result<BTreeMap<String, u64>> {
    Ok(command_calls(port)?.into_iter().collect())
}

pub fn per_job(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
    jobs: usize,
) -> PerJob {
    let mut out = PerJob::default();
    let skip = [
        "info",
        "client|setinfo",
        "client",
        "hello",
        "subscribe",
        "select",
    ];
    for (cmd, calls) in after {
        if skip.contains(&cmd.as_str()) {
            continue;
        }
        let delta = calls.saturating_sub(*before.get(cmd).unwrap_or(&0)) as f64 / jobs as f64;
        if delta == 0.0 {
            continue;
        }
        out.commands += delta;
        out.by_command
            .insert(cmd.clone(), (delta * 100.0).round() / 100.0);
    }
    out
}
