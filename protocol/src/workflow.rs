//! What workflow steps publish, read back from an execution's job states: the rule the
//! workflow worker (rendering a step's templates) and the workflow face (an execution's
//! `outputs`) must share.
//!
//! A state's `data` is one of three shapes, each holding step answers (`{"step_id",
//! "status", "output", "outputs", ...}`):
//! - one answer (a dispatch state): its `outputs` are published;
//! - an object of answers by branch (a parallel state running several steps): each
//!   answer's `outputs`; an answer with a `parent` (`{"id", "output"}`: a step run by a
//!   `parallel` step) also puts its `output` under the parent's output, keyed by its id;
//! - a list of answers, one per item (a fan-out's map): each name an answer publishes
//!   becomes the list of the values the items published, in item order (an item that
//!   failed or was skipped publishes nothing and is left out).
//!
//! Output names are unique in a workflow (checked when it is saved), so the order of the
//! states does not matter.

use serde_json::{Map, Value};

fn publish(out: &mut Map<String, Value>, answer: &Value) {
    if let Some(map) = answer.get("outputs").and_then(Value::as_object) {
        out.extend(map.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let parent = answer.get("parent");
    let name = parent.and_then(|p| p.get("output")).and_then(Value::as_str);
    let id = answer.get("step_id").and_then(Value::as_str);
    if let (Some(name), Some(id)) = (name, id) {
        if answer.get("status").and_then(Value::as_str) == Some("skipped") {
            return;
        }
        let slot = out
            .entry(name.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = slot {
            let v = answer.get("output").cloned().unwrap_or(Value::Null);
            m.insert(id.to_string(), v);
        }
    }
}

/// Everything the steps of a job's `states` published, by output name.
pub fn published(states: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for data in states.values().filter_map(|s| s.get("data")) {
        match data {
            Value::Object(one) if one.contains_key("step_id") => publish(&mut out, data),
            Value::Object(branches) => {
                for answer in branches.values().filter(|a| a.get("step_id").is_some()) {
                    publish(&mut out, answer);
                }
            }
            Value::Array(items) => {
                let mut lists: Map<String, Value> = Map::new();
                for answer in items {
                    let Some(map) = answer.get("outputs").and_then(Value::as_object) else {
                        continue;
                    };
                    for (k, v) in map {
                        let list = lists
                            .entry(k.clone())
                            .or_insert_with(|| Value::Array(Vec::new()));
                        if let Value::Array(l) = list {
                            l.push(v.clone());
                        }
                    }
                }
                out.extend(lists);
            }
            _ => {}
        }
    }
    out
}

/// The step answers in a job's states, in the states' order: single answers, the
/// answers of parallel branches and those of a fan-out's items.
pub fn answers(states: &Map<String, Value>) -> Vec<&Value> {
    let mut out = Vec::new();
    for data in states.values().filter_map(|s| s.get("data")) {
        match data {
            Value::Object(one) if one.contains_key("step_id") => out.push(data),
            Value::Object(branches) => {
                out.extend(branches.values().filter(|a| a.get("step_id").is_some()))
            }
            Value::Array(items) => out.extend(items.iter().filter(|a| a.get("step_id").is_some())),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_shape_publishes_its_outputs() {
        let states = json!({
            "s0": {"data": {"step_id": "a", "status": "completed", "outputs": {"x": 1}}},
            "s1": {"data": {
                "b": {"step_id": "b", "status": "completed", "output": "B", "outputs": {"b": "B"},
                      "parent": {"id": "par", "output": "both"}},
                "c": {"step_id": "c", "status": "skipped", "outputs": {},
                      "parent": {"id": "par", "output": "both"}}}},
            "s2": {"data": {"step_id": "f", "items": [1, 2, 3], "outputs": {}}},
            "s3": {"data": [
                {"step_id": "f", "outputs": {"reviews": "r1"}},
                null,
                {"step_id": "f", "outputs": {"reviews": "r3"}}]},
            "s4": {"status": "failure"},
        });
        let states = states.as_object().unwrap();
        assert_eq!(
            Value::Object(published(states)),
            json!({"x": 1, "b": "B", "both": {"b": "B"}, "reviews": ["r1", "r3"]})
        );
        assert_eq!(answers(states).len(), 6);
    }
}
