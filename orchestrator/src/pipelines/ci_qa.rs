//! Auto-QA on CI success (`BATON_AUTO_QA_ON_CI=true`): a CI success webhook does not
//! complete the step in work (what [`super::outcomes::apply_ci`] does otherwise) but
//! sends it to QA: `running → needs_qa` (a step already `needs_qa` stays), and a
//! `run_quality` job follows ([`FollowUp::RunQa`]), whose verdict completes or fails it.

use super::model::Id;
use super::outcomes::event;
use super::policies::FollowUp;
use super::status::{StepAction, StepStatus};
use super::store::{RecordResult, RecordStore};
use super::webhooks::CiSignal;
use serde_json::json;

/// Records the CI success (event `ci_success`) and sends the run's step in work (the
/// last updated `needs_qa`/`running` one) to QA; what changed, and the QA to enqueue.
pub async fn ci_success_to_qa(
    store: &dyn RecordStore,
    run: Id,
    signal: &CiSignal,
    provider: &str,
) -> RecordResult<(&'static str, Vec<FollowUp>)> {
    let meta = json!({"provider": provider, "branch": signal.branch, "status": "success", "merged": false, "auto_qa": true});
    event(
        store,
        run,
        None,
        "ci_success",
        format!("{provider} CI on {}: success", signal.branch),
        Some(meta),
    )
    .await?;
    let steps = store.list_step_runs(run).await?;
    let in_work = steps
        .iter()
        .filter(|s| matches!(s.status, StepStatus::NeedsQa | StepStatus::Running))
        .max_by_key(|s| (s.updated_at, s.step_index));
    let Some(step) = in_work else {
        return Ok(("no step in work", Vec::new()));
    };
    let ready = step.status == StepStatus::NeedsQa
        || store
            .step_action(step.id, StepAction::ExecDone)
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
