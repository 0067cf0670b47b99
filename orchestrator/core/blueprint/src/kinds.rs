//! State kinds as written in YAML ([`RawState`], every field optional, unknown fields
//! refused) and their checks. [`state_kind`] turns one raw state into a [`StateKind`] and
//! its full transition map: the written `transitions` plus the ones other fields imply
//! (`on_event` → `event:<type>`, branch cases → `when N` and `default`), so reachability
//! and the graph see every way out.

use super::condition::Condition;
use super::load::BlueprintError;
use super::template::referenced_paths;
use super::{
    event_key, ApprovalState, BranchState, Branches, DispatchState, EndState, EndStatus, OnFailure,
    ParallelState, StateKind, SubJobState, TIMEOUT,
};
use baton_protocol::is_identifier;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawState {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    pub(crate) start: bool,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    transitions: BTreeMap<String, String>,
    // dispatch (and the map form of parallel); see [`RawTask`]
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
    on_event: BTreeMap<String, String>,
    // approval
    #[serde(default)]
    message: Option<Value>,
    #[serde(default)]
    timeout: Option<f64>,
    // branch
    #[serde(default)]
    cases: Option<Vec<RawCase>>,
    #[serde(default)]
    default: Option<String>,
    // parallel
    #[serde(default)]
    tasks: Option<BTreeMap<String, RawTask>>,
    #[serde(default)]
    items: Option<String>,
    #[serde(default)]
    max_concurrency: Option<usize>,
    #[serde(default)]
    on_failure: Option<String>,
    // sub_job
    #[serde(default)]
    blueprint: Option<String>,
    #[serde(default)]
    initial_data: Option<Value>,
    // end
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    result: Option<Value>,
}

/// One task's definition: a dispatch state's, or one branch of a parallel state.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTask {
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
}

impl RawState {
    /// The task fields written on the state itself (serde cannot flatten them into a
    /// [`RawTask`] and still refuse unknown fields).
    fn own_task(&self) -> RawTask {
        RawTask {
            task: self.task.clone(),
            params: self.params.clone(),
            priority: self.priority,
            dispatch_timeout: self.dispatch_timeout,
            result_timeout: self.result_timeout,
            max_retries: self.max_retries,
        }
    }
}

impl RawTask {
    fn is_set(&self) -> bool {
        self.task.is_some()
            || self.params.is_some()
            || self.priority.is_some()
            || self.dispatch_timeout.is_some()
            || self.result_timeout.is_some()
            || self.max_retries.is_some()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    when: Value,
    next: String,
}

type Checked = Result<(StateKind, BTreeMap<String, String>), BlueprintError>;

pub(crate) fn state_kind(
    file: &str,
    name: &str,
    rs: &RawState,
    all: &BTreeMap<String, RawState>,
) -> Checked {
    let fail = |m: String| BlueprintError::state(file, name, m);
    let _ = &rs.description;
    let kind = rs.kind.as_str();
    let own_task = rs.own_task();
    const KINDS: [&str; 7] = [
        "dispatch", "task", "approval", "branch", "parallel", "sub_job", "end",
    ];
    if !KINDS.contains(&kind) {
        return Err(fail(format!(
            "unknown state type `{kind}` (expected dispatch, approval, branch, parallel, sub_job or end)"
        )));
    }
    // Fields that belong to other kinds are mistakes worth naming.
    let misplaced: [(&str, bool, &[&str]); 12] = [
        ("task", own_task.is_set(), &["dispatch", "task", "parallel"]),
        ("on_event", !rs.on_event.is_empty(), &["dispatch", "task"]),
        ("message", rs.message.is_some(), &["approval"]),
        ("timeout", rs.timeout.is_some(), &["approval"]),
        ("cases", rs.cases.is_some(), &["branch"]),
        ("default", rs.default.is_some(), &["branch"]),
        ("tasks", rs.tasks.is_some(), &["parallel"]),
        ("items", rs.items.is_some(), &["parallel"]),
        (
            "max_concurrency",
            rs.max_concurrency.is_some(),
            &["parallel"],
        ),
        ("on_failure", rs.on_failure.is_some(), &["parallel"]),
        (
            "blueprint",
            rs.blueprint.is_some() || rs.initial_data.is_some(),
            &["sub_job"],
        ),
        (
            "status",
            rs.status.is_some() || rs.result.is_some(),
            &["end"],
        ),
    ];
    for (field, set, kinds) in misplaced {
        if set && !kinds.contains(&kind) {
            return Err(fail(format!(
                "`{field}` does not belong in a `{kind}` state (it is for {} states)",
                kinds[0]
            )));
        }
    }
    let mut transitions = rs.transitions.clone();
    let needs = |key: &str, transitions: &BTreeMap<String, String>| {
        if transitions.contains_key(key) {
            Ok(())
        } else {
            Err(fail(format!("{kind} states need a `{key}` transition")))
        }
    };
    let refs = |template: &Value| check_state_refs(file, name, template, all);
    let kind = match kind {
        "dispatch" | "task" => {
            needs("success", &transitions)?;
            let ds = dispatch(file, name, &own_task, "{{ initial_data }}")?;
            refs(&ds.params)?;
            for (event, target) in &rs.on_event {
                transitions.insert(event_key(event), target.clone());
            }
            StateKind::Dispatch(ds)
        }
        "approval" => {
            if rs.timeout.is_some() != transitions.contains_key(TIMEOUT) {
                return Err(fail(
                    "`timeout` and a `timeout` transition go together: set both or neither".into(),
                ));
            }
            let decisions: Vec<String> = transitions
                .keys()
                .filter(|k| k.as_str() != TIMEOUT)
                .cloned()
                .collect();
            if decisions.is_empty() {
                return Err(fail(
                    "approval states need at least one decision transition (e.g. `approved`)"
                        .into(),
                ));
            }
            let message = rs.message.clone().unwrap_or(Value::Null);
            refs(&message)?;
            StateKind::Approval(ApprovalState {
                message,
                decisions,
                timeout: duration(file, name, "timeout", rs.timeout)?,
            })
        }
        "branch" => {
            if !transitions.is_empty() {
                return Err(fail(
                    "branch states choose with `cases` and `default`, not `transitions`".into(),
                ));
            }
            let default = rs
                .default
                .clone()
                .ok_or_else(|| fail("branch states need a `default` state".into()))?;
            let mut cases = Vec::new();
            for (i, case) in rs.cases.iter().flatten().enumerate() {
                let cond = Condition::parse(&case.when)
                    .map_err(|e| fail(format!("case {}: {e}", i + 1)))?;
                for path in cond.paths() {
                    refs(&Value::String(format!("{{{{ {path} }}}}")))?;
                }
                transitions.insert(format!("when {}", i + 1), case.next.clone());
                cases.push((cond, case.next.clone()));
            }
            transitions.insert("default".into(), default.clone());
            StateKind::Branch(BranchState { cases, default })
        }
        "parallel" => {
            needs("success", &transitions)?;
            let branches = match (&rs.tasks, &rs.items) {
                (Some(tasks), None) if !own_task.is_set() => {
                    if tasks.is_empty() {
                        return Err(fail("`tasks` lists no task".into()));
                    }
                    let mut list = Vec::new();
                    for (key, raw) in tasks {
                        let state = format!("{name}.{key}");
                        let ds = dispatch(file, &state, raw, "{{ initial_data }}")?;
                        refs(&ds.params)?;
                        list.push((key.clone(), ds));
                    }
                    Branches::Fixed(list)
                }
                (None, Some(items)) => {
                    let ds = dispatch(file, name, &own_task, "{{ item }}")?;
                    refs(&ds.params)?;
                    refs(&Value::String(format!("{{{{ {items} }}}}")))?;
                    Branches::Map {
                        items: items.clone(),
                        task: ds,
                    }
                }
                _ => {
                    return Err(fail(
                        "parallel states need either `tasks` (named tasks) or `items` with `task` (one task per item)".into(),
                    ))
                }
            };
            let on_failure = match rs.on_failure.as_deref() {
                None | Some("fail_fast") => OnFailure::FailFast,
                Some("collect") => OnFailure::Collect,
                Some(other) => {
                    return Err(fail(format!(
                        "`on_failure` is `fail_fast` or `collect`, not `{other}`"
                    )))
                }
            };
            if rs.max_concurrency == Some(0) {
                return Err(fail("`max_concurrency` must be at least 1".into()));
            }
            StateKind::Parallel(ParallelState {
                branches,
                max_concurrency: rs.max_concurrency,
                on_failure,
            })
        }
        "sub_job" => {
            needs("success", &transitions)?;
            let blueprint = rs
                .blueprint
                .clone()
                .ok_or_else(|| fail("sub_job states need `blueprint`".into()))?;
            let initial_data = rs
                .initial_data
                .clone()
                .unwrap_or_else(|| Value::String("{{ initial_data }}".into()));
            refs(&initial_data)?;
            StateKind::SubJob(SubJobState {
                blueprint,
                initial_data,
            })
        }
        "end" => {
            if !transitions.is_empty() {
                return Err(fail("end states have no transitions".into()));
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
                refs(result)?;
            }
            StateKind::End(EndState {
                status,
                result: rs.result.clone(),
            })
        }
        other => return Err(fail(format!("unknown state type `{other}`"))),
    };
    Ok((kind, transitions))
}

/// A task definition; `default_params` when it has none.
fn dispatch(
    file: &str,
    name: &str,
    raw: &RawTask,
    default_params: &str,
) -> Result<DispatchState, BlueprintError> {
    let fail = |m: String| BlueprintError::state(file, name, m);
    let task = raw
        .task
        .clone()
        .ok_or_else(|| fail("a task needs `task` (the skill name)".into()))?;
    if !is_identifier(&task) {
        return Err(fail(format!(
            "task `{task}` must be letters, digits, `_` or `-`"
        )));
    }
    Ok(DispatchState {
        task,
        params: raw
            .params
            .clone()
            .unwrap_or_else(|| Value::String(default_params.into())),
        priority: raw.priority.unwrap_or(0.0),
        dispatch_timeout: duration(file, name, "dispatch_timeout", raw.dispatch_timeout)?,
        result_timeout: duration(file, name, "result_timeout", raw.result_timeout)?,
        max_retries: raw.max_retries,
    })
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
        Some(s) => match baton_protocol::clock::seconds(s).filter(|d| !d.is_zero()) {
            Some(d) => Ok(Some(d)),
            None => Err(BlueprintError::state(
                file,
                state,
                format!(
                    "`{field}` must be a positive number of seconds, at most 1000000000, got {s}"
                ),
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use crate::{load_str, StateKind};
    use std::time::Duration;

    const BP: &str = r#"
name: slow
endpoint: /jobs/slow
states:
  work:
    type: dispatch
    start: true
    task: echo
    result_timeout: RESULT
    transitions:
      success: review
  review:
    type: approval
    timeout: APPROVAL
    transitions:
      approved: finished
      timeout: finished
  finished:
    type: end
"#;

    fn load(result: &str, approval: &str) -> Result<crate::Blueprint, String> {
        let text = BP.replace("RESULT", result).replace("APPROVAL", approval);
        load_str("slow.yaml", &text).map_err(|e| e.to_string())
    }

    #[test]
    fn huge_or_odd_durations_fail_the_load_naming_file_and_state() {
        for bad in ["1e20", ".inf", "-5", "0", "1000000001"] {
            // `.inf` is refused while reading the YAML (`states.work.result_timeout`),
            // the others by the state's check (state `work`: `result_timeout` ...).
            let e = load(bad, "30").expect_err(bad);
            assert!(
                e.starts_with("slow.yaml: ") && e.contains("work") && e.contains("result_timeout"),
                "{bad}: {e}"
            );
            let e = load("30", bad).expect_err(bad);
            assert!(
                e.starts_with("slow.yaml: ") && e.contains("review") && e.contains("timeout"),
                "{bad}: {e}"
            );
        }
        let bp = load("1000000000", "0.5").expect("the bounds themselves load");
        let StateKind::Dispatch(d) = &bp.states["work"].kind else {
            panic!("work dispatches")
        };
        assert_eq!(d.result_timeout, Some(Duration::from_secs(1_000_000_000)));
    }
}
