//! `baton jobs watch`: follows a job to its end, a line each time its status, state or
//! progress moves; the exit status says how it ended.

use super::exit;
use super::http::{segment, Api, CtlError};
use super::jobs::outcome;
use super::table::{text, time};
use baton_protocol::job_status;
use serde_json::Value;
use std::time::{Duration, Instant};

/// How often the job is read: quick enough to feel live, one cheap read per tick.
const EVERY: Duration = Duration::from_millis(400);

pub async fn follow(api: &Api, id: &str, timeout: Option<f64>) -> Result<u8, CtlError> {
    let limit = match timeout {
        Some(t) if t.is_finite() && t > 0.0 && t <= 31_536_000.0 => {
            Some(Duration::from_secs_f64(t))
        }
        Some(t) => {
            return Err(CtlError::Usage(format!(
                "--timeout {t}: seconds, more than 0 and at most a year"
            )))
        }
        None => None,
    };
    let started = Instant::now();
    let path = format!("/api/v1/jobs/{}", segment(id));
    let mut last = String::new();
    loop {
        let view = api.get(&path).await?;
        let status = text(&view["status"]);
        let line = progress_line(&view);
        if line != last && !api.json {
            outln!("{}  {line}", time(&view["updated_at"]));
            last = line;
        }
        if job_status::is_terminal(&status) {
            if api.json {
                outln!("{view}");
            } else {
                summary(&view);
            }
            return Ok(outcome(&status));
        }
        if limit.is_some_and(|l| started.elapsed() >= l) {
            if api.json {
                outln!("{view}");
            }
            eprintln!(
                "baton: {id} is still {status} after {:.0}s",
                started.elapsed().as_secs_f64()
            );
            return Ok(exit::STILL_RUNNING);
        }
        tokio::time::sleep(EVERY).await;
    }
}

/// `running  state resize  50% downloaded` (and a hint when nothing can take it).
fn progress_line(view: &Value) -> String {
    let mut parts = vec![format!("{:<14}", text(&view["status"]))];
    if let Some(state) = view["state"].as_str() {
        parts.push(format!("state {state}"));
    }
    if let Some(p) = view["progress"].as_f64() {
        let msg = view["progress_message"].as_str().unwrap_or_default();
        parts.push(format!("{:.0}% {msg}", p * 100.0).trim_end().to_string());
    }
    if let Some(hint) = view["hint"].as_str() {
        parts.push(format!("({hint})"));
    }
    parts.join("  ")
}

fn summary(view: &Value) {
    if !view["result"].is_null() {
        outln!("result  {}", view["result"]);
    }
    if !view["error"].is_null() {
        outln!("error   {}", text(&view["error"]));
    }
}
