//! Wire types of the worker-pull protocol (RXON 1.0b15) shared by the Baton orchestrator
//! and the Rust worker SDK.
//!
//! Field names follow the PyPI `rxon` package, the authority for what real clients send:
//! the Python `avtomatika-worker` SDK must talk to Baton unchanged. Every struct keeps
//! unknown fields out of the way (`#[serde(default)]` everywhere, nothing denied), so a
//! newer client can add fields without breaking an older server.
//!
//! - [`constants`]: header names, endpoints, statuses and error codes.
//! - [`models`]: registration, heartbeat, task, result, event and command bodies.
//! - [`signing`]: the canonical JSON form and its HMAC-SHA256 signature.
//! - [`clock`]: wall-clock time as everything stored and sent uses it, and the one check
//!   every duration from outside goes through.
//! - [`codemachine`]: CodeMachine workspaces read into protocol steps, and what their
//!   loop and trigger policies decide (shared by the orchestrator and the pipeline worker).
//! - [`workflow`]: what workflow steps publish, read from a job's states (shared by the
//!   workflow face and the workflow worker).
//!
//! The feature `openapi` derives `utoipa::ToSchema` on the models, so the orchestrator's
//! OpenAPI document describes them from these very types (off by default: workers do not
//! need it).

pub mod clock;
pub mod codemachine;
pub mod constants;
pub mod models;
pub mod pipeline;
pub mod signing;
pub mod workflow;

pub use constants::*;
pub use models::*;
