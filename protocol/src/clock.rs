//! Wall-clock time.
//!
//! Everything stored (deadlines, timers, leases) is epoch milliseconds from the wall clock,
//! because other orchestrator processes must read it. Monotonic time (`tokio::time`) is
//! only used for waits inside one process, never stored: mixing the two is how deadlines
//! drift.
//!
//! Durations from outside (queries, bodies, environment, blueprint files) go through
//! [`seconds`] before anything converts them, so a huge or odd number is refused instead
//! of panicking in `Duration::from_secs_f64` or overflowing epoch-ms arithmetic.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Longest duration accepted from outside, in seconds (about 31.7 years): epoch ms plus
/// this many ms stays far inside `i64`.
pub const MAX_SECONDS: f64 = 1e9;

/// What callers say when [`seconds`] refuses a value.
pub const SECONDS_RANGE: &str = "a number of seconds from 0 to 1000000000";

/// `secs` as a duration when it is finite, at least 0 and at most [`MAX_SECONDS`].
pub fn seconds(secs: f64) -> Option<Duration> {
    if secs.is_finite() && (0.0..=MAX_SECONDS).contains(&secs) {
        Duration::try_from_secs_f64(secs).ok()
    } else {
        None
    }
}

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

/// Epoch ms of an RFC 3339 time (`2026-12-07T10:00:00Z`, fractions allowed; UTC only:
/// `Z`), if it is one.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let t = humantime::parse_rfc3339_weak(text.trim()).ok()?;
    let d = t.duration_since(UNIX_EPOCH).ok()?;
    i64::try_from(d.as_millis()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips() {
        assert_eq!(
            parse_rfc3339(&rfc3339(1_796_666_150_304)),
            Some(1_796_666_150_304)
        );
        assert_eq!(
            parse_rfc3339("2026-12-07T10:00:00Z"),
            Some(1_796_637_600_000)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn seconds_refuses_what_cannot_be_a_duration() {
        assert_eq!(seconds(2.5), Some(Duration::from_millis(2500)));
        assert_eq!(seconds(0.0), Some(Duration::ZERO));
        assert_eq!(
            seconds(MAX_SECONDS),
            Some(Duration::from_secs(1_000_000_000))
        );
        for bad in [
            1e20,
            MAX_SECONDS + 1.0,
            -1.0,
            f64::NAN,
            f64::INFINITY,
            f64::MAX,
        ] {
            assert_eq!(seconds(bad), None, "{bad}");
        }
    }
}
