//! The params of the steps that run other steps, and of `fan_in`:
//!
//! - `parallel`: `steps` (a list of steps run at the same time; each a step that one
//!   worker task runs, with no `depends_on` of its own), optional `max_workers` (at least
//!   1) and `fail_fast` (a boolean).
//! - `fan_out`: `items` (a list, or a template naming one: `${files}`), `step_template`
//!   (the step run once per item, seeing `item` and `index`), optional `max_concurrent`
//!   (1 to [`MAX_CONCURRENT`], default 5) and `fail_fast`.
//! - `fan_in`: `input` (a list or a template naming one), `aggregation` (`concat`, the
//!   default, or an AI step type with `aggregate_prompt`), optional `separator`.
//! - `map_reduce`: `items`, `map_step` (as `step_template`), `reduce_step` (`type`:
//!   `concat` or an AI step type; `params.prompt` for the AI ones), `max_concurrent`,
//!   `fail_fast`.

use super::{step, Problems};
use crate::model::{Step, StepType};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Most items of a fan-out running at once.
pub const MAX_CONCURRENT: u64 = 1000;

/// The aggregations of `fan_in` and of a `map_reduce`'s `reduce_step`.
pub const AGGREGATIONS: &[&str] = &["concat", "ai-prompt", "ai_prompt", "openai", "claude_code"];

pub(crate) fn check(p: &mut Problems, path: &str, s: &Step) {
    let at = |f: &str| format!("{path}.params.{f}");
    let sid = Some(s.id.as_str());
    match s.kind {
        StepType::Parallel => parallel(p, path, s),
        StepType::FanOut | StepType::MapReduce => {
            items(p, sid, &at("items"), &s.params);
            positive(p, sid, &at("max_concurrent"), &s.params, MAX_CONCURRENT);
            boolean(p, sid, &at("fail_fast"), &s.params);
            let key = if s.kind == StepType::FanOut {
                "step_template"
            } else {
                "map_step"
            };
            match s.item_step() {
                Some(Ok(item)) => sub_step(p, &at(key), &item),
                Some(Err(e)) => p.add(sid, at(key), e),
                None => {}
            }
            if s.kind == StepType::MapReduce {
                reduce(p, sid, &at("reduce_step"), s.params.get("reduce_step"));
            }
        }
        StepType::FanIn => {
            if !s.params.contains_key("input") {
                p.add(
                    sid,
                    at("input"),
                    "a fan_in step needs `input`: a list, or a template naming one (`${results}`)",
                );
            }
            aggregation(
                p,
                sid,
                &format!("{path}.params"),
                &s.params,
                "aggregate_prompt",
            );
        }
        _ => {}
    }
}

fn parallel(p: &mut Problems, path: &str, s: &Step) {
    let at = format!("{path}.params.steps");
    let sid = Some(s.id.as_str());
    positive(
        p,
        sid,
        &format!("{path}.params.max_workers"),
        &s.params,
        MAX_CONCURRENT,
    );
    boolean(p, sid, &format!("{path}.params.fail_fast"), &s.params);
    match s.params.get("steps") {
        Some(Value::Array(list)) if !list.is_empty() => {}
        _ => {
            p.add(
                sid,
                at,
                "a parallel step needs `steps`: a list of the steps it runs",
            );
            return;
        }
    }
    match s.parallel_steps() {
        Ok(subs) => {
            for (j, sub) in subs.iter().enumerate() {
                sub_step(p, &format!("{at}[{j}]"), sub);
            }
        }
        Err((j, e)) => p.add(sid, format!("{at}[{j}]"), e),
    }
}

/// A step run by a step: one worker task, no dependencies of its own.
fn sub_step(p: &mut Problems, path: &str, sub: &Step) {
    let sid = Some(sub.id.as_str());
    if !sub.kind.is_task() {
        p.add(
            sid,
            format!("{path}.type"),
            format!(
                "`{}` cannot run inside another step: use ai-prompt, shell, transform, checkpoint or fan_in",
                sub.kind.name()
            ),
        );
        return;
    }
    let mut alone = sub.clone();
    if !alone.depends_on.is_empty() {
        p.add(
            sid,
            format!("{path}.depends_on"),
            "steps run by another step start together: make a later step depend on the parent",
        );
        alone.depends_on.clear();
    }
    step(p, path, &alone, &HashMap::new());
}

fn items(p: &mut Problems, sid: Option<&str>, at: &str, params: &Map<String, Value>) {
    match params.get("items") {
        Some(Value::Array(_)) => {}
        Some(Value::String(t)) if t.contains("{{") || t.contains("${") => {}
        _ => p.add(
            sid,
            at.to_string(),
            "`items` must be a list, or a template naming one (`${files}`)",
        ),
    }
}

fn reduce(p: &mut Problems, sid: Option<&str>, at: &str, raw: Option<&Value>) {
    let Some(Value::Object(r)) = raw else {
        p.add(
            sid,
            at.to_string(),
            "a map_reduce step needs `reduce_step`: {type: concat | ai-prompt, params: {prompt}}",
        );
        return;
    };
    let mut flat = r
        .get("params")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Some(kind) = r.get("type") {
        flat.insert("aggregation".into(), kind.clone());
    }
    if let Some(prompt) = flat.remove("prompt") {
        flat.insert("aggregate_prompt".into(), prompt);
    }
    aggregation(p, sid, at, &flat, "params.prompt");
}

/// `aggregation` (default `concat`) and, for an AI one, its prompt (`prompt_key`).
fn aggregation(
    p: &mut Problems,
    sid: Option<&str>,
    at: &str,
    params: &Map<String, Value>,
    prompt_key: &str,
) {
    let kind = match params.get("aggregation") {
        None => "concat",
        Some(Value::String(k)) if AGGREGATIONS.contains(&k.as_str()) => k.as_str(),
        Some(_) => {
            p.add(
                sid,
                format!("{at}.aggregation"),
                "the aggregation is `concat`, `ai-prompt`, `openai` or `claude_code`",
            );
            return;
        }
    };
    let prompt = params
        .get("aggregate_prompt")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.trim().is_empty());
    if kind != "concat" && !prompt {
        p.add(
            sid,
            format!("{at}.{prompt_key}"),
            "an AI aggregation needs its prompt (`${items}` is replaced by the items)",
        );
    }
    if params.get("separator").is_some_and(|s| !s.is_string()) {
        p.add(sid, format!("{at}.separator"), "the separator is text");
    }
}

fn positive(p: &mut Problems, sid: Option<&str>, at: &str, params: &Map<String, Value>, max: u64) {
    let key = at.rsplit('.').next().unwrap_or(at);
    if let Some(v) = params.get(key) {
        if !v.as_u64().is_some_and(|n| (1..=max).contains(&n)) {
            p.add(
                sid,
                at.to_string(),
                format!("a whole number from 1 to {max}"),
            );
        }
    }
}

fn boolean(p: &mut Problems, sid: Option<&str>, at: &str, params: &Map<String, Value>) {
    let key = at.rsplit('.').next().unwrap_or(at);
    if params.get(key).is_some_and(|v| !v.is_boolean()) {
        p.add(sid, at.to_string(), "true or false");
    }
}

#[cfg(test)]
mod tests {
    use crate::model::Workflow;
    use serde_json::json;

    fn problems(steps: serde_json::Value) -> Vec<(Option<String>, String)> {
        let w: Workflow =
            serde_json::from_value(json!({"id": "w", "name": "W", "steps": steps})).unwrap();
        super::super::workflow(&w)
            .into_iter()
            .map(|p| (p.step_id, p.field))
            .collect()
    }

    #[test]
    fn good_patterns_pass() {
        let p = problems(json!([
            {"id": "par", "type": "parallel", "params": {"steps": [
                {"id": "a", "type": "transform", "params": {"merge": {}}, "outputs": ["x"]},
                {"id": "b", "type": "shell", "params": {"command": "true"}}]}},
            {"id": "fo", "type": "fan_out", "depends_on": ["par"], "outputs": ["rs"],
             "params": {"items": "${files}", "max_concurrent": 2,
                        "step_template": {"type": "ai-prompt", "params": {"prompt": "review ${item}"}}}},
            {"id": "fi", "type": "fan_in", "depends_on": ["fo"],
             "params": {"input": "${rs}", "aggregation": "openai", "aggregate_prompt": "sum ${items}"}},
            {"id": "mr", "type": "map_reduce", "params": {"items": [1, 2],
             "map_step": {"type": "transform", "params": {"template": "${item}"}},
             "reduce_step": {"type": "concat", "params": {"separator": ","}}}},
        ]));
        assert_eq!(p, vec![]);
    }

    #[test]
    fn bad_patterns_name_the_field() {
        let p = problems(json!([
            {"id": "par", "type": "parallel", "params": {"steps": [
                {"id": "a", "type": "approval"},
                {"id": "b", "type": "shell", "params": {}, "depends_on": ["x"]},
                {"id": "par", "type": "transform", "params": {"merge": {}}}], "max_workers": 0}},
            {"id": "fo", "type": "fan_out", "params": {"items": 3, "step_template": {"type": "shell"}}},
            {"id": "fi", "type": "fan_in", "params": {"aggregation": "claude_code"}},
            {"id": "mr", "type": "map_reduce", "params": {"items": [], "map_step": {"type": "transform", "params": {"merge": {}}}}},
        ]));
        let fields: Vec<&str> = p.iter().map(|(_, f)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "steps[0].params.steps[2].id",
                "steps[0].params.max_workers",
                "steps[0].params.steps[0].type",
                "steps[0].params.steps[1].depends_on",
                "steps[0].params.steps[1].params.command",
                "steps[1].params.items",
                "steps[1].params.step_template.params.command",
                "steps[2].params.input",
                "steps[2].params.aggregate_prompt",
                "steps[3].params.reduce_step",
            ]
        );
    }
}
