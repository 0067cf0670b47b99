//! What a CI result ([`CiSignal`], read from a GitHub or GitLab webhook by
//! [`super::webhooks`]) changes in a protocol run's records.
//!
//! Every signal is recorded first, as an event `ci_<status>` (`ci_success`,
//! `ci_running`, `ci_failure`, `ci_other`) whose metadata keeps the provider's words
//! ([`signal_meta`]; the run's CI summary is read back from these). Then:
//!
//! | signal | change |
//! |---|---|
//! | merged PR / MR | event `pr_merged` (GitHub) or `mr_merged` (GitLab), the names upstream's clients look for; the run → completed (`protocol_completed`) |
//! | success | the step CI is about → completed, the run completed when every step is; with auto-QA on CI ([`ci_success_to_qa`]) → `needs_qa` and a QA job follows |
//! | failure | that step → failed, the run blocked |
//! | running, other | nothing more |
//!
//! The step CI is about ([`ci_step`]) is the step in work (the last updated `running` or
//! `needs_qa` one); without one, the run's latest step (last updated, as upstream
//! chose it) when that step is still `pending`: a client that drives steps by hand
//! reports CI before any step ran. A latest step that already finished is never reopened
//! by CI (the result is recorded and changes nothing).

use super::model::{Id, StepRun};
use super::outcomes::{block, complete_if_done, event};
use super::policies::FollowUp;
use super::status::{ProtocolAction, StepStatus};
use super::store::{RecordResult, RecordStore};
use super::webhooks::{CiSignal, CiStatus};
use serde_json::{json, Value};

/// The statuses a CI result moves a step from (those [`ci_step`] picks).
const CI_FROM: &[StepStatus] = &[
    StepStatus::Pending,
    StepStatus::Running,
    StepStatus::NeedsQa,
];

/// The step a CI result is about (see the module docs), if any.
pub fn ci_step(steps: &[StepRun]) -> Option<&StepRun> {
    let latest = |s: &&StepRun| (s.updated_at, s.step_index);
    steps
        .iter()
        .filter(|s| matches!(s.status, StepStatus::NeedsQa | StepStatus::Running))
        .max_by_key(latest)
        .or_else(|| {
            steps
                .iter()
                .max_by_key(latest)
                .filter(|s| s.status == StepStatus::Pending)
        })
}

/// The metadata of a signal's event: Baton's reading (`status`, `merged`, `branch`) and
/// the provider's words (`event`, `provider_status`, `conclusion`, `pr_number`, `sha`,
/// `check_name`).
pub fn signal_meta(signal: &CiSignal, provider: &str, step: Option<Id>) -> Value {
    let d = &signal.detail;
    json!({
        "provider": provider, "branch": signal.branch, "status": signal.status.as_str(),
        "merged": signal.merged, "event": d.event, "provider_status": d.status,
        "conclusion": d.conclusion, "pr_number": d.pr_number, "sha": d.sha,
        "check_name": d.check_name, "step_run_id": step,
    })
}

/// Records a signal (`ci_<status>`); the step it is about.
async fn record(
    store: &dyn RecordStore,
    run: Id,
    signal: &CiSignal,
    provider: &str,
    extra: Value,
) -> RecordResult<Option<StepRun>> {
    let steps = store.list_step_runs(run).await?;
    let step = ci_step(&steps).cloned();
    let mut meta = signal_meta(signal, provider, step.as_ref().map(|s| s.id));
    if let (Value::Object(m), Value::Object(extra)) = (&mut meta, extra) {
        m.extend(extra);
    }
    let status = signal.status.as_str();
    event(
        store,
        run,
        step.as_ref().map(|s| s.id),
        &format!("ci_{status}"),
        format!("{provider} CI on {}: {status}", signal.branch),
        Some(meta),
    )
    .await?;
    Ok(step)
}

/// Applies what CI says about a run's branch (see the module docs); what changed.
pub async fn apply_ci(
    store: &dyn RecordStore,
    run: Id,
    signal: &CiSignal,
    provider: &str,
) -> RecordResult<&'static str> {
    let step = record(store, run, signal, provider, json!({})).await?;
    if signal.merged {
        return merged(store, run, signal, provider).await;
    }
    let Some(step) = step else {
        return Ok("no step to apply it to");
    };
    let (to, kind, verb) = match signal.status {
        CiStatus::Success => (StepStatus::Completed, "step_completed", "passed"),
        CiStatus::Failure => (StepStatus::Failed, "step_failed", "failed"),
        CiStatus::Running | CiStatus::Other => return Ok("nothing to change"),
    };
    if !store.transition_step(step.id, CI_FROM, to).await?.applied() {
        return Ok("nothing to change");
    }
    let message = format!("{} {verb} CI", step.step_name);
    event(store, run, Some(step.id), kind, message, None).await?;
    if to == StepStatus::Failed {
        block(store, run, &step.step_name).await?;
        return Ok("step failed, run blocked");
    }
    complete_if_done(store, run).await?;
    Ok("step completed")
}

/// A merged PR or MR: recorded under upstream's name, and the run completed.
async fn merged(
    store: &dyn RecordStore,
    run: Id,
    signal: &CiSignal,
    provider: &str,
) -> RecordResult<&'static str> {
    let (kind, what) = if provider == "gitlab" {
        ("mr_merged", "merge request")
    } else {
        ("pr_merged", "PR")
    };
    let meta = json!({"provider": provider, "branch": signal.branch, "pr_number": signal.detail.pr_number});
    let message = format!("{what} of {} merged", signal.branch);
    event(store, run, None, kind, message, Some(meta)).await?;
    if !store
        .protocol_action(run, ProtocolAction::Complete)
        .await?
        .applied()
    {
        return Ok("nothing to change");
    }
    let message = format!("the {what} was merged");
    event(store, run, None, "protocol_completed", message, None).await?;
    Ok("run completed (merged)")
}

/// Auto-QA on CI success (`BATON_AUTO_QA_ON_CI=true`): the success is recorded and the
/// step CI is about goes to QA instead of completing: `running`/`pending → needs_qa` (a
/// step already `needs_qa` stays), and a `run_quality` job follows
/// ([`FollowUp::RunQa`]), whose verdict completes or fails it. What changed, and the QA
/// to enqueue.
pub async fn ci_success_to_qa(
    store: &dyn RecordStore,
    run: Id,
    signal: &CiSignal,
    provider: &str,
) -> RecordResult<(&'static str, Vec<FollowUp>)> {
    let step = record(store, run, signal, provider, json!({"auto_qa": true})).await?;
    let Some(step) = step else {
        return Ok(("no step to apply it to", Vec::new()));
    };
    let ready = step.status == StepStatus::NeedsQa
        || store
            .transition_step(
                step.id,
                &[StepStatus::Running, StepStatus::Pending],
                StepStatus::NeedsQa,
            )
            .await?
            .applied();
    if !ready {
        return Ok(("nothing to change", Vec::new()));
    }
    event(
        store,
        run,
        Some(step.id),
        "step_needs_qa",
        format!("{} passed CI; QA follows", step.step_name),
        None,
    )
    .await?;
    Ok(("step sent to QA", vec![FollowUp::RunQa(step.id)]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::StepStatus::*;

    fn step(id: Id, status: StepStatus, updated_at: i64) -> StepRun {
        StepRun {
            id,
            protocol_run_id: 1,
            step_index: id as u32,
            step_name: format!("{id:02}-s.md"),
            step_type: Default::default(),
            status,
            retries: 0,
            model: None,
            engine_id: None,
            policy: None,
            runtime_state: None,
            summary: None,
            created_at: 0,
            updated_at,
        }
    }

    #[test]
    fn ci_is_about_the_step_in_work_else_a_pending_latest_step() {
        let id = |steps: &[StepRun]| ci_step(steps).map(|s| s.id);
        assert_eq!(id(&[step(1, Running, 5), step(2, Pending, 9)]), Some(1));
        assert_eq!(id(&[step(1, Completed, 5), step(2, Pending, 9)]), Some(2));
        assert_eq!(id(&[step(1, Pending, 9), step(2, Completed, 5)]), Some(1));
        assert_eq!(
            id(&[step(1, Pending, 4), step(2, Completed, 5)]),
            None,
            "the latest step finished: CI reopens nothing"
        );
        assert_eq!(id(&[]), None);
    }
}
