//! Live updates of executions, as `/ws/executions` sends them.
//!
//! The data: a connection's [`Subscriptions`], one [`Watch`] per execution it follows:
//! the job version it last looked at and what it last sent (status, progress, metrics,
//! the position in the log). Every orchestrator reads executions from the store, so a
//! connection on one orchestrator follows an execution that any other runs: each
//! [`Subscriptions::poll`] reads the subscribed jobs (one read each) and, for those whose
//! version moved, builds the view and the new log entries and turns the differences into
//! messages (`execution_status`, `execution_metrics`, `execution_log`). An ended
//! execution is read no more. Nothing here is needed after the connection closes.

use crate::api::schemas::ExecutionMetrics;
use crate::error::{WfError, WfResult};
use crate::executions::{self, Execution, LogEntry};
use crate::FaceRef;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Most executions one connection follows.
pub const MAX_SUBSCRIPTIONS: usize = 100;

/// What was last sent about one execution.
pub struct Watch {
    version: u64,
    status: String,
    progress: u64,
    metrics: Value,
    /// The newest log entry sent: its timestamp, and how many entries of that
    /// millisecond were sent (the log is trimmed from its start, so positions move).
    last_log_ms: i64,
    at_last_ms: usize,
    ended: bool,
}

fn metrics_of(e: &Execution) -> Value {
    serde_json::to_value(ExecutionMetrics::from(e)).unwrap_or(Value::Null)
}

fn status_message(e: &Execution) -> Value {
    json!({"type": "execution_status", "execution_id": e.id, "status": e.status,
           "progress": e.progress(), "current_step": e.current_step})
}

fn metrics_message(e: &Execution, metrics: &Value) -> Value {
    json!({"type": "execution_metrics", "execution_id": e.id, "metrics": metrics})
}

fn log_ms(entry: &LogEntry) -> i64 {
    entry.metadata["timestamp_ms"].as_i64().unwrap_or(0)
}

impl Watch {
    /// The log entries after the last one sent (and moves the mark past them).
    fn new_entries(&mut self, logs: Vec<LogEntry>) -> Vec<LogEntry> {
        let mut at_mark = 0;
        let mut out = Vec::new();
        for entry in logs {
            let ms = log_ms(&entry);
            if ms < self.last_log_ms {
                continue;
            }
            if ms == self.last_log_ms {
                at_mark += 1;
                if at_mark <= self.at_last_ms {
                    continue;
                }
            }
            out.push(entry);
        }
        if let Some(last) = out.last() {
            let ms = log_ms(last);
            let same = out.iter().filter(|e| log_ms(e) == ms).count();
            self.at_last_ms = if ms == self.last_log_ms {
                self.at_last_ms + same
            } else {
                same
            };
            self.last_log_ms = ms;
        }
        out
    }
}

/// The executions one connection follows.
#[derive(Default)]
pub struct Subscriptions {
    watches: BTreeMap<String, Watch>,
}

impl Subscriptions {
    pub fn len(&self) -> usize {
        self.watches.len()
    }

    pub fn is_empty(&self) -> bool {
        self.watches.is_empty()
    }

    /// Follows `id`: its status and metrics now; later log entries only. 404 for an
    /// unknown execution, 422 past [`MAX_SUBSCRIPTIONS`].
    pub async fn subscribe(&mut self, face: &FaceRef, id: &str) -> WfResult<Vec<Value>> {
        if !self.watches.contains_key(id) && self.watches.len() >= MAX_SUBSCRIPTIONS {
            return Err(WfError::validation(format!(
                "a connection follows at most {MAX_SUBSCRIPTIONS} executions"
            )));
        }
        let (version, e) = executions::load_versioned(face, id).await?;
        let logs = executions::logs(face, &e).await?;
        let mut watch = Watch {
            version,
            status: e.status.clone(),
            progress: e.progress(),
            metrics: metrics_of(&e),
            last_log_ms: i64::MIN,
            at_last_ms: 0,
            ended: e.is_terminal(),
        };
        watch.new_entries(logs);
        let out = vec![status_message(&e), metrics_message(&e, &watch.metrics)];
        self.watches.insert(id.to_string(), watch);
        Ok(out)
    }

    pub fn unsubscribe(&mut self, id: &str) -> bool {
        self.watches.remove(id).is_some()
    }

    /// The messages about every followed execution that changed since the last poll.
    pub async fn poll(&mut self, face: &FaceRef) -> Vec<Value> {
        let mut out = Vec::new();
        for (id, watch) in self.watches.iter_mut().filter(|(_, w)| !w.ended) {
            match changes(face, id, watch).await {
                Ok(mut msgs) => out.append(&mut msgs),
                Err(e) if e.status == warp::http::StatusCode::NOT_FOUND => {
                    watch.ended = true;
                    out.push(json!({"type": "error", "execution_id": id,
                                    "message": format!("execution {id} is gone (deleted or expired)")}));
                }
                Err(e) => {
                    // The store may be away for a moment: the next poll tries again.
                    tracing::debug!(execution = %id, error = %e.message, "live update skipped");
                }
            }
        }
        out
    }
}

/// What changed in one execution since `watch`.
async fn changes(face: &FaceRef, id: &str, watch: &mut Watch) -> WfResult<Vec<Value>> {
    let Some(version) = executions::version(face, id).await? else {
        return Err(WfError::not_found(format!("no execution `{id}`")));
    };
    if version == watch.version {
        return Ok(Vec::new());
    }
    let (version, e) = executions::load_versioned(face, id).await?;
    watch.version = version;
    let mut out = Vec::new();
    for entry in watch.new_entries(executions::logs(face, &e).await?) {
        out.push(
            json!({"type": "execution_log", "execution_id": id, "level": entry.level,
                        "message": entry.message, "step_id": entry.step_id,
                        "timestamp": entry.timestamp}),
        );
    }
    let metrics = metrics_of(&e);
    if metrics != watch.metrics {
        out.push(metrics_message(&e, &metrics));
        watch.metrics = metrics;
    }
    if e.status != watch.status || e.progress() != watch.progress {
        out.push(status_message(&e));
        watch.status = e.status.clone();
        watch.progress = e.progress();
    }
    watch.ended = e.is_terminal();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ms: i64, message: &str) -> LogEntry {
        LogEntry {
            id: 0,
            execution_id: "e".into(),
            timestamp: String::new(),
            level: "info".into(),
            message: message.into(),
            step_id: None,
            metadata: json!({ "timestamp_ms": ms }),
        }
    }

    #[test]
    fn log_entries_are_sent_once_even_when_the_log_is_trimmed() {
        let mut w = Watch {
            version: 0,
            status: String::new(),
            progress: 0,
            metrics: Value::Null,
            last_log_ms: i64::MIN,
            at_last_ms: 0,
            ended: false,
        };
        let sent = |v: Vec<LogEntry>| v.into_iter().map(|e| e.message).collect::<Vec<_>>();
        assert_eq!(
            sent(w.new_entries(vec![entry(1, "a"), entry(2, "b"), entry(2, "c")])),
            ["a", "b", "c"]
        );
        // The same entries and one more in the same millisecond, then the start trimmed.
        assert_eq!(
            sent(w.new_entries(vec![
                entry(1, "a"),
                entry(2, "b"),
                entry(2, "c"),
                entry(2, "d")
            ])),
            ["d"]
        );
        assert_eq!(
            sent(w.new_entries(vec![entry(2, "c"), entry(2, "d"), entry(3, "e")])),
            ["e"]
        );
    }
}
