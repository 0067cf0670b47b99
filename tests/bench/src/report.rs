//! The printed report: the markdown table of medians, and the machine it ran on.

use crate::stats::median;
use crate::{Args, Results};
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn med<T>(runs: &[T], f: impl Fn(&T) -> f64) -> f64 {
    median(&runs.iter().map(f).collect::<Vec<_>>())
}

fn fmt(v: f64, digits: usize) -> String {
    if v.is_nan() {
        "–".into()
    } else {
        format!("{v:.digits$}")
    }
}

/// The markdown table: one row per figure, one column per store.
pub fn table(results: &BTreeMap<&str, Results>, args: &Args) -> String {
    let stores: Vec<&str> = results.keys().copied().collect();
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut row = |name: String, f: &dyn Fn(&Results) -> String| {
        rows.push((name, stores.iter().map(|s| f(&results[s])).collect()));
    };
    for c in &args.clients {
        let key = format!("C={c}");
        let get = move |r: &Results| r.closed_loop.get(&key).cloned().unwrap_or_default();
        let g = get.clone();
        row(
            format!("closed loop C={c}, W={}: jobs/s", args.workers),
            &move |r| fmt(med(&g(r), |x| x.jobs_per_sec), 0),
        );
        let g = get.clone();
        row(
            format!("closed loop C={c}: CPU ms per job, orchestrator / Redis / load+workers"),
            &move |r| {
                let runs = g(r);
                format!(
                    "{} / {} / {}",
                    fmt(med(&runs, |x| x.cpu_ms_per_job.orchestrator), 3),
                    fmt(
                        med(&runs, |x| x.cpu_ms_per_job.redis.unwrap_or(f64::NAN)),
                        3
                    ),
                    fmt(med(&runs, |x| x.cpu_ms_per_job.load_and_workers), 3)
                )
            },
        );
        let g = get.clone();
        row(
            format!("closed loop C={c}: latency p50 / p95 / p99 / max (ms)"),
            &move |r| {
                let runs = g(r);
                format!(
                    "{} / {} / {} / {}",
                    fmt(med(&runs, |x| x.latency.p50_ms), 2),
                    fmt(med(&runs, |x| x.latency.p95_ms), 2),
                    fmt(med(&runs, |x| x.latency.p99_ms), 2),
                    fmt(med(&runs, |x| x.latency.max_ms), 1)
                )
            },
        );
    }
    row(
        format!(
            "burst {} jobs ({} per request): submit/s, drain/s, end to end (s)",
            args.burst_jobs, args.burst_batch
        ),
        &|r| {
            format!(
                "{} / {} / {}",
                fmt(med(&r.burst, |x| x.submit_per_sec), 0),
                fmt(med(&r.burst, |x| x.drain_per_sec), 0),
                fmt(med(&r.burst, |x| x.end_to_end_seconds), 2)
            )
        },
    );
    row("dispatch latency p50 / p99 (ms)".into(), &|r| {
        format!(
            "{} / {}",
            fmt(med(&r.latency, |x| x.p50_ms), 2),
            fmt(med(&r.latency, |x| x.p99_ms), 2)
        )
    });
    row(
        format!(
            "{} idle long-polls: RSS MiB / CPU % / Redis conns (pool {})",
            args.idle_pollers, args.pool_size
        ),
        &|r| {
            let conns = med(&r.idle, |x| {
                x.redis_connections.map(|c| c as f64).unwrap_or(f64::NAN)
            });
            format!(
                "{} / {} / {}",
                fmt(med(&r.idle, |x| x.rss_mib_idle), 0),
                fmt(med(&r.idle, |x| x.cpu_percent), 1),
                fmt(conns, 0)
            )
        },
    );
    let c_max = args.clients.iter().max().copied().unwrap_or(1);
    row(
        format!("Redis round trips / commands executed per job (C={c_max})"),
        &move |r| match &r.redis_per_job {
            Some(p) => {
                let runs = r
                    .closed_loop
                    .get(&format!("C={c_max}"))
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                format!(
                    "{:.2} / {:.1}",
                    med(runs, |x| x.store_round_trips_per_job),
                    p.commands
                )
            }
            None => "–".into(),
        },
    );
    for c in &args.clients {
        for kind in ["echo", "one-step", "three-step"] {
            let pick = move |r: &Results| -> Vec<crate::workflow::Loop> {
                r.workflow
                    .iter()
                    .flatten()
                    .filter(|l| l.kind == kind && l.clients == *c)
                    .cloned()
                    .collect()
            };
            row(
                format!("workflow scenario C={c}, {kind}: per s / p50 ms / Redis commands each (× echo)"),
                &move |r| {
                    let runs = pick(r);
                    if runs.is_empty() {
                        return "–".into();
                    }
                    let echo: Vec<crate::workflow::Loop> = r
                        .workflow
                        .iter()
                        .flatten()
                        .filter(|l| l.kind == "echo" && l.clients == *c)
                        .cloned()
                        .collect();
                    let rate = med(&runs, |x| x.per_sec);
                    let p50 = med(&runs, |x| x.latency.p50_ms);
                    let cmds = med(&runs, |x| x.redis_commands.unwrap_or(f64::NAN));
                    format!(
                        "{} / {} / {} ({}× the rate, {}× the p50)",
                        fmt(rate, 0),
                        fmt(p50, 2),
                        fmt(cmds, 1),
                        fmt(med(&echo, |x| x.per_sec) / rate, 2),
                        fmt(p50 / med(&echo, |x| x.latency.p50_ms), 2)
                    )
                },
            );
        }
    }
    row(
        format!(
            "schedules: {} active, {} due together: idle CPU % of a core / lag p50 / p99 / max (ms) / fired",
            args.schedules, args.schedules_due
        ),
        &|r| {
            let s = &r.schedules;
            if s.is_empty() {
                return "–".into();
            }
            format!(
                "{} / {} / {} / {} / {}",
                fmt(med(s, |x| x.idle_cpu_percent), 2),
                fmt(med(s, |x| x.lag.p50_ms), 0),
                fmt(med(s, |x| x.lag.p99_ms), 0),
                fmt(med(s, |x| x.lag.max_ms), 0),
                fmt(med(s, |x| x.fired as f64), 0)
            )
        },
    );
    row(
        "webhook deliveries vs execute+wait, same workflow: per s (p50 ms)".into(),
        &|r| {
            let s = &r.schedules;
            if s.is_empty() {
                return "–".into();
            }
            format!(
                "{} ({}) vs {} ({})",
                fmt(med(s, |x| x.hook_per_sec), 0),
                fmt(med(s, |x| x.hook_latency.p50_ms), 2),
                fmt(med(s, |x| x.execute_per_sec), 0),
                fmt(med(s, |x| x.execute_latency.p50_ms), 2)
            )
        },
    );
    let mut out = format!(
        "| figure (median of {} runs) | {} |\n|---|{}\n",
        args.runs,
        stores.join(" | "),
        "---|".repeat(stores.len())
    );
    for (name, cells) in rows {
        out.push_str(&format!("| {name} | {} |\n", cells.join(" | ")));
    }
    out
}

pub fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let redis = std::process::Command::new("redis-server")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    json!({"cpu": cpu, "cores": cores, "redis": redis, "os": std::env::consts::OS})
}
