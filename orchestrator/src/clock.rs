//! Wall-clock time.
//!
//! Everything stored (deadlines, timers, leases) is epoch milliseconds from the wall clock,
//! because other orchestrator processes must read it. Monotonic time (`tokio::time`) is
//! only used for waits inside one process, never stored: mixing the two is how deadlines
//! drift.

use std::time::{SystemTime, UNIX_EPOCH};

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// RFC 3339 with milliseconds, for the client API.
pub fn rfc3339(ms: i64) -> String {
    let t = UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}
