//! Records as answered: the stored fields, timestamps as RFC 3339 instead of epoch ms,
//! plus what is computed (`spec_hash` of a run; `protocol_name`, `project_name` of a
//! listed event). Secrets cannot appear: [`Project`] has no field for them.

use crate::{Clarification, ClarificationScope, Event, Project, ProtocolRun, StepRun};
use baton_protocol::clock::rfc3339;
use serde::Serialize;
use serde_json::{Map, Value};

/// The record as a JSON object (empty if it would not encode, which no record does).
fn object(record: &impl Serialize) -> Map<String, Value> {
    match serde_json::to_value(record) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// Epoch-ms fields to RFC 3339.
fn times(mut map: Map<String, Value>) -> Map<String, Value> {
    for key in ["created_at", "updated_at", "answered_at"] {
        if let Some(ms) = map.get(key).and_then(Value::as_i64) {
            map.insert(key.into(), Value::String(rfc3339(ms)));
        }
    }
    map
}

pub fn project(p: &Project) -> Value {
    Value::Object(times(object(p)))
}

pub fn run(r: &ProtocolRun) -> Value {
    let mut map = times(object(r));
    map.insert(
        "spec_hash".into(),
        r.spec_hash().map(Value::String).unwrap_or(Value::Null),
    );
    Value::Object(map)
}

pub fn step(s: &StepRun) -> Value {
    Value::Object(times(object(s)))
}

/// An event; `names` adds `protocol_name` and `project_name` (listing across runs).
pub fn event(e: &Event, names: Option<(&str, &str)>) -> Value {
    let mut map = times(object(e));
    if let Some((protocol_name, project_name)) = names {
        map.insert("protocol_name".into(), protocol_name.into());
        map.insert("project_name".into(), project_name.into());
    }
    Value::Object(map)
}

/// A clarification with its scope as `project_id` or `protocol_run_id`.
pub fn clarification(c: &Clarification) -> Value {
    let mut map = times(object(c));
    map.remove("scope");
    let (key, id) = match c.scope {
        ClarificationScope::Project(id) => ("project_id", id),
        ClarificationScope::ProtocolRun(id) => ("protocol_run_id", id),
    };
    map.insert(key.into(), id.into());
    Value::Object(map)
}

pub fn list<T>(items: &[T], view: impl Fn(&T) -> Value) -> Value {
    Value::Array(items.iter().map(view).collect())
}
