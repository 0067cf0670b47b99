//! Clarification gates: open **blocking** clarifications hold work back until answered.
//!
//! A phase is gated by the open blocking clarifications of the run's project and of the
//! run itself whose `applies_to` is the phase's or `onboarding` (an unanswered
//! onboarding question holds everything):
//!
//! | phase | actions | gated by `applies_to` |
//! |---|---|---|
//! | planning | protocol `start` | `onboarding`, `planning` |
//! | execution | `run_next_step`, `retry_latest`, step `run` | `onboarding`, `execution` |
//! | QA | step `run_qa` | `onboarding`, `qa` |
//!
//! A gated action is 409 naming the open keys; answering them
//! (`POST /projects|protocols/{id}/clarifications/{key}`) lifts the gate. The check
//! runs before the action's compare-and-set, so a refused action changes nothing.

use super::{conflict, Ctx};
use crate::api::error::ApiError;
use crate::pipelines::{AppliesTo, ClarificationScope, ClarificationStatus, ProtocolRun};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Planning,
    Execution,
    Qa,
}

impl Phase {
    fn applies(self, to: AppliesTo) -> bool {
        matches!(
            (self, to),
            (_, AppliesTo::Onboarding)
                | (Phase::Planning, AppliesTo::Planning)
                | (Phase::Execution, AppliesTo::Execution)
                | (Phase::Qa, AppliesTo::Qa)
        )
    }

    fn name(self) -> &'static str {
        match self {
            Phase::Planning => "planning",
            Phase::Execution => "execution",
            Phase::Qa => "QA",
        }
    }
}

/// The open blocking clarifications gating `phase` of `run`, as `project:key` /
/// `protocol:key`.
pub async fn open_keys(c: &Ctx, run: &ProtocolRun, phase: Phase) -> Result<Vec<String>, ApiError> {
    let mut keys = Vec::new();
    for (scope, label) in [
        (ClarificationScope::Project(run.project_id), "project"),
        (ClarificationScope::ProtocolRun(run.id), "protocol"),
    ] {
        for cl in c.app.records.list_clarifications(scope).await? {
            if cl.blocking && cl.status == ClarificationStatus::Open && phase.applies(cl.applies_to)
            {
                keys.push(format!("{label}:{}", cl.key));
            }
        }
    }
    Ok(keys)
}

/// 409 when `phase` of `run` is gated.
pub async fn check(c: &Ctx, run: &ProtocolRun, phase: Phase) -> Result<(), ApiError> {
    let keys = open_keys(c, run, phase).await?;
    if keys.is_empty() {
        return Ok(());
    }
    tracing::info!(run = run.id, phase = phase.name(), ?keys, request_id = %c.request_id, "gated by clarifications");
    Err(conflict(format!(
        "{} of protocol run {} is blocked by open clarifications: {} (answer them first)",
        phase.name(),
        run.id,
        keys.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_are_gated_by_their_own_and_onboarding_questions() {
        assert!(Phase::Planning.applies(AppliesTo::Planning));
        assert!(Phase::Planning.applies(AppliesTo::Onboarding));
        assert!(!Phase::Planning.applies(AppliesTo::Execution));
        assert!(Phase::Execution.applies(AppliesTo::Execution));
        assert!(!Phase::Execution.applies(AppliesTo::Qa));
        assert!(Phase::Qa.applies(AppliesTo::Qa));
        assert!(!Phase::Qa.applies(AppliesTo::Planning));
    }
}
