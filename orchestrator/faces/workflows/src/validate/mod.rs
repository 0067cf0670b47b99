//! Checks of a workflow definition, run before it is saved (`POST`/`PUT /v1/workflows`) or
//! loaded (a YAML file), and of the inputs of an execution. Every problem names the step
//! (when there is one) and the field, so a client can point at what to fix.

use crate::model::{InputSpec, OnFailure, Operator, Step, StepType, Workflow};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use utoipa::ToSchema;

mod patterns;

/// Longest id of a workflow, a step or an output.
pub const MAX_ID_LEN: usize = 128;
/// Most retries a step may ask for.
pub const MAX_STEP_RETRIES: u32 = 20;
/// Most steps in one workflow.
pub const MAX_STEPS: usize = 500;

/// One thing wrong with a definition or an execution's inputs.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Problem {
    /// The step it is about, if any.
    pub step_id: Option<String>,
    /// The field, as a path from the workflow (`steps[2].depends_on`, `inputs.topic`).
    pub field: String,
    pub message: String,
}

fn id_ok(id: &str) -> bool {
    id.len() <= MAX_ID_LEN && baton_protocol::is_identifier(id)
}

const ID_RULE: &str = "1 to 128 letters, digits, `-` or `_`";

pub(crate) struct Problems(Vec<Problem>);

impl Problems {
    pub(crate) fn add(&mut self, step: Option<&str>, field: String, message: impl Into<String>) {
        self.0.push(Problem {
            step_id: step.map(str::to_string),
            field,
            message: message.into(),
        });
    }
}

/// Every problem of `wf`, in the order of its fields; empty when it may be saved.
pub fn workflow(wf: &Workflow) -> Vec<Problem> {
    let mut p = Problems(Vec::new());
    if !id_ok(&wf.id) {
        p.add(None, "id".into(), format!("the id must be {ID_RULE}"));
    }
    if wf.name.trim().is_empty() {
        p.add(None, "name".into(), "the name must not be empty");
    }
    for (name, spec) in &wf.inputs {
        input(&mut p, name, spec);
    }
    if wf.token_budget == Some(0) {
        p.add(None, "token_budget".into(), "must be at least 1 when set");
    }
    if let Some(t) = wf.timeout_seconds {
        timeout(&mut p, None, "timeout_seconds".into(), t);
    }
    if wf.steps.is_empty() {
        p.add(None, "steps".into(), "a workflow needs at least one step");
    }
    if wf.steps.len() > MAX_STEPS {
        p.add(None, "steps".into(), format!("at most {MAX_STEPS} steps"));
    }
    let mut ids: HashMap<&str, usize> = HashMap::new();
    for (i, s) in wf.steps.iter().enumerate() {
        ids.insert(s.id.as_str(), i);
    }
    // Step ids and output names are unique across the workflow, the steps a `parallel`
    // step runs included (their answers and outputs are found by them).
    let subs: Vec<(usize, Vec<Step>)> = wf
        .steps
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.parallel_steps().ok().map(|subs| (i, subs)))
        .collect();
    let mut named: Vec<(String, &Step)> = wf
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (format!("steps[{i}]"), s))
        .collect();
    for (i, list) in &subs {
        for (j, s) in list.iter().enumerate() {
            named.push((format!("steps[{i}].params.steps[{j}]"), s));
        }
    }
    let mut seen: HashMap<&str, ()> = HashMap::new();
    let mut outputs: HashMap<&str, &str> = HashMap::new();
    for (at, s) in &named {
        if seen.insert(s.id.as_str(), ()).is_some() {
            p.add(
                Some(&s.id),
                format!("{at}.id"),
                format!("step id `{}` is used twice", s.id),
            );
        }
        for out in &s.outputs {
            if let Some(other) = outputs.insert(out.as_str(), s.id.as_str()) {
                p.add(
                    Some(&s.id),
                    format!("{at}.outputs"),
                    format!("output `{out}` is also published by step `{other}`"),
                );
            }
        }
    }
    for (i, s) in wf.steps.iter().enumerate() {
        step(&mut p, &format!("steps[{i}]"), s, &ids);
    }
    if p.0.is_empty() {
        if let Some(cycle) = cycle(wf) {
            p.add(
                Some(&cycle[0]),
                "depends_on".into(),
                format!(
                    "steps depend on each other in a cycle: {}",
                    cycle.join(" -> ")
                ),
            );
        }
    }
    p.0
}

fn input(p: &mut Problems, name: &str, spec: &InputSpec) {
    if !id_ok(name) {
        p.add(
            None,
            format!("inputs.{name}"),
            format!("an input name must be {ID_RULE}"),
        );
    }
    if let Some(d) = &spec.default {
        if !spec.kind.accepts(d) {
            p.add(
                None,
                format!("inputs.{name}.default"),
                format!("the default is not of type {}", spec.kind.name()),
            );
        }
    }
}

fn timeout(p: &mut Problems, step: Option<&str>, field: String, secs: f64) {
    if secs <= 0.0 || baton_protocol::clock::seconds(secs).is_none() {
        p.add(
            step,
            field,
            "must be more than 0 and at most 1000000000 seconds",
        );
    }
}

/// The checks of one step; `path` is where it is in the workflow (`steps[2]`).
pub(crate) fn step(p: &mut Problems, path: &str, s: &Step, ids: &HashMap<&str, usize>) {
    let at = |f: &str| format!("{path}.{f}");
    let sid = Some(s.id.as_str());
    if !id_ok(&s.id) {
        p.add(sid, at("id"), format!("a step id must be {ID_RULE}"));
    }
    for dep in &s.depends_on {
        if dep == &s.id {
            p.add(sid, at("depends_on"), "a step cannot depend on itself");
        } else if !ids.contains_key(dep.as_str()) {
            p.add(
                sid,
                at("depends_on"),
                format!("no step `{dep}` to depend on"),
            );
        }
    }
    for out in &s.outputs {
        if !id_ok(out) {
            p.add(
                sid,
                at("outputs"),
                format!("output name `{out}` must be {ID_RULE}"),
            );
        }
    }
    if let Some(c) = &s.condition {
        if c.field.trim().is_empty() {
            p.add(sid, at("condition.field"), "the condition needs a field");
        }
        match (c.operator, &c.value) {
            (op, None) if op.needs_value() => p.add(
                sid,
                at("condition.value"),
                "this operator compares with a value",
            ),
            (Operator::In, Some(v)) if !v.is_array() => {
                p.add(sid, at("condition.value"), "`in` takes a list")
            }
            (Operator::GreaterThan | Operator::LessThan, Some(v)) if !v.is_number() => p.add(
                sid,
                at("condition.value"),
                "this operator compares with a number",
            ),
            _ => {}
        }
    }
    if s.max_retries.is_some_and(|n| n > MAX_STEP_RETRIES) {
        p.add(
            sid,
            at("max_retries"),
            format!("at most {MAX_STEP_RETRIES}"),
        );
    }
    if s.on_failure == OnFailure::ContinueWithDefault && s.default_output.is_none() {
        p.add(
            sid,
            at("default_output"),
            "`continue_with_default` needs the `default_output` to continue with",
        );
    }
    if let Some(t) = s.timeout_seconds {
        timeout(p, sid, at("timeout_seconds"), t);
    }
    params(p, sid, &at("params"), s.kind, &s.params);
    patterns::check(p, path, s);
}

/// The params each step type needs.
fn params(
    p: &mut Problems,
    sid: Option<&str>,
    at: &str,
    kind: StepType,
    params: &Map<String, Value>,
) {
    let string = |key: &str| {
        params
            .get(key)
            .and_then(Value::as_str)
            .is_some_and(|v| !v.trim().is_empty())
    };
    match kind {
        StepType::AiPrompt if !string("prompt") && !string("prompt_id") => p.add(
            sid,
            format!("{at}.prompt"),
            "an ai-prompt step needs `prompt` (or `prompt_id` naming a prompt template)",
        ),
        StepType::Shell if !string("command") => {
            p.add(sid, format!("{at}.command"), "a shell step needs `command`")
        }
        StepType::Transform
            if !["pick", "rename", "template", "merge"]
                .iter()
                .any(|k| params.contains_key(*k)) =>
        {
            p.add(
                sid,
                at.to_string(),
                "a transform step needs one of `pick`, `rename`, `template`, `merge`",
            )
        }
        _ => {}
    }
}

/// A cycle of `depends_on`, as step ids (first repeated at the end), if there is one.
fn cycle(wf: &Workflow) -> Option<Vec<String>> {
    // Depth-first search with colours: grey = on the current path.
    #[derive(Clone, Copy, PartialEq)]
    enum Colour {
        White,
        Grey,
        Black,
    }
    let index: HashMap<&str, usize> = wf
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let mut colour = vec![Colour::White; wf.steps.len()];
    let mut path: Vec<usize> = Vec::new();
    fn visit(
        i: usize,
        wf: &Workflow,
        index: &HashMap<&str, usize>,
        colour: &mut [Colour],
        path: &mut Vec<usize>,
    ) -> Option<Vec<String>> {
        colour[i] = Colour::Grey;
        path.push(i);
        for dep in &wf.steps[i].depends_on {
            let Some(&j) = index.get(dep.as_str()) else {
                continue;
            };
            match colour[j] {
                Colour::Grey => {
                    let from = path.iter().position(|&k| k == j).unwrap_or(0);
                    let mut ids: Vec<String> = path[from..]
                        .iter()
                        .map(|&k| wf.steps[k].id.clone())
                        .collect();
                    ids.push(wf.steps[j].id.clone());
                    return Some(ids);
                }
                Colour::White => {
                    if let Some(c) = visit(j, wf, index, colour, path) {
                        return Some(c);
                    }
                }
                Colour::Black => {}
            }
        }
        path.pop();
        colour[i] = Colour::Black;
        None
    }
    (0..wf.steps.len()).find_map(|i| {
        if colour[i] == Colour::White {
            visit(i, wf, &index, &mut colour, &mut path)
        } else {
            None
        }
    })
}

/// The steps in an order where each comes after those it depends on (the definition's
/// order among independent ones). Only for a workflow that passed [`workflow`].
pub fn topological(wf: &Workflow) -> Vec<&Step> {
    let mut done: HashSet<&str> = HashSet::new();
    let mut out = Vec::with_capacity(wf.steps.len());
    while out.len() < wf.steps.len() {
        let before = out.len();
        for s in &wf.steps {
            if !done.contains(s.id.as_str())
                && s.depends_on.iter().all(|d| done.contains(d.as_str()))
            {
                done.insert(&s.id);
                out.push(s);
            }
        }
        if out.len() == before {
            break; // a cycle: refused by `workflow`, never reached
        }
    }
    out
}

/// The execution's variables: the workflow's `variables`, then the inputs' defaults, then
/// what the caller gave. Refuses a missing required input, an input of the wrong type and
/// (for workflows that declare inputs) an undeclared one.
pub fn inputs(
    wf: &Workflow,
    given: &Map<String, Value>,
) -> Result<Map<String, Value>, Vec<Problem>> {
    let mut p = Problems(Vec::new());
    let mut vars = wf.variables.clone();
    let declared: BTreeMap<&str, &InputSpec> =
        wf.inputs.iter().map(|(k, v)| (k.as_str(), v)).collect();
    for (name, spec) in &declared {
        match given.get(*name) {
            Some(v) if !spec.kind.accepts(v) => p.add(
                None,
                format!("inputs.{name}"),
                format!("must be of type {}", spec.kind.name()),
            ),
            Some(_) => {}
            None if spec.required && spec.default.is_none() => {
                p.add(None, format!("inputs.{name}"), "this input is required")
            }
            None => {
                if let Some(d) = &spec.default {
                    vars.insert(name.to_string(), d.clone());
                }
            }
        }
    }
    for (k, v) in given {
        vars.insert(k.clone(), v.clone());
    }
    if p.0.is_empty() {
        Ok(vars)
    } else {
        Err(p.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn wf(steps: Value) -> Workflow {
        serde_json::from_value(json!({"id": "w", "name": "W", "steps": steps})).unwrap()
    }

    fn fields(problems: &[Problem]) -> Vec<(Option<&str>, &str)> {
        problems
            .iter()
            .map(|p| (p.step_id.as_deref(), p.field.as_str()))
            .collect()
    }

    #[test]
    fn a_good_dag_passes_and_orders_its_steps() {
        let w = wf(json!([
            {"id": "c", "type": "transform", "params": {"merge": {}}, "depends_on": ["a", "b"]},
            {"id": "a", "type": "shell", "params": {"command": "echo a"}},
            {"id": "b", "type": "openai", "params": {"prompt": "hi"}, "outputs": ["answer"]},
        ]));
        assert_eq!(workflow(&w), vec![]);
        let order: Vec<&str> = topological(&w).iter().map(|s| s.id.as_str()).collect();
        assert_eq!(order, ["a", "b", "c"]);
        assert_eq!(
            w.steps[2].kind,
            StepType::AiPrompt,
            "openai is a name of ai-prompt"
        );
    }

    #[test]
    fn problems_name_the_step_and_the_field() {
        let w = wf(json!([
            {"id": "a", "type": "shell", "params": {}},
            {"id": "a", "type": "transform", "params": {"pick": ["x"]}, "depends_on": ["zz"]},
            {"id": "b", "type": "ai-prompt", "params": {"prompt": "p"},
             "condition": {"field": "x", "operator": "greater_than", "value": "ten"},
             "on_failure": "continue_with_default", "timeout_seconds": -1},
        ]));
        assert_eq!(
            fields(&workflow(&w)),
            [
                (Some("a"), "steps[1].id"),
                (Some("a"), "steps[0].params.command"),
                (Some("a"), "steps[1].depends_on"),
                (Some("b"), "steps[2].condition.value"),
                (Some("b"), "steps[2].default_output"),
                (Some("b"), "steps[2].timeout_seconds"),
            ]
        );
    }

    #[test]
    fn a_cycle_is_refused_naming_its_steps() {
        let w = wf(json!([
            {"id": "a", "type": "transform", "params": {"merge": {}}, "depends_on": ["c"]},
            {"id": "b", "type": "transform", "params": {"merge": {}}, "depends_on": ["a"]},
            {"id": "c", "type": "transform", "params": {"merge": {}}, "depends_on": ["b"]},
        ]));
        let p = workflow(&w);
        assert_eq!(p.len(), 1);
        assert!(
            p[0].message.contains("a -> c -> b -> a"),
            "{}",
            p[0].message
        );
    }

    #[test]
    fn unknown_step_types_and_fields_do_not_parse() {
        let bad = json!({"id": "w", "name": "W", "steps": [{"id": "a", "type": "teleport"}]});
        assert!(serde_json::from_value::<Workflow>(bad).is_err());
        let typo = json!({"id": "w", "name": "W", "steps": [{"id": "a", "type": "shell", "dependson": []}]});
        assert!(serde_json::from_value::<Workflow>(typo).is_err());
    }

    #[test]
    fn inputs_take_defaults_and_refuse_missing_or_mistyped_ones() {
        let w: Workflow = serde_json::from_value(json!({
            "id": "w", "name": "W", "variables": {"tone": "dry"},
            "inputs": {"topic": {"type": "string", "required": true},
                       "n": {"type": "integer", "default": 3}},
            "steps": [{"id": "a", "type": "transform", "params": {"merge": {}}}],
        }))
        .unwrap();
        let vars = inputs(&w, json!({"topic": "rust"}).as_object().unwrap()).unwrap();
        assert_eq!(
            Value::Object(vars),
            json!({"tone": "dry", "topic": "rust", "n": 3})
        );
        let p = inputs(&w, json!({"n": "three"}).as_object().unwrap()).unwrap_err();
        let f: Vec<&str> = p.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(f, ["inputs.n", "inputs.topic"]);
    }
}
