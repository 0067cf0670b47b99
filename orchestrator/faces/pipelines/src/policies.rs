//! Exec and QA outcomes applied with the step's CodeMachine policies (the reference's
//! "CodeMachine import"), each as one atomic [`change_steps`](super::StepState::change_steps).
//!
//! A step's `policy` is an object or a list of objects `{type: "loop"|"trigger", ...,
//! module_id}` (imports also write upstream's names beside: `behavior`, `max_iterations`,
//! ..., see [`super::codemachine::with_upstream_names`]; either form is read); its
//! `runtime_state` is an object the orchestrator keeps:
//! `{loop_counts: {module: n}, inline_trigger_depth: n, last_decision: {...},
//! last_outcome: job id}`.
//!
//! | outcome | no policy | with a policy |
//! |---|---|---|
//! | exec failed / QA FAIL | step failed, run blocked | `loop` under `maxIterations`: the steps from `index - stepBack` (but `skip`) go back to `pending`, the count +1, event `loop_decision`, the run is not blocked and its first pending step runs next; at the limit: event `loop_limit_reached`, then as without policy |
//! | exec done, QA skipped / QA PASS | step completed, run maybe completed | `trigger`: the target agent's step goes back to `pending` and runs next (its `inline_trigger_depth` is the source's + 1); at depth [`MAX_TRIGGER_DEPTH`] nothing is triggered (event `trigger_inline_depth_exceeded`) |
//!
//! Idempotent and race-safe: the change is a compare-and-set on the step's status *and*
//! its `runtime_state` (as read), which also records the outcome's job id
//! (`last_outcome`); a redelivered outcome finds the status moved or its own job id and
//! changes nothing, and of two orchestrators applying one outcome only one wins (the
//! loser re-reads and sees the change made).
//!
//! What to do next (run a step, run QA) is returned as [`FollowUp`]s: enqueuing jobs is
//! the engine's part (`engine::pipeline_jobs`).

use super::model::{Id, StepRun};
use super::outcomes::{block, complete_if_done, event, Applied};
use super::status::{ProtocolStatus, StepAction, StepStatus};
use super::step_state::{StepChange, StepUpdate};
use super::store::{RecordResult, RecordStore};
use baton_protocol::codemachine::{loop_decision, trigger_decision, LoopDecision};
use serde_json::{json, Value};

pub use baton_protocol::codemachine::MAX_TRIGGER_DEPTH;

/// Work the orchestrator does after an outcome was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowUp {
    /// Run this step (`pending → running`) and enqueue its `execute_step` job.
    RunStep(Id),
    /// Enqueue a `run_quality` job for this step (already `needs_qa`).
    RunQa(Id),
}

/// What applying an outcome did, and what follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub applied: Applied,
    pub follow_ups: Vec<FollowUp>,
}

impl Outcome {
    fn unchanged() -> Outcome {
        Outcome {
            applied: Applied::Unchanged,
            follow_ups: Vec::new(),
        }
    }
    fn changed(follow_ups: Vec<FollowUp>) -> Outcome {
        Outcome {
            applied: Applied::Changed,
            follow_ups,
        }
    }
}

/// The step's policies of `kind` (`policy` is an object or a list; the kind is in `type`,
/// or in `behavior` as upstream writes it).
pub fn policies(step: &StepRun, kind: &str) -> Vec<Value> {
    let list = match &step.policy {
        Some(Value::Array(list)) => list.clone(),
        Some(v @ Value::Object(_)) => vec![v.clone()],
        _ => Vec::new(),
    };
    list.into_iter()
        .filter(|p| p["type"] == kind || p["behavior"] == kind)
        .collect()
}

/// A short summary line: the first non-empty line, at most 200 characters.
pub fn summary_of(text: &str) -> String {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty());
    line.unwrap_or("").chars().take(200).collect()
}

/// How often one outcome is retried after losing a race on the step's state.
const CAS_ATTEMPTS: usize = 5;

/// The step's state with the outcome's job id recorded; `None` if this outcome was
/// already applied (a redelivery).
fn state_for(step: &StepRun, job_id: Option<&str>) -> Option<Value> {
    let mut state = match &step.runtime_state {
        Some(v @ Value::Object(_)) => v.clone(),
        _ => json!({}),
    };
    if let Some(job) = job_id {
        if state["last_outcome"] == job {
            return None;
        }
        state["last_outcome"] = json!(job);
    }
    Some(state)
}

/// A failure (exec failed from `running`, QA FAIL from `needs_qa`): a loop policy or the
/// failure path.
pub async fn fail(
    store: &dyn RecordStore,
    step_id: Id,
    action: StepAction,
    summary: String,
    job_id: Option<&str>,
    failed_event: (&str, String, Option<Value>),
) -> RecordResult<Outcome> {
    for _ in 0..CAS_ATTEMPTS {
        let step = store.get_step_run(step_id).await?;
        if !action.allowed_from().contains(&step.status) {
            return Ok(Outcome::unchanged());
        }
        let Some(mut state) = state_for(&step, job_id) else {
            return Ok(Outcome::unchanged());
        };
        let run = step.protocol_run_id;
        let decision = policies(&step, "loop").first().map(|p| {
            (
                p.clone(),
                loop_decision(p, step.step_index as usize, &mut state),
            )
        });
        let mut changes = Vec::new();
        let to = match &decision {
            Some((p, LoopDecision::Loop { reset, count })) => {
                state["last_decision"] = json!({"type": "loop", "module_id": p["module_id"], "count": count, "reset": reset});
                for s in store.list_step_runs(run).await? {
                    if s.id != step.id && reset.contains(&(s.step_index as usize)) {
                        changes.push(StepChange {
                            id: s.id,
                            allowed_from: StepAction::Reset.allowed_from().to_vec(),
                            to: Some(StepStatus::Pending),
                            ..StepChange::default()
                        });
                    }
                }
                StepStatus::Pending
            }
            Some((p, LoopDecision::LimitReached { count })) => {
                state["last_decision"] = json!({"type": "loop_limit_reached", "module_id": p["module_id"], "count": count});
                action.to()
            }
            None => action.to(),
        };
        changes.insert(
            0,
            StepChange {
                id: step.id,
                allowed_from: action.allowed_from().to_vec(),
                to: Some(to),
                expect_runtime_state: Some(step.runtime_state.clone()),
                update: StepUpdate {
                    summary: Some(summary.clone()),
                    runtime_state: (decision.is_some() || job_id.is_some()).then(|| state.clone()),
                    ..StepUpdate::default()
                },
            },
        );
        if !store.change_steps(changes).await?.applied() {
            continue; // re-read: a redelivery or a race, sorted out above
        }
        let (kind, message, meta) = failed_event.clone();
        event(store, run, Some(step.id), kind, message, meta).await?;
        match decision {
            Some((p, LoopDecision::Loop { reset, count })) => {
                event(
                    store,
                    run,
                    Some(step.id),
                    "loop_decision",
                    format!("{}: loop {} of {}; steps {reset:?} back to pending", step.step_name, count, p["maxIterations"]),
                    Some(json!({"module_id": p["module_id"], "count": count, "reset": reset, "loop_counts": state["loop_counts"]})),
                )
                .await?;
                return Ok(Outcome::changed(next_pending(store, run).await?));
            }
            Some((p, LoopDecision::LimitReached { count })) => {
                event(
                    store,
                    run,
                    Some(step.id),
                    "loop_limit_reached",
                    format!(
                        "{}: loop limit {} reached",
                        step.step_name, p["maxIterations"]
                    ),
                    Some(json!({"module_id": p["module_id"], "count": count})),
                )
                .await?;
            }
            None => {}
        }
        block(store, run, &step.step_name).await?;
        return Ok(Outcome::changed(Vec::new()));
    }
    tracing::warn!(step_id, "outcome not applied: the step kept changing");
    Ok(Outcome::unchanged())
}

/// The first pending step of an active run, to run next.
async fn next_pending(store: &dyn RecordStore, run: Id) -> RecordResult<Vec<FollowUp>> {
    let status = store.get_protocol_run(run).await?.status;
    if !matches!(status, ProtocolStatus::Running | ProtocolStatus::Planned) {
        return Ok(Vec::new());
    }
    let steps = store.list_step_runs(run).await?;
    Ok(steps
        .iter()
        .filter(|s| s.status == StepStatus::Pending)
        .min_by_key(|s| s.step_index)
        .map(|s| vec![FollowUp::RunStep(s.id)])
        .unwrap_or_default())
}

/// A success (`action` is `ExecDone`, `ExecDoneSkipQa` or `QaPassed`): a trigger policy
/// when the step completes; the run completes when every step is done.
pub async fn succeed(
    store: &dyn RecordStore,
    step_id: Id,
    action: StepAction,
    summary: String,
    job_id: Option<&str>,
    done_event: (&str, String, Option<Value>),
) -> RecordResult<Outcome> {
    let completes = action.to() == StepStatus::Completed;
    for _ in 0..CAS_ATTEMPTS {
        let step = store.get_step_run(step_id).await?;
        if !action.allowed_from().contains(&step.status) {
            return Ok(Outcome::unchanged());
        }
        let Some(mut state) = state_for(&step, job_id) else {
            return Ok(Outcome::unchanged());
        };
        let run = step.protocol_run_id;
        let mut changes = Vec::new();
        // (target step, its depth) or why nothing is triggered
        let mut triggered: Option<Result<(StepRun, u64), String>> = None;
        if let Some(p) = policies(&step, "trigger").first().filter(|_| completes) {
            let mut depth_state = state.clone();
            triggered = Some(match trigger_decision(p, &mut depth_state) {
                Ok(agent) => {
                    let depth = depth_state["inline_trigger_depth"].as_u64().unwrap_or(1);
                    let steps = store.list_step_runs(run).await?;
                    match steps.into_iter().find(|s| agent_of(s) == agent) {
                        Some(target) => Ok((target, depth)),
                        None => Err(format!("no step of agent `{agent}`")),
                    }
                }
                Err(why) => Err(why),
            });
            state["last_decision"] = match &triggered {
                Some(Ok((t, depth))) => {
                    json!({"type": "trigger", "target_step": t.step_name, "depth": depth})
                }
                Some(Err(why)) => json!({"type": "trigger_skipped", "why": why}),
                None => Value::Null,
            };
        }
        changes.push(StepChange {
            id: step.id,
            allowed_from: action.allowed_from().to_vec(),
            to: Some(action.to()),
            expect_runtime_state: Some(step.runtime_state.clone()),
            update: StepUpdate {
                summary: Some(summary.clone()),
                runtime_state: (triggered.is_some() || job_id.is_some()).then(|| state.clone()),
                ..StepUpdate::default()
            },
        });
        if let Some(Ok((target, depth))) = &triggered {
            let mut target_state = match (&target.runtime_state, target.id == step.id) {
                (_, true) => state.clone(),
                (Some(v @ Value::Object(_)), false) => v.clone(),
                _ => json!({}),
            };
            target_state["inline_trigger_depth"] = json!(depth);
            changes.push(StepChange {
                id: target.id,
                allowed_from: StepAction::Reset.allowed_from().to_vec(),
                to: Some(StepStatus::Pending),
                update: StepUpdate {
                    runtime_state: Some(target_state),
                    ..StepUpdate::default()
                },
                ..StepChange::default()
            });
        }
        if !store.change_steps(changes).await?.applied() {
            continue;
        }
        let (kind, message, meta) = done_event.clone();
        event(store, run, Some(step.id), kind, message, meta).await?;
        let mut follow_ups = Vec::new();
        match triggered {
            Some(Ok((target, depth))) => {
                event(
                    store,
                    run,
                    Some(step.id),
                    "trigger_decision",
                    format!(
                        "{} triggers {} (inline depth {depth})",
                        step.step_name, target.step_name
                    ),
                    Some(json!({"target_step_run_id": target.id, "depth": depth})),
                )
                .await?;
                let status = store.get_protocol_run(run).await?.status;
                if matches!(status, ProtocolStatus::Running | ProtocolStatus::Planned) {
                    follow_ups.push(FollowUp::RunStep(target.id));
                }
            }
            Some(Err(why)) => {
                let kind = if why.starts_with("trigger_inline_depth_exceeded") {
                    "trigger_inline_depth_exceeded"
                } else {
                    "trigger_skipped"
                };
                event(
                    store,
                    run,
                    Some(step.id),
                    kind,
                    format!("{}: {why}", step.step_name),
                    None,
                )
                .await?;
            }
            None => {}
        }
        if completes {
            complete_if_done(store, run).await?;
        }
        return Ok(Outcome::changed(follow_ups));
    }
    tracing::warn!(step_id, "outcome not applied: the step kept changing");
    Ok(Outcome::unchanged())
}

/// The CodeMachine agent of a step `NN-<agent>` (imported steps are named so).
fn agent_of(step: &StepRun) -> &str {
    step.step_name
        .split_once('-')
        .filter(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .map_or(step.step_name.as_str(), |(_, agent)| agent)
}

/// Whether the run's spec (an imported template) says the step's QA is skipped.
pub fn qa_skipped_by_spec(template_config: Option<&Value>, step_name: &str) -> bool {
    template_config
        .and_then(|c| c["protocol_spec"]["steps"].as_array())
        .is_some_and(|steps| {
            steps
                .iter()
                .any(|s| s["step_name"] == step_name && s["qa"]["policy"] == "skip")
        })
}

/// Applies an execution outcome `{"success", "skip_qa"?, "output"?, "error"?}` to a
/// running step; QA is also skipped when the run's spec says so (imported steps).
pub async fn exec_outcome(
    store: &dyn RecordStore,
    step: Id,
    outcome: &Value,
    job_id: Option<&str>,
) -> RecordResult<Outcome> {
    let record = store.get_step_run(step).await?;
    let meta = job_id.map(|j| json!({"job_id": j}));
    if !outcome["success"].as_bool().unwrap_or(false) {
        let why = outcome["error"].as_str().unwrap_or("execution failed");
        let message = format!("{}: {why}", record.step_name);
        let ev = ("step_failed", message, meta);
        return fail(
            store,
            step,
            StepAction::ExecFailed,
            summary_of(why),
            job_id,
            ev,
        )
        .await;
    }
    let mut skip_qa = outcome["skip_qa"].as_bool().unwrap_or(false);
    if !skip_qa {
        let run = store.get_protocol_run(record.protocol_run_id).await?;
        skip_qa = qa_skipped_by_spec(run.template_config.as_ref(), &record.step_name);
    }
    let action = if skip_qa {
        StepAction::ExecDoneSkipQa
    } else {
        StepAction::ExecDone
    };
    let summary = match outcome["output"].as_str().map(summary_of) {
        Some(s) if !s.is_empty() => s,
        _ => "executed".to_string(),
    };
    let ev = (
        "step_executed",
        format!("{} executed", record.step_name),
        meta,
    );
    succeed(store, step, action, summary, job_id, ev).await
}

/// Applies a QA verdict (`PASS` or anything else: FAIL) to a step waiting for QA.
pub async fn qa_outcome(
    store: &dyn RecordStore,
    step: Id,
    verdict: &str,
    report: &str,
    job_id: Option<&str>,
) -> RecordResult<Outcome> {
    let record = store.get_step_run(step).await?;
    let pass = verdict.eq_ignore_ascii_case("PASS");
    let word = if pass { "PASS" } else { "FAIL" };
    let excerpt: String = report.chars().take(2000).collect();
    let mut meta = json!({"verdict": verdict, "report": excerpt});
    if let Some(j) = job_id {
        meta["job_id"] = json!(j);
    }
    let message = format!("{}: QA {word}", record.step_name);
    let summary = format!("QA {word}: {}", summary_of(report))
        .trim_end_matches(": ")
        .to_string();
    if pass {
        let ev = ("qa_passed", message, Some(meta));
        succeed(store, step, StepAction::QaPassed, summary, job_id, ev).await
    } else {
        let ev = ("qa_failed", message, Some(meta));
        fail(store, step, StepAction::QaFailed, summary, job_id, ev).await
    }
}

#[cfg(test)]
#[path = "policies_tests.rs"]
mod tests;
