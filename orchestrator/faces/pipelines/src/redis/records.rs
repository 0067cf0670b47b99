//! Records as Redis hashes: one field per top-level JSON field, the value JSON-encoded.

use super::super::model::NewClarification;
use super::super::store::RecordResult;
use super::corrupt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A record hash as `(field, JSON value)` pairs.
pub(super) type Fields = Vec<(String, String)>;

pub(super) fn to_json<T: Serialize>(v: &T) -> RecordResult<String> {
    serde_json::to_string(v).map_err(|e| corrupt(format!("encoding: {e}")))
}

/// The fields of a record; null ones are left out (read back as absent = `None`).
pub(super) fn to_fields<T: Serialize>(v: &T) -> RecordResult<Fields> {
    match serde_json::to_value(v) {
        Ok(Value::Object(map)) => Ok(map
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k, v.to_string()))
            .collect()),
        Ok(other) => Err(corrupt(format!("not a record: {other}"))),
        Err(e) => Err(corrupt(format!("encoding: {e}"))),
    }
}

/// A record from its hash (HGETALL form); `None` for an empty hash (no such record).
pub(super) fn from_fields<T: DeserializeOwned>(
    key: &str,
    fields: BTreeMap<String, String>,
) -> RecordResult<Option<T>> {
    if fields.is_empty() {
        return Ok(None);
    }
    let mut map = Map::new();
    for (field, raw) in fields {
        let value =
            serde_json::from_str(&raw).map_err(|e| corrupt(format!("{key} field {field}: {e}")))?;
        map.insert(field, value);
    }
    serde_json::from_value(Value::Object(map))
        .map(Some)
        .map_err(|e| corrupt(format!("{key}: {e}")))
}

/// The question part of a clarification: the fields to set, and the optional ones to
/// delete because the new question has none (so a re-ask can drop a recommendation).
pub(super) fn question_fields(new: &NewClarification) -> RecordResult<(Fields, Vec<&'static str>)> {
    let mut set = to_fields(new)?;
    set.retain(|(k, _)| k != "key");
    let mut unset = Vec::new();
    if new.recommended.is_none() {
        unset.push("recommended");
    }
    if new.options.is_none() {
        unset.push("options");
    }
    Ok((set, unset))
}
