//! The `codemachine_import` skill: reads a CodeMachine workspace on the worker's machine
//! and answers the parsed template; the orchestrator creates the protocol run's steps
//! from it when the job ends (`POST /projects/{id}/codemachine/import` with
//! `enqueue: true`).
//!
//! The parsing is [`baton_protocol::codemachine`], the same code the orchestrator uses
//! for an inline import. Params: `workspace_path` (absolute, or relative to the
//! project's `local_path` when it has one). Outcome: `{"template_config",
//! "template_source", "steps"}`; a workspace that cannot be imported is an
//! `INVALID_INPUT_ERROR` naming the file and what is wrong (not retried).

use super::skills::{Deps, SkillError};
use baton_protocol::codemachine::import_workspace;
use serde_json::{json, Value};
use std::path::PathBuf;

fn invalid(message: String) -> SkillError {
    SkillError::new("INVALID_INPUT_ERROR", message)
}

/// The workspace a task names.
fn workspace(params: &Value) -> Result<PathBuf, SkillError> {
    let raw = params["workspace_path"]
        .as_str()
        .filter(|p| !p.trim().is_empty())
        .ok_or_else(|| invalid("`workspace_path` is required".into()))?;
    let path = PathBuf::from(raw);
    Ok(match params["local_path"].as_str() {
        Some(base) if path.is_relative() => PathBuf::from(base).join(path),
        _ => path,
    })
}

/// Reads the workspace; the import as the job's outcome.
pub async fn codemachine_import(_deps: &Deps, params: &Value) -> Result<Value, SkillError> {
    let path = workspace(params)?;
    let import = tokio::task::spawn_blocking(move || import_workspace(&path))
        .await
        .map_err(|e| SkillError::new("TRANSIENT_ERROR", format!("import task: {e}")))?
        .map_err(|e| invalid(format!("cannot import the workspace: {e}")))?;
    tracing::info!(steps = import.steps.len(), "CodeMachine workspace read");
    Ok(json!({
        "template_config": import.template_config,
        "template_source": import.template_source,
        "steps": import.steps,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_workspaces_are_under_the_local_path() {
        let p = workspace(&json!({"workspace_path": "ws", "local_path": "/repo"})).unwrap();
        assert_eq!(p, PathBuf::from("/repo/ws"));
        let p = workspace(&json!({"workspace_path": "/abs", "local_path": "/repo"})).unwrap();
        assert_eq!(p, PathBuf::from("/abs"));
        let e = workspace(&json!({"workspace_path": ""})).unwrap_err();
        assert_eq!(e.code, "INVALID_INPUT_ERROR");
    }
}
