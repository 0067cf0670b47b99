//! A workflow compiled into a blueprint, the engine's own state machine, so an execution
//! is a job and every step that does work is a task a worker pulls: leases, re-dispatch,
//! exactly-once completion and cancels hold for executions as for any job.
//!
//! The steps are cut into levels: a step's level is one more than the highest level of
//! the steps it depends on. A level of one step is a `dispatch` state, a level of several
//! a `parallel` state with one branch per step (they run at the same time), in level
//! order, then `done`; a failed step (under `on_failure: abort`) leads to `failed`. An
//! `approval` step is a state of its own after its level's other steps: the engine's
//! approval wait, `approved` going on and `rejected` failing the execution.
//!
//! Each step's task has the skill `wf-<type>` and params
//! `{"step": <the step, untouched>, "vars": <the execution's variables>, "states": <the
//! job's states so far>}`; the worker evaluates the condition, renders the step's own
//! `{{name}}` templates against the variables and the outputs of earlier steps, and
//! answers `{"step_id", "status", "outputs", "output", "tokens", ...}`.
//!
//! The blueprint's name is `wf-<workflow id>-<12 hex of the definition's SHA-256>`: a new
//! definition is a new name, so an execution keeps running the definition it started
//! with and every orchestrator compiles a name to the same blueprint
//! ([`crate::source`]).

use crate::model::{Step, StepType, Workflow};
use crate::validate::Problem;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// The skill of a step type's tasks.
pub fn skill(kind: StepType) -> String {
    format!("wf-{}", kind.name().replace('_', "-"))
}

/// The step types an execution can run today.
fn executable(kind: StepType) -> bool {
    matches!(
        kind,
        StepType::AiPrompt
            | StepType::Shell
            | StepType::Transform
            | StepType::Checkpoint
            | StepType::Approval
    )
}

/// A compiled workflow: the blueprint's name and its definition (blueprint YAML as JSON).
pub struct Compiled {
    pub name: String,
    pub definition: Value,
}

/// The blueprint name of a definition.
pub fn blueprint_name(wf: &Workflow) -> String {
    let canonical = serde_json::to_vec(wf).unwrap_or_default();
    let digest = Sha256::digest(&canonical);
    format!("wf-{}-{}", wf.id, &hex::encode(digest)[..12])
}

/// Levels of a validated workflow: each step after every step it depends on.
fn levels(wf: &Workflow) -> Vec<Vec<&Step>> {
    let mut level: HashMap<&str, usize> = HashMap::new();
    for s in crate::validate::topological(wf) {
        let l = s
            .depends_on
            .iter()
            .filter_map(|d| level.get(d.as_str()))
            .map(|l| l + 1)
            .max()
            .unwrap_or(0);
        level.insert(&s.id, l);
    }
    let depth = level.values().copied().max().map_or(0, |m| m + 1);
    let mut out: Vec<Vec<&Step>> = vec![Vec::new(); depth];
    for s in &wf.steps {
        if let Some(&l) = level.get(s.id.as_str()) {
            out[l].push(s);
        }
    }
    out
}

fn params(step: &Step) -> Value {
    json!({
        "step": {"$literal": step},
        "vars": "{{ initial_data }}",
        "states": "{{ states }}",
    })
}

fn task(step: &Step) -> Map<String, Value> {
    let mut t = Map::new();
    t.insert("task".into(), skill(step.kind).into());
    t.insert("params".into(), params(step));
    if let Some(secs) = step.timeout_seconds {
        t.insert("result_timeout".into(), secs.into());
    }
    // The worker retries a failing step itself (`on_failure: retry`); the engine's retries
    // are for lost workers and transient faults.
    t
}

/// The blueprint of a validated workflow; 422 problems for a step type that cannot run
/// yet.
pub fn compile(wf: &Workflow) -> Result<Compiled, Vec<Problem>> {
    let blocked: Vec<Problem> = wf
        .steps
        .iter()
        .enumerate()
        .filter(|(_, s)| !executable(s.kind))
        .map(|(i, s)| Problem {
            step_id: Some(s.id.clone()),
            field: format!("steps[{i}].type"),
            message: format!("`{}` steps cannot be executed yet", s.kind.name()),
        })
        .collect();
    if !blocked.is_empty() {
        return Err(blocked);
    }
    // States in order: each a list of steps run together; approvals alone.
    let mut groups: Vec<Vec<&Step>> = Vec::new();
    for level in levels(wf) {
        let (approvals, work): (Vec<&Step>, Vec<&Step>) = level
            .into_iter()
            .partition(|s| s.kind == StepType::Approval);
        if !work.is_empty() {
            groups.push(work);
        }
        groups.extend(approvals.into_iter().map(|a| vec![a]));
    }
    let name = blueprint_name(wf);
    let mut states = Map::new();
    for (i, group) in groups.iter().enumerate() {
        let next = if i + 1 < groups.len() {
            format!("s{}", i + 1)
        } else {
            "done".to_string()
        };
        let mut state = match group.as_slice() {
            [one] if one.kind == StepType::Approval => {
                let message = one
                    .params
                    .get("message")
                    .cloned()
                    .unwrap_or_else(|| format!("Approve step `{}`?", one.id).into());
                let mut m = Map::new();
                m.insert("type".into(), "approval".into());
                m.insert("message".into(), json!({"$literal": message}));
                let mut transitions = json!({"approved": next, "rejected": "failed"});
                if let Some(t) = one.timeout_seconds {
                    m.insert("timeout".into(), t.into());
                    transitions["timeout"] = "failed".into();
                }
                m.insert("transitions".into(), transitions);
                m.insert("description".into(), format!("step {}", one.id).into());
                m
            }
            [one] => {
                let mut m = task(one);
                m.insert("type".into(), "dispatch".into());
                m.insert("description".into(), format!("step {}", one.id).into());
                m.insert(
                    "transitions".into(),
                    json!({"success": next, "failure": "failed"}),
                );
                m
            }
            many => {
                let tasks: Map<String, Value> = many
                    .iter()
                    .map(|s| (s.id.clone(), Value::Object(task(s))))
                    .collect();
                let ids: Vec<&str> = many.iter().map(|s| s.id.as_str()).collect();
                let mut m = Map::new();
                m.insert("type".into(), "parallel".into());
                m.insert(
                    "description".into(),
                    format!("steps {}", ids.join(", ")).into(),
                );
                m.insert("tasks".into(), Value::Object(tasks));
                m.insert("on_failure".into(), "fail_fast".into());
                m.insert(
                    "transitions".into(),
                    json!({"success": next, "failure": "failed"}),
                );
                m
            }
        };
        if i == 0 {
            state.insert("start".into(), true.into());
        }
        states.insert(format!("s{i}"), Value::Object(state));
    }
    states.insert(
        "done".into(),
        json!({"type": "end", "status": "finished", "result": "{{ states }}"}),
    );
    states.insert("failed".into(), json!({"type": "end", "status": "failed"}));
    let definition = json!({
        "name": name,
        "version": "wf",
        "endpoint": format!("/workflows/{name}"),
        "description": format!("workflow {} ({})", wf.id, wf.name),
        "max_transitions": groups.len() * 4 + 16,
        "states": states,
    });
    Ok(Compiled { name, definition })
}

/// Which step each state runs, for the execution view: state → step ids.
pub fn state_steps(definition: &Value) -> Vec<(String, Vec<String>)> {
    let Some(states) = definition.get("states").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut out: Vec<(String, Vec<String>)> = states
        .iter()
        .filter(|(name, _)| name.starts_with('s'))
        .map(|(name, st)| {
            // The description names the steps: `step a` or `steps a, b`.
            let text = st
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let steps = match (text.strip_prefix("steps "), text.strip_prefix("step ")) {
                (Some(list), _) => list.split(", ").map(str::to_string).collect(),
                (None, Some(one)) => vec![one.to_string()],
                _ => Vec::new(),
            };
            (name.clone(), steps)
        })
        .collect();
    out.sort_by_key(|(name, _)| name[1..].parse::<usize>().unwrap_or(usize::MAX));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wf(steps: Value) -> Workflow {
        serde_json::from_value(json!({"id": "w", "name": "W", "steps": steps})).unwrap()
    }

    #[test]
    fn levels_become_states_and_the_blueprint_loads() {
        let w = wf(json!([
            {"id": "a", "type": "transform", "params": {"merge": {"x": 1}}},
            {"id": "b", "type": "shell", "params": {"command": "echo {{x}}"}, "depends_on": ["a"]},
            {"id": "c", "type": "ai-prompt", "params": {"prompt": "p"}, "depends_on": ["a"]},
            {"id": "ok", "type": "approval", "depends_on": ["a"]},
            {"id": "d", "type": "transform", "params": {"merge": {}}, "depends_on": ["b", "c", "ok"]},
        ]));
        let c = compile(&w).unwrap();
        assert!(c.name.starts_with("wf-w-") && c.name.len() == "wf-w-".len() + 12);
        let text = serde_json::to_string(&c.definition).unwrap();
        let bp = baton_blueprint::load_str("compiled", &text).expect("a valid blueprint");
        assert_eq!(bp.start, "s0");
        let kinds: Vec<(&str, &str)> = ["s0", "s1", "s2", "s3"]
            .iter()
            .map(|s| (*s, bp.states[*s].kind.name()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("s0", "dispatch"),
                ("s1", "parallel"),
                ("s2", "approval"),
                ("s3", "dispatch")
            ]
        );
        let steps = state_steps(&c.definition);
        assert_eq!(
            steps[1],
            ("s1".to_string(), vec!["b".to_string(), "c".to_string()])
        );
        assert_eq!(steps[0].1, ["a"]);
        // The step's own templates reach the worker untouched.
        assert_eq!(
            c.definition
                .pointer("/states/s1/tasks/b/params/step/$literal/params/command"),
            Some(&json!("echo {{x}}"))
        );
        assert_eq!(
            c.definition.pointer("/states/s1/tasks/b/task"),
            Some(&json!("wf-shell"))
        );
    }

    #[test]
    fn a_changed_definition_is_a_new_name() {
        let a = wf(json!([{"id": "a", "type": "transform", "params": {"merge": {}}}]));
        let mut b = a.clone();
        b.steps[0].params.insert("pick".into(), json!(["x"]));
        assert_eq!(blueprint_name(&a), blueprint_name(&a.clone()));
        assert_ne!(blueprint_name(&a), blueprint_name(&b));
    }

    #[test]
    fn steps_that_cannot_run_yet_are_refused_naming_them() {
        let w = wf(json!([
            {"id": "a", "type": "transform", "params": {"merge": {}}},
            {"id": "m", "type": "map_reduce", "params": {}},
        ]));
        let p = compile(&w).err().unwrap();
        assert_eq!(
            (p[0].step_id.as_deref(), p[0].field.as_str()),
            (Some("m"), "steps[1].type")
        );
    }
}
