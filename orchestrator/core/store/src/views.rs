//! Read-side summaries the stores compute for dashboards and operators.
//!
//! - [`QueueStats`]: per skill, the queue depth and the enqueue time of the oldest queued
//!   task. Queues are ordered by priority first, so the oldest task is not necessarily at
//!   the head: both stores look at the first member of each priority band (a band is
//!   FIFO, so its first member is its oldest) and keep the earliest, which costs one
//!   lookup per distinct priority instead of a scan of the queue.
//! - [`QuarantinedJob`]: an entry of the per-client index of quarantined jobs. Commits
//!   maintain the index atomically with the job's status (in while the job is
//!   quarantined), so listing a client's quarantined jobs never scans all jobs. Entries of
//!   jobs that expired are skipped when listing and removed by `Store::prune`.

use super::StoredJob;

/// One skill's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueStats {
    /// Queued tasks.
    pub depth: u64,
    /// Enqueue time (epoch ms) of the oldest queued task; `None` when the queue is empty.
    pub oldest_enqueued_ms: Option<i64>,
}

impl QueueStats {
    /// Seconds the oldest task has waited at `now_ms` (ms precision; never negative, though
    /// enqueue times come from other orchestrators' clocks).
    pub fn oldest_age_seconds(&self, now_ms: i64) -> Option<f64> {
        self.oldest_enqueued_ms
            .map(|t| now_ms.saturating_sub(t).max(0) as f64 / 1000.0)
    }
}

/// A quarantined job of one client, as the index lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct QuarantinedJob {
    /// When the job entered quarantine (epoch ms, the committing orchestrator's clock).
    pub quarantined_ms: i64,
    pub job: StoredJob,
}

/// Enqueue time (µs) of a queue member (see [`super::queue_member`]).
pub fn member_enqueued_us(member: &str) -> Option<i64> {
    member.split_once('|')?.0.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enqueue_time_is_read_back_from_a_member() {
        let m = super::super::queue_member(1_700_000_000_123_456, "t|x");
        assert_eq!(member_enqueued_us(&m), Some(1_700_000_000_123_456));
        assert_eq!(member_enqueued_us("garbage"), None);
        let stats = QueueStats {
            depth: 1,
            oldest_enqueued_ms: Some(10_000),
        };
        assert_eq!(stats.oldest_age_seconds(12_345), Some(2.345));
        assert_eq!(stats.oldest_age_seconds(9_000), Some(0.0), "clock skew");
        assert_eq!(QueueStats::default().oldest_age_seconds(1), None);
    }
}
