//! The answer and request types of the runtime face: the handlers answer with these
//! (serialized as they are) and the OpenAPI document ([`super::openapi`]) is generated from
//! them, so what is sent is what is documented. The worker routes answer with the wire types
//! of `baton_protocol`, documented the same way.
//!
//! Response schemas do not forbid other properties, so adding a field to an answer breaks
//! no client that validates against the document; `tests/tests/openapi.rs` also checks live
//! answers against the document.

use baton_protocol::{TaskPayload, TaskResult};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use utoipa::{IntoParams, ToSchema};

pub use baton_http::ErrorBody;

/// `GET /_public/status`.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ServiceStatus {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: String,
    /// `memory` or `redis`.
    #[schema(example = "redis")]
    pub store: String,
    /// Baton's version.
    pub version: String,
    /// The RXON protocol version, as in `X-RXON-Version`.
    #[schema(example = "1.0b15")]
    pub protocol_version: String,
}

/// Body of a blueprint's creation endpoint: every field optional, unknown fields refused.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateJobRequest {
    /// The job's input; blueprints template task params from it.
    #[schema(value_type = Option<Object>, example = json!({"message": "hello"}))]
    pub initial_data: Option<Value>,
    /// `http(s)` URL that gets a POST when the job ends `finished`, `failed` or
    /// `quarantined` (at least once, retried with backoff).
    #[schema(format = "uri")]
    pub webhook_url: Option<String>,
    /// Free-form, returned with the job and in its webhook.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// Seconds the task may wait for a worker (overrides the blueprint's).
    #[schema(minimum = 0, exclusive_minimum = 0)]
    pub dispatch_timeout: Option<f64>,
    /// Seconds a worker has for a result (overrides the blueprint's).
    #[schema(minimum = 0, exclusive_minimum = 0)]
    pub result_timeout: Option<f64>,
}

/// 202 answer to a job creation.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct JobAccepted {
    /// Always `accepted`.
    #[schema(example = "accepted")]
    pub status: String,
    pub job_id: String,
}

/// A job as its client sees it.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct JobView {
    pub id: String,
    /// Same as `id`.
    pub job_id: String,
    /// `pending`, `waiting_for_worker`, `running`, `awaiting_retry`, `finished`,
    /// `failed`, `quarantined` or `cancelled`.
    #[schema(example = "running")]
    pub status: String,
    pub blueprint_name: String,
    /// The client that owns it.
    pub client: String,
    /// What the job was created with.
    #[schema(value_type = Object)]
    pub initial_data: Value,
    /// The blueprint state the job is in.
    pub state: String,
    /// States entered so far.
    pub step: u32,
    /// Dispatch attempt of the current state (1 = first).
    pub attempt: u32,
    /// Run of the job: 1, then one more each time a failed job is retried
    /// (`POST /api/v1/jobs/{id}/retry`).
    pub run: u32,
    /// RFC 3339.
    pub created_at: String,
    pub updated_at: String,
    /// Only once the job ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Last progress a worker reported (0..1), or null.
    pub progress: Option<f64>,
    pub progress_message: Option<String>,
    /// The job's result; present (possibly null) only once the job ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Value>)]
    pub result: Option<Value>,
    /// Why a job failed: `{"code", "message", ...}`, or null.
    #[schema(value_type = Option<Object>)]
    pub error: Option<Value>,
    #[schema(value_type = Object)]
    pub metadata: Value,
    /// Tasks of the job that are queued, waiting to retry, or running.
    pub tasks: Vec<JobTask>,
    /// While the job waits in an approval state (status `waiting_for_human`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalView>,
    /// While the job waits in a parallel state (status `waiting_for_parallel_tasks`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel: Option<ParallelView>,
    /// The child job a sub-job state waits for (status `waiting_for_sub_job`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_job_id: Option<String>,
    /// The job that started this one as a sub-job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_job_id: Option<String>,
    /// Why the job may not be moving: a queued task's skill has no registered worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// What a job waiting for a person shows its owner.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ApprovalView {
    /// The state's message, rendered from the job context.
    #[schema(value_type = Value)]
    pub message: Value,
    /// The decisions the state offers (its transition keys).
    pub decisions: Vec<String>,
    /// Proof for `POST /_public/webhooks/approval/{job_id}` (as `X-Approval-Secret` or
    /// `secret`), for approvers without the client's token. New for every wait.
    pub secret: String,
    #[schema(example = "/_public/webhooks/approval/8c1e...")]
    pub approval_url: String,
    pub requested_at: String,
    /// When the `timeout` transition is taken, if the state has one.
    pub expires_at: Option<String>,
}

/// Branch counts of a parallel state.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ParallelView {
    pub total: u64,
    pub done: u64,
    pub failed: u64,
    pub running: u64,
}

/// `POST /_public/webhooks/approval/{job_id}` body.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ApprovalRequest {
    /// One of the waiting state's decisions, e.g. `approved`.
    #[schema(example = "approved")]
    pub decision: String,
    /// The wait's secret, if not sent as `X-Approval-Secret` (and no client token is).
    pub secret: Option<String>,
    /// Kept with the decision in the job context (`states.<state>.data.comment`).
    #[schema(value_type = Option<Value>)]
    pub comment: Option<Value>,
}

/// `POST /_public/webhooks/approval/{job_id}` answer.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ApprovalAnswer {
    /// Always `approval_received`.
    #[schema(example = "approval_received")]
    pub status: String,
    pub job_id: String,
    pub decision: String,
    /// The state the decision led to.
    pub next_state: String,
}

/// `GET /_public/jobs/quarantined` answer.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct QuarantinedJobs {
    pub count: u64,
    /// Newest first.
    pub jobs: Vec<QuarantinedJob>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct QuarantinedJob {
    pub job_id: String,
    pub blueprint_name: String,
    pub status: String,
    pub state: String,
    #[schema(value_type = Option<Object>)]
    pub error: Option<Value>,
    pub updated_at: String,
    pub quarantined_at: String,
}

/// `POST /_public/debug/flush_db` answer.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct Flushed {
    /// Always `db_flushed`.
    #[schema(example = "db_flushed")]
    pub status: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct JobTask {
    pub task_id: String,
    /// The skill.
    #[serde(rename = "type")]
    pub task_type: String,
    /// `queued`, `awaiting_retry` or `running`.
    pub state: String,
    /// Only when running.
    pub worker_id: Option<String>,
    /// Only when running (RFC 3339).
    pub started_at: Option<String>,
}

/// Answer to a cancellation.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct CancelAnswer {
    pub status: CancelStatus,
    pub job_id: String,
}

/// Answer to a pause, resume or retry.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ControlAnswer {
    pub job_id: String,
    /// The job's status now (`paused`, or where it runs again: `pending`, `running`...).
    pub status: String,
}

/// `POST /api/v1/jobs/{id}/retry`.
#[derive(Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryRequest {
    /// The state to run again from (default: the state that failed).
    #[serde(default)]
    pub state: Option<String>,
}

/// `sent`: the worker running it has a WebSocket and was told at once; `accepted`: it is
/// told on its next heartbeat (or the job was not running).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CancelStatus {
    CancellationRequestSent,
    CancellationRequestAccepted,
}

/// One entry of a job's history; the fields beyond these depend on `event_type`.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct HistoryEntry {
    /// `<job_id>:<index>`.
    pub event_id: String,
    pub job_id: String,
    /// `job_created`, `state_started` (`previous_state`, `next_state`), `task_queued`,
    /// `task_dispatched` (`worker_id`), `task_finished` (`worker_id`, `result_status`,
    /// `duration_ms`, `error`), `retry_scheduled`, `lease_expired`, `lease_revoked`
    /// (`worker_id`, `reason`), `task_released`,
    /// `task_timed_out`, `job_finished`, `job_failed`, `job_quarantined`, `job_cancelled`...
    pub event_type: String,
    /// RFC 3339.
    pub timestamp: String,
    pub timestamp_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The job's state when it happened.
    pub state: Option<String>,
    #[serde(flatten)]
    pub details: HashMap<String, Value>,
}

/// A live worker, as `GET /api/v1/workers` lists it.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct WorkerView {
    pub worker_id: String,
    pub worker_type: Option<String>,
    /// What its last heartbeat said, e.g. `idle` or `busy`.
    pub status: String,
    pub skills: Vec<String>,
    pub current_tasks: Vec<String>,
    /// Whether its WebSocket is connected.
    pub websocket: bool,
    /// RFC 3339.
    pub last_seen: String,
    pub registered_at: String,
    #[schema(value_type = Option<Value>)]
    pub capabilities: Option<Value>,
    #[schema(value_type = Option<Value>)]
    pub resources: Option<Value>,
}

/// Counts across the cluster.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct Dashboard {
    /// Job status → count (statuses with none left out).
    pub jobs: BTreeMap<String, u64>,
    pub workers: DashboardWorkers,
    /// Skill → its queue.
    pub queues: BTreeMap<String, QueueView>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct QueueView {
    /// Tasks waiting.
    pub depth: u64,
    /// Age of the oldest waiting task (by enqueue time, whatever its priority); null when
    /// the queue is empty.
    pub oldest_task_age_seconds: Option<f64>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct DashboardWorkers {
    pub total: u64,
    /// Worker status → count.
    pub by_status: BTreeMap<String, u64>,
}

/// A loaded blueprint.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct BlueprintSummary {
    pub name: String,
    pub version: String,
    /// The path that creates its jobs (POST).
    #[schema(example = "/api/v1/jobs/echo")]
    pub endpoint: String,
    pub description: Option<String>,
    /// Start state.
    pub start: String,
    pub states: Vec<String>,
    /// Skills it dispatches.
    pub skills: Vec<String>,
}

/// A blueprint with its definition as loaded.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct BlueprintDetail {
    #[serde(flatten)]
    pub summary: BlueprintSummary,
    /// The YAML definition as JSON (see `blueprints/blueprint.schema.json`).
    #[schema(value_type = Object)]
    pub definition: Value,
}

/// Answer to a registration.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct Registered {
    /// Always `registered`.
    #[schema(example = "registered")]
    pub status: String,
    /// Protocol version.
    #[schema(example = "1.0b15")]
    pub version: String,
}

/// `{"status": "..."}`.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct StatusOnly {
    #[schema(example = "ttl_refreshed")]
    pub status: String,
}

/// Tasks taken by one batch poll.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct TaskBatch {
    pub tasks: Vec<TaskPayload>,
}

/// Several results in one request.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ResultBatch {
    /// At most 256, each signed on its own as for `POST /_worker/tasks/result`.
    pub results: Vec<TaskResult>,
}

/// One answer per result, in order.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ResultBatchAnswer {
    pub results: Vec<BatchItemAnswer>,
}

/// The answer to one result of a batch: what the single route answers (a `ResultAck`),
/// or, for a result it would refuse with a 4xx, `status` `error` with its `error` and
/// `code`.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct BatchItemAnswer {
    /// `accepted`, `ignored` or `error`.
    #[schema(example = "accepted")]
    pub status: String,
    /// Why an `ignored` result was ignored.
    pub reason: Option<String>,
    /// The state the job moved to, when `accepted`.
    pub transition: Option<String>,
    /// What is wrong with an `error` result.
    pub error: Option<String>,
    /// The error code, as in the error shape.
    pub code: Option<String>,
}

/// `X-Worker-ID`: which worker the call acts for (optional where the body or the URL
/// names it).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct WorkerIdHeader {
    /// The worker the call acts for; required by an individual worker token when neither
    /// the URL nor the body names the worker.
    #[serde(rename = "X-Worker-ID")]
    pub worker_id: Option<String>,
}

/// Query of a task long-poll.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PollQuery {
    /// Seconds to hold the request when no task is queued (capped by the server's hold);
    /// 0 to 1000000000, else 400.
    #[param(minimum = 0, maximum = 1000000000)]
    pub timeout: Option<f64>,
    /// Comma-separated skills to take tasks of; default: the registered skills.
    #[param(example = "echo,resize")]
    pub available_skills: Option<String>,
}

/// Query of a batch long-poll.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BatchQuery {
    /// Most tasks to take (1 to 256, default 1).
    #[param(minimum = 1, maximum = 256)]
    pub max: Option<u32>,
    /// Seconds to hold the request when no task is queued (capped by the server's hold);
    /// 0 to 1000000000, else 400.
    #[param(minimum = 0, maximum = 1000000000)]
    pub timeout: Option<f64>,
    /// Comma-separated skills to take tasks of; default: the registered skills.
    pub available_skills: Option<String>,
}
