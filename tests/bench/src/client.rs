//! The client side of the benchmark: create a job, wait for its end.

use crate::target::CLIENT_TOKEN;
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

#[derive(Clone)]
pub struct BenchClient {
    pub http: reqwest::Client,
    pub base_url: String,
}

impl BenchClient {
    pub fn new(base_url: &str) -> BenchClient {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            .tcp_nodelay(true)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        BenchClient {
            http,
            base_url: base_url.to_string(),
        }
    }

    pub async fn create(&self, initial_data: Value) -> Result<String> {
        let resp = self
            .http
            .post(format!("{}/api/v1/jobs/echo", self.base_url))
            .header("X-Client-Token", CLIENT_TOKEN)
            .json(&json!({"initial_data": initial_data}))
            .send()
            .await?;
        if resp.status().as_u16() != 202 {
            bail!(
                "create answered {}: {}",
                resp.status(),
                resp.text().await.unwrap_or_default()
            );
        }
        let body: Value = resp.json().await?;
        body["job_id"]
            .as_str()
            .map(str::to_string)
            .context("no job_id")
    }

    /// Creates `n` echo jobs with the same data in one request; fails unless all were
    /// accepted.
    pub async fn create_batch(&self, n: usize, initial_data: Value) -> Result<()> {
        let item = json!({"initial_data": initial_data});
        let resp = self
            .http
            .post(format!("{}/api/v1/jobs/echo/batch", self.base_url))
            .header("X-Client-Token", CLIENT_TOKEN)
            .json(&json!({"jobs": vec![item; n]}))
            .send()
            .await?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if status.as_u16() != 200 || body["accepted"].as_u64() != Some(n as u64) {
            bail!("batch creation answered {status}: {body}");
        }
        Ok(())
    }

    /// Waits (server side) until the job ends; returns its status.
    pub async fn wait_end(&self, job_id: &str) -> Result<String> {
        loop {
            let resp = self
                .http
                .get(format!("{}/api/v1/jobs/{job_id}?wait=30", self.base_url))
                .header("X-Client-Token", CLIENT_TOKEN)
                .send()
                .await?;
            let body: Value = resp.json().await?;
            let status = body["status"].as_str().unwrap_or_default().to_string();
            if matches!(
                status.as_str(),
                "finished" | "failed" | "quarantined" | "cancelled"
            ) {
                return Ok(status);
            }
        }
    }

    pub async fn dashboard(&self) -> Result<Value> {
        Ok(self
            .http
            .get(format!("{}/api/v1/dashboard", self.base_url))
            .header("X-Client-Token", CLIENT_TOKEN)
            .send()
            .await?
            .json()
            .await?)
    }

    async fn metrics_text(&self) -> Result<String> {
        Ok(self
            .http
            .get(format!("{}/_public/metrics", self.base_url))
            .send()
            .await?
            .text()
            .await?)
    }

    /// `baton_http_requests_total` summed by route.
    pub async fn requests_by_route(&self) -> Result<std::collections::BTreeMap<String, f64>> {
        let text = self.metrics_text().await?;
        let mut out = std::collections::BTreeMap::new();
        for line in text
            .lines()
            .filter(|l| l.starts_with("baton_http_requests_total{"))
        {
            let route = line
                .split("route=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or("?");
            let n: f64 = line
                .rsplit(' ')
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0);
            *out.entry(route.to_string()).or_insert(0.0) += n;
        }
        Ok(out)
    }

    pub async fn metric(&self, name: &str) -> Result<f64> {
        let text = self.metrics_text().await?;
        text.lines()
            .find_map(|l| {
                l.strip_prefix(name)
                    .and_then(|rest| rest.trim().parse().ok())
            })
            .with_context(|| format!("metric {name} not found"))
    }
}
