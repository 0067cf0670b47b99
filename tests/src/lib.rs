//! Test harness shared by Baton's end-to-end tests.
//!
//! - [`RedisServer`]: a throwaway `redis-server` on a free port (never the machine's
//!   6379), which tests may stop and restart to inject faults. A watchdog shell kills it
//!   if the test process dies first, so CI never leaks servers.
//! - [`Orchestrator`]: a Baton orchestrator on port 0 with a chosen store and config.
//! - [`Client`]: the client API, with helpers that wait for a job status;
//!   [`pipelines::Api`]: the coding-pipelines API.

pub mod backend;
pub mod client;
pub mod codemachine;
pub mod fakes;
pub mod git_world;
pub mod orchestrator;
pub mod pipeline_worker;
pub mod pipelines;
pub mod process;
pub mod python;
pub mod redis_server;
pub mod workflows;

pub use client::Client;
pub use orchestrator::Orchestrator;
pub use redis_server::{shared_redis, RedisServer};

/// A key prefix no other test uses.
pub fn unique_prefix(name: &str) -> String {
    format!(
        "t-{name}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// Logs for a failing test (`RUST_LOG=debug cargo test ...`); harmless if called twice.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
}

pub mod raw_worker;
pub mod webhook_sink;
pub mod workers;
