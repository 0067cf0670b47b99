//! Job hooks: how a face reacts to the jobs it created without the engine knowing faces.
//!
//! A face that creates jobs names a hook ([`super::NewJob::hook`]); the name is kept in the
//! job's document ([`super::job::JobDoc::hook`]) and looked up in the [`Hooks`] the engine
//! was built with. The engine then calls:
//!
//! - [`JobHook::before_result`] when a result of one of those jobs is about to be
//!   committed (the coding pipelines record the attempt's run and take its log out of the
//!   result here). An error commits nothing: the worker retries the result, so this may
//!   run again for the same attempt and must be idempotent. What it returns runs once the
//!   result is committed (counting it, say).
//! - [`JobHook::job_ended`] when the job has ended (finished, failed, quarantined or
//!   cancelled). The job's final commit sets a [`baton_store::TimerKind::JobEnded`] timer,
//!   fired at once by the committing orchestrator and by any orchestrator's reaper if that
//!   one dies first: the call survives a crash and happens at least once, so it too must
//!   be idempotent.
//!
//! A job whose hook is not registered (a face turned off) is served as any other job; its
//! end is logged and dropped.
//!
//! A face may also supply blueprints the engine did not load from files
//! ([`BlueprintSource`]): a face that compiles its own definitions (workflows) into
//! blueprints names them by content (a new definition is a new name), keeps them in its
//! records, and the engine asks its sources for a name it does not know and caches the
//! answer. Every orchestrator can so advance every job, whichever made it.

use super::job::JobDoc;
use super::{Engine, EngineError};
use async_trait::async_trait;
use baton_blueprint::Blueprint;
use baton_protocol::TaskResult;
use baton_store::StoredJob;
use std::collections::HashMap;
use std::sync::Arc;

/// One attempt of a hooked job whose result arrived.
pub struct Attempt<'a> {
    /// The job as read before the result is applied.
    pub job: &'a StoredJob,
    pub doc: &'a JobDoc,
    pub task_id: &'a str,
    pub worker_id: &'a str,
    /// When the worker took the task (epoch ms).
    pub claimed_ms: Option<i64>,
}

/// What to do once the result is committed.
pub type AfterCommit = Box<dyn FnOnce() + Send>;

#[async_trait]
pub trait JobHook: Send + Sync + 'static {
    /// A result of one of this hook's jobs is about to be committed; see the module docs.
    async fn before_result(
        &self,
        _engine: &Engine,
        _attempt: Attempt<'_>,
        _result: &mut TaskResult,
    ) -> Result<Option<AfterCommit>, EngineError> {
        Ok(None)
    }

    /// The job ended; see the module docs. `job` and `doc` are as the engine read them
    /// for this call (after the end).
    async fn job_ended(
        &self,
        engine: &Arc<Engine>,
        job: &StoredJob,
        doc: &JobDoc,
    ) -> Result<(), EngineError>;
}

/// Where blueprints not loaded from files come from.
#[async_trait]
pub trait BlueprintSource: Send + Sync + 'static {
    /// The blueprint called `name`, if this source has it. Names are content-addressed:
    /// the answer for a name never changes, so the engine keeps it.
    async fn blueprint(&self, name: &str) -> Result<Option<Blueprint>, EngineError>;
}

/// The hooks an engine calls, by name, and the faces' blueprint sources.
#[derive(Default, Clone)]
pub struct Hooks {
    by_name: HashMap<String, Arc<dyn JobHook>>,
    pub(crate) sources: Vec<Arc<dyn BlueprintSource>>,
}

impl Hooks {
    pub fn new() -> Hooks {
        Hooks::default()
    }

    /// Registers `hook` under `name` (the name a face gives its jobs).
    pub fn with(mut self, name: &str, hook: Arc<dyn JobHook>) -> Hooks {
        self.by_name.insert(name.to_string(), hook);
        self
    }

    /// Adds a source of blueprints (asked in the order added).
    pub fn with_blueprints(mut self, source: Arc<dyn BlueprintSource>) -> Hooks {
        self.sources.push(source);
        self
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn JobHook>> {
        self.by_name.get(name)
    }
}
