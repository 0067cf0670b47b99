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
    for (name, rps) in parse(&base(&["-t", "ping,set,get,hset,zadd,zpopmin,lpush"])?) {
        ops.insert(name, rps);
    }
    // A script of the size of a commit: the shape of Baton's one round trip per transition.
    let script = "redis.call('HINCRBY',KEYS[1],'v',1) redis.call('HSET',KEYS[1],'status',ARGV[1],'doc',ARGV[2]) \
                  redis.call('ZADD',KEYS[2],1,ARGV[1]) redis.call('HSET',KEYS[3],ARGV[1],ARGV[2]) \
                  redis.call('RPUSH',KEYS[4],ARGV[2]) redis.call('LTRIM',KEYS[4],-200,-1) return 1";
    let eval = base(&[
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
    if let Some((_, rps)) = parse(&eval).pop() {
        ops.insert("EVAL (commit-sized script, 7 commands)".into(), rps);
    }
    Ok(RedisCeiling { ops_per_sec: ops })
}

/// `NAME: 123.45 requests per second` lines of `redis-benchmark -q` (progress lines are
/// separated by carriage returns and skipped).
fn parse(text: &str) -> Vec<(String, f64)> {
    text.split(['\n', '\r'])
        .filter_map(|line| {
            let (head, _) = line.split_once(" requests per second")?;
            let (name, rps) = head.rsplit_once(": ")?;
            Some((name.trim().to_string(), rps.trim().parse().ok()?))
        })
        .collect()
}

/// Calls per command during a run, divided by the jobs of that run.
#[cfg(test)]
mod tests {
    #[test]
    fn parses_quiet_output_with_progress_lines() {
        let text = "SET: rps=0.0 (overall: 0.0) avg_msec=-nan\rSET: 151057.41 requests per second, p50=0.103 msec\nEVAL x 1 {b}:j: 152671.77 requests per second, p50=0.079 msec\n";
        assert_eq!(
            super::parse(text),
            vec![
                ("SET".to_string(), 151057.41),
                ("EVAL x 1 {b}:j".to_string(), 152671.77)
            ]
        );
    }
}

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
