//! Templating of task params and end results.
//!
//! A template is any JSON value. Strings inside it may hold placeholders, in either of the
//! two forms users already write: `{{ path }}` and `${path}`. A path is dot-separated
//! (`initial_data.user.name`, `states.fetch.data.items.0`); numeric segments index arrays.
//! Paths start at the job context (`initial_data`, `states`, `job`, `metadata`, and in the
//! params of a parallel map branch `item` and `branch`); a path
//! whose first segment is none of those is looked up in `initial_data`, so `${x}` means
//! `initial_data.x`.
//!
//! A string that is exactly one placeholder becomes the referenced value with its JSON
//! type (an object stays an object); placeholders inside longer strings are replaced by
//! their text. A missing path renders as `null` (or as empty text inside a string).
//!
//! `{"$literal": value}` renders as `value`, untouched: for params that carry templates
//! meant for the worker (a workflow step's own `{{name}}` placeholders), not for the
//! engine.

use serde_json::{Map, Value};

/// Context roots a path may start with.
const ROOTS: [&str; 6] = [
    "initial_data",
    "states",
    "job",
    "metadata",
    "item",
    "branch",
];

/// The key of a value passed through unrendered.
pub const LITERAL: &str = "$literal";

fn literal(map: &Map<String, Value>) -> Option<&Value> {
    match map.len() {
        1 => map.get(LITERAL),
        _ => None,
    }
}

/// Renders `template` against the job context `ctx` (a JSON object).
pub fn render(template: &Value, ctx: &Value) -> Value {
    match template {
        Value::Object(map) if literal(map).is_some() => literal(map).cloned().unwrap_or_default(),
        Value::String(s) => render_string(s, ctx),
        Value::Array(items) => Value::Array(items.iter().map(|v| render(v, ctx)).collect()),
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (k, v) in map {
                out.insert(k.clone(), render(v, ctx));
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// Whether `template` contains any placeholder (so rendering can be skipped).
pub fn has_placeholders(template: &Value) -> bool {
    match template {
        Value::String(s) => s.contains("{{") || s.contains("${"),
        Value::Array(items) => items.iter().any(has_placeholders),
        // A literal renders to its inner value, not to itself.
        Value::Object(map) if literal(map).is_some() => true,
        Value::Object(map) => map.values().any(has_placeholders),
        _ => false,
    }
}

/// Every path referenced by `template`, for validation at load time.
pub fn referenced_paths(template: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect_paths(template, &mut out);
    out
}

fn collect_paths(template: &Value, out: &mut Vec<String>) {
    match template {
        Value::String(s) => {
            let mut rest = s.as_str();
            while let Some((_, path, after)) = next_placeholder(rest) {
                out.push(path.to_string());
                rest = after;
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_paths(v, out)),
        Value::Object(map) if literal(map).is_some() => {}
        Value::Object(map) => map.values().for_each(|v| collect_paths(v, out)),
        _ => {}
    }
}

fn render_string(s: &str, ctx: &Value) -> Value {
    if let Some((before, path, after)) = next_placeholder(s) {
        if before.trim().is_empty() && after.trim().is_empty() {
            return lookup(ctx, path).cloned().unwrap_or(Value::Null);
        }
    } else {
        return Value::String(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some((before, path, after)) = next_placeholder(rest) {
        out.push_str(before);
        match lookup(ctx, path) {
            Some(Value::String(text)) => out.push_str(text),
            Some(Value::Null) | None => {}
            Some(other) => out.push_str(&other.to_string()),
        }
        rest = after;
    }
    out.push_str(rest);
    Value::String(out)
}

/// Finds the first placeholder: returns (text before, trimmed path, text after).
fn next_placeholder(s: &str) -> Option<(&str, &str, &str)> {
    let curly = s.find("{{").map(|i| (i, "{{", "}}"));
    let dollar = s.find("${").map(|i| (i, "${", "}"));
    let (start, open, close) = match (curly, dollar) {
        (Some(a), Some(b)) => {
            if a.0 <= b.0 {
                a
            } else {
                b
            }
        }
        (Some(a), None) => a,
        (None, Some(b)) => b,
        (None, None) => return None,
    };
    let inner_start = start + open.len();
    let len = s[inner_start..].find(close)?;
    let path = s[inner_start..inner_start + len].trim();
    Some((&s[..start], path, &s[inner_start + len + close.len()..]))
}

/// Looks up a dotted path in the context.
pub fn lookup<'a>(ctx: &'a Value, path: &str) -> Option<&'a Value> {
    let mut segments = path.split('.').filter(|p| !p.is_empty()).peekable();
    let first = *segments.peek()?;
    let mut current = if ROOTS.contains(&first) {
        ctx
    } else {
        ctx.get("initial_data")?
    };
    for seg in segments {
        current = match current {
            Value::Object(map) => map.get(seg)?,
            Value::Array(items) => items.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

#[cfg(test)]
mod literal_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_literal_is_passed_through_unrendered_and_unchecked() {
        let t = json!({"step": {"$literal": {"prompt": "{{topic}}"}}, "ctx": "{{ initial_data }}"});
        let out = render(&t, &json!({"initial_data": {"topic": "x"}}));
        assert_eq!(
            out,
            json!({"step": {"prompt": "{{topic}}"}, "ctx": {"topic": "x"}})
        );
        assert_eq!(referenced_paths(&t), ["initial_data"]);
        assert!(has_placeholders(&json!({"$literal": 1})));
        // Only a one-key object is a literal.
        let two = json!({"$literal": "{{ a }}", "b": 1});
        assert_eq!(
            render(&two, &json!({"initial_data": {"a": 5}})),
            json!({"$literal": 5, "b": 1})
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> Value {
        json!({
            "initial_data": {"msg": "hi", "n": 3, "user": {"name": "ann"}, "list": [1, 2]},
            "states": {"fetch": {"data": {"y": [10, 20]}}},
            "job": {"id": "j1"}
        })
    }

    #[test]
    fn whole_placeholder_keeps_json_type() {
        assert_eq!(render(&json!("{{ initial_data }}"), &ctx())["msg"], "hi");
        assert_eq!(render(&json!("{{ initial_data.n }}"), &ctx()), json!(3));
        assert_eq!(render(&json!("${user}"), &ctx()), json!({"name": "ann"}));
        assert_eq!(
            render(&json!("{{states.fetch.data.y.1}}"), &ctx()),
            json!(20)
        );
    }

    #[test]
    fn interpolation_inside_text_and_nested_values() {
        let t = json!({"greeting": "hello ${user.name}, job {{ job.id }} n={{initial_data.n}}",
                       "items": ["{{ initial_data.list }}", "x"], "k": 5});
        assert_eq!(
            render(&t, &ctx()),
            json!({"greeting": "hello ann, job j1 n=3", "items": [[1, 2], "x"], "k": 5})
        );
    }

    #[test]
    fn missing_paths_render_as_null_or_nothing() {
        assert_eq!(
            render(&json!("{{ states.nope.data }}"), &ctx()),
            Value::Null
        );
        assert_eq!(render(&json!("a-${missing}-b"), &ctx()), json!("a--b"));
        assert_eq!(
            render(&json!("unterminated {{ x"), &ctx()),
            json!("unterminated {{ x")
        );
    }

    #[test]
    fn paths_are_collected_for_validation() {
        let t = json!({"a": "{{ states.s1.data }} and ${x}", "b": ["{{job.id}}"]});
        assert_eq!(referenced_paths(&t), vec!["states.s1.data", "x", "job.id"]);
        assert!(has_placeholders(&t));
        assert!(!has_placeholders(&json!({"a": 1})));
    }
}
