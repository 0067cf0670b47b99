//! CodeMachine workspaces: `<workspace>/.codemachine/config/{main.agents.js,
//! sub.agents.js, modules.js, placeholders.js}` and `template.json`, turned into protocol
//! steps.
//!
//! Each `.js` file holds one literal (`export default [...]`, `module.exports = {...}`,
//! `const x = ...;`), written in the JSON subset of JavaScript plus what people type by
//! hand: single-quoted strings, unquoted keys, trailing commas and comments; [`js_literal`]
//! reads exactly that. Main agent *i* becomes step `{i:02}-{agent.id}` (a `work` step whose
//! QA is skipped) carrying the policies of its module and the text of its prompt file
//! (`prompt`, what the step is asked to do); [`loop_decision`] and [`trigger_decision`]
//! are what those policies do when a step fails or passes.
//!
//! Pure parsing and decisions, no I/O but reading the workspace: the orchestrator imports
//! inline (`POST /projects/{id}/codemachine/import`) and applies the policies, the
//! pipeline worker imports as a `codemachine_import` job; both use this one module.

use serde_json::{json, Map, Value};
use std::path::Path;

/// Why a workspace cannot be imported; the message names the file and what is wrong.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ImportError {
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    #[error("cannot read {0}")]
    Read(String),
    #[error("{0}")]
    Invalid(String),
}

/// Parses the literal of a CodeMachine `.js` config file into JSON.
pub fn js_literal(file: &str, source: &str) -> Result<Value, ImportError> {
    let fail = |message: String| ImportError::Parse {
        file: file.to_string(),
        message,
    };
    let mut text = strip_comments(source);
    let trimmed = text.trim();
    let body = trimmed
        .strip_prefix("export default")
        .or_else(|| trimmed.strip_prefix("module.exports ="))
        .or_else(|| trimmed.strip_prefix("module.exports="))
        .map(str::to_string)
        .or_else(|| {
            // `const name = <literal>`
            ["const ", "let ", "var "].iter().find_map(|kw| {
                trimmed
                    .strip_prefix(kw)
                    .and_then(|rest| rest.split_once('='))
                    .map(|(_, v)| v.to_string())
            })
        })
        .unwrap_or_else(|| trimmed.to_string());
    text = body.trim().trim_end_matches(';').trim().to_string();
    let json = to_json(&text);
    serde_json::from_str(&json).map_err(|e| fail(format!("not a literal this importer reads: {e}")))
}

/// Removes `//` and `/* */` comments outside strings.
fn strip_comments(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let (mut out, mut i, mut quote) = (String::with_capacity(s.len()), 0, None::<char>);
    while i < chars.len() {
        let c = chars[i];
        if let Some(q) = quote {
            out.push(c);
            if c == '\\' && i + 1 < chars.len() {
                out.push(chars[i + 1]);
                i += 1;
            } else if c == q {
                quote = None;
            }
        } else if c == '"' || c == '\'' || c == '`' {
            quote = Some(c);
            out.push(c);
        } else if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
            continue;
        } else {
            out.push(c);
        }
        i += 1;
    }
    out
}

/// Single quotes and backticks to double quotes, unquoted keys quoted, trailing commas
/// dropped.
fn to_json(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len() + 16);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            out.push('"');
            i += 1;
            while i < chars.len() && chars[i] != c {
                match chars[i] {
                    '\\' if i + 1 < chars.len() => {
                        if chars[i + 1] == '\'' || chars[i + 1] == '`' {
                            out.push(chars[i + 1]);
                        } else {
                            out.push('\\');
                            out.push(chars[i + 1]);
                        }
                        i += 1;
                    }
                    '"' => out.push_str("\\\""),
                    '\n' => out.push_str("\\n"),
                    ch => out.push(ch),
                }
                i += 1;
            }
            out.push('"');
            i += 1;
        } else if c.is_ascii_alphabetic() || c == '_' || c == '$' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let mut j = i;
            while j < chars.len() && chars[j].is_whitespace() {
                j += 1;
            }
            if chars.get(j) == Some(&':') && !matches!(word.as_str(), "true" | "false" | "null") {
                out.push('"');
                out.push_str(&word);
                out.push('"');
            } else {
                out.push_str(&word);
            }
        } else if c == ',' {
            let mut j = i + 1;
            while j < chars.len() && chars[j].is_whitespace() {
                j += 1;
            }
            if !matches!(chars.get(j), Some('}') | Some(']')) {
                out.push(',');
            }
            i += 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The import of one workspace: the protocol's steps and what to keep on the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Import {
    /// `{"agents", "sub_agents", "modules", "placeholders", "template", "protocol_spec"}`.
    pub template_config: Value,
    /// `{"workspace_path", "files"}`.
    pub template_source: Value,
    pub steps: Vec<Value>,
}

/// Reads a workspace's CodeMachine config.
pub fn import_workspace(workspace: &Path) -> Result<Import, ImportError> {
    let dir = workspace.join(".codemachine");
    let config = dir.join("config");
    if !workspace.is_dir() {
        return Err(ImportError::Invalid(format!(
            "workspace {}: no such directory",
            workspace.display()
        )));
    }
    if !config.is_dir() {
        return Err(ImportError::Invalid(format!(
            "{}: no such directory (not a CodeMachine workspace)",
            config.display()
        )));
    }
    let read = |path: &Path| -> Result<Option<String>, ImportError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ImportError::Read(format!("{}: {e}", path.display()))),
        }
    };
    let mut files = Vec::new();
    let mut literal = |name: &str| -> Result<Value, ImportError> {
        let path = config.join(name);
        match read(&path)? {
            Some(text) => {
                files.push(name.to_string());
                js_literal(name, &text)
            }
            None => Ok(Value::Null),
        }
    };
    let agents = literal("main.agents.js")?;
    let sub_agents = literal("sub.agents.js")?;
    let modules = literal("modules.js")?;
    let placeholders = literal("placeholders.js")?;
    let template = match read(&dir.join("template.json"))? {
        Some(text) => serde_json::from_str(&text).map_err(|e| ImportError::Parse {
            file: "template.json".into(),
            message: e.to_string(),
        })?,
        None => Value::Null,
    };
    let agent_list = match &agents {
        Value::Array(list) if !list.is_empty() => list,
        Value::Null => {
            return Err(ImportError::Invalid(format!(
                "{}: main.agents.js is missing",
                config.display()
            )))
        }
        _ => {
            return Err(ImportError::Invalid(format!(
                "{}: main.agents.js must hold a non-empty list of agents",
                config.display()
            )))
        }
    };
    let steps = steps_of(agent_list, &modules, |path| prompt_text(workspace, path))?;
    Ok(Import {
        template_config: json!({
            "agents": agents, "sub_agents": sub_agents, "modules": modules,
            "placeholders": placeholders, "template": template,
            "protocol_spec": {"steps": steps},
        }),
        template_source: json!({"workspace_path": workspace.display().to_string(), "files": files}),
        steps,
    })
}

/// Most bytes of an agent's prompt kept on its step.
pub const MAX_PROMPT_BYTES: usize = 64 * 1024;

/// An agent's prompt file (`promptPath`, relative to the workspace or to its
/// `.codemachine/`), cut at [`MAX_PROMPT_BYTES`]; `None` when there is no such file.
fn prompt_text(workspace: &Path, prompt_path: &str) -> Option<String> {
    let rel = Path::new(prompt_path);
    if rel.is_absolute()
        || rel
            .components()
            .any(|c| c == std::path::Component::ParentDir)
    {
        return None; // a workspace names its own files only
    }
    let text = [
        workspace.join(rel),
        workspace.join(".codemachine").join(rel),
    ]
    .iter()
    .find_map(|p| std::fs::read_to_string(p).ok())?;
    let mut end = text.len().min(MAX_PROMPT_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Some(text[..end].to_string())
}

fn steps_of(
    agents: &[Value],
    modules: &Value,
    prompt: impl Fn(&str) -> Option<String>,
) -> Result<Vec<Value>, ImportError> {
    let module_by_id = |id: &str| -> Option<Value> {
        let list = match modules {
            Value::Array(list) => list.clone(),
            Value::Object(map) => map.values().cloned().collect(),
            _ => Vec::new(),
        };
        list.into_iter().find(|m| m["id"] == id)
    };
    agents
        .iter()
        .enumerate()
        .map(|(i, agent)| {
            let id = agent["id"].as_str().ok_or_else(|| {
                ImportError::Invalid(format!("main.agents.js: agent {i} has no string `id`"))
            })?;
            let policy: Vec<Value> = agent["moduleId"]
                .as_str()
                .and_then(module_by_id)
                .map(|m| {
                    let mut p: Map<String, Value> =
                        m["behavior"].as_object().cloned().unwrap_or_default();
                    p.insert("module_id".into(), m["id"].clone());
                    vec![Value::Object(p)]
                })
                .unwrap_or_default();
            Ok(json!({
                "step_index": i,
                "step_name": format!("{i:02}-{id}"),
                "step_type": "work",
                "agent_id": id,
                "summary": agent.get("description").or_else(|| agent.get("name")),
                "prompt_path": agent.get("promptPath"),
                "prompt": agent["promptPath"].as_str().and_then(&prompt),
                "engine_id": agent.get("engineId"),
                "model": agent.get("model"),
                "policy": policy,
                "qa": {"policy": "skip"},
            }))
        })
        .collect()
}

/// What a loop policy decides when step `index` failed (exec or QA).
#[derive(Debug, Clone, PartialEq)]
pub enum LoopDecision {
    /// Reset these step indexes to pending; the module's count is now `count`.
    Loop { reset: Vec<usize>, count: u64 },
    /// `maxIterations` reached: the failure stands.
    LimitReached { count: u64 },
}

/// A `loop` policy: go back `stepBack` steps (skipping `skip`) while the module's count in
/// `runtime_state.loop_counts` is under `maxIterations`; the count is updated in place.
pub fn loop_decision(policy: &Value, index: usize, runtime_state: &mut Value) -> LoopDecision {
    let module = policy["module_id"].as_str().unwrap_or("loop").to_string();
    // CodeMachine's camelCase names, or upstream's snake_case ones.
    let number = |a: &str, b: &str| policy[a].as_u64().or_else(|| policy[b].as_u64());
    let max = number("maxIterations", "max_iterations").unwrap_or(1);
    let back = number("stepBack", "step_back").unwrap_or(1) as usize;
    let skip: Vec<u64> = policy["skip"]
        .as_array()
        .or_else(|| policy["skip_steps"].as_array())
        .map(|s| s.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    if !runtime_state.is_object() {
        *runtime_state = json!({});
    }
    let count = runtime_state["loop_counts"][&module].as_u64().unwrap_or(0);
    if count >= max {
        return LoopDecision::LimitReached { count };
    }
    let reset: Vec<usize> = (index.saturating_sub(back)..=index)
        .filter(|i| !skip.contains(&(*i as u64)))
        .collect();
    if !runtime_state["loop_counts"].is_object() {
        runtime_state["loop_counts"] = json!({});
    }
    runtime_state["loop_counts"][&module] = json!(count + 1);
    LoopDecision::Loop {
        reset,
        count: count + 1,
    }
}

/// Inline trigger chains deeper than this stop (`trigger_inline_depth_exceeded`).
pub const MAX_TRIGGER_DEPTH: u64 = 3;

/// A `trigger` policy after a step passed: the agent id whose step runs next, unless the
/// inline depth (kept in `runtime_state.inline_trigger_depth`) is exhausted.
pub fn trigger_decision(policy: &Value, runtime_state: &mut Value) -> Result<String, String> {
    let target = [
        "targetAgentId",
        "triggerAgentId",
        "target_agent_id",
        "trigger_agent_id",
    ]
    .iter()
    .find_map(|k| policy[*k].as_str())
    .ok_or("trigger policy names no target agent")?
    .to_string();
    if !runtime_state.is_object() {
        *runtime_state = json!({});
    }
    let depth = runtime_state["inline_trigger_depth"].as_u64().unwrap_or(0);
    if depth >= MAX_TRIGGER_DEPTH {
        return Err(format!("trigger_inline_depth_exceeded: depth {depth}"));
    }
    runtime_state["inline_trigger_depth"] = json!(depth + 1);
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn js_literals_of_every_usual_shape() {
        let v = js_literal("a.js", "export default [\n  { id: 'plan', name: \"Plan\", promptPath: 'p/plan.md', }, // first\n  /* second */ {'id': 'build', moduleId: 'fix-loop'},\n];\n").unwrap();
        assert_eq!(
            v,
            json!([{"id": "plan", "name": "Plan", "promptPath": "p/plan.md"}, {"id": "build", "moduleId": "fix-loop"}])
        );
        assert_eq!(
            js_literal("b.js", "module.exports = {a: 1, b: [true, null]};").unwrap(),
            json!({"a": 1, "b": [true, null]})
        );
        assert_eq!(
            js_literal(
                "c.js",
                "const modules = [{id: 'x', text: 'it\\'s \"ok\" // not a comment'}]"
            )
            .unwrap(),
            json!([{"id": "x", "text": "it's \"ok\" // not a comment"}])
        );
        let e = js_literal("d.js", "export default function () {}").unwrap_err();
        assert!(e.to_string().starts_with("d.js: not a literal"), "{e}");
    }

    #[test]
    fn a_workspace_becomes_steps_with_policies() {
        let ws = std::env::temp_dir().join(format!("baton-cm-{}", std::process::id()));
        let config = ws.join(".codemachine/config");
        std::fs::create_dir_all(&config).unwrap();
        std::fs::write(config.join("main.agents.js"), "export default [{id: 'plan', description: 'Plan it', promptPath: 'prompts/plan.md'}, {id: 'build', moduleId: 'retry', engineId: 'codex', model: 'm', promptPath: '../x'}]").unwrap();
        std::fs::create_dir_all(ws.join(".codemachine/prompts")).unwrap();
        std::fs::write(ws.join(".codemachine/prompts/plan.md"), "Plan the work.").unwrap();
        std::fs::write(config.join("modules.js"), "module.exports = [{id: 'retry', behavior: {type: 'loop', stepBack: 1, maxIterations: 2, skip: [0]}}]").unwrap();
        std::fs::write(ws.join(".codemachine/template.json"), "{\"name\": \"t\"}").unwrap();
        let import = import_workspace(&ws).unwrap();
        assert_eq!(import.steps.len(), 2);
        assert_eq!(import.steps[0]["step_name"], "00-plan");
        assert_eq!(import.steps[0]["summary"], "Plan it");
        assert_eq!(import.steps[0]["prompt"], "Plan the work.");
        assert_eq!(
            import.steps[1]["prompt"],
            Value::Null,
            "outside the workspace"
        );
        assert_eq!(import.steps[1]["step_name"], "01-build");
        assert_eq!(import.steps[1]["engine_id"], "codex");
        assert_eq!(import.steps[1]["policy"][0]["type"], "loop");
        assert_eq!(import.steps[1]["policy"][0]["module_id"], "retry");
        assert_eq!(import.template_config["template"]["name"], "t");
        assert_eq!(
            import.template_source["files"],
            json!(["main.agents.js", "modules.js"])
        );
        let _ = std::fs::remove_dir_all(&ws);
        assert!(matches!(
            import_workspace(Path::new("/nonexistent-ws")),
            Err(ImportError::Invalid(_))
        ));
    }

    #[test]
    fn loops_count_up_to_their_limit_and_triggers_are_bounded() {
        let policy = json!({"module_id": "retry", "type": "loop", "stepBack": 2, "maxIterations": 2, "skip": [1]});
        let mut state = Value::Null;
        assert_eq!(
            loop_decision(&policy, 3, &mut state),
            LoopDecision::Loop {
                reset: vec![2, 3],
                count: 1
            }
        );
        assert_eq!(
            loop_decision(&policy, 1, &mut state),
            LoopDecision::Loop {
                reset: vec![0],
                count: 2
            }
        );
        assert_eq!(
            loop_decision(&policy, 3, &mut state),
            LoopDecision::LimitReached { count: 2 }
        );
        assert_eq!(state["loop_counts"]["retry"], 2);

        let trigger = json!({"type": "trigger", "targetAgentId": "review"});
        let mut state = json!({});
        for _ in 0..MAX_TRIGGER_DEPTH {
            assert_eq!(trigger_decision(&trigger, &mut state).unwrap(), "review");
        }
        assert!(trigger_decision(&trigger, &mut state)
            .unwrap_err()
            .starts_with("trigger_inline_depth_exceeded"));
        assert!(trigger_decision(&json!({}), &mut state).is_err());
    }

    #[test]
    fn policies_in_upstreams_names_decide_the_same() {
        let upstream = json!({"module_id": "retry", "behavior": "loop", "step_back": 2, "max_iterations": 1, "skip_steps": [1]});
        let mut state = Value::Null;
        assert_eq!(
            loop_decision(&upstream, 3, &mut state),
            LoopDecision::Loop {
                reset: vec![2, 3],
                count: 1
            }
        );
        assert_eq!(
            loop_decision(&upstream, 3, &mut state),
            LoopDecision::LimitReached { count: 1 }
        );
        let trigger = json!({"behavior": "trigger", "trigger_agent_id": "qa"});
        assert_eq!(trigger_decision(&trigger, &mut json!({})).unwrap(), "qa");
    }
}
