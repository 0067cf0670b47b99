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
//! The steps that run other steps use the same states: a `parallel` step's `steps` are
//! branches of its level's state (its `max_workers` caps that state's running branches).
//! A `fan_out` step takes two states of its own after its level's work: a task of skill
//! `wf-fan-out` resolving its `items` (and its condition), then a `parallel` state with
//! one branch per item (the engine's map form: `max_concurrent` at once; `fail_fast`
//! stops the others at the first failure, else failed items are collected in `errors`
//! and the step completes), each branch running the `step_template` with `item` and
//! `index`; their results are published as one list under the step's first output. A
//! `map_reduce` adds a third state, a `fan_in` task aggregating the items' results.
//! What each state runs is written in its description ([`parts`]).
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

pub mod parts;

use crate::model::{Step, StepType, Workflow};
use parts::{describe, Part, Role};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

pub use parts::state_parts;

/// The skill of a step type's tasks (`fan_out` and `map_reduce` items: `wf-fan-out`).
pub fn skill(kind: StepType) -> String {
    let name = match kind {
        StepType::MapReduce => "fan_out",
        other => other.name(),
    };
    format!("wf-{}", name.replace('_', "-"))
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

/// One task of a work state: a step of the workflow, or a step a `parallel` step runs.
struct Branch {
    part: Part,
    kind: StepType,
    /// The step as the worker gets it.
    step: Value,
    timeout: Option<f64>,
    /// The parent `parallel` step's `max_workers`.
    max_workers: Option<u64>,
}

/// What one state of the blueprint runs.
enum Group<'a> {
    /// Steps run by one task each, at the same time.
    Work(Vec<Branch>),
    /// The engine's wait for a person.
    Approval(&'a Step),
    /// A `fan_out` or `map_reduce` step: its items, one task per item (and the reduce).
    Pattern(&'a Step, Box<Step>),
}

fn to_value(step: &Step) -> Value {
    serde_json::to_value(step).unwrap_or(Value::Null)
}

fn branches(s: &Step) -> Vec<Branch> {
    if s.kind != StepType::Parallel {
        return vec![Branch {
            part: Part::step(&s.id),
            kind: s.kind,
            step: to_value(s),
            timeout: s.timeout_seconds,
            max_workers: None,
        }];
    }
    let output = s.outputs.first().unwrap_or(&s.id).clone();
    s.parallel_steps()
        .unwrap_or_default()
        .into_iter()
        .map(|sub| {
            let mut step = to_value(&sub);
            step["parent"] = json!({"id": s.id, "output": output});
            Branch {
                part: Part {
                    step: sub.id.clone(),
                    role: Role::Sub(s.id.clone()),
                },
                kind: sub.kind,
                step,
                timeout: sub.timeout_seconds.or(s.timeout_seconds),
                max_workers: s.params.get("max_workers").and_then(Value::as_u64),
            }
        })
        .collect()
}

/// The groups of a validated workflow, in order: per level, its work, then its fan-outs,
/// then its approvals.
fn groups(wf: &Workflow) -> Vec<Group<'_>> {
    let mut out = Vec::new();
    for level in levels(wf) {
        let mut work = Vec::new();
        let mut patterns = Vec::new();
        let mut approvals = Vec::new();
        for s in level {
            match (s.kind, s.item_step()) {
                (StepType::Approval, _) => approvals.push(Group::Approval(s)),
                (StepType::FanOut | StepType::MapReduce, Some(Ok(item))) => {
                    patterns.push(Group::Pattern(s, Box::new(item)))
                }
                _ => work.extend(branches(s)),
            }
        }
        if !work.is_empty() {
            out.push(Group::Work(work));
        }
        out.extend(patterns);
        out.extend(approvals);
    }
    out
}

fn task_params(step: Value, extra: &[(&str, Value)]) -> Value {
    let mut p = json!({
        "step": {"$literal": step},
        "vars": "{{ initial_data }}",
        "states": "{{ states }}",
    });
    for (k, v) in extra {
        p[*k] = v.clone();
    }
    p
}

/// A dispatch state (or a branch of a parallel one) running one task.
fn task(skill: String, params: Value, timeout: Option<f64>) -> Map<String, Value> {
    let mut t = Map::new();
    t.insert("task".into(), skill.into());
    t.insert("params".into(), params);
    if let Some(secs) = timeout {
        t.insert("result_timeout".into(), secs.into());
    }
    // The worker retries a failing step itself (`on_failure: retry`); the engine's retries
    // are for lost workers and transient faults.
    t
}

fn with(mut state: Map<String, Value>, kind: &str, description: String, next: &str) -> Value {
    state.insert("type".into(), kind.into());
    state.insert("description".into(), description.into());
    state.insert(
        "transitions".into(),
        json!({"success": next, "failure": "failed"}),
    );
    Value::Object(state)
}

fn work_state(list: &[Branch], next: &str) -> Value {
    if let [one] = list {
        let t = task(
            skill(one.kind),
            task_params(one.step.clone(), &[]),
            one.timeout,
        );
        return with(
            t,
            "dispatch",
            describe(std::slice::from_ref(&one.part), ""),
            next,
        );
    }
    let tasks: Map<String, Value> = list
        .iter()
        .map(|b| {
            let t = task(skill(b.kind), task_params(b.step.clone(), &[]), b.timeout);
            (b.part.step.clone(), Value::Object(t))
        })
        .collect();
    let parts: Vec<Part> = list.iter().map(|b| b.part.clone()).collect();
    let mut m = Map::new();
    m.insert("tasks".into(), Value::Object(tasks));
    // An aborting step fails the execution: the others are stopped at once.
    m.insert("on_failure".into(), "fail_fast".into());
    if let Some(cap) = list.iter().filter_map(|b| b.max_workers).min() {
        m.insert("max_concurrency".into(), cap.into());
    }
    with(m, "parallel", describe(&parts, ""), next)
}

fn approval_state(one: &Step, next: &str) -> Value {
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
    Value::Object(m)
}

/// The states of a `fan_out` (items, map) or `map_reduce` (items, map, reduce) step,
/// named from `first` on, the last going to `next`.
fn pattern_states(s: &Step, item: &Step, first: usize, next: &str) -> Vec<(String, Value)> {
    let kind = s.kind.name();
    let name = |i: usize| format!("s{}", first + i);
    let phase = |role: Role| {
        describe(
            &[Part {
                step: s.id.clone(),
                role,
            }],
            kind,
        )
    };
    let reduces = s.kind == StepType::MapReduce;
    let after_map = if reduces { name(2) } else { next.to_string() };
    let items = task(skill(s.kind), task_params(to_value(s), &[]), None);
    let mut item_step = to_value(item);
    if reduces {
        // The items' results go to the reduce, not to the execution's outputs.
        item_step["outputs"] = json!([]);
        item_step["publish"] = false.into();
    } else {
        item_step["outputs"] = json!([s.outputs.first().unwrap_or(&s.id)]);
    }
    let mut map = task(
        skill(item.kind),
        task_params(
            item_step,
            &[
                ("item", "{{ item }}".into()),
                ("index", "{{ branch.index }}".into()),
            ],
        ),
        item.timeout_seconds,
    );
    map.insert(
        "items".into(),
        format!("states.{}.data.items", name(0)).into(),
    );
    map.insert(
        "max_concurrency".into(),
        s.params
            .get("max_concurrent")
            .and_then(Value::as_u64)
            .unwrap_or(5)
            .into(),
    );
    let fail_fast = s.params.get("fail_fast").and_then(Value::as_bool) == Some(true);
    map.insert(
        "on_failure".into(),
        if fail_fast { "fail_fast" } else { "collect" }.into(),
    );
    let mut out = vec![
        (
            name(0),
            with(items, "dispatch", phase(Role::Items), &name(1)),
        ),
        (name(1), with(map, "parallel", phase(Role::Map), &after_map)),
    ];
    if reduces {
        let reduce = task(
            skill(StepType::FanIn),
            task_params(
                reduce_step(s),
                &[("items", format!("{{{{ states.{}.data }}}}", name(1)).into())],
            ),
            s.timeout_seconds,
        );
        out.push((name(2), with(reduce, "dispatch", phase(Role::Reduce), next)));
    }
    out
}

/// A `map_reduce`'s reduce as the `fan_in` step the worker runs.
fn reduce_step(s: &Step) -> Value {
    let raw = s.params.get("reduce_step").cloned().unwrap_or(Value::Null);
    let mut params = raw
        .get("params")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    params.insert(
        "aggregation".into(),
        raw.get("type").cloned().unwrap_or_else(|| "concat".into()),
    );
    if let Some(prompt) = params.remove("prompt") {
        params.insert("aggregate_prompt".into(), prompt);
    }
    let mut step = to_value(s);
    step["type"] = "fan_in".into();
    step["params"] = Value::Object(params);
    step
}

/// The blueprint of a validated workflow.
pub fn compile(wf: &Workflow) -> Compiled {
    let groups = groups(wf);
    // Names are given as states are made: a pattern takes two or three.
    let width = |g: &Group<'_>| match g {
        Group::Pattern(s, _) if s.kind == StepType::MapReduce => 3,
        Group::Pattern(..) => 2,
        _ => 1,
    };
    let total: usize = groups.iter().map(width).sum();
    let mut states = Map::new();
    let mut at = 0;
    for group in &groups {
        let after = at + width(group);
        let next = if after < total {
            format!("s{after}")
        } else {
            "done".to_string()
        };
        let made = match group {
            Group::Work(list) => vec![(format!("s{at}"), work_state(list, &next))],
            Group::Approval(one) => vec![(format!("s{at}"), approval_state(one, &next))],
            Group::Pattern(s, item) => pattern_states(s, item, at, &next),
        };
        states.extend(made);
        at = after;
    }
    if let Some(Value::Object(first)) = states.get_mut("s0") {
        first.insert("start".into(), true.into());
    }
    states.insert(
        "done".into(),
        json!({"type": "end", "status": "finished", "result": "{{ states }}"}),
    );
    states.insert("failed".into(), json!({"type": "end", "status": "failed"}));
    let name = blueprint_name(wf);
    let definition = json!({
        "name": name,
        "version": "wf",
        "endpoint": format!("/workflows/{name}"),
        "description": format!("workflow {} ({})", wf.id, wf.name),
        "max_transitions": total * 4 + 16,
        "states": states,
    });
    Compiled { name, definition }
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
        let c = compile(&w);
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
        let steps = state_parts(&c.definition);
        assert_eq!(
            steps[1],
            ("s1".to_string(), vec![Part::step("b"), Part::step("c")])
        );
        assert_eq!(steps[0].1, [Part::step("a")]);
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
    fn patterns_become_states_of_their_own() {
        let w = wf(json!([
            {"id": "par", "type": "parallel", "outputs": ["both"], "params": {"max_workers": 1, "steps": [
                {"id": "a", "type": "transform", "params": {"merge": {}}},
                {"id": "b", "type": "shell", "params": {"command": "true"}}]}},
            {"id": "fo", "type": "fan_out", "depends_on": ["par"], "outputs": ["reviews"],
             "params": {"items": "${files}", "max_concurrent": 2,
                        "step_template": {"type": "ai-prompt", "params": {"prompt": "review ${item}"}}}},
            {"id": "mr", "type": "map_reduce", "depends_on": ["par"], "params": {"items": [1, 2],
             "map_step": {"type": "transform", "params": {"template": "${item}"}},
             "reduce_step": {"type": "concat", "params": {"separator": ","}}}},
        ]));
        let c = compile(&w);
        let text = serde_json::to_string(&c.definition).unwrap();
        let bp = baton_blueprint::load_str("compiled", &text).expect("a valid blueprint");
        let kinds: Vec<&str> = (0..6)
            .map(|i| bp.states[&format!("s{i}")].kind.name())
            .collect();
        assert_eq!(
            kinds,
            ["parallel", "dispatch", "parallel", "dispatch", "parallel", "dispatch"]
        );
        let d = &c.definition;
        assert_eq!(d.pointer("/states/s0/max_concurrency"), Some(&json!(1)));
        assert_eq!(
            d.pointer("/states/s0/tasks/a/params/step/$literal/parent"),
            Some(&json!({"id": "par", "output": "both"}))
        );
        assert_eq!(d.pointer("/states/s1/task"), Some(&json!("wf-fan-out")));
        assert_eq!(
            d.pointer("/states/s2/items"),
            Some(&json!("states.s1.data.items"))
        );
        assert_eq!(d.pointer("/states/s2/task"), Some(&json!("wf-ai-prompt")));
        assert_eq!(d.pointer("/states/s2/on_failure"), Some(&json!("collect")));
        assert_eq!(
            d.pointer("/states/s2/params/step/$literal/outputs"),
            Some(&json!(["reviews"]))
        );
        assert_eq!(d.pointer("/states/s5/task"), Some(&json!("wf-fan-in")));
        assert_eq!(
            d.pointer("/states/s5/params/items"),
            Some(&json!("{{ states.s4.data }}"))
        );
        assert_eq!(
            d.pointer("/states/s5/params/step/$literal/params"),
            Some(&json!({"aggregation": "concat", "separator": ","}))
        );
        assert_eq!(
            d.pointer("/states/s5/transitions/success"),
            Some(&json!("done"))
        );
        let parts = state_parts(d);
        assert_eq!(
            parts[0].1,
            [
                Part {
                    step: "a".into(),
                    role: Role::Sub("par".into())
                },
                Part {
                    step: "b".into(),
                    role: Role::Sub("par".into())
                },
            ]
        );
        let roles: Vec<Role> = parts[1..].iter().map(|(_, p)| p[0].role.clone()).collect();
        assert_eq!(
            roles,
            [Role::Items, Role::Map, Role::Items, Role::Map, Role::Reduce]
        );
    }
}
