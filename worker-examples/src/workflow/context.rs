//! What a workflow step sees: the execution's variables (inputs over the workflow's
//! `variables`) and the outputs of the steps done so far, read back from the job's
//! states; `{{name}}` / `${name}` templates over them; step conditions.

use serde_json::{Map, Value};

/// The outputs every finished step published, from the job's states (the rule is
/// [`baton_protocol::workflow::published`], shared with the workflow face).
pub fn outputs(states: &Value) -> Map<String, Value> {
    states
        .as_object()
        .map(baton_protocol::workflow::published)
        .unwrap_or_default()
}

/// A dotted path (`review.score`, `items.0`) in the context.
pub fn lookup<'a>(ctx: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.').filter(|p| !p.is_empty());
    let mut current = ctx.get(parts.next()?)?;
    for seg in parts {
        current = match current {
            Value::Object(m) => m.get(seg)?,
            Value::Array(items) => items.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

/// Renders `{{ name }}` and `${name}` in strings of `template`; a string that is exactly
/// one placeholder becomes the value itself (an object stays an object); a missing name
/// renders as empty text (or `null` alone).
pub fn render(template: &Value, ctx: &Map<String, Value>) -> Value {
    match template {
        Value::String(s) => render_str(s, ctx),
        Value::Array(items) => Value::Array(items.iter().map(|v| render(v, ctx)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), render(v, ctx)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn next(s: &str) -> Option<(&str, &str, &str)> {
    let curly = s.find("{{").map(|i| (i, 2, "}}"));
    let dollar = s.find("${").map(|i| (i, 2, "}"));
    let (start, open, close) = match (curly, dollar) {
        (Some(a), Some(b)) => {
            if a.0 <= b.0 {
                a
            } else {
                b
            }
        }
        (a, b) => a.or(b)?,
    };
    let inner = start + open;
    let len = s[inner..].find(close)?;
    Some((
        &s[..start],
        s[inner..inner + len].trim(),
        &s[inner + len + close.len()..],
    ))
}

fn render_str(s: &str, ctx: &Map<String, Value>) -> Value {
    match next(s) {
        None => return Value::String(s.to_string()),
        Some((before, path, after)) if before.trim().is_empty() && after.trim().is_empty() => {
            return lookup(ctx, path).cloned().unwrap_or(Value::Null);
        }
        Some(_) => {}
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some((before, path, after)) = next(rest) {
        out.push_str(before);
        match lookup(ctx, path) {
            Some(Value::String(t)) => out.push_str(t),
            Some(Value::Null) | None => {}
            Some(v) => out.push_str(&v.to_string()),
        }
        rest = after;
    }
    out.push_str(rest);
    Value::String(out)
}

fn number(v: &Value) -> Option<f64> {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

fn empty(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        Some(_) => false,
    }
}

/// Whether a step's `condition` (`{field, operator, value}`) holds.
pub fn holds(condition: &Value, ctx: &Map<String, Value>) -> bool {
    let field = condition
        .get("field")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let actual = lookup(ctx, field);
    let want = condition.get("value").unwrap_or(&Value::Null);
    match condition
        .get("operator")
        .and_then(Value::as_str)
        .unwrap_or_default()
    {
        "equals" => actual == Some(want),
        "not_equals" => actual != Some(want),
        "contains" => match (actual, want) {
            (Some(Value::String(a)), Value::String(w)) => a.contains(w.as_str()),
            (Some(Value::Array(items)), w) => items.contains(w),
            _ => false,
        },
        "greater_than" => {
            matches!((actual.and_then(number), number(want)), (Some(a), Some(w)) if a > w)
        }
        "less_than" => {
            matches!((actual.and_then(number), number(want)), (Some(a), Some(w)) if a < w)
        }
        "in" => want
            .as_array()
            .is_some_and(|list| actual.is_some_and(|a| list.contains(a))),
        "not_empty" => !empty(actual),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn outputs_come_from_dispatch_and_parallel_states() {
        let states = json!({
            "s0": {"data": {"step_id": "a", "outputs": {"x": 1}}},
            "s1": {"data": {"b": {"step_id": "b", "outputs": {"y": "two"}}, "c": {"step_id": "c", "outputs": {}}}},
            "s2": {"data": [{"step_id": "f", "outputs": {"z": 1}}, {"step_id": "f", "outputs": {"z": 2}}]},
        });
        assert_eq!(
            Value::Object(outputs(&states)),
            json!({"x": 1, "y": "two", "z": [1, 2]})
        );
    }

    #[test]
    fn templates_take_both_forms_and_keep_types() {
        let c = ctx(json!({"topic": "rust", "n": 3, "review": {"score": 9}}));
        assert_eq!(render(&json!("{{topic}}"), &c), json!("rust"));
        assert_eq!(render(&json!("${review}"), &c), json!({"score": 9}));
        assert_eq!(
            render(&json!("{{ n }} on ${topic}, {{missing}}!"), &c),
            json!("3 on rust, !")
        );
        assert_eq!(
            render(&json!({"a": ["{{review.score}}"]}), &c),
            json!({"a": [9]})
        );
    }

    #[test]
    fn conditions_compare_as_documented() {
        let c = ctx(json!({"s": "hello world", "n": 5, "tags": ["x"], "e": ""}));
        let h = |op: &str, field: &str, value: Value| {
            holds(&json!({"field": field, "operator": op, "value": value}), &c)
        };
        assert!(h("equals", "n", json!(5)) && !h("equals", "n", json!(6)));
        assert!(h("not_equals", "s", json!("x")));
        assert!(h("contains", "s", json!("world")) && h("contains", "tags", json!("x")));
        assert!(h("greater_than", "n", json!(4)) && !h("less_than", "n", json!(4)));
        assert!(h("in", "n", json!([1, 5])) && !h("in", "n", json!([1])));
        assert!(h("not_empty", "s", Value::Null) && !h("not_empty", "e", Value::Null));
        assert!(!h("not_empty", "absent", Value::Null));
    }
}
