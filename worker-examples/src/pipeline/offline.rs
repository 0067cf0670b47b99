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
        let stdout = match req.phase {
            // The plan answer has the shape real engines are asked for, so the worker
            // handles it the same way; every text in it carries the banner.
            Phase::Plan => serde_json::json!({
                "plan_md": format!("{BANNER}\n# Plan (placeholder)\n\nNo model was run, so there is no real plan.\n"),
                "context_md": format!("{BANNER}\n"),
                "log_md": format!("{BANNER}\n"),
                "step_files": [{
                    "filename": "01-placeholder.md",
                    "content": format!("{BANNER}\n# Placeholder step\n\nReplace this plan by running a real engine.\n"),
                }],
            })
            .to_string(),
            Phase::Discovery => format!(
                "{BANNER}\nNo model was run: these are not discovery notes about the repository.\n"
            ),
            Phase::Execute => format!("{BANNER}\nNo model was run: no change was made.\n"),
            // An offline review must not let unreviewed work through.
            Phase::Qa => format!(
                "{BANNER}\nNo model was run: the work was not reviewed.\n\nVERDICT: FAIL (offline engine)\n"
            ),
        };
        Ok(EngineOutput {
            success: true,
            tokens_used: estimate_tokens(&req.prompt) + estimate_tokens(&stdout),
            stdout,
            stderr: String::new(),
        })
    }
}
