//! Applying what a pipeline worker reports to the records: the orchestrator owns the
//! records, a worker only returns a structured outcome, and these functions make the
//! transitions (`engine::pipeline_jobs` hands each job's outcome here when the job ends).
//!
//! Outcomes may be delivered more than once (results are at least once), so every
//! function is idempotent: a step that exists is not created again, a transition already
//! made is a no-op, and the answer says whether anything changed.
//!
//! | outcome | records |
//! |---|---|
//! | plan `{step_files: [{filename, content}], ...}` | one step per `NN-*.md` file (by `NN`), run `planning → planned`; an invalid plan blocks the run |
//! | exec `{success, skip_qa}` | step `running → needs_qa` (or `completed` when QA is skipped, also by the run's spec; `failed` on failure; a failure blocks the run unless a loop policy applies) |
//! | QA verdict `PASS`/`FAIL` | step `needs_qa → completed` / `failed` (a failure blocks the run unless a loop policy applies) |
//! | any completion | the run completes when every step is completed or cancelled |
//!
//! Exec and QA outcomes are applied by [`super::policies`] (CodeMachine loop and trigger
//! policies, the step's `summary` and `runtime_state`, what runs next).

use super::model::{Id, NewEvent, NewStepRun, StepType};
use super::status::{ProtocolAction, ProtocolStatus, StepStatus};
use super::store::{RecordError, RecordResult, RecordStore, Transition};
use serde_json::{json, Value};

/// What applying an outcome did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The records changed.
    Changed,
    /// Already applied (a redelivery), or the record moved on (e.g. cancelled): nothing
    /// changed.
    Unchanged,
}

/// A step of a plan: `NN-name.md`.
fn step_index(filename: &str) -> Option<u32> {
    let (digits, rest) = filename.split_once('-')?;
    let ok = digits.len() >= 2
        && digits.bytes().all(|b| b.is_ascii_digit())
        && rest.ends_with(".md")
        && rest.len() > 3
        && !filename.contains('/');
    ok.then(|| digits.parse().ok()).flatten()
}

pub(super) async fn event(
    store: &dyn RecordStore,
    run: Id,
    step: Option<Id>,
    event_type: &str,
    message: String,
    metadata: Option<Value>,
) -> RecordResult<()> {
    store
        .append_event(NewEvent {
            protocol_run_id: run,
            step_run_id: step,
            event_type: event_type.into(),
            message,
            metadata,
        })
        .await
        .map(|_| ())
}

/// Applies a plan: creates its steps and marks the run planned, or blocks the run when the
/// plan has no valid step.
pub async fn apply_plan(
    store: &dyn RecordStore,
    run: Id,
    outcome: &Value,
) -> RecordResult<Applied> {
    let files = outcome["step_files"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut steps: Vec<(u32, String, &Value)> = Vec::new();
    let mut invalid = Vec::new();
    for f in &files {
        let name = f["filename"].as_str().unwrap_or("");
        match step_index(name) {
            Some(i) if !steps.iter().any(|(j, _, _)| *j == i) => {
                steps.push((i, name.to_string(), f))
            }
            _ => invalid.push(name.to_string()),
        }
    }
    if steps.is_empty() || !invalid.is_empty() {
        let why = if steps.is_empty() {
            "the plan has no step file named NN-<name>.md".to_string()
        } else {
            format!(
                "step files with a bad or repeated name: {}",
                invalid.join(", ")
            )
        };
        let t = store.protocol_action(run, ProtocolAction::Block).await?;
        if t.applied() {
            event(store, run, None, "plan_invalid", why, None).await?;
            return Ok(Applied::Changed);
        }
        return Ok(Applied::Unchanged);
    }
    steps.sort_by_key(|(i, _, _)| *i);
    let mut created = 0;
    for (index, name, file) in &steps {
        // A plan may say which engine and model run a step, and attach loop/trigger
        // policies to it (same shape as a CodeMachine module's); anything else is ignored.
        let text = |key: &str| {
            file[key]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(String::from)
        };
        let policy = Some(&file["policy"])
            .filter(|p| p.is_object() || p.is_array())
            .cloned()
            .map(super::codemachine::with_upstream_names);
        let new = NewStepRun {
            protocol_run_id: run,
            step_index: *index,
            step_name: name.clone(),
            step_type: StepType::Work,
            model: text("model"),
            engine_id: text("engine_id"),
            policy,
        };
        match store.create_step_run(new).await {
            Ok(_) => created += 1,
            // A redelivered plan: the step is there already.
            Err(RecordError::DuplicateStepIndex { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    // The spec the steps were made from (so the run has a `spec_hash`), and where the
    // plan lives; a CodeMachine import has set its own template already. Written before
    // the run shows `planned`, so whoever sees `planned` sees the spec too.
    let current = store.get_protocol_run(run).await?;
    if current.status == ProtocolStatus::Planning && current.template_config.is_none() {
        let spec: Vec<Value> = steps
            .iter()
            .map(|(i, name, f)| {
                json!({"step_index": i, "step_name": name, "engine_id": f["engine_id"],
                       "model": f["model"], "policy": f["policy"]})
            })
            .collect();
        let source = json!({"kind": "plan", "commit": outcome["commit"],
            "worktree_path": outcome["worktree_path"], "protocol_root": outcome["protocol_root"]});
        store
            .set_run_template(run, json!({"protocol_spec": {"steps": spec}}), source)
            .await?;
    }
    let t = store.protocol_action(run, ProtocolAction::Planned).await?;
    if t.applied() {
        let names: Vec<&str> = steps.iter().map(|(_, n, _)| n.as_str()).collect();
        event(
            store,
            run,
            None,
            "plan_completed",
            format!("planned {} step(s)", steps.len()),
            Some(json!({"steps": names})),
        )
        .await?;
    }
    Ok(if t.applied() || created > 0 {
        Applied::Changed
    } else {
        Applied::Unchanged
    })
}

/// A failed step blocks its run (unless the run is no longer active).
pub(super) async fn block(store: &dyn RecordStore, run: Id, step_name: &str) -> RecordResult<()> {
    if store
        .protocol_action(run, ProtocolAction::Block)
        .await?
        .applied()
    {
        event(
            store,
            run,
            None,
            "protocol_blocked",
            format!("blocked by {step_name}"),
            None,
        )
        .await?;
    }
    Ok(())
}

/// Completes the run when every step is completed or cancelled; whether it did.
pub async fn complete_if_done(store: &dyn RecordStore, run: Id) -> RecordResult<bool> {
    let steps = store.list_step_runs(run).await?;
    let done = !steps.is_empty()
        && steps
            .iter()
            .all(|s| matches!(s.status, StepStatus::Completed | StepStatus::Cancelled));
    if !done {
        return Ok(false);
    }
    match store.protocol_action(run, ProtocolAction::Complete).await? {
        Transition::Applied { .. } => {
            event(
                store,
                run,
                None,
                "protocol_completed",
                format!("all {} step(s) done", steps.len()),
                None,
            )
            .await?;
            Ok(true)
        }
        Transition::Conflict { current } => Ok(current == ProtocolStatus::Completed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryRecords;
    use crate::model::{NewProject, NewProtocolRun};
    use crate::status::StepAction;

    /// Applies an execution outcome `{"success": bool, "skip_qa": bool}` to a running step,
    /// with the step's policies ([`crate::policies::exec_outcome`], which also says what
    /// follows).
    async fn apply_exec(
        store: &dyn RecordStore,
        step: Id,
        outcome: &Value,
    ) -> RecordResult<Applied> {
        Ok(crate::policies::exec_outcome(store, step, outcome, None)
            .await?
            .applied)
    }

    /// Applies a QA verdict (`PASS` or `FAIL`) to a step waiting for QA, with the step's
    /// policies ([`crate::policies::qa_outcome`]).
    async fn apply_qa(
        store: &dyn RecordStore,
        step: Id,
        verdict: &str,
        report: &str,
    ) -> RecordResult<Applied> {
        Ok(
            crate::policies::qa_outcome(store, step, verdict, report, None)
                .await?
                .applied,
        )
    }

    async fn planning_run(store: &MemoryRecords) -> Id {
        let project = store
            .create_project(NewProject {
                name: "p".into(),
                git_url: "/tmp/x".into(),
                local_path: None,
                base_branch: "main".into(),
                ci_provider: None,
                project_classification: None,
                default_models: None,
                secrets: None,
            })
            .await
            .unwrap();
        let run = store
            .create_protocol_run(NewProtocolRun {
                project_id: project.id,
                protocol_name: "0001-demo".into(),
                base_branch: "main".into(),
                worktree_path: None,
                protocol_root: None,
                description: None,
                template_config: None,
                template_source: None,
            })
            .await
            .unwrap();
        assert!(store
            .protocol_action(run.id, ProtocolAction::Start)
            .await
            .unwrap()
            .applied());
        run.id
    }

    fn plan() -> Value {
        json!({"plan_md": "# plan", "step_files": [
            {"filename": "02-test.md", "content": "b", "engine_id": "codex", "model": "m-2",
             "policy": [{"module_id": "fix", "behavior": {"type": "loop", "stepBack": 1}}]},
            {"filename": "01-build.md", "content": "a", "engine_id": 7, "policy": "nope"},
        ]})
    }

    #[tokio::test]
    async fn a_plan_creates_its_steps_once_and_a_bad_one_blocks() {
        let store = MemoryRecords::new();
        let run = planning_run(&store).await;
        assert_eq!(
            apply_plan(&store, run, &plan()).await.unwrap(),
            Applied::Changed
        );
        assert_eq!(
            apply_plan(&store, run, &plan()).await.unwrap(),
            Applied::Unchanged,
            "redelivered"
        );
        let steps = store.list_step_runs(run).await.unwrap();
        let names: Vec<&str> = steps.iter().map(|s| s.step_name.as_str()).collect();
        assert_eq!(names, ["01-build.md", "02-test.md"]);
        // The plan's engine, model and policies per step; values of the wrong type are
        // left out, not stored.
        assert_eq!(steps[1].engine_id.as_deref(), Some("codex"));
        assert_eq!(steps[1].model.as_deref(), Some("m-2"));
        assert_eq!(steps[1].policy.as_ref().unwrap()[0]["module_id"], "fix");
        assert_eq!(
            (steps[0].engine_id.clone(), steps[0].policy.clone()),
            (None, None)
        );
        assert_eq!(
            store.get_protocol_run(run).await.unwrap().status,
            ProtocolStatus::Planned
        );

        let other = planning_run(&store).await;
        let bad = json!({"step_files": [{"filename": "build.md"}, {"filename": "01-a.md"}]});
        assert_eq!(
            apply_plan(&store, other, &bad).await.unwrap(),
            Applied::Changed
        );
        assert_eq!(
            store.get_protocol_run(other).await.unwrap().status,
            ProtocolStatus::Blocked
        );
        assert!(
            store.list_step_runs(other).await.unwrap().is_empty(),
            "nothing half-created"
        );
        let events = store.list_events(other, 10).await.unwrap();
        assert_eq!(events[0].event_type, "plan_invalid");
        assert!(
            events[0].message.contains("build.md"),
            "{}",
            events[0].message
        );
    }

    #[tokio::test]
    async fn exec_and_qa_move_steps_and_complete_or_block_the_run() {
        let store = MemoryRecords::new();
        let run = planning_run(&store).await;
        apply_plan(&store, run, &plan()).await.unwrap();
        let steps = store.list_step_runs(run).await.unwrap();
        let (a, b) = (steps[0].id, steps[1].id);
        assert!(store
            .protocol_action(run, ProtocolAction::RunNextStep)
            .await
            .unwrap()
            .applied());
        for s in [a, b] {
            assert!(store
                .step_action(s, StepAction::Run)
                .await
                .unwrap()
                .applied());
        }
        assert_eq!(
            apply_exec(&store, a, &json!({"success": true}))
                .await
                .unwrap(),
            Applied::Changed
        );
        assert_eq!(
            store.get_step_run(a).await.unwrap().status,
            StepStatus::NeedsQa
        );
        assert_eq!(
            apply_exec(&store, a, &json!({"success": true}))
                .await
                .unwrap(),
            Applied::Unchanged
        );
        assert_eq!(
            apply_qa(&store, a, "PASS", "VERDICT: PASS").await.unwrap(),
            Applied::Changed
        );
        assert_eq!(
            store.get_step_run(a).await.unwrap().status,
            StepStatus::Completed
        );
        assert_eq!(
            store.get_protocol_run(run).await.unwrap().status,
            ProtocolStatus::Running,
            "b is open"
        );
        assert_eq!(
            apply_exec(&store, b, &json!({"success": true, "skip_qa": true}))
                .await
                .unwrap(),
            Applied::Changed
        );
        assert_eq!(
            store.get_protocol_run(run).await.unwrap().status,
            ProtocolStatus::Completed
        );
        assert_eq!(
            store.list_events(run, 1).await.unwrap()[0].event_type,
            "protocol_completed"
        );

        let run2 = planning_run(&store).await;
        apply_plan(&store, run2, &plan()).await.unwrap();
        let c = store.list_step_runs(run2).await.unwrap()[0].id;
        store
            .protocol_action(run2, ProtocolAction::RunNextStep)
            .await
            .unwrap();
        store.step_action(c, StepAction::Run).await.unwrap();
        apply_exec(&store, c, &json!({"success": true}))
            .await
            .unwrap();
        assert_eq!(
            apply_qa(&store, c, "FAIL", "VERDICT: FAIL").await.unwrap(),
            Applied::Changed
        );
        assert_eq!(
            store.get_step_run(c).await.unwrap().status,
            StepStatus::Failed
        );
        assert_eq!(
            store.get_protocol_run(run2).await.unwrap().status,
            ProtocolStatus::Blocked
        );
    }

    #[test]
    fn step_file_names() {
        assert_eq!(step_index("01-build.md"), Some(1));
        assert_eq!(step_index("12-x.md"), Some(12));
        for bad in [
            "1-build.md",
            "01-.md",
            "01-build.txt",
            "build.md",
            "ab-x.md",
            "01-a/b.md",
        ] {
            assert_eq!(step_index(bad), None, "{bad}");
        }
    }
}
