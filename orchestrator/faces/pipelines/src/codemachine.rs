//! A CodeMachine import applied to the records: the template kept on the run, one step
//! per main agent, the run `planned`.
//!
//! The parsing itself is [`baton_protocol::codemachine`] (shared with the pipeline
//! worker, which imports as a `codemachine_import` job). Its steps are JSON objects
//! `{step_index, step_name ("NN-<agent>"), step_type, engine_id?, model?, policy: [..],
//! summary?, qa: {policy: "skip"}}`; the policies are stored with upstream's names added
//! ([`with_upstream_names`]: `behavior` beside `type`, ...); the QA skip stays in the run's
//! `template_config.protocol_spec` (read back by [`super::policies::qa_skipped_by_spec`]).
//!
//! Idempotent: a step already there (same index) is kept, so a redelivered job outcome
//! creates nothing twice.

use super::model::{Id, NewStepRun, StepType};
use super::outcomes::{event, Applied};
use super::status::ProtocolStatus;
use super::store::{RecordError, RecordResult, RecordStore};
use serde_json::{json, Value};

/// Statuses a run may be planned from by an import (created, or importing as a job).
const IMPORTABLE: &[ProtocolStatus] = &[ProtocolStatus::Pending, ProtocolStatus::Planning];

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

/// CodeMachine's names of a policy and upstream's snake_case ones, which its clients
/// read (`behavior: "loop"` is what they look for).
const UPSTREAM_NAMES: [(&str, &str); 6] = [
    ("type", "behavior"),
    ("maxIterations", "max_iterations"),
    ("stepBack", "step_back"),
    ("skip", "skip_steps"),
    ("triggerAgentId", "trigger_agent_id"),
    ("targetAgentId", "target_agent_id"),
];

/// A step's policies (an object or a list of them) with upstream's names added beside
/// CodeMachine's (`type: "loop"` gets `behavior: "loop"`, `stepBack` gets `step_back`,
/// ...); names already there are kept. Both forms stay, so Baton's policy runtime and
/// upstream's clients each find theirs.
pub fn with_upstream_names(policy: Value) -> Value {
    let add = |mut p: Value| {
        if let Value::Object(map) = &mut p {
            for (ours, theirs) in UPSTREAM_NAMES {
                if let Some(v) = map.get(ours).cloned() {
                    map.entry(theirs).or_insert(v);
                }
            }
        }
        p
    };
    match policy {
        Value::Array(list) => Value::Array(list.into_iter().map(add).collect()),
        other => add(other),
    }
}

/// Records an import on `run`: `template_config`, `template_source`, the steps; then the
/// run goes `planned` (event `codemachine_imported`). The number of steps created.
pub async fn apply_import(
    store: &dyn RecordStore,
    run: Id,
    template_config: Value,
    template_source: Value,
    steps: &[Value],
) -> RecordResult<(Applied, usize)> {
    let current = store.get_protocol_run(run).await?;
    if !IMPORTABLE.contains(&current.status) {
        return Ok((Applied::Unchanged, 0));
    }
    store
        .set_run_template(run, template_config, template_source)
        .await?;
    let mut created = 0;
    for (i, s) in steps.iter().enumerate() {
        let new = NewStepRun {
            protocol_run_id: run,
            step_index: s["step_index"]
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(i as u32),
            step_name: text(&s["step_name"]).unwrap_or_else(|| format!("{i:02}-step")),
            step_type: StepType::Work,
            model: text(&s["model"]),
            engine_id: text(&s["engine_id"]),
            policy: s
                .get("policy")
                .filter(|p| !p.is_null())
                .cloned()
                .map(with_upstream_names),
        };
        match store.create_step_run(new).await {
            Ok(step) => {
                created += 1;
                if let Some(summary) = text(&s["summary"]) {
                    let update = super::StepUpdate {
                        summary: Some(summary),
                        ..Default::default()
                    };
                    store.update_step(step.id, update).await?;
                }
            }
            Err(RecordError::DuplicateStepIndex { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    let planned = store
        .transition_protocol(run, IMPORTABLE, ProtocolStatus::Planned)
        .await?;
    if planned.applied() {
        let names: Vec<&Value> = steps.iter().map(|s| &s["step_name"]).collect();
        event(
            store,
            run,
            None,
            "codemachine_imported",
            format!("imported {} step(s) from CodeMachine", steps.len()),
            Some(json!({"steps": names})),
        )
        .await?;
    }
    let applied = if planned.applied() || created > 0 {
        Applied::Changed
    } else {
        Applied::Unchanged
    };
    Ok((applied, created))
}

/// The prompt of an imported step (its agent's prompt file, kept in the run's
/// `template_config.protocol_spec`), which the `execute_step` and `run_quality` jobs get
/// as `step_prompt`: an imported run has no plan files in its branch.
pub fn step_prompt(template_config: Option<&Value>, step_name: &str) -> Option<String> {
    template_config?["protocol_spec"]["steps"]
        .as_array()?
        .iter()
        .find(|s| s["step_name"] == step_name)?["prompt"]
        .as_str()
        .map(str::to_string)
}

/// The import a `codemachine_import` job answered: `(template_config, template_source,
/// steps)`, or why it is not one.
pub fn import_of(outcome: &Value) -> Result<(Value, Value, Vec<Value>), String> {
    let steps = outcome["steps"]
        .as_array()
        .filter(|s| !s.is_empty())
        .ok_or("the import outcome has no `steps`")?;
    Ok((
        outcome["template_config"].clone(),
        outcome["template_source"].clone(),
        steps.clone(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryRecords;
    use crate::model::{NewProject, NewProtocolRun};

    #[tokio::test]
    async fn an_import_is_recorded_once_and_only_on_a_new_run() {
        let store = MemoryRecords::new();
        let project = store
            .create_project(NewProject {
                name: "p".into(),
                git_url: "/tmp/x".into(),
                base_branch: "main".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        let new_run = || NewProtocolRun {
            project_id: project.id,
            protocol_name: "0001-cm".into(),
            base_branch: "main".into(),
            ..Default::default()
        };
        let run = store.create_protocol_run(new_run()).await.unwrap().id;
        let steps = vec![
            json!({"step_index": 0, "step_name": "00-plan", "summary": "Plan", "policy": [], "prompt": "p"}),
            json!({"step_index": 1, "step_name": "01-build", "engine_id": "codex", "policy": [{"type": "loop"}]}),
        ];
        let config = json!({"protocol_spec": {"steps": steps}});
        let source = json!({"workspace_path": "/ws"});
        let first = apply_import(&store, run, config.clone(), source.clone(), &steps)
            .await
            .unwrap();
        assert_eq!(first, (Applied::Changed, 2));
        let again = apply_import(&store, run, config.clone(), source.clone(), &steps)
            .await
            .unwrap();
        assert_eq!(again, (Applied::Unchanged, 0), "a redelivery");
        let recorded = store.list_step_runs(run).await.unwrap();
        assert_eq!(recorded.len(), 2);
        assert_eq!(recorded[0].summary.as_deref(), Some("Plan"));
        assert_eq!(
            recorded[1].policy,
            Some(json!([{"type": "loop", "behavior": "loop"}]))
        );
        assert_eq!(recorded[1].engine_id.as_deref(), Some("codex"));
        let r = store.get_protocol_run(run).await.unwrap();
        assert_eq!(r.status, ProtocolStatus::Planned);
        assert_eq!(r.template_source, Some(source));
        assert_eq!(
            step_prompt(r.template_config.as_ref(), "00-plan").as_deref(),
            Some("p")
        );
        assert_eq!(step_prompt(r.template_config.as_ref(), "01-build"), None);
        assert!(import_of(&json!({"steps": []})).is_err());
    }
}
