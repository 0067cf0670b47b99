//! The loop every orchestrator runs for schedules: claim what is due, fire it, commit.
//!
//! A tick fires once whatever the number of orchestrators: the claim is atomic in the
//! store, the execution's id is derived from the schedule and the tick (a tick claimed
//! again after its claimer died finds its execution started and starts nothing), and
//! the commit is a compare-and-set that only the claim's holder can make.
//!
//! A tick found late by more than the grace ([`SchedulerConfig::grace`]; everything was
//! down over it) is a misfire: `fire_once` runs it once and goes on from now (missed
//! ticks are not run one by one), `skip` runs nothing and goes on from now. A tick late
//! by less (a claimer died, the store was slow) runs, and so does each tick after it, so
//! none is lost. With `overlap: skip`, a tick whose previous run is still going runs
//! nothing. Every tick leaves a history row.

use super::{Misfire, Overlap, ScheduleStatus, StoredSchedule};
use crate::error::{WfError, WfResult};
use crate::executions::{self, StartOptions};
use crate::triggers::ScheduleCas;
use crate::FaceRef;
use baton_protocol::clock::{now_ms, rfc3339};
use futures_util::StreamExt;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// How the loop runs (`BATON_SCHEDULE_*`).
#[derive(Debug, Clone, Copy)]
pub struct SchedulerConfig {
    /// How long a claim holds a schedule before another orchestrator may take it.
    pub lease: Duration,
    /// How late a tick may be and still run as itself (else it is a misfire).
    pub grace: Duration,
    /// Most schedules claimed in one round.
    pub batch: usize,
    /// Most fired at once.
    pub concurrency: usize,
    /// History rows kept per schedule or webhook.
    pub keep_runs: usize,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            lease: Duration::from_secs(2),
            grace: Duration::from_secs(5),
            batch: 200,
            concurrency: 32,
            keep_runs: 100,
        }
    }
}

/// Longest sleep between two looks at the due set: schedules changed on another
/// orchestrator are seen within this.
const MAX_IDLE: Duration = Duration::from_secs(1);

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// An id shaped like a UUID from `parts` (SHA-256): the same parts, the same id.
pub fn derived_id(parts: &[&str]) -> String {
    let digest = Sha256::digest(parts.join("\u{1f}").as_bytes());
    let h = hex::encode(&digest[..16]);
    format!(
        "{}-{}-8{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[13..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Runs until the face drains.
pub async fn run(face: FaceRef) {
    let cfg = face.cfg.scheduler;
    tracing::info!(
        lease_ms = ms(cfg.lease),
        grace_ms = ms(cfg.grace),
        "scheduler started"
    );
    loop {
        if face.shutdown.is_cancelled() {
            break;
        }
        let claimed = match round(&face).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e.message, "scheduler round failed; retrying");
                0
            }
        };
        if claimed >= cfg.batch {
            continue; // more may be due right now
        }
        let wait = match face.records.next_due().await {
            Ok(Some(at)) => Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0)),
            _ => MAX_IDLE,
        }
        .min(MAX_IDLE);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = face.schedules_changed.notified() => {}
            _ = face.shutdown.cancelled() => break,
        }
    }
    tracing::info!("scheduler stopped");
}

/// Claims what is due and fires it; how many were claimed.
async fn round(face: &FaceRef) -> WfResult<usize> {
    let cfg = face.cfg.scheduler;
    let claimed = face
        .records
        .claim_due(now_ms(), ms(cfg.lease), cfg.batch)
        .await?;
    let n = claimed.len();
    futures_util::stream::iter(claimed)
        .for_each_concurrent(cfg.concurrency, |(id, claim)| async move {
            if let Err(e) = fire(face, &id, claim).await {
                face.metrics
                    .schedule_fires
                    .with_label_values(&["failed"])
                    .inc();
                tracing::warn!(schedule = %id, error = %e.message, "schedule tick not fired; it is due again when the claim ends");
            }
        })
        .await;
    Ok(n)
}

/// What one tick does.
enum Decision {
    /// Start an execution (a catch-up run when late).
    Fire { catch_up: bool },
    /// Start nothing, for this reason.
    Skip(String),
}

async fn still_running(face: &FaceRef, execution: &str) -> WfResult<bool> {
    Ok(face
        .engine
        .store
        .get_job(execution)
        .await?
        .is_some_and(|j| !baton_protocol::job_status::is_terminal(&j.status)))
}

async fn decide(face: &FaceRef, s: &StoredSchedule, tick: i64, now: i64) -> WfResult<Decision> {
    let late = now - tick > ms(face.cfg.scheduler.grace);
    if let (Overlap::Skip, Some(last)) = (s.def.overlap, &s.life.last_execution) {
        if still_running(face, last).await? {
            return Ok(Decision::Skip(format!(
                "the previous run ({last}) is still going (overlap: skip)"
            )));
        }
    }
    match (late, s.def.misfire) {
        (true, Misfire::Skip) => Ok(Decision::Skip(format!(
            "missed: due at {}, found {} s late (misfire: skip)",
            rfc3339(tick),
            (now - tick) / 1000
        ))),
        (late, _) => Ok(Decision::Fire { catch_up: late }),
    }
}

/// Fires the tick of schedule `id` that this orchestrator claimed (`claim`).
pub async fn fire(face: &FaceRef, id: &str, claim: i64) -> WfResult<()> {
    let Some(raw) = face.records.get_schedule(id).await? else {
        return Ok(()); // deleted meanwhile: its due entry went with it
    };
    let s = StoredSchedule::parse(&raw)?;
    let tick = match s.life.next_run_ms {
        Some(t) if s.def.status == ScheduleStatus::Active => t,
        _ => {
            // Paused: out of the due set until resumed.
            let cas = ScheduleCas {
                id,
                expected: Some(&raw),
                new: Some(&raw),
                next_ms: None,
                claimed: Some(claim),
            };
            face.records.cas_schedule(cas).await?;
            return Ok(());
        }
    };
    let now = now_ms();
    let timing = s.timing()?;
    let decision = decide(face, &s, tick, now).await?;
    let late = matches!(decision, Decision::Fire { catch_up: true })
        || now - tick > ms(face.cfg.scheduler.grace);
    let next = if late {
        timing.next_after(now)
    } else {
        timing.next_after(tick)
    };
    let run_id = derived_id(&[
        "schedule",
        &s.def.id,
        &s.life.created_ms.to_string(),
        &tick.to_string(),
    ]);
    let fired = match decision {
        Decision::Fire { catch_up } => {
            let trigger = if catch_up { "catch_up" } else { "schedule" };
            start(face, &s, &run_id, tick, trigger).await?
        }
        Decision::Skip(reason) => {
            let outcome = if reason.contains("overlap") {
                "skipped_overlap"
            } else {
                "skipped_misfire"
            };
            face.metrics
                .schedule_fires
                .with_label_values(&[outcome])
                .inc();
            tracing::info!(schedule = %id, reason, "schedule tick skipped");
            let row = json!({"schedule_id": s.def.id, "workflow_id": s.def.workflow_id,
                "executed_at": rfc3339(now), "scheduled_for": rfc3339(tick), "status": "skipped",
                "duration_seconds": null, "error": reason, "execution_id": null, "trigger": "schedule"});
            put_row(face, &s.owner(), &run_id, now, &row).await?;
            false
        }
    };
    commit(face, &raw, s, claim, next, fired.then_some(run_id), now).await
}

async fn put_row(face: &FaceRef, owner: &str, run_id: &str, at: i64, row: &Value) -> WfResult<()> {
    let keep = face.cfg.scheduler.keep_runs;
    Ok(face
        .records
        .put_run(owner, run_id, at, &row.to_string(), keep)
        .await?)
}

/// Starts the tick's execution under `run_id`; whether this orchestrator (or a claimer
/// that died after starting it) started it.
async fn start(
    face: &FaceRef,
    s: &StoredSchedule,
    run_id: &str,
    tick: i64,
    trigger: &str,
) -> WfResult<bool> {
    let now = now_ms();
    let base = json!({"schedule_id": s.def.id, "workflow_id": s.def.workflow_id,
        "executed_at": rfc3339(now), "scheduled_for": rfc3339(tick), "status": "running",
        "duration_seconds": null, "error": null, "execution_id": run_id, "trigger": trigger});
    let started = match executions::find_workflow(face, &s.def.workflow_id).await {
        Ok(wf) => {
            let opts = StartOptions {
                id: Some(run_id.to_string()),
                trigger: Some(json!({"kind": "schedule", "owner": s.owner(), "row": base})),
            };
            executions::start_with(face, &wf, &s.def.variables, opts).await
        }
        Err(e) => Err(e),
    };
    match started {
        Ok(_) => {
            face.metrics
                .schedule_lag
                .observe((now - tick).max(0) as f64 / 1000.0);
            face.metrics
                .schedule_fires
                .with_label_values(&[trigger])
                .inc();
            put_row(face, &s.owner(), run_id, now, &base).await?;
            // A quick execution may have ended before its row was there to complete.
            crate::runs::refresh(face, run_id).await;
            tracing::info!(schedule = %s.def.id, execution = %run_id, lag_ms = now - tick, trigger, "schedule fired");
            Ok(true)
        }
        Err(e) if e.status == warp::http::StatusCode::CONFLICT && e.code == "CONFLICT" => {
            // Started by a claimer that died before committing: its row may be missing.
            if face
                .records
                .update_run(&s.owner(), run_id, &base.to_string())
                .await?
            {
                tracing::debug!(schedule = %s.def.id, "tick already fired");
            } else {
                put_row(face, &s.owner(), run_id, now, &base).await?;
            }
            crate::runs::refresh(face, run_id).await;
            Ok(true)
        }
        Err(e) => {
            // The workflow is gone or does not run: the tick is recorded as failed.
            let mut row = base;
            row["status"] = "failed".into();
            row["error"] = e.message.clone().into();
            row["execution_id"] = Value::Null;
            put_row(face, &s.owner(), run_id, now, &row).await?;
            face.metrics
                .schedule_fires
                .with_label_values(&["failed"])
                .inc();
            tracing::warn!(schedule = %s.def.id, error = %e.message, "schedule tick failed to start");
            Ok(false)
        }
    }
}

/// Moves the schedule to its next tick, counting the run; if the document changed
/// meanwhile (an update, a pause), their version stands and only the run is added.
async fn commit(
    face: &FaceRef,
    raw: &str,
    s: StoredSchedule,
    claim: i64,
    next: Option<i64>,
    execution: Option<String>,
    now: i64,
) -> WfResult<()> {
    let id = s.def.id.clone();
    let mut done = s;
    done.life.next_run_ms = next;
    add_run(&mut done, execution.as_deref(), now);
    let text = done.encode()?;
    let cas = ScheduleCas {
        id: &id,
        expected: Some(raw),
        new: Some(&text),
        next_ms: next,
        claimed: Some(claim),
    };
    if face.records.cas_schedule(cas).await? {
        return Ok(());
    }
    for _ in 0..5 {
        let Some(current) = face.records.get_schedule(&id).await? else {
            return Ok(()); // deleted
        };
        let mut s = StoredSchedule::parse(&current)?;
        if current == raw || execution.is_none() || s.life.last_execution == execution {
            // The claim ran out and another orchestrator holds this tick; or there is
            // no run to add.
            return Ok(());
        }
        add_run(&mut s, execution.as_deref(), now);
        let text = s.encode()?;
        let due = s
            .life
            .next_run_ms
            .filter(|_| s.def.status == ScheduleStatus::Active);
        let cas = ScheduleCas {
            id: &id,
            expected: Some(&current),
            new: Some(&text),
            next_ms: due,
            claimed: None,
        };
        if face.records.cas_schedule(cas).await? {
            return Ok(());
        }
    }
    Err(WfError::conflict(format!(
        "schedule {id} kept changing while its run was recorded"
    )))
}

fn add_run(s: &mut StoredSchedule, execution: Option<&str>, now: i64) {
    if let Some(exec) = execution {
        s.life.last_run_ms = Some(now);
        s.life.run_count += 1;
        s.life.last_execution = Some(exec.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::derived_id;

    #[test]
    fn derived_ids_are_stable_and_shaped_like_uuids() {
        let a = derived_id(&["schedule", "s", "1", "2"]);
        assert_eq!(a, derived_id(&["schedule", "s", "1", "2"]));
        assert_ne!(a, derived_id(&["schedule", "s", "12", ""]));
        assert_eq!(a.len(), 36);
        assert!(uuid::Uuid::parse_str(&a).is_ok(), "{a}");
    }
}
