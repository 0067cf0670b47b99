//! Which steps each state of a compiled blueprint runs, written in the state's
//! `description` (the blueprint format has no field of the face's own) and read back by
//! execution views and logs:
//!
//! - `step a`: a dispatch state running step `a`;
//! - `steps a, b, par/c`: a parallel state running `a`, `b` and `c`, a step of the
//!   `parallel` step `par`;
//! - `fan_out f items` / `map_reduce m items`: the task that resolves the step's items;
//! - `fan_out f map` / `map_reduce m map`: one task per item;
//! - `map_reduce m reduce`: the task that aggregates the items' results.

use serde_json::Value;

/// What a state does for one workflow step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// The step's own task.
    Step,
    /// A step the `parallel` step it names runs.
    Sub(String),
    /// The items of a `fan_out` or `map_reduce` step.
    Items,
    /// The per-item tasks of a `fan_out` or `map_reduce` step.
    Map,
    /// The aggregation of a `map_reduce` step.
    Reduce,
}

/// One step's part in a state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The step id as the workflow names it (a parallel step's sub-step by its own id).
    pub step: String,
    pub role: Role,
}

impl Part {
    pub fn step(id: &str) -> Part {
        Part {
            step: id.to_string(),
            role: Role::Step,
        }
    }

    fn token(&self) -> String {
        match &self.role {
            Role::Sub(parent) => format!("{parent}/{}", self.step),
            _ => self.step.clone(),
        }
    }
}

/// The description of a state running `parts` (`kind` is the pattern's step type for
/// the phases of a fan-out).
pub fn describe(parts: &[Part], kind: &str) -> String {
    match parts {
        [one] => match one.role {
            Role::Items => format!("{kind} {} items", one.step),
            Role::Map => format!("{kind} {} map", one.step),
            Role::Reduce => format!("{kind} {} reduce", one.step),
            Role::Step | Role::Sub(_) => format!("step {}", one.token()),
        },
        many => {
            let tokens: Vec<String> = many.iter().map(Part::token).collect();
            format!("steps {}", tokens.join(", "))
        }
    }
}

fn parse_token(t: &str) -> Part {
    match t.split_once('/') {
        Some((parent, id)) => Part {
            step: id.to_string(),
            role: Role::Sub(parent.to_string()),
        },
        None => Part::step(t),
    }
}

/// The parts a description names (none for a state that runs no step).
pub fn parse(description: &str) -> Vec<Part> {
    if let Some(list) = description.strip_prefix("steps ") {
        return list.split(", ").map(parse_token).collect();
    }
    if let Some(one) = description.strip_prefix("step ") {
        return vec![parse_token(one)];
    }
    let rest = description
        .strip_prefix("fan_out ")
        .or_else(|| description.strip_prefix("map_reduce "));
    let Some((id, phase)) = rest.and_then(|r| r.split_once(' ')) else {
        return Vec::new();
    };
    let role = match phase {
        "items" => Role::Items,
        "map" => Role::Map,
        "reduce" => Role::Reduce,
        _ => return Vec::new(),
    };
    vec![Part {
        step: id.to_string(),
        role,
    }]
}

/// Each state of a compiled definition (`s0`, `s1`, ...) and the parts it runs, in order.
pub fn state_parts(definition: &Value) -> Vec<(String, Vec<Part>)> {
    let Some(states) = definition.get("states").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut out: Vec<(String, Vec<Part>)> = states
        .iter()
        .filter(|(name, _)| name.starts_with('s') && name[1..].parse::<usize>().is_ok())
        .map(|(name, st)| {
            let text = st
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default();
            (name.clone(), parse(text))
        })
        .collect();
    out.sort_by_key(|(name, _)| name[1..].parse::<usize>().unwrap_or(usize::MAX));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_round_trip() {
        let cases = [
            (vec![Part::step("a")], "step a"),
            (
                vec![
                    Part::step("a"),
                    Part {
                        step: "c".into(),
                        role: Role::Sub("par".into()),
                    },
                ],
                "steps a, par/c",
            ),
            (
                vec![Part {
                    step: "f".into(),
                    role: Role::Map,
                }],
                "fan_out f map",
            ),
        ];
        for (parts, text) in cases {
            assert_eq!(describe(&parts, "fan_out"), text);
            assert_eq!(parse(text), parts);
        }
        assert_eq!(parse("map_reduce m reduce")[0].role, Role::Reduce);
        assert!(parse("something else").is_empty());
    }
}
