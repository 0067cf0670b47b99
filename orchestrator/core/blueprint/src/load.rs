//! Loading and validating blueprint files.
//!
//! Files are parsed into the raw, permissive shapes below (every field optional, unknown
//! fields refused so typos surface), then checked state by state. Every error names the
//! file and, where there is one, the state: a bad file stops start-up.

use super::kinds::{state_kind, RawState};
use super::{Blueprint, State};
use baton_protocol::is_identifier;
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

/// States a job may enter unless the blueprint sets `max_transitions`.
pub const DEFAULT_MAX_TRANSITIONS: u32 = 100;
/// The most a blueprint may allow: states entered in one step are entered recursively
/// (branch after branch), so the guard also bounds that depth.
pub const MAX_MAX_TRANSITIONS: u32 = 1000;

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
    pub(crate) fn state(file: &str, state: &str, message: String) -> Self {
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
    #[serde(default)]
    max_transitions: Option<u32>,
    states: BTreeMap<String, RawState>,
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
    let definition = super::yaml::to_json(text).map_err(|e| BlueprintError::file(file, e))?;
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
        let (kind, transitions) = state_kind(file, name, rs, &raw.states)?;
        for (key, target) in &transitions {
            if !raw.states.contains_key(target) {
                return Err(BlueprintError::state(
                    file,
                    name,
                    format!("transition `{key}` goes to missing state `{target}`"),
                ));
            }
        }
        states.insert(
            name.clone(),
            State {
                name: name.clone(),
                kind,
                transitions,
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
    if let Some(cycle) = branch_cycle(&states) {
        return Err(BlueprintError::state(
            file,
            &cycle[0],
            format!(
                "branch states {} form a cycle: nothing changes the context between them, so a job taking it would loop until the loop guard",
                cycle.join(" -> ")
            ),
        ));
    }

    Ok(Blueprint {
        name: raw.name,
        version,
        endpoint,
        description: raw.description,
        start,
        states,
        max_transitions: match raw.max_transitions {
            Some(n) if n == 0 || n > MAX_MAX_TRANSITIONS => {
                return Err(BlueprintError::file(
                    file,
                    format!("`max_transitions` must be from 1 to {MAX_MAX_TRANSITIONS}"),
                ))
            }
            Some(n) => n,
            None => DEFAULT_MAX_TRANSITIONS,
        },
        definition,
        source: file.to_string(),
    })
}

/// A cycle made only of branch states (decided on entry, without waiting), as the list
/// of its states with the first repeated at the end; `None` if there is none.
fn branch_cycle(states: &BTreeMap<String, State>) -> Option<Vec<String>> {
    fn visit(
        name: &str,
        states: &BTreeMap<String, State>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == name) {
            let mut cycle = path[at..].to_vec();
            cycle.push(name.to_string());
            return Some(cycle);
        }
        if done.contains(name) {
            return None;
        }
        let state = states.get(name)?;
        if !matches!(state.kind, super::StateKind::Branch(_)) {
            return None;
        }
        path.push(name.to_string());
        for next in state.transitions.values() {
            if let Some(cycle) = visit(next, states, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(name.to_string());
        None
    }
    let mut done = BTreeSet::new();
    states
        .keys()
        .find_map(|name| visit(name, states, &mut Vec::new(), &mut done))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Branches, EndState, EndStatus, OnFailure, StateKind};

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
            .contains("needs `task`"));
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

    const KINDS: &str = r#"
name: kinds
endpoint: /jobs/kinds
max_transitions: 20
states:
  route:
    type: branch
    start: true
    cases:
      - when: { path: initial_data.amount, gt: 1000 }
        next: review
      - when: { any: [ { path: initial_data.vip, eq: true }, { path: initial_data.tags, contains: fast } ] }
        next: fan_out
    default: map
  review:
    type: approval
    message: "Amount {{ initial_data.amount }}"
    timeout: 30
    transitions:
      approved: fan_out
      rejected: failed
      timeout: failed
  fan_out:
    type: parallel
    on_failure: collect
    tasks:
      a: { task: echo, params: { x: 1 } }
      b: { task: echo, max_retries: 1 }
    transitions:
      success: child
  map:
    type: parallel
    items: initial_data.files
    task: echo
    params: { file: "{{ item }}", n: "{{ branch.index }}" }
    max_concurrency: 2
    transitions:
      success: child
  child:
    type: sub_job
    blueprint: echo
    transitions:
      success: work
      failure: failed
  work:
    type: dispatch
    task: echo
    on_event:
      needs_review: review
    transitions:
      success: done
  done:
    type: end
    status: finished
    result: "{{ states.fan_out.data }}"
  failed:
    type: end
    status: failed
"#;

    #[test]
    fn every_state_kind_loads_with_its_implied_transitions() {
        let bp = load_str("kinds.yaml", KINDS).unwrap();
        assert_eq!(bp.max_transitions, 20);
        let route = &bp.states["route"];
        assert_eq!(route.kind.name(), "branch");
        assert_eq!(route.transitions["when 1"], "review");
        assert_eq!(route.transitions["when 2"], "fan_out");
        assert_eq!(route.transitions["default"], "map");
        let StateKind::Approval(a) = &bp.states["review"].kind else {
            panic!("review is an approval state")
        };
        assert_eq!(a.decisions, vec!["approved", "rejected"]);
        assert_eq!(a.timeout, Some(std::time::Duration::from_secs(30)));
        let StateKind::Parallel(p) = &bp.states["fan_out"].kind else {
            panic!("fan_out is parallel")
        };
        assert_eq!(p.on_failure, OnFailure::Collect);
        assert!(
            matches!(&p.branches, Branches::Fixed(list) if list.len() == 2 && list[1].1.max_retries == Some(1))
        );
        let StateKind::Parallel(m) = &bp.states["map"].kind else {
            panic!("map is parallel")
        };
        assert_eq!(m.on_failure, OnFailure::FailFast);
        assert_eq!(m.max_concurrency, Some(2));
        assert!(
            matches!(&m.branches, Branches::Map { items, .. } if items == "initial_data.files")
        );
        assert_eq!(
            bp.states["work"].transitions["event:needs_review"],
            "review"
        );
        assert_eq!(bp.skills().filter(|s| *s == "echo").count(), 4);
    }

    #[test]
    fn kind_specific_mistakes_are_explained() {
        let cases = [
            ("      timeout: failed\n", "", "go together"),
            ("    default: map\n", "", "need a `default`"),
            ("next: review", "next: nowhere", "missing state `nowhere`"),
            ("gt: 1000", "bigger: 1000", "case 1: unknown operator"),
            ("    items: initial_data.files\n", "", "either `tasks`"),
            (
                "    max_concurrency: 2",
                "    max_concurrency: 0",
                "at least 1",
            ),
            (
                "on_failure: collect",
                "on_failure: maybe",
                "`fail_fast` or `collect`",
            ),
            ("    blueprint: echo\n", "", "need `blueprint`"),
            (
                "  review:\n    type: approval\n",
                "  review:\n    type: approval\n    task: x\n",
                "does not belong",
            ),
            (
                "max_transitions: 20",
                "max_transitions: 0",
                "from 1 to 1000",
            ),
            (
                "max_transitions: 20",
                "max_transitions: 5000",
                "from 1 to 1000",
            ),
            ("next: review", "next: route", "route -> route"),
            (
                "      needs_review: review",
                "      needs_review: ghost",
                "missing state `ghost`",
            ),
        ];
        for (from, to, expected) in cases {
            assert!(KINDS.contains(from), "fixture lacks {from:?}");
            let e = error_of(&KINDS.replace(from, to));
            assert!(e.to_string().contains(expected), "{from:?} -> {e}");
        }
    }

    #[test]
    fn sub_jobs_must_name_a_loaded_blueprint() {
        let kinds = load_str("kinds.yaml", KINDS).unwrap();
        let e = crate::Registry::new(vec![kinds.clone()]).unwrap_err();
        assert_eq!(e.state.as_deref(), Some("child"));
        assert!(e.message.contains("`echo` is not loaded"), "{e}");
        let echo = load_str("echo.yaml", ECHO).unwrap();
        assert!(crate::Registry::new(vec![kinds, echo]).is_ok());
    }
}
