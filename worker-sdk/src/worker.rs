//! The public face of a worker: [`WorkerBuilder`] collects skills, [`Worker`] runs them,
//! [`WorkerHandle`] controls a worker spawned in the background.
//!
//! A [`Worker`] is an `Arc` of the shared state (config, skills, HTTP client, registry)
//! plus the kill switch its handle uses; the lifecycle itself is in `runtime.rs`.

use std::future::Future;
use std::sync::Arc;

use baton_protocol::SkillInfo;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::client::OrchestratorClient;
use crate::config::WorkerConfig;
use crate::context::TaskContext;
use crate::error::{TaskError, WorkerError};
use crate::skill::{erase, ErasedHandler, SkillSet};
use crate::state::Shared;

/// Collects the configuration and the skills of a worker; see [`Worker::builder`].
pub struct WorkerBuilder {
    config: WorkerConfig,
    skills: Vec<(SkillInfo, ErasedHandler)>,
}

impl std::fmt::Debug for WorkerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self
            .skills
            .iter()
            .map(|(info, _)| info.name.as_str())
            .collect();
        f.debug_struct("WorkerBuilder")
            .field("config", &self.config)
            .field("skills", &names)
            .finish()
    }
}

impl WorkerBuilder {
    /// Adds a skill named `name` (its announced `type` is the same name).
    ///
    /// `handler` receives the task's params deserialized as `P` and the task's
    /// [`TaskContext`]; its `Ok` output becomes the result's `data`. Params that do not
    /// deserialize fail the task with `INVALID_INPUT_ERROR` without calling the handler.
    /// Names are checked (`^[A-Za-z0-9_-]+$`, unique) by [`WorkerBuilder::build`].
    pub fn skill<P, O, F, Fut>(self, name: impl Into<String>, handler: F) -> Self
    where
        P: DeserializeOwned + Send + 'static,
        O: Serialize + Send + 'static,
        F: Fn(P, TaskContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, TaskError>> + Send + 'static,
    {
        let name = name.into();
        let info = SkillInfo {
            skill_type: Some(name.clone()),
            name,
            ..Default::default()
        };
        self.skill_with_info(info, handler)
    }

    /// Like [`WorkerBuilder::skill`], announcing a full [`SkillInfo`] (description,
    /// version, input/output JSON schemas).
    pub fn skill_with_info<P, O, F, Fut>(mut self, info: SkillInfo, handler: F) -> Self
    where
        P: DeserializeOwned + Send + 'static,
        O: Serialize + Send + 'static,
        F: Fn(P, TaskContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, TaskError>> + Send + 'static,
    {
        self.skills.push((info, erase(handler)));
        self
    }

    /// The configuration this worker will use.
    pub fn config(&self) -> &WorkerConfig {
        &self.config
    }

    /// Replaces the configuration.
    pub fn with_config(mut self, config: WorkerConfig) -> Self {
        self.config = config;
        self
    }

    /// Checks the configuration and skills and prepares the HTTP client. Nothing is sent
    /// before [`Worker::run`] or [`Worker::spawn`].
    pub fn build(self) -> Result<Worker, WorkerError> {
        self.config.validate()?;
        let mut skills = SkillSet::default();
        for (info, handler) in self.skills {
            skills.insert(info, handler)?;
        }
        if skills.is_empty() {
            return Err(WorkerError::NoSkills);
        }
        let kill = CancellationToken::new();
        let client = OrchestratorClient::new(&self.config, kill.clone())?;
        Ok(Worker {
            shared: Arc::new(Shared::new(self.config, skills, client)),
            kill,
        })
    }
}

/// A configured worker, ready to run. See the crate docs for its lifecycle.
pub struct Worker {
    pub(crate) shared: Arc<Shared>,
    pub(crate) kill: CancellationToken,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("worker_id", &self.worker_id())
            .field("skills", &self.shared.skills.names())
            .finish()
    }
}

impl Worker {
    /// Starts describing a worker with `config`.
    pub fn builder(config: WorkerConfig) -> WorkerBuilder {
        WorkerBuilder {
            config,
            skills: Vec::new(),
        }
    }

    pub fn worker_id(&self) -> &str {
        self.shared.worker_id()
    }

    pub fn config(&self) -> &WorkerConfig {
        &self.shared.config
    }

    /// Runs the worker until `shutdown` completes, then shuts down gracefully: stops
    /// polling, gives running tasks up to `shutdown_timeout`, cancels the rest (reported
    /// `cancelled`, so the orchestrator hands them to another worker), sends an `offline`
    /// heartbeat and closes the WebSocket.
    ///
    /// Network trouble never ends the worker: it is logged and retried. A registration
    /// the orchestrator refuses with 401/403 does: `run` returns
    /// [`WorkerError::Unauthorized`] (naming the URL and what to check about
    /// `WORKER_TOKEN`) instead of retrying a token that cannot work.
    pub async fn run<S>(self, shutdown: S) -> Result<(), WorkerError>
    where
        S: Future<Output = ()> + Send,
    {
        crate::runtime::run(self.shared, shutdown).await
    }

    /// Runs the worker in a background tokio task. Must be called within a Tokio runtime.
    pub fn spawn(self) -> WorkerHandle {
        let shutdown = CancellationToken::new();
        let worker_id = self.worker_id().to_string();
        let kill = self.kill.clone();
        let join = tokio::spawn(self.run(shutdown.clone().cancelled_owned()));
        WorkerHandle {
            worker_id,
            shutdown,
            kill,
            join,
        }
    }
}

/// Controls a worker started with [`Worker::spawn`]. Dropping the handle leaves the worker
/// running (until its runtime stops).
#[derive(Debug)]
pub struct WorkerHandle {
    worker_id: String,
    shutdown: CancellationToken,
    kill: CancellationToken,
    join: JoinHandle<Result<(), WorkerError>>,
}

impl WorkerHandle {
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// Whether the worker has stopped (shut down, killed or failed).
    pub fn is_finished(&self) -> bool {
        self.join.is_finished()
    }

    /// Asks for a graceful shutdown (see [`Worker::run`]) without waiting for it.
    pub fn request_shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Shuts down gracefully (see [`Worker::run`]) and waits until that is done.
    pub async fn shutdown(self) -> Result<(), WorkerError> {
        self.shutdown.cancel();
        match self.join.await {
            Ok(result) => result,
            Err(e) if e.is_cancelled() => Err(WorkerError::Killed),
            Err(e) => Err(WorkerError::Join(e.to_string())),
        }
    }

    /// Stops everything at once, as a crash would: no result, heartbeat or close frame
    /// is sent from now on; running handlers are aborted. The orchestrator notices through
    /// missing heartbeats and re-dispatches the tasks.
    pub fn kill(self) {
        tracing::warn!(worker_id = %self.worker_id, "killing worker");
        self.kill.cancel();
        self.join.abort();
    }
}
