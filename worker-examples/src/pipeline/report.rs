//! The run report a pipeline skill sends with its outcome, so the orchestrator's runs
//! API (`/codex/runs/{id}/logs`, `/artifacts`) serves it wherever the worker runs.
//!
//! [`RunLog`] gathers, while a skill works: its own progress lines and the engine's
//! stdout/stderr (the **log**), the files it wrote (the **artifacts**: name, kind, path,
//! text content) and the engine facts (`engine_id`, `model`, `phase`, `prompt_version`,
//! `tokens_estimated`). [`RunLog::finish`] puts it in the outcome: `data.run` on success,
//! the error's `run` (sent as `error.details.run`, see [`From<SkillError> for TaskError`])
//! on failure, in this shape:
//! `{"log": str, "artifacts": [{"name", "kind", "path", "content"}], "engine_id", ...}`.
//!
//! Caps, so a result stays well inside the orchestrator's body limit (4 MiB by default;
//! the orchestrator applies the same caps again): the log keeps its last [`LOG_CAP`]
//! bytes, an artifact its first [`ARTIFACT_CAP`], and artifacts stop at
//! [`ARTIFACTS_TOTAL`] bytes in all (a log line names what was left out).

use super::engine::EngineOutput;
use super::skills::SkillError;
use baton_protocol::pipeline::{head, tail};
use serde_json::{json, Map, Value};
use std::path::Path;

pub const LOG_CAP: usize = 256 * 1024;
pub const ARTIFACT_CAP: usize = 1024 * 1024;
pub const ARTIFACTS_TOTAL: usize = 2 * 1024 * 1024;

/// What one skill run reports.
#[derive(Debug, Default)]
pub struct RunLog {
    log: String,
    artifacts: Vec<Value>,
    artifact_bytes: usize,
    meta: Map<String, Value>,
}

impl RunLog {
    pub fn new() -> RunLog {
        RunLog::default()
    }

    /// A progress line of the skill.
    pub fn line(&mut self, text: impl AsRef<str>) {
        self.log.push_str(text.as_ref());
        self.log.push('\n');
    }

    /// The engine's output, stdout then stderr, each under a header line.
    pub fn engine(&mut self, out: &EngineOutput) {
        self.line(format!(
            "engine finished: {}",
            if out.success { "success" } else { "failure" }
        ));
        for (name, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            if !text.is_empty() {
                self.line(format!("--- engine {name} ---"));
                self.line(text.trim_end());
            }
        }
    }

    /// Engine facts (`engine_id`, `model`, `phase`, `prompt_version`, ...).
    pub fn meta(&mut self, record: &Value) {
        if let Value::Object(m) = record {
            self.meta
                .extend(m.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }

    /// A file the skill produced; `path` is shown relative to `root` when inside it.
    pub fn artifact(&mut self, name: &str, kind: &str, path: &Path, root: &Path, content: &str) {
        let content = head(content, ARTIFACT_CAP);
        if self.artifact_bytes + content.len() > ARTIFACTS_TOTAL {
            self.line(format!(
                "artifact {name} not sent: over {ARTIFACTS_TOTAL} bytes of artifacts"
            ));
            return;
        }
        self.artifact_bytes += content.len();
        let shown = path.strip_prefix(root).unwrap_or(path);
        self.artifacts.push(json!({
            "name": name, "kind": kind, "path": shown.display().to_string(), "content": content,
        }));
    }

    /// The report as sent.
    pub fn into_value(mut self) -> Value {
        let log = if self.log.len() <= LOG_CAP {
            std::mem::take(&mut self.log)
        } else {
            // The same marker the orchestrator writes when it cuts a log.
            let kept = tail(&self.log, LOG_CAP - 64);
            self.meta.insert("log_truncated".into(), true.into());
            format!(
                "[log truncated: first {} bytes dropped]\n{kept}",
                self.log.len() - kept.len()
            )
        };
        self.meta.insert("log".into(), log.into());
        self.meta
            .insert("artifacts".into(), Value::Array(self.artifacts));
        Value::Object(self.meta)
    }

    /// The skill's outcome with this report in it (`data.run`, or the error's `run`).
    pub fn finish(mut self, outcome: Result<Value, SkillError>) -> Result<Value, SkillError> {
        match outcome {
            Ok(mut data) => {
                if let Some(Value::Object(run)) = data.get("run") {
                    // The outcome's own record (engine, model, ...) joins the report.
                    let run = Value::Object(run.clone());
                    self.meta(&run);
                }
                if let Value::Object(map) = &mut data {
                    map.insert("run".into(), self.into_value());
                }
                Ok(data)
            }
            Err(mut e) => {
                self.line(format!("failed: {}: {}", e.code, e.message));
                e.run = Some(self.into_value());
                Err(e)
            }
        }
    }
}

impl From<SkillError> for baton_worker::TaskError {
    fn from(e: SkillError) -> Self {
        let err = baton_worker::TaskError::new(e.code, e.message);
        match e.run {
            Some(run) => err.with_details(json!({ "run": run })),
            None => err,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_is_capped_and_lands_where_the_orchestrator_reads_it() {
        let mut log = RunLog::new();
        log.line("x".repeat(LOG_CAP));
        log.line("last line");
        let root = Path::new("/wt");
        log.artifact(
            "a.md",
            "plan",
            Path::new("/wt/.p/a.md"),
            root,
            &"y".repeat(ARTIFACT_CAP + 5),
        );
        log.artifact("b.md", "plan", Path::new("/elsewhere/b.md"), root, "b");
        log.artifact(
            "c.md",
            "plan",
            Path::new("/wt/c.md"),
            root,
            &"z".repeat(ARTIFACT_CAP),
        );
        log.meta(&json!({"model": "m"}));
        let ok = log
            .finish(Ok(json!({"v": 1, "run": {"engine_id": "codex"}})))
            .unwrap();
        let run = &ok["run"];
        assert_eq!(run["engine_id"], "codex");
        assert_eq!(run["model"], "m");
        assert!(run["log"].as_str().unwrap().len() <= LOG_CAP);
        assert!(run["log"]
            .as_str()
            .unwrap()
            .starts_with("[log truncated: first "));
        assert_eq!(run["log_truncated"], true);
        assert!(run["log"]
            .as_str()
            .unwrap()
            .ends_with("not sent: over 2097152 bytes of artifacts\n"));
        let arts = run["artifacts"].as_array().unwrap();
        assert_eq!(arts.len(), 2);
        assert_eq!(arts[0]["path"], ".p/a.md");
        assert_eq!(arts[0]["content"].as_str().unwrap().len(), ARTIFACT_CAP);
        assert_eq!(arts[1]["path"], "/elsewhere/b.md");

        let mut log = RunLog::new();
        log.line("working");
        let err = log
            .finish(Err(SkillError::new("TRANSIENT_ERROR", "boom")))
            .unwrap_err();
        let task = baton_worker::TaskError::from(err);
        let run = &task.details().unwrap()["run"];
        assert_eq!(run["log"], "working\nfailed: TRANSIENT_ERROR: boom\n");
    }
}
