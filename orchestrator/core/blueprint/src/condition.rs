//! Conditions of branch states.
//!
//! A condition is a tree: leaves compare the value at a context `path` with an operand
//! (`eq`, `ne`, `gt`, `gte`, `lt`, `lte`, `contains`, `in`, `exists`), inner nodes combine
//! conditions (`all`/`and`, `any`/`or`, `not`). In YAML:
//!
//! ```yaml
//! when:
//!   any:
//!     - { path: initial_data.amount, gt: 1000 }
//!     - { path: states.check.data.flags, contains: manual }
//! ```
//!
//! Operands may be templates (`eq: "{{ initial_data.expected }}"`), rendered against the
//! same context. Comparisons of mismatched types are false rather than errors: a branch
//! state must always pick a way out, and the `default` is that way.

use super::template::{has_placeholders, lookup, render};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    Contains,
    In,
}

impl Op {
    fn from_key(key: &str) -> Option<Op> {
        Some(match key {
            "eq" | "equals" => Op::Eq,
            "ne" | "not_equals" => Op::Ne,
            "gt" => Op::Gt,
            "gte" => Op::Gte,
            "lt" => Op::Lt,
            "lte" => Op::Lte,
            "contains" => Op::Contains,
            "in" => Op::In,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Compare {
        path: String,
        op: Op,
        operand: Value,
    },
    Exists {
        path: String,
        exists: bool,
    },
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Gt => ">",
            Op::Gte => ">=",
            Op::Lt => "<",
            Op::Lte => "<=",
            Op::Contains => "contains",
            Op::In => "in",
        })
    }
}

/// The condition as a reader writes it: `initial_data.amount > 100`, `all(a, b)`.
impl std::fmt::Display for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |f: &mut std::fmt::Formatter<'_>, name: &str, items: &[Condition]| {
            let parts: Vec<String> = items.iter().map(|c| c.to_string()).collect();
            write!(f, "{name}({})", parts.join(", "))
        };
        match self {
            Condition::Compare { path, op, operand } => write!(f, "{path} {op} {operand}"),
            Condition::Exists { path, exists: true } => write!(f, "{path} exists"),
            Condition::Exists {
                path,
                exists: false,
            } => write!(f, "{path} missing"),
            Condition::All(items) => list(f, "all", items),
            Condition::Any(items) => list(f, "any", items),
            Condition::Not(inner) => write!(f, "not({inner})"),
        }
    }
}

impl Condition {
    /// Parses the YAML/JSON form; the error says what is wrong.
    pub fn parse(value: &Value) -> Result<Condition, String> {
        let Value::Object(map) = value else {
            return Err(format!("a condition is a mapping, got `{value}`"));
        };
        if map.len() == 1 {
            let (key, inner) = map.iter().next().ok_or("empty condition")?;
            match key.as_str() {
                "all" | "and" | "any" | "or" => {
                    let Value::Array(items) = inner else {
                        return Err(format!("`{key}` takes a list of conditions"));
                    };
                    if items.is_empty() {
                        return Err(format!("`{key}` needs at least one condition"));
                    }
                    let parsed = items
                        .iter()
                        .map(Condition::parse)
                        .collect::<Result<Vec<_>, _>>()?;
                    return Ok(if matches!(key.as_str(), "all" | "and") {
                        Condition::All(parsed)
                    } else {
                        Condition::Any(parsed)
                    });
                }
                "not" => return Ok(Condition::Not(Box::new(Condition::parse(inner)?))),
                _ => {}
            }
        }
        let path = match map.get("path").or_else(|| map.get("field")) {
            Some(Value::String(p)) if !p.trim().is_empty() => p.trim().to_string(),
            _ => {
                return Err(
                    "a comparison needs `path` (e.g. `initial_data.amount`); combine with `all`, `any` or `not`"
                        .into(),
                )
            }
        };
        let ops: Vec<(&String, &Value)> = map
            .iter()
            .filter(|(k, _)| k.as_str() != "path" && k.as_str() != "field")
            .collect();
        let [(key, operand)] = ops.as_slice() else {
            return Err(format!(
                "condition on `{path}` needs exactly one operator of eq, ne, gt, gte, lt, lte, contains, in, exists"
            ));
        };
        if key.as_str() == "exists" {
            let Value::Bool(exists) = operand else {
                return Err(format!("`exists` on `{path}` takes true or false"));
            };
            return Ok(Condition::Exists {
                path,
                exists: *exists,
            });
        }
        let op = Op::from_key(key).ok_or_else(|| {
            format!("unknown operator `{key}` (expected eq, ne, gt, gte, lt, lte, contains, in, exists)")
        })?;
        if op == Op::In && !operand.is_array() && !has_placeholders(operand) {
            return Err(format!("`in` on `{path}` takes a list"));
        }
        Ok(Condition::Compare {
            path,
            op,
            operand: (*operand).clone(),
        })
    }

    /// Every context path the condition reads (for load-time checks).
    pub fn paths(&self) -> Vec<&str> {
        match self {
            Condition::Compare { path, .. } | Condition::Exists { path, .. } => vec![path],
            Condition::All(items) | Condition::Any(items) => {
                items.iter().flat_map(Condition::paths).collect()
            }
            Condition::Not(inner) => inner.paths(),
        }
    }

    /// Evaluates against the job context.
    pub fn eval(&self, ctx: &Value) -> bool {
        match self {
            Condition::Exists { path, exists } => {
                lookup(ctx, path).is_some_and(|v| !v.is_null()) == *exists
            }
            Condition::All(items) => items.iter().all(|c| c.eval(ctx)),
            Condition::Any(items) => items.iter().any(|c| c.eval(ctx)),
            Condition::Not(inner) => !inner.eval(ctx),
            Condition::Compare { path, op, operand } => {
                let left = lookup(ctx, path).unwrap_or(&Value::Null);
                let rendered;
                let right = if has_placeholders(operand) {
                    rendered = render(operand, ctx);
                    &rendered
                } else {
                    operand
                };
                compare(left, op, right)
            }
        }
    }
}

fn compare(left: &Value, op: &Op, right: &Value) -> bool {
    match op {
        Op::Eq => equal(left, right),
        Op::Ne => !equal(left, right),
        Op::Gt | Op::Gte | Op::Lt | Op::Lte => {
            let ord = match (left, right) {
                (Value::Number(a), Value::Number(b)) => match (a.as_f64(), b.as_f64()) {
                    (Some(a), Some(b)) => a.partial_cmp(&b),
                    _ => None,
                },
                (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
                _ => None,
            };
            let Some(ord) = ord else { return false };
            match op {
                Op::Gt => ord.is_gt(),
                Op::Gte => ord.is_ge(),
                Op::Lt => ord.is_lt(),
                _ => ord.is_le(),
            }
        }
        Op::Contains => match (left, right) {
            (Value::Array(items), _) => items.iter().any(|i| equal(i, right)),
            (Value::String(s), Value::String(part)) => s.contains(part.as_str()),
            (Value::Object(map), Value::String(key)) => map.contains_key(key),
            _ => false,
        },
        Op::In => match right {
            Value::Array(items) => items.iter().any(|i| equal(left, i)),
            Value::String(s) => left.as_str().is_some_and(|l| s.contains(l)),
            _ => false,
        },
    }
}

/// JSON equality where numbers compare by value (`1 == 1.0`).
fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> Value {
        json!({
            "initial_data": {"amount": 1500, "tier": "gold", "tags": ["a", "b"], "expected": "gold"},
            "states": {"check": {"status": "success", "data": {"ok": true, "score": 0.5}}},
        })
    }

    fn eval(c: Value) -> bool {
        Condition::parse(&c).unwrap().eval(&ctx())
    }

    #[test]
    fn comparisons() {
        assert!(eval(json!({"path": "initial_data.amount", "gt": 1000})));
        assert!(eval(json!({"path": "amount", "gte": 1500.0})));
        assert!(!eval(json!({"path": "initial_data.amount", "lt": 1000})));
        assert!(eval(json!({"path": "initial_data.amount", "eq": 1500.0})));
        assert!(eval(json!({"path": "initial_data.tier", "ne": "silver"})));
        assert!(eval(json!({"path": "initial_data.tier", "lte": "gold"})));
        assert!(eval(json!({"path": "states.check.data.ok", "eq": true})));
        // Mismatched types never match, in either direction.
        assert!(!eval(json!({"path": "initial_data.tier", "gt": 3})));
        assert!(!eval(json!({"path": "initial_data.missing", "lt": 3})));
    }

    #[test]
    fn contains_in_exists_and_templated_operands() {
        assert!(eval(json!({"path": "initial_data.tags", "contains": "b"})));
        assert!(!eval(json!({"path": "initial_data.tags", "contains": "z"})));
        assert!(eval(json!({"path": "initial_data.tier", "contains": "ol"})));
        assert!(eval(
            json!({"path": "initial_data.tier", "in": ["gold", "platinum"]})
        ));
        assert!(eval(json!({"path": "states.check.data", "exists": true})));
        assert!(eval(json!({"path": "states.nope", "exists": false})));
        assert!(eval(
            json!({"path": "initial_data.tier", "eq": "{{ initial_data.expected }}"})
        ));
    }

    #[test]
    fn combinators() {
        let big = json!({"path": "initial_data.amount", "gt": 1000});
        let silver = json!({"path": "initial_data.tier", "eq": "silver"});
        assert!(!eval(json!({"all": [big, silver]})));
        assert!(eval(json!({"or": [big, silver]})));
        assert!(eval(json!({"not": silver})));
        assert!(eval(json!({"and": [{"not": silver}, {"any": [big]}]})));
    }

    #[test]
    fn mistakes_are_explained() {
        let err = |v: Value| Condition::parse(&v).unwrap_err();
        assert!(err(json!({"gt": 1})).contains("needs `path`"));
        assert!(err(json!({"path": "x", "gt": 1, "lt": 2})).contains("exactly one operator"));
        assert!(err(json!({"path": "x", "bigger": 1})).contains("unknown operator `bigger`"));
        assert!(err(json!({"path": "x", "exists": "yes"})).contains("true or false"));
        assert!(err(json!({"all": []})).contains("at least one"));
        assert!(err(json!({"path": "x", "in": 3})).contains("takes a list"));
        assert!(err(json!("x > 1")).contains("mapping"));
    }
}
