//! A worker's run report: the log and artifacts of one attempt, sent inside its result
//! (`data.run` on success, `error.details.run` on failure) as
//! `{"log": str, "artifacts": [{"name", "kind", "path", "content"}], "engine_id", "model",
//! "phase", "prompt_version", "tokens_estimated", "cost_cents"}`, so the runs API serves
//! them whichever machine the worker ran on.
//!
//! [`take_report`] moves the log and the contents out of the result (the job keeps only
//! the small rest: a job document is rewritten on every change of the job) and applies
//! the caps, which hold whatever a worker sends:
//!
//! | what | cap | beyond it |
//! |---|---|---|
//! | log | [`LOG_CAP`] (256 KiB) | the tail is kept, behind a line saying how much was cut |
//! | one artifact | [`ARTIFACT_CAP`] (1 MiB) | the head is kept, `truncated: true` |
//! | artifacts per run | [`MAX_ARTIFACTS`] (32) | the rest are dropped (named in a log line) |
//! | artifact names | 1..=200 chars, unique per run | skipped / the last one wins |
//!
//! A result body is itself limited by `BATON_MAX_BODY_BYTES` (4 MiB by default).

use super::runs::{NewArtifact, RunArtifact};
use baton_protocol::pipeline::{head, tail};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

pub const LOG_CAP: usize = 256 * 1024;
pub const ARTIFACT_CAP: usize = 1024 * 1024;
pub const MAX_ARTIFACTS: usize = 32;
const MAX_NAME: usize = 200;

/// What a report gives a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunReport {
    pub log: String,
    pub log_truncated: bool,
    pub artifacts: Vec<NewArtifact>,
    /// `engine_id`, `model`, `phase`, `prompt_version`, ... (what is left of `run`).
    pub meta: Map<String, Value>,
    pub tokens: Option<u64>,
    pub cost_cents: Option<u64>,
}

impl RunReport {
    pub fn phase(&self) -> Option<&str> {
        self.meta.get("phase").and_then(Value::as_str)
    }
    pub fn model(&self) -> Option<&str> {
        self.meta.get("model").and_then(Value::as_str)
    }
}

/// The log capped to [`LOG_CAP`] bytes (marker line included), and whether it was cut.
pub fn cap_log(log: &str) -> (String, bool) {
    if log.len() <= LOG_CAP {
        return (log.to_string(), false);
    }
    // The marker's own length varies with the number; 64 bytes is always enough.
    let kept = tail(log, LOG_CAP - 64);
    let marker = format!(
        "[log truncated: first {} bytes dropped]\n",
        log.len() - kept.len()
    );
    (format!("{marker}{kept}"), true)
}

pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Takes the report out of `holder["run"]` (the result data or the error details):
/// `None` when there is none. `run_id` and `now` stamp the artifacts.
pub fn take_report(holder: &mut Value, run_id: &str, now: i64) -> Option<RunReport> {
    let run = holder.get_mut("run")?.as_object_mut()?;
    let log = match run.remove("log") {
        Some(Value::String(s)) => s,
        _ => String::new(),
    };
    let sent = match run.remove("artifacts") {
        Some(Value::Array(a)) => a,
        _ => Vec::new(),
    };
    let (mut log, cut_here) = cap_log(&log);
    // A worker may have cut it already (and said so).
    let log_truncated = cut_here || run.get("log_truncated") == Some(&Value::Bool(true));
    let mut artifacts: Vec<NewArtifact> = Vec::new();
    let mut dropped = Vec::new();
    for a in sent {
        let name = a["name"].as_str().unwrap_or("").trim().to_string();
        if name.is_empty() || name.chars().count() > MAX_NAME {
            continue;
        }
        let content = a["content"].as_str().unwrap_or("");
        let kept = head(content, ARTIFACT_CAP);
        let meta = RunArtifact {
            id: 0,
            run_id: run_id.to_string(),
            kind: a["kind"].as_str().unwrap_or("file").to_string(),
            path: a["path"].as_str().unwrap_or(&name).to_string(),
            sha256: sha256_hex(kept),
            bytes: kept.len() as u64,
            truncated: kept.len() < content.len(),
            created_at: now,
            name,
        };
        let new = NewArtifact {
            meta,
            content: kept.to_string(),
        };
        let full = artifacts.len() >= MAX_ARTIFACTS;
        match artifacts.iter_mut().find(|x| x.meta.name == new.meta.name) {
            Some(same) => *same = new,
            None if !full => artifacts.push(new),
            None => dropped.push(new.meta.name),
        }
    }
    if !dropped.is_empty() {
        // Said in the log, which is where a reader looks for what went missing.
        let line = format!(
            "\n[artifacts dropped, more than {MAX_ARTIFACTS}: {}]\n",
            dropped.join(", ")
        );
        log = cap_log(&(log + &line)).0;
    }
    run.insert("log_bytes".into(), (log.len() as u64).into());
    run.insert(
        "artifacts".into(),
        artifacts
            .iter()
            .map(|a| Value::String(a.meta.name.clone()))
            .collect(),
    );
    let tokens = run
        .get("tokens_estimated")
        .or_else(|| run.get("tokens_used"))
        .and_then(Value::as_u64);
    let cost_cents = run.get("cost_cents").and_then(Value::as_u64);
    Some(RunReport {
        log,
        log_truncated,
        artifacts,
        meta: run.clone(),
        tokens,
        cost_cents,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_long_log_keeps_its_tail_within_the_cap() {
        let log = format!("{}THE END", "é".repeat(LOG_CAP));
        let (capped, cut) = cap_log(&log);
        assert!(cut);
        assert!(capped.len() <= LOG_CAP, "{}", capped.len());
        assert!(capped.starts_with("[log truncated: first "));
        assert!(capped.ends_with("THE END"));
        assert_eq!(cap_log("short"), ("short".to_string(), false));
    }

    #[test]
    fn the_report_leaves_the_result_and_is_capped() {
        let big = "x".repeat(ARTIFACT_CAP + 10);
        let mut artifacts: Vec<Value> = (0..MAX_ARTIFACTS + 2)
            .map(|i| json!({"name": format!("a{i}"), "content": "c"}))
            .collect();
        artifacts[0] = json!({"name": "plan.md", "kind": "plan", "content": big});
        artifacts.push(json!({"name": "", "content": "nameless"}));
        let mut data = json!({"verdict": "PASS", "run": {
            "log": "hello", "artifacts": artifacts, "model": "m", "phase": "qa",
            "tokens_estimated": 42,
        }});
        let r = take_report(&mut data, "t-1", 7).expect("a report");
        assert_eq!(r.artifacts.len(), MAX_ARTIFACTS);
        let plan = &r.artifacts[0].meta;
        assert_eq!(
            (plan.kind.as_str(), plan.bytes),
            ("plan", ARTIFACT_CAP as u64)
        );
        assert!(plan.truncated);
        assert_eq!(plan.sha256, sha256_hex(&"x".repeat(ARTIFACT_CAP)));
        assert_eq!(r.artifacts[1].meta.kind, "file");
        assert!(r.log.starts_with("hello"));
        assert!(r.log.contains("a32, a33"), "{}", r.log);
        assert_eq!(
            (r.tokens, r.phase(), r.model()),
            (Some(42), Some("qa"), Some("m"))
        );
        assert!(data["run"].get("log").is_none());
        assert_eq!(data["run"]["artifacts"][0], "plan.md");
        assert_eq!(data["verdict"], "PASS");
        assert!(take_report(&mut json!({"x": 1}), "t", 0).is_none());
    }
}
