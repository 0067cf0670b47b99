//! Loading and validating blueprint files.
//!
//! Files are parsed into the raw, permissive shapes below (every field optional, unknown
//! fields refused so typos surface), then checked state by state. Every error names the
//! file and, where there is one, the state: a bad file stops start-up.

use super::template::referenced_paths;
use super::{Blueprint, DispatchState, EndState, EndStatus, State, StateKind};
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;
use std::time::Duration;

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{file}: {}{message}", state.as_ref().map(|s| format!("state `{s}`: ")).unwrap_or_default())]
pub struct BlueprintError {
    pub file: String,
    pub state: Option<String>,
    pub message: String,
}

impl BlueprintError {
    pub(crate) fn file(file: &str, message: String) -> Self {
        BlueprintError {
            file: file.to_string(),
            state: None,
            message,
        }
    }
    fn state(file: &str, state: &str, message: String) -> Self {
        BlueprintError {
            file: file.to_string(),
            state: Some(state.to_string()),
            message,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBlueprint {
    name: String,
    #[serde(default)]
    version: Option<String>,
    endpoint: String,
    #[serde(default)]
    description: Option<String>,
    states: BTreeMap<String, RawState>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawState {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    start: bool,
    #[serde(default)]
    description: Option<String>,
    // dispatch
    #[serde(default)]
    task: Option<String>,
    #[serde(default)]
    params: Option<Value>,
    #[serde(default)]
    priority: Option<f64>,
    #[serde(default)]
    dispatch_timeout: Option<f64>,
    #[serde(default)]
    result_timeout: Option<f64>,
    #[serde(default)]
    max_retries: Option<u32>,
    #[serde(default)]
    transitions: BTreeMap<String, String>,
    // end
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    result: Option<Value>,
}

/// Loads every `*.yaml` / `*.yml` file of `dir`, in name order.
pub fn load_dir(dir: &Path) -> Result<Vec<Blueprint>, BlueprintError> {
    let shown = dir.display().to_string();
    let entries = std::fs::read_dir(dir).map_err(|e| {
        BlueprintError::file(&shown, format!("cannot read blueprints directory: {e}"))
    })?;
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let file = path.display().to_string();
            let text = std::fs::read_to_string(path)
                .map_err(|e| BlueprintError::file(&file, format!("cannot read: {e}")))?;
            load_str(&file, &text)
        })
        .collect()
}

/// Parses and validates one blueprint; `file` is used in error messages.
pub fn load_str(file: &str, text: &str) -> Result<Blueprint, BlueprintError> {
    let definition: Value = serde_norway::from_str(text)
        .map_err(|e| BlueprintError::file(file, format!("invalid YAML: {e}")))?;
    let raw: RawBlueprint = serde_json::from_value(definition.clone())
        .map_err(|e| BlueprintError::file(file, format!("invalid blueprint: {e}")))?;
    validate(file, raw, definition)
}

fn validate(file: &str, raw: RawBlueprint, definition: Value) -> Result<Blueprint, BlueprintError> {
    if !is_identifier(&raw.name) {
        return Err(BlueprintError::file(
            file,
            format!("name `{}` must be letters, digits, `_` or `-`", raw.name),
        ));
    }
    let version = raw.version.unwrap_or_else(|| "v1".into());
    if !is_identifier(&version) {
        return Err(BlueprintError::file(
            file,
            format!("version `{version}` is not a path segment"),
        ));
    }
    let endpoint = normalize_endpoint(file, &raw.endpoint)?;
    if raw.states.is_empty() {
        return Err(BlueprintError::file(file, "has no states".into()));
    }

    let starts: Vec<&String> = raw
        .states
        .iter()
        .filter(|(_, s)| s.start)
        .map(|(n, _)| n)
        .collect();
    let start = match starts.as_slice() {
        [one] => (*one).clone(),
        [] => {
            return Err(BlueprintError::file(
                file,
                "no start state: mark exactly one state with `start: true`".into(),
            ))
        }
        many => {
            return Err(BlueprintError::file(
                file,
                format!(
                    "{} start states ({}): exactly one is allowed",
                    many.len(),
                    many.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ))
        }
    };

    let mut states = BTreeMap::new();
    for (name, rs) in &raw.states {
        if !is_identifier(name) {
            return Err(BlueprintError::state(
                file,
                name,
                "state names must be letters, digits, `_` or `-`".into(),
            ));
        }
        for (key, target) in &rs.transitions {
            if !raw.states.contains_key(target) {
                return Err(BlueprintError::state(
                    file,
                    name,
                    format!("transition `{key}` goes to missing state `{target}`"),
                ));
            }
        }
        let kind = state_kind(file, name, rs, &raw.states)?;
        states.insert(
            name.clone(),
            State {
                name: name.clone(),
                kind,
                transitions: rs.transitions.clone(),
            },
        );
    }

    let reachable = reachable_from(&start, &states);
    if let Some(lost) = states.keys().find(|n| !reachable.contains(*n)) {
        return Err(BlueprintError::state(
            file,
            lost,
            format!("unreachable: no path leads to it from the start state `{start}`"),
        ));
    }

    Ok(Blueprint {
        name: raw.name,
        version,
        endpoint,
        description: raw.description,
        start,
        states,
        definition,
        source: file.to_string(),
    })
}

fn state_kind(
    file: &str,
    name: &str,
    rs: &RawState,
    all: &BTreeMap<String, RawState>,
) -> Result<StateKind, BlueprintError> {
    let fail = |m: String| BlueprintError::state(file, name, m);
    let _ = &rs.description;
    match rs.kind.as_str() {
        "dispatch" | "task" => {
            let task = rs
                .task
                .clone()
                .ok_or_else(|| fail("dispatch states need `task`".into()))?;
            if !is_identifier(&task) {
                return Err(fail(format!(
                    "task `{task}` must be letters, digits, `_` or `-`"
                )));
            }
            if !rs.transitions.contains_key("success") {
                return Err(fail("dispatch states need a `success` transition".into()));
            }
            if rs.status.is_some() || rs.result.is_some() {
                return Err(fail("`status` and `result` belong to end states".into()));
            }
            let params = rs
                .params
                .clone()
                .unwrap_or_else(|| Value::String("{{ initial_data }}".into()));
            check_state_refs(file, name, &params, all)?;
            Ok(StateKind::Dispatch(DispatchState {
                task,
                params,
                priority: rs.priority.unwrap_or(0.0),
                dispatch_timeout: duration(file, name, "dispatch_timeout", rs.dispatch_timeout)?,
                result_timeout: duration(file, name, "result_timeout", rs.result_timeout)?,
                max_retries: rs.max_retries,
            }))
        }
        "end" => {
            if !rs.transitions.is_empty() {
                return Err(fail("end states have no transitions".into()));
            }
            if rs.task.is_some() || rs.params.is_some() {
                return Err(fail("`task` and `params` belong to dispatch states".into()));
            }
            let status = match rs.status.as_deref().unwrap_or(name) {
                "finished" => EndStatus::Finished,
                "failed" => EndStatus::Failed,
                other => {
                    return Err(fail(format!(
                        "end status `{other}` must be `finished` or `failed`"
                    )))
                }
            };
            if let Some(result) = &rs.result {
                check_state_refs(file, name, result, all)?;
            }
            Ok(StateKind::End(EndState {
                status,
                result: rs.result.clone(),
            }))
        }
        other => Err(fail(format!(
            "unknown state type `{other}` (expected `dispatch` or `end`)"
        ))),
    }
}

/// A template that reads `states.X` must name a state of this blueprint.
fn check_state_refs(
    file: &str,
    name: &str,
    template: &Value,
    all: &BTreeMap<String, RawState>,
) -> Result<(), BlueprintError> {
    for path in referenced_paths(template) {
        let mut parts = path.split('.');
        if parts.next() == Some("states") {
            if let Some(target) = parts.next() {
                if !all.contains_key(target) {
                    return Err(BlueprintError::state(
                        file,
                        name,
                        format!("template `{path}` refers to missing state `{target}`"),
                    ));
                }
            }
        }
    }
    Ok(())
}

fn duration(
    file: &str,
    state: &str,
    field: &str,
    secs: Option<f64>,
) -> Result<Option<Duration>, BlueprintError> {
    match secs {
        None => Ok(None),
        Some(s) if s.is_finite() && s > 0.0 => Ok(Some(Duration::from_secs_f64(s))),
        Some(s) => Err(BlueprintError::state(
            file,
            state,
            format!("`{field}` must be a positive number of seconds, got {s}"),
        )),
    }
}

fn reachable_from(start: &str, states: &BTreeMap<String, State>) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::from([start.to_string()]);
    while let Some(name) = queue.pop_front() {
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(state) = states.get(&name) {
            queue.extend(state.transitions.values().cloned());
        }
    }
    seen
}

fn normalize_endpoint(file: &str, endpoint: &str) -> Result<String, BlueprintError> {
    let trimmed = endpoint.trim().trim_end_matches('/');
    let with_slash = if trimmed.starts_with('/') {
        trimmed.to_string()
    } else {
        format!("/{trimmed}")
    };
    let segments: Vec<&str> = with_slash[1..].split('/').collect();
    if with_slash.len() < 2 || segments.iter().any(|s| !is_identifier(s)) {
        return Err(BlueprintError::file(
            file,
            format!("endpoint `{endpoint}` must be path segments of letters, digits, `_` or `-`"),
        ));
    }
    // `/jobs/{id}` and `/jobs/{id}/...` are the job routes of the client API.
    if segments.first() == Some(&"jobs") && segments.len() != 2 {
        return Err(BlueprintError::file(
            file,
            format!("endpoint `{endpoint}`: under /jobs only `/jobs/<name>` is allowed"),
        ));
    }
    if matches!(
        segments.first(),
        Some(&"blueprints" | &"workers" | &"dashboard")
    ) {
        return Err(BlueprintError::file(
            file,
            format!("endpoint `{endpoint}` collides with a built-in client route"),
        ));
    }
    Ok(with_slash)
}

pub(crate) fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const ECHO: &str = r#"
name: echo
version: v1
endpoint: /jobs/echo
states:
  echo:
    type: dispatch
    start: true
    task: echo
    params: "{{ initial_data }}"
    transitions:
      success: finished
      failure: failed
  finished:
    type: end
    result: "{{ states.echo.data }}"
  failed:
    type: end
"#;

    fn error_of(text: &str) -> BlueprintError {
        load_str("bp.yaml", text).unwrap_err()
    }

    #[test]
    fn loads_a_valid_blueprint() {
        let bp = load_str("echo.yaml", ECHO).unwrap();
        assert_eq!(bp.start, "echo");
        assert_eq!(bp.endpoint, "/jobs/echo");
        assert!(matches!(
            bp.states["failed"].kind,
            StateKind::End(EndState {
                status: EndStatus::Failed,
                ..
            })
        ));
        assert_eq!(bp.skills().collect::<Vec<_>>(), vec!["echo"]);
    }

    #[test]
    fn transition_to_missing_state_names_file_and_state() {
        let e = error_of(&ECHO.replace("failure: failed", "failure: nowhere"));
        assert_eq!(e.file, "bp.yaml");
        assert_eq!(e.state.as_deref(), Some("echo"));
        assert!(e.message.contains("missing state `nowhere`"), "{e}");
        assert!(e.to_string().starts_with("bp.yaml: state `echo`: "), "{e}");
    }

    #[test]
    fn exactly_one_start_state() {
        let none = error_of(&ECHO.replace("    start: true\n", ""));
        assert!(none.message.contains("no start state"), "{none}");
        let two = error_of(&ECHO.replace(
            "  failed:\n    type: end",
            "  failed:\n    type: end\n    start: true",
        ));
        assert!(two.message.contains("2 start states"), "{two}");
    }

    #[test]
    fn unreachable_state_is_refused() {
        let e = error_of(&format!(
            "{ECHO}  orphan:\n    type: end\n    status: failed\n"
        ));
        assert_eq!(e.state.as_deref(), Some("orphan"));
        assert!(e.message.contains("unreachable"), "{e}");
    }

    #[test]
    fn other_mistakes_are_explained() {
        assert!(error_of(&ECHO.replace("task: echo", "tsk: echo"))
            .message
            .contains("unknown field"));
        assert!(error_of(&ECHO.replace("    task: echo\n", ""))
            .message
            .contains("need `task`"));
        assert!(error_of(&ECHO.replace("type: dispatch", "type: wat"))
            .message
            .contains("unknown state type"));
        assert!(
            error_of(&ECHO.replace("states.echo.data", "states.ghost.data"))
                .message
                .contains("missing state `ghost`")
        );
        assert!(error_of(&ECHO.replace("/jobs/echo", "/jobs/a/b"))
            .message
            .contains("only `/jobs/<name>`"));
        assert!(error_of("name: [").message.contains("invalid YAML"));
        let e = error_of(&ECHO.replace(
            "    type: end\n    result",
            "    type: end\n    status: done\n    result",
        ));
        assert!(e.message.contains("must be `finished` or `failed`"), "{e}");
    }
}
