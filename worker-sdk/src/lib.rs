//! Worker SDK for **Baton**, a distributed worker-pull job runtime.
//!
//! # The model
//!
//! An orchestrator keeps jobs; a job's steps become *tasks*, each asking for a *skill* by
//! name. Workers pull tasks: a worker registers the skills it has, then long-polls
//! `GET /_worker/workers/{id}/tasks/next` whenever it has room for one more task, runs
//! the matching handler and posts the result. It speaks RXON 1.0b15, the protocol of the
//! Python `avtomatika-worker` SDK, so it works against Baton and any RXON orchestrator.
//!
//! With this crate a worker is a set of typed async functions:
//!
//! - a skill handler takes its params as any `serde` type `P` and a [`TaskContext`], and
//!   returns `Result<O, TaskError>` with `O: Serialize`;
//! - `Ok(output)` is reported as a success with `output` as the result's `data`;
//!   `Err(TaskError)` as a failure whose code tells the orchestrator what to do next
//!   ([`TaskError::transient`] is retried elsewhere, [`TaskError::permanent`] is not,
//!   [`TaskError::invalid_input`] fails the job);
//! - params that do not deserialize fail with `INVALID_INPUT_ERROR`, a task for an
//!   unknown skill with `PERMANENT_ERROR`, a panicking handler with `TRANSIENT_ERROR`
//!   (the worker itself carries on);
//! - [`TaskContext::set_status`] picks a custom result status a blueprint can route on.
//!
//! Around the handlers the [`Worker`] runs, with [`WorkerConfig`] settings:
//!
//! - **registration**, retried with backoff, and again whenever the orchestrator says it
//!   forgot the worker; a registration refused with 401/403 (a wrong or missing
//!   `WORKER_TOKEN`) is not retried: [`Worker::run`] returns
//!   [`WorkerError::Unauthorized`], which names the orchestrator's URL;
//! - **heartbeats** every `heartbeat_interval`, plus a debounced one when a task starts or
//!   ends, listing the running tasks;
//! - **one poll loop** that polls only while fewer than `max_concurrent_tasks` run;
//! - **results** posted with retries on network errors and 5xx;
//! - **cancellation**: a `cancel_task` command on the WebSocket or a heartbeat's
//!   `cancel_task_ids` fires the task's token ([`TaskContext::cancelled`]); a handler that
//!   does not return within `cancel_grace` is aborted; the result is `cancelled`;
//! - **graceful shutdown** ([`Worker::run`]'s future, or [`WorkerHandle::shutdown`]):
//!   running tasks get `shutdown_timeout` to finish, the rest are reported `cancelled`
//!   so the orchestrator re-dispatches them, then an `offline` heartbeat is sent.
//!
//! Bodies are signed (HMAC-SHA256 over canonical JSON, see [`baton_protocol::signing`])
//! with the worker token unless it is the Python default `your-secret-worker-token`.
//! Only plain `http://` orchestrators are reachable: the crate is built without TLS.
//!
//! # Example
//!
//! ```no_run
//! use baton_worker::{TaskContext, TaskError, Worker, WorkerConfig};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Deserialize)]
//! struct Resize {
//!     url: String,
//!     width: u32,
//! }
//!
//! #[derive(Serialize)]
//! struct Resized {
//!     url: String,
//! }
//!
//! async fn resize(params: Resize, ctx: TaskContext) -> Result<Resized, TaskError> {
//!     if params.width == 0 {
//!         return Err(TaskError::invalid_input("width must be positive"));
//!     }
//!     // Progress is advisory: a failure to report it is not the task's failure.
//!     let _ = ctx.progress(0.5, "downloaded").await;
//!     tokio::select! {
//!         _ = ctx.cancelled() => Err(TaskError::transient("cancelled")),
//!         _ = tokio::time::sleep(std::time::Duration::from_millis(10)) => Ok(Resized {
//!             url: format!("{}?w={}", params.url, params.width),
//!         }),
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // ORCHESTRATOR_URL, WORKER_TOKEN, WORKER_ID, MAX_CONCURRENT_TASKS, ...
//!     let config = WorkerConfig::from_env()?.worker_type("image");
//!     let worker = Worker::builder(config)
//!         .skill("resize", resize)
//!         .skill("ping", |_: serde_json::Value, _ctx: TaskContext| async move {
//!             Ok::<_, TaskError>("pong")
//!         })
//!         .build()?;
//!     // Runs until Ctrl-C, then shuts down gracefully.
//!     worker
//!         .run(async {
//!             let _ = tokio::signal::ctrl_c().await;
//!         })
//!         .await?;
//!     Ok(())
//! }
//! ```
//!
//! `cargo run -p baton-worker --example hello` runs a complete worker. For tests, a handler
//! can be called directly with a [`TaskContext::detached`] context.
//!
//! # Logging
//!
//! The SDK logs with `tracing`; task work runs in a `task` span carrying `worker_id`,
//! `task_id`, `job_id`, `skill` and `attempt`. At `info` it says when it registered and
//! when it takes and finishes a task, so a quiet worker is an idle one. Install any
//! subscriber to see it, e.g. (with the `tracing-subscriber` crate, feature `env-filter`):
//!
//! ```no_run
//! tracing_subscriber::fmt()
//!     .with_env_filter(
//!         tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
//!     )
//!     .init();
//! ```

mod body;
mod client;
mod config;
mod context;
mod error;
mod heartbeat;
mod results;
mod runtime;
mod skill;
mod state;
mod task_runner;
mod websocket;
mod worker;

pub use baton_protocol as protocol;
pub use baton_protocol::{SkillInfo, TaskPayload};
pub use config::{
    is_valid_identifier, ConfigError, WorkerConfig, DEFAULT_ORCHESTRATOR_URL, DEFAULT_WORKER_TYPE,
};
pub use context::{RecordedEvent, TaskContext};
pub use error::{TaskError, WorkerError};
pub use tokio_util::sync::CancellationToken;
pub use worker::{Worker, WorkerBuilder, WorkerHandle};
