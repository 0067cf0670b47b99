//! The benchmark scenarios. Each runs against a fresh [`crate::target::Target`].

pub mod burst;
pub mod closed_loop;
pub mod idle;
pub mod latency;
pub mod listing;
pub mod redis_ref;
pub mod schedules;
pub mod workflow;
