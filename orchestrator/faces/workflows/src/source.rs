//! The engine's source of compiled workflow blueprints: an execution's job names a
//! `wf-...` blueprint the face saved when the execution started; any orchestrator's
//! engine that meets the name reads it here and caches it (names are content-addressed).

use crate::store::{RecordError, WorkflowStore};
use async_trait::async_trait;
use baton_blueprint::Blueprint;
use baton_engine::hooks::BlueprintSource;
use baton_engine::EngineError;
use std::sync::Arc;

pub struct WorkflowBlueprints {
    pub records: Arc<dyn WorkflowStore>,
}

#[async_trait]
impl BlueprintSource for WorkflowBlueprints {
    async fn blueprint(&self, name: &str) -> Result<Option<Blueprint>, EngineError> {
        if !name.starts_with("wf-") {
            return Ok(None);
        }
        let text = self
            .records
            .get_blueprint(name)
            .await
            .map_err(|RecordError::Store(e)| EngineError::Store(e))?;
        let Some(text) = text else {
            return Ok(None);
        };
        baton_blueprint::load_str(name, &text)
            .map(Some)
            .map_err(|e| EngineError::Internal(format!("compiled blueprint {name}: {e}")))
    }
}
