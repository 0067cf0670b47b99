//! The QA policy of an executed step (`qa_policy` in the task params, from the
//! project's policy pack): [`execute_step`] wraps [`skills::execute_step`] and is what
//! the pipeline worker registers as `execute_step`.
//!
//! | `qa_policy` | the outcome also carries | so the orchestrator |
//! |---|---|---|
//! | `full` (default) | – | leaves the step `needs_qa` for a `run_quality` job |
//! | `light` | `qa: {verdict, report}` from [`skills::run_quality`] run right away | applies the verdict |
//! | `skip` | `skip_qa: true` | completes the step |
//!
//! An inline review that cannot run (e.g. the engine fails) is logged and left out: the
//! step then waits in `needs_qa` as under `full`, rather than failing a job whose
//! change is already pushed (a retry would execute the step again).

use super::skills::{self, Deps, SkillError};
use serde_json::{json, Value};

pub async fn execute_step(deps: &Deps, params: &Value) -> Result<Value, SkillError> {
    let mut out = skills::execute_step(deps, params).await?;
    let succeeded = out["success"] == true;
    match params["qa_policy"].as_str().unwrap_or("full") {
        "skip" => out["skip_qa"] = json!(true),
        "light" if succeeded => match skills::run_quality(deps, params).await {
            Ok(qa) => out["qa"] = json!({"verdict": qa["verdict"], "report": qa["report"]}),
            Err(e) => {
                tracing::warn!(code = e.code, error = %e.message, "inline QA (light) did not run")
            }
        },
        _ => {}
    }
    Ok(out)
}
