//! The engine interface and the registry of engines by id.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What the engine is asked to do; engines may prompt differently per phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Plan,
    Execute,
    Qa,
    /// Onboarding: notes about a repository (read-only; models of the planning phase).
    Discovery,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Plan => "plan",
            Phase::Execute => "exec",
            Phase::Qa => "qa",
            Phase::Discovery => "discovery",
        }
    }
}

#[derive(Debug, Clone)]
pub struct EngineRequest {
    pub phase: Phase,
    pub prompt: String,
    pub model: String,
    /// The repository worktree the engine works in.
    pub workdir: PathBuf,
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EngineOutput {
    /// The engine finished its work (a CLI exited 0, an API answered).
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
    /// Tokens the engine reported, else the estimate of prompt + answer.
    pub tokens_used: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("no engine `{0}` (configured: {1})")]
    Unknown(String, String),
    #[error("engine timed out after {0:?}")]
    Timeout(Duration),
    #[error("cannot start the engine: {0}")]
    Spawn(String),
    #[error("engine request failed: {0}")]
    Request(String),
    #[error("engine answered something unreadable: {0}")]
    BadAnswer(String),
}

#[async_trait::async_trait]
pub trait Engine: Send + Sync {
    fn id(&self) -> &str;
    async fn run(&self, req: &EngineRequest) -> Result<EngineOutput, EngineError>;
}

/// Engines by `engine_id`, with the one used when a step names none.
#[derive(Clone, Default)]
pub struct Engines {
    by_id: BTreeMap<String, Arc<dyn Engine>>,
    default: Option<String>,
}

impl Engines {
    pub fn new() -> Engines {
        Engines::default()
    }

    /// Adds an engine; the first added is the default until [`Engines::with_default`].
    pub fn with(mut self, engine: Arc<dyn Engine>) -> Engines {
        let id = engine.id().to_string();
        self.default.get_or_insert_with(|| id.clone());
        self.by_id.insert(id, engine);
        self
    }

    pub fn with_default(mut self, id: &str) -> Engines {
        self.default = Some(id.to_string());
        self
    }

    /// The engine `id`, or the default one.
    pub fn get(&self, id: Option<&str>) -> Result<&Arc<dyn Engine>, EngineError> {
        let id = id.or(self.default.as_deref()).unwrap_or("");
        self.by_id.get(id).ok_or_else(|| {
            let known: Vec<&str> = self.by_id.keys().map(String::as_str).collect();
            EngineError::Unknown(id.to_string(), known.join(", "))
        })
    }
}

/// The model for a phase: the step's, else the project's default for the phase, else the
/// worker's.
pub fn resolve_model(
    step_model: Option<&str>,
    project_defaults: Option<&serde_json::Value>,
    phase: Phase,
    worker_default: &str,
) -> String {
    let key = match phase {
        Phase::Plan | Phase::Discovery => "planning",
        Phase::Execute => "exec",
        Phase::Qa => "qa",
    };
    step_model
        .filter(|m| !m.is_empty())
        .or_else(|| {
            project_defaults
                .and_then(|d| d.get(key))
                .and_then(|m| m.as_str())
                .filter(|m| !m.is_empty())
        })
        .unwrap_or(worker_default)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn models_resolve_step_then_project_then_worker() {
        let defaults = json!({"planning": "p-model", "exec": "e-model", "qa": ""});
        assert_eq!(
            resolve_model(Some("s"), Some(&defaults), Phase::Plan, "w"),
            "s"
        );
        assert_eq!(
            resolve_model(None, Some(&defaults), Phase::Plan, "w"),
            "p-model"
        );
        assert_eq!(
            resolve_model(Some(""), Some(&defaults), Phase::Execute, "w"),
            "e-model"
        );
        assert_eq!(resolve_model(None, Some(&defaults), Phase::Qa, "w"), "w");
        assert_eq!(resolve_model(None, None, Phase::Qa, "w"), "w");
    }

    #[test]
    fn unknown_engines_are_named_with_the_configured_ones() {
        let engines = Engines::new().with(Arc::new(crate::pipeline::offline::OfflineEngine));
        assert_eq!(engines.get(None).unwrap().id(), "offline");
        let err = engines.get(Some("gpt")).err().unwrap().to_string();
        assert_eq!(err, "no engine `gpt` (configured: offline)");
    }
}
