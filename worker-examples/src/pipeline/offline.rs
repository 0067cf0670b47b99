//! The offline engine: for demos and tests without a model. It never pretends: every
//! answer starts with a banner saying it is a placeholder, and a QA review by it passes
//! only what it was told to pass (nothing).

use super::budget::estimate_tokens;
use super::engine::{Engine, EngineError, EngineOutput, EngineRequest, Phase};

/// First line of every offline answer.
pub const BANNER: &str = "<!-- PLACEHOLDER written by Baton's offline engine: no model was run -->";

pub struct OfflineEngine;

#[async_trait::async_trait]
impl Engine for OfflineEngine {
    fn id(&self) -> &str {
        "offline"
    }

    async fn run(&self, req: &EngineRequest) -> Result<EngineOutput, EngineError> {
        let body = match req.phase {
            Phase::Plan => "# Plan (placeholder)\n\nNo model was run, so there is no real plan.\n\n## Steps\n\n1. 01-placeholder.md: replace this plan by running a real engine.",
            Phase::Execute => "No model was run: no change was made.",
            // An offline review must not let unreviewed work through.
            Phase::Qa => "No model was run: the work was not reviewed.\n\nVERDICT: FAIL (offline engine)",
        };
        let stdout = format!("{BANNER}\n{body}\n");
        Ok(EngineOutput {
            success: true,
            tokens_used: estimate_tokens(&req.prompt) + estimate_tokens(&stdout),
            stdout,
            stderr: String::new(),
        })
    }
}
