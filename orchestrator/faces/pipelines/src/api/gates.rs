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
//! Also here: the setup run of a project (`setup-<id>`, see
//! [`crate::onboarding`]) takes no protocol action and its name is reserved.
//!
//! A gated action is 409 naming the open keys; answering them
//! (`POST /projects|protocols/{id}/clarifications/{key}`) lifts the gate. The check
//! runs before the action's compare-and-set, so a refused action changes nothing.

use super::{conflict, Ctx};
use crate::onboarding::setup_run_name;
use crate::{AppliesTo, ClarificationScope, ClarificationStatus, Id, ProtocolRun};
use baton_http::ApiError;

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

/// 409 for a protocol action on a project's setup run (`setup-<project_id>`): its
/// status is the onboarding's, changed only by onboarding.
pub fn not_setup(run: &ProtocolRun) -> Result<(), ApiError> {
    if run.protocol_name == setup_run_name(run.project_id) {
        return Err(conflict(format!(
            "protocol run {} is the onboarding run of project {}: use POST /projects/{}/onboarding/actions/start",
            run.id, run.project_id, run.project_id
        )));
    }
    Ok(())
}

/// 409 for a new run named like the project's setup run.
pub fn not_reserved(project_id: Id, protocol_name: &str) -> Result<(), ApiError> {
    if protocol_name == setup_run_name(project_id) {
        return Err(conflict(format!(
            "`{protocol_name}` is reserved for the onboarding run of project {project_id}"
        )));
    }
    Ok(())
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
