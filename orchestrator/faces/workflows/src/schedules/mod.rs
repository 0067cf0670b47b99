//! Schedules: executions started by time.
//!
//! The data: a [`ScheduleDef`] as clients send it (a workflow, a cron pattern in a time
//! zone or an interval, variables, what a missed tick and an overlapping run do), kept
//! with its life ([`ScheduleLife`]: the next tick, the last run, how many ran, the last
//! execution) as one document in the face's store ([`crate::triggers`]); an active
//! schedule also has an entry in the store's due set. Every orchestrator runs the same
//! loop ([`runner`]): claim what is due (atomically, so each tick is taken by one),
//! start its execution under an id derived from the schedule and the tick (so a tick
//! taken again after its claimer died starts nothing new), record a history row and
//! commit the next tick. The row is completed when the execution ends (the face's
//! engine hook, [`crate::runs`]).

pub mod runner;
pub mod timing;

use crate::error::{WfError, WfResult};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use timing::{CronConfig, IntervalConfig, Timing};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleType {
    Cron,
    Interval,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleStatus {
    #[default]
    Active,
    Paused,
}

/// What a tick missed by more than the grace does (everything was down over it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Misfire {
    /// One run for all the ticks missed, then on schedule.
    #[default]
    FireOnce,
    /// No run for them (a `skipped` history row), then on schedule.
    Skip,
}

/// What a tick does while the previous run of the schedule is still going.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Overlap {
    /// Starts another.
    #[default]
    Allow,
    /// Starts nothing (a `skipped` history row).
    Skip,
}

/// A schedule as clients send it (`POST /v1/schedules`, `PUT /v1/schedules/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleDef {
    /// Letters, digits, `-`, `_`; at most 128 characters.
    pub id: String,
    /// A JSON or YAML workflow.
    pub workflow_id: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub schedule_type: ScheduleType,
    #[serde(default)]
    pub cron_config: Option<CronConfig>,
    #[serde(default)]
    pub interval_config: Option<IntervalConfig>,
    /// An IANA time zone for the cron pattern (default `UTC`).
    #[serde(default)]
    pub timezone: Option<String>,
    /// The execution's variables.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub variables: Map<String, Value>,
    #[serde(default)]
    pub status: ScheduleStatus,
    #[serde(default)]
    pub misfire: Misfire,
    #[serde(default)]
    pub overlap: Overlap,
}

/// A schedule's life, kept beside its definition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScheduleLife {
    pub created_ms: i64,
    pub updated_ms: i64,
    /// Where an interval counts from: the creation, the last change or resume.
    pub anchor_ms: i64,
    /// The tick to fire next (none while paused).
    pub next_run_ms: Option<i64>,
    pub last_run_ms: Option<i64>,
    pub run_count: u64,
    /// The execution the last run started.
    pub last_execution: Option<String>,
}

/// A schedule as kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredSchedule {
    pub def: ScheduleDef,
    pub life: ScheduleLife,
}

fn bad(field: &str, message: impl Into<String>) -> WfError {
    WfError::bad_request(message).with("field", field.to_string())
}

impl ScheduleDef {
    /// Checks everything but the workflow's existence; the timing it describes (an
    /// interval counted from `anchor_ms`). 400 `VALIDATION` naming the field.
    pub fn timing(&self, anchor_ms: i64) -> WfResult<Timing> {
        crate::triggers::check_names(&self.id, &self.name, &self.workflow_id)?;
        let tz = timing::zone(self.timezone.as_deref()).map_err(|e| bad(&e.field, e.message))?;
        match (self.schedule_type, &self.cron_config, &self.interval_config) {
            (ScheduleType::Cron, Some(c), None) => {
                let cron = timing::cron(c).map_err(|e| bad(&e.field, e.message))?;
                Ok(Timing::Cron {
                    cron: Box::new(cron),
                    tz,
                })
            }
            (ScheduleType::Interval, None, Some(i)) => {
                let every = i.millis().ok_or_else(|| {
                    bad(
                        "interval_config",
                        "an interval is at least one second and at most 3650 days",
                    )
                })?;
                Ok(Timing::Interval {
                    every_ms: i64::try_from(every).unwrap_or(i64::MAX),
                    anchor_ms,
                })
            }
            (ScheduleType::Cron, None, _) => Err(bad(
                "cron_config",
                "a cron schedule needs `cron_config` ({minute, hour, day, month, day_of_week})",
            )),
            (ScheduleType::Interval, _, None) => Err(bad(
                "interval_config",
                "an interval schedule needs `interval_config` ({seconds, minutes, hours, days})",
            )),
            (ScheduleType::Cron, _, Some(_)) => Err(bad(
                "interval_config",
                "a cron schedule takes no `interval_config`",
            )),
            (ScheduleType::Interval, Some(_), _) => Err(bad(
                "cron_config",
                "an interval schedule takes no `cron_config`",
            )),
        }
    }
}

impl StoredSchedule {
    pub fn parse(raw: &str) -> WfResult<StoredSchedule> {
        serde_json::from_str(raw).map_err(WfError::internal)
    }

    pub fn encode(&self) -> WfResult<String> {
        serde_json::to_string(self).map_err(WfError::internal)
    }

    pub fn timing(&self) -> WfResult<Timing> {
        self.def.timing(self.life.anchor_ms)
    }

    /// The owner of its history rows.
    pub fn owner(&self) -> String {
        owner(&self.def.id)
    }
}

/// The owner of schedule `id`'s history rows in the store.
pub fn owner(id: &str) -> String {
    format!("schedule:{id}")
}
