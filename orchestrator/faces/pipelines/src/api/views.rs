//! Records as answered: the stored fields, timestamps as RFC 3339 instead of epoch ms,
//! plus what is computed (`spec_hash` of a run; `protocol_name`, `project_name` of a
//! listed event), as the documented types of [`super::schemas`]. Secrets cannot appear:
//! [`Project`] has no field for them.

use super::schemas::{ClarificationView, EventView, ProjectView, ProtocolRunView, StepRunView};
use crate::{Clarification, ClarificationScope, Event, Project, ProtocolRun, StepRun};
use baton_protocol::clock::rfc3339;

pub fn project(p: &Project) -> ProjectView {
    ProjectView {
        id: p.id,
        name: p.name.clone(),
        git_url: p.git_url.clone(),
        local_path: p.local_path.clone(),
        base_branch: p.base_branch.clone(),
        ci_provider: p.ci_provider,
        project_classification: p.project_classification.clone(),
        default_models: p.default_models.clone(),
        created_at: rfc3339(p.created_at),
        updated_at: rfc3339(p.updated_at),
    }
}

pub fn run(r: &ProtocolRun) -> ProtocolRunView {
    ProtocolRunView {
        id: r.id,
        project_id: r.project_id,
        protocol_name: r.protocol_name.clone(),
        status: r.status,
        base_branch: r.base_branch.clone(),
        worktree_path: r.worktree_path.clone(),
        protocol_root: r.protocol_root.clone(),
        description: r.description.clone(),
        template_config: r.template_config.clone(),
        template_source: r.template_source.clone(),
        spec_hash: r.spec_hash(),
        created_at: rfc3339(r.created_at),
        updated_at: rfc3339(r.updated_at),
    }
}

pub fn step(s: &StepRun) -> StepRunView {
    StepRunView {
        id: s.id,
        protocol_run_id: s.protocol_run_id,
        step_index: s.step_index,
        step_name: s.step_name.clone(),
        step_type: s.step_type,
        status: s.status,
        retries: s.retries,
        model: s.model.clone(),
        engine_id: s.engine_id.clone(),
        policy: s.policy.clone(),
        runtime_state: s.runtime_state.clone(),
        summary: s.summary.clone(),
        created_at: rfc3339(s.created_at),
        updated_at: rfc3339(s.updated_at),
    }
}

/// An event; `names` adds `protocol_name` and `project_name` (listing across runs).
pub fn event(e: &Event, names: Option<(&str, &str)>) -> EventView {
    EventView {
        id: e.id,
        protocol_run_id: e.protocol_run_id,
        project_id: e.project_id,
        step_run_id: e.step_run_id,
        event_type: e.event_type.clone(),
        message: e.message.clone(),
        metadata: e.metadata.clone(),
        created_at: rfc3339(e.created_at),
        protocol_name: names.map(|(protocol, _)| protocol.to_string()),
        project_name: names.map(|(_, project)| project.to_string()),
    }
}

/// A clarification with its scope as `project_id` or `protocol_run_id`.
pub fn clarification(c: &Clarification) -> ClarificationView {
    let (project_id, protocol_run_id) = match c.scope {
        ClarificationScope::Project(id) => (Some(id), None),
        ClarificationScope::ProtocolRun(id) => (None, Some(id)),
    };
    ClarificationView {
        key: c.key.clone(),
        question: c.question.clone(),
        recommended: c.recommended.clone(),
        options: c.options.clone(),
        applies_to: c.applies_to,
        blocking: c.blocking,
        answer: c.answer.clone(),
        status: c.status,
        answered_at: c.answered_at.map(rfc3339),
        answered_by: c.answered_by.clone(),
        project_id,
        protocol_run_id,
        created_at: rfc3339(c.created_at),
        updated_at: rfc3339(c.updated_at),
    }
}

pub fn list<T, V>(items: &[T], view: impl Fn(&T) -> V) -> Vec<V> {
    items.iter().map(view).collect()
}
