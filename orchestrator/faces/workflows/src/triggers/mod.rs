//! Where schedules and inbound webhooks are kept, behind one trait with a memory store
//! and a Redis store ([`memory`], [`redis`]); the conformance suite runs on both.
//!
//! The records:
//! - a schedule: its document (JSON, compared and set whole) and, while it is active, an
//!   entry in the due set scored by when an orchestrator should look at it next (its
//!   next fire time, or the end of a claim);
//! - a webhook: its document (JSON, its secret included), and its delivery count and
//!   last delivery time (counters beside it, so a delivery writes no document);
//! - runs: the history rows of a schedule or a webhook (`owner` = `schedule:<id>` or
//!   `hook:<id>`), each under its run id (the execution id) so the row can be updated
//!   when the execution ends, newest first, the oldest beyond a bound dropped.
//!
//! Ticks fire once whatever the number of orchestrators: [`TriggerStore::claim_due`]
//! moves due entries a lease into the future in one atomic step (one Lua script), so
//! one orchestrator takes each; [`TriggerStore::cas_schedule`] commits what it did only
//! if the document and the claim are still as it read them. A claimer that dies leaves
//! its entries to be claimed again when the lease ends.

pub mod memory;
pub mod redis;

use crate::error::{WfError, WfResult};
use crate::store::{RecordResult, Written};
use async_trait::async_trait;

/// The fields a schedule and a webhook share: an id by the identifier rule, a name, the
/// workflow to run; 400 `VALIDATION` naming the field.
pub fn check_names(id: &str, name: &str, workflow_id: &str) -> WfResult<()> {
    let bad = |field: &str, message: &str| {
        WfError::bad_request(message.to_string()).with("field", field.to_string())
    };
    if id.len() > crate::validate::MAX_ID_LEN || !baton_protocol::is_identifier(id) {
        return Err(bad(
            "id",
            "the id must be 1 to 128 letters, digits, `-` or `_`",
        ));
    }
    if name.trim().is_empty() {
        return Err(bad("name", "the name must not be empty"));
    }
    if workflow_id.trim().is_empty() {
        return Err(bad("workflow_id", "name the workflow to run"));
    }
    Ok(())
}

/// A compare-and-set of a schedule.
#[derive(Debug, Clone, Copy)]
pub struct ScheduleCas<'a> {
    pub id: &'a str,
    /// The document as read; `None`: there must be none.
    pub expected: Option<&'a str>,
    /// The new document; `None`: delete it (and its runs).
    pub new: Option<&'a str>,
    /// When to look at it next; `None`: not due (paused, deleted).
    pub next_ms: Option<i64>,
    /// The due score a claim set, which must still be there (`None`: not checked).
    pub claimed: Option<i64>,
}

#[async_trait]
pub trait TriggerStore: Send + Sync + 'static {
    /// Writes a schedule if it is still as `cas.expected` says (and still claimed when
    /// `cas.claimed` is set); whether it wrote.
    async fn cas_schedule(&self, cas: ScheduleCas<'_>) -> RecordResult<bool>;
    async fn get_schedule(&self, id: &str) -> RecordResult<Option<String>>;
    /// Every schedule's document, by id.
    async fn list_schedules(&self) -> RecordResult<Vec<String>>;
    /// Takes up to `limit` schedules due at `now_ms`: each one's due score moves to
    /// `now_ms + lease_ms`, so no other orchestrator takes it meanwhile. Returns the ids
    /// and the scores they now have (the claim).
    async fn claim_due(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> RecordResult<Vec<(String, i64)>>;
    /// The earliest due score, if any schedule is due at all.
    async fn next_due(&self) -> RecordResult<Option<i64>>;

    /// Saves a webhook: a new one when `create` ([`Written::Exists`] if the id is
    /// taken), else a replacement ([`Written::Missing`] if there is none).
    async fn put_hook(&self, id: &str, doc: &str, create: bool) -> RecordResult<Written>;
    async fn get_hook(&self, id: &str) -> RecordResult<Option<String>>;
    async fn list_hooks(&self) -> RecordResult<Vec<String>>;
    /// Whether there was one (its runs and counts go with it).
    async fn delete_hook(&self, id: &str) -> RecordResult<bool>;
    /// Counts a delivery of webhook `id` at `at_ms`.
    async fn count_delivery(&self, id: &str, at_ms: i64) -> RecordResult<()>;
    /// How many deliveries webhook `id` had, and when the last one came.
    async fn deliveries(&self, id: &str) -> RecordResult<(u64, Option<i64>)>;

    /// Adds (or replaces) a run row of `owner`, keeping its newest `keep` rows.
    async fn put_run(
        &self,
        owner: &str,
        run_id: &str,
        at_ms: i64,
        row: &str,
        keep: usize,
    ) -> RecordResult<()>;
    /// Replaces a run row that is still kept; whether it was.
    async fn update_run(&self, owner: &str, run_id: &str, row: &str) -> RecordResult<bool>;
    /// The newest `limit` run rows of `owner`, newest first.
    async fn runs(&self, owner: &str, limit: usize) -> RecordResult<Vec<String>>;
}
