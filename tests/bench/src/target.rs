//! The system under test: a `baton` process (embedded store or Redis), its process
//! statistics, and a throwaway `redis-server` for the Redis runs.

use anyhow::{bail, Context, Result};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const CLIENT_TOKEN: &str = "bench-client";
pub const WORKER_TOKEN: &str = "bench-worker";

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    Memory,
    Redis,
}

impl StoreKind {
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Memory => "memory",
            StoreKind::Redis => "redis",
        }
    }
}

pub struct Target {
    pub base_url: String,
    child: Child,
    pub pool_size: usize,
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The `baton` binary next to this one (both built by the same `cargo build`).
pub fn default_baton_path() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("baton")))
        .unwrap_or_else(|| PathBuf::from("baton"))
}

pub fn repo_blueprints() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../blueprints")
}

impl Target {
    /// Starts `baton serve` on a free port; `redis_url` selects the Redis store.
    pub async fn spawn(
        baton: &Path,
        redis_url: Option<&str>,
        pool_size: usize,
        extra_env: &[(&str, String)],
    ) -> Result<Target> {
        let port = free_port()?;
        let mut cmd = Command::new(baton);
        cmd.arg("serve")
            .env("BATON_LISTEN", format!("127.0.0.1:{port}"))
            .env("BATON_CLIENT_TOKEN", CLIENT_TOKEN)
            .env("BATON_WORKER_TOKEN", WORKER_TOKEN)
            .env("BATON_BLUEPRINTS_DIR", repo_blueprints())
            .env("BATON_REDIS_POOL_SIZE", pool_size.to_string())
            .env(
                "BATON_KEY_PREFIX",
                format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
            )
            .env(
                "BATON_LOG",
                std::env::var("BATON_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .env_remove("BATON_REDIS_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some(url) = redis_url {
            cmd.env("BATON_REDIS_URL", url);
        }
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().with_context(|| {
            format!(
                "cannot start {} (build it: cargo build --release -p baton-orchestrator)",
                baton.display()
            )
        })?;
        let target = Target {
            base_url: format!("http://127.0.0.1:{port}"),
            child,
            pool_size,
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(r) = http
                .get(format!("{}/_public/status", target.base_url))
                .send()
                .await
            {
                if r.status().is_success() {
                    return Ok(target);
                }
            }
            if Instant::now() > deadline {
                bail!("baton did not become ready on port {port}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident set size of the orchestrator, in MiB.
    pub fn rss_mib(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb / 1024.0)
    }

    /// User + system CPU time of the orchestrator so far, in seconds.
    pub fn cpu_seconds(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).ok()?;
        // Fields after the command name (which may contain spaces) start after ") ".
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let utime: f64 = fields.get(11)?.parse().ok()?;
        let stime: f64 = fields.get(12)?.parse().ok()?;
        Some((utime + stime) / 100.0)
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// User + system CPU seconds of this process (the load generator and its workers).
pub fn own_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Redis's own CPU seconds so far (`used_cpu_user` + `used_cpu_sys` of `INFO cpu`).
pub fn redis_cpu_seconds(port: u16) -> Option<f64> {
    let info = redis_info(port, "cpu").ok()?;
    let field = |name| info_field(&info, name)?.parse::<f64>().ok();
    Some(field("used_cpu_user")? + field("used_cpu_sys")?)
}

/// `INFO <section>` of a Redis server, by hand (no client library needed).
pub fn redis_info(port: u16, section: &str) -> Result<String> {
    redis_command(port, &["INFO", section])
}

/// Sends one command and returns the reply's text (bulk strings and simple replies).
pub fn redis_command(port: u16, args: &[&str]) -> Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s.write_all(req.as_bytes())?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if let Some(rest) = text.strip_prefix('$') {
            let (len, body) = rest.split_once("\r\n").unwrap_or(("0", ""));
            if body.len() >= len.parse::<usize>().unwrap_or(0) {
                return Ok(body.to_string());
            }
        } else if text.ends_with("\r\n") {
            return Ok(text.trim().to_string());
        }
    }
    Ok(String::from_utf8_lossy(&buf).to_string())
}

/// `name:value` lines of an INFO reply.
pub fn info_field(info: &str, name: &str) -> Option<String> {
    info.lines().find_map(|l| {
        l.strip_prefix(&format!("{name}:"))
            .map(|v| v.trim().to_string())
    })
}

/// Calls per command from `INFO commandstats`.
pub fn command_calls(port: u16) -> Result<Vec<(String, u64)>> {
    let info = redis_info(port, "commandstats")?;
    Ok(info
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("cmdstat_")?;
            let (name, stats) = rest.split_once(':')?;
            let calls = stats
                .split(',')
                .find_map(|kv| kv.strip_prefix("calls="))?
                .parse()
                .ok()?;
            Some((name.to_string(), calls))
        })
        .collect())
}
