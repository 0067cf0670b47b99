//! The bodies of the step types, each given its rendered params: an error is a message
//! (the caller applies the step's `on_failure`).

use super::context::lookup;
use super::{AiEngine, Ran, WorkflowSettings};
use baton_worker::TaskContext;
use serde_json::{json, Map, Value};
use std::process::Stdio;
use std::time::Duration;

/// What a step's body runs with besides its params.
pub struct Env<'a> {
    pub ctx: &'a TaskContext,
    pub settings: &'a WorkflowSettings,
    pub http: &'a reqwest::Client,
    /// The AI endpoint's circuit breaker.
    pub breaker: Option<&'a super::circuit::Breaker>,
    pub timeout: Duration,
}

/// Most items one fan-out may have.
pub const MAX_ITEMS: usize = 1000;

/// Runs one step's body: `step` is its definition, `params` its rendered params.
pub async fn run(
    kind: &str,
    step: &Value,
    params: &Value,
    vars: &Map<String, Value>,
    env: &Env<'_>,
) -> Result<Ran, String> {
    match kind {
        "transform" => transform(params, vars),
        "checkpoint" => Ok(checkpoint(params, env.ctx)),
        "shell" => shell(params, env.ctx, env.settings, env.timeout).await,
        "ai-prompt" => ai_prompt(params, env).await,
        "fan-out" => fan_out(step, params),
        "fan-in" => fan_in(params, vars, env).await,
        other => Err(format!("step type `{other}` is not run by this worker")),
    }
}

/// A fan-out's items: `items` rendered, which must be a list. A `fan_out` step with no
/// items publishes an empty list under its first output (its items publish the list
/// otherwise); a `map_reduce`'s items publish nothing (its reduce does).
fn fan_out(step: &Value, params: &Value) -> Result<Ran, String> {
    let items = match params.get("items") {
        Some(Value::Array(items)) => items.clone(),
        Some(Value::Null) | None => {
            return Err("`items` names nothing: give a list, or a template naming one".into())
        }
        Some(other) => {
            let kind = match other {
                Value::String(_) => "text",
                Value::Object(_) => "an object",
                _ => "a single value",
            };
            return Err(format!("`items` must be a list, found {kind}"));
        }
    };
    if items.len() > MAX_ITEMS {
        return Err(format!(
            "{} items: a fan-out takes at most {MAX_ITEMS}",
            items.len()
        ));
    }
    let mut outputs = Map::new();
    if items.is_empty() && step.get("type").and_then(Value::as_str) == Some("fan_out") {
        let name = step
            .get("outputs")
            .and_then(|o| o.get(0))
            .and_then(Value::as_str)
            .or_else(|| step.get("id").and_then(Value::as_str))
            .unwrap_or_default();
        outputs.insert(name.to_string(), Value::Array(Vec::new()));
    }
    let mut extra = Map::new();
    extra.insert("item_count".into(), items.len().into());
    extra.insert("items".into(), Value::Array(items));
    Ok(Ran {
        extra,
        outputs: Some(outputs),
        ..Ran::default()
    })
}

/// The list a fan-in aggregates: a map-reduce's item answers (their outputs, failed
/// items left out), else its `input` rendered (a single value is a list of one).
pub fn fan_in_items(
    answers: Option<&Value>,
    params: Option<&Value>,
    vars: &Map<String, Value>,
) -> Vec<Value> {
    if let Some(Value::Array(list)) = answers {
        return list
            .iter()
            .filter(|a| a.is_object() && a.get("status").and_then(Value::as_str) != Some("skipped"))
            .map(|a| a.get("output").cloned().unwrap_or(Value::Null))
            .collect();
    }
    let input = params.and_then(|p| p.get("input")).unwrap_or(&Value::Null);
    match super::context::render(input, vars) {
        Value::Array(list) => list,
        Value::Null => Vec::new(),
        one => vec![one],
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Items as text for an AI prompt: one after the other, `---` between.
pub fn items_text(items: &[Value]) -> String {
    items
        .iter()
        .map(text_of)
        .collect::<Vec<_>>()
        .join("\n---\n")
}

/// `concat` joins the items with `separator` (default a newline); an AI aggregation
/// sends `aggregate_prompt` (its `${items}` already filled in) to the AI engine.
async fn fan_in(params: &Value, vars: &Map<String, Value>, env: &Env<'_>) -> Result<Ran, String> {
    let items = match vars.get("__fan_in_items") {
        Some(Value::Array(list)) => list.clone(),
        _ => Vec::new(),
    };
    let aggregation = params
        .get("aggregation")
        .and_then(Value::as_str)
        .unwrap_or("concat");
    let mut extra = Map::new();
    extra.insert("item_count".into(), items.len().into());
    extra.insert("aggregation".into(), aggregation.into());
    if aggregation == "concat" {
        let separator = params
            .get("separator")
            .and_then(Value::as_str)
            .unwrap_or("\n");
        let joined: Vec<String> = items.iter().map(text_of).collect();
        return Ok(Ran {
            output: Value::String(joined.join(separator)),
            extra,
            ..Ran::default()
        });
    }
    let mut ai = Map::new();
    ai.insert(
        "prompt".into(),
        params
            .get("aggregate_prompt")
            .cloned()
            .unwrap_or(Value::Null),
    );
    for key in ["model", "system"] {
        if let Some(v) = params.get(key) {
            ai.insert(key.into(), v.clone());
        }
    }
    let mut ran = ai_prompt(&Value::Object(ai), env).await?;
    ran.extra.extend(extra);
    Ok(ran)
}

/// `pick` (names copied from the context), `rename` (`{from: to}`), `merge` (an object
/// added), in that order into one object; `template`, when given, is the result instead.
fn transform(params: &Value, vars: &Map<String, Value>) -> Result<Ran, String> {
    if let Some(t) = params.get("template") {
        return Ok(Ran {
            output: t.clone(),
            ..Ran::default()
        });
    }
    let mut out = Map::new();
    if let Some(pick) = params.get("pick") {
        let names = pick.as_array().ok_or("`pick` must be a list of names")?;
        for name in names {
            let name = name.as_str().ok_or("`pick` must be a list of names")?;
            out.insert(
                name.to_string(),
                lookup(vars, name).cloned().unwrap_or(Value::Null),
            );
        }
    }
    if let Some(rename) = params.get("rename") {
        let map = rename
            .as_object()
            .ok_or("`rename` must map names to new names")?;
        for (from, to) in map {
            let to = to.as_str().ok_or("`rename` must map names to new names")?;
            out.insert(
                to.to_string(),
                lookup(vars, from).cloned().unwrap_or(Value::Null),
            );
        }
    }
    if let Some(merge) = params.get("merge") {
        let map = merge.as_object().ok_or("`merge` must be an object")?;
        out.extend(map.clone());
    }
    Ok(Ran {
        output: Value::Object(out),
        ..Ran::default()
    })
}

fn checkpoint(params: &Value, ctx: &TaskContext) -> Ran {
    let message = params.get("message").cloned().unwrap_or(Value::Null);
    let mut extra = Map::new();
    extra.insert("checkpoint_id".into(), ctx.task_id().into());
    Ran {
        output: json!({"checkpoint_id": ctx.task_id(), "message": message}),
        extra,
        ..Ran::default()
    }
}

async fn shell(
    params: &Value,
    ctx: &TaskContext,
    settings: &WorkflowSettings,
    timeout: Duration,
) -> Result<Ran, String> {
    if !settings.allow_shell {
        return Err(
            "shell steps are not allowed on this worker (start it with WORKFLOW_ALLOW_SHELL=true)"
                .into(),
        );
    }
    let command = params
        .get("command")
        .and_then(Value::as_str)
        .ok_or("a shell step needs `command`")?;
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start sh: {e}"))?;
    let output = tokio::select! {
        out = child.wait_with_output() => out.map_err(|e| format!("shell: {e}"))?,
        _ = ctx.cancelled() => return Err("cancelled".into()),
        _ = tokio::time::sleep(timeout) => return Err(format!("timed out after {} s", timeout.as_secs_f64())),
    };
    let stdout = String::from_utf8_lossy(&output.stdout)
        .trim_end()
        .to_string();
    let stderr = String::from_utf8_lossy(&output.stderr)
        .trim_end()
        .to_string();
    let code = output.status.code();
    if !output.status.success() {
        let tail: String = stderr
            .chars()
            .rev()
            .take(500)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        return Err(format!(
            "exit code {}: {tail}",
            code.map_or("none".into(), |c| c.to_string())
        ));
    }
    let mut extra = Map::new();
    extra.insert("exit_code".into(), code.into());
    extra.insert("stdout".into(), stdout.clone().into());
    extra.insert("stderr".into(), stderr.into());
    Ok(Ran {
        output: Value::String(stdout),
        extra,
        ..Ran::default()
    })
}

/// About four characters a token, as the usual estimate.
fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4).max(1)
}

async fn ai_prompt(params: &Value, env: &Env<'_>) -> Result<Ran, String> {
    let settings = env.settings;
    if params.get("prompt_id").is_some() && params.get("prompt").is_none() {
        return Err("prompt templates (`prompt_id`) are not available yet: give `prompt`".into());
    }
    let prompt = match params.get("prompt") {
        Some(Value::String(p)) => p.clone(),
        Some(other) => other.to_string(),
        None => return Err("an ai-prompt step needs `prompt`".into()),
    };
    let model = params
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("gpt-4o-mini");
    let system = params.get("system").and_then(Value::as_str);
    let (base_url, api_key) = match &settings.ai {
        AiEngine::Offline => {
            let answer = format!("[offline {model}] {prompt}");
            let tokens = estimate_tokens(&prompt) + estimate_tokens(&answer);
            return Ok(Ran {
                output: Value::String(answer),
                tokens,
                cost_cents: 0.0,
                extra: Map::from_iter([("model".to_string(), Value::from(model))]),
                outputs: None,
            });
        }
        AiEngine::OpenAi { base_url, api_key } => (base_url, api_key),
    };
    if let Some(b) = env.breaker {
        b.admit()?;
    }
    let mut messages = Vec::new();
    if let Some(s) = system {
        messages.push(json!({"role": "system", "content": s}));
    }
    messages.push(json!({"role": "user", "content": prompt}));
    let mut call = env
        .http
        .post(format!("{base_url}/chat/completions"))
        .timeout(env.timeout)
        .json(&json!({"model": model, "messages": messages}));
    if let Some(key) = api_key {
        call = call.bearer_auth(key);
    }
    let called = completion(call).await;
    if let Some(b) = env.breaker {
        b.record(match &called {
            Ok(_) => Some(true),
            Err((endpoint_failed, _)) => endpoint_failed.then_some(false),
        });
    }
    let answer = called.map_err(|(_, e)| e)?;
    let content = answer
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .ok_or("AI endpoint: no choices[0].message.content")?
        .to_string();
    let tokens = answer
        .pointer("/usage/total_tokens")
        .and_then(Value::as_u64)
        .unwrap_or_else(|| estimate_tokens(&prompt) + estimate_tokens(&content));
    let mut extra = Map::from_iter([("model".to_string(), Value::from(model))]);
    if let Some(b) = env.breaker {
        extra.insert("circuit".into(), b.report());
    }
    Ok(Ran {
        output: Value::String(content),
        tokens,
        cost_cents: settings.cost_cents(model, tokens),
        extra,
        outputs: None,
    })
}

/// One chat completion: its JSON, or whether the endpoint is at fault (unreachable,
/// 429, 5xx, an unreadable answer) and the message.
async fn completion(call: reqwest::RequestBuilder) -> Result<Value, (bool, String)> {
    let resp = call
        .send()
        .await
        .map_err(|e| (true, format!("AI endpoint: {e}")))?;
    let status = resp.status();
    let text = resp
        .text()
        .await
        .map_err(|e| (true, format!("AI endpoint: {e}")))?;
    if !status.is_success() {
        let excerpt: String = text.chars().take(300).collect();
        let endpoint = status.is_server_error() || status.as_u16() == 429;
        return Err((
            endpoint,
            format!("AI endpoint answered {status}: {excerpt}"),
        ));
    }
    serde_json::from_str(&text).map_err(|e| (true, format!("AI endpoint: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transforms_pick_rename_merge_or_template() {
        let vars = json!({"a": 1, "b": {"c": 2}}).as_object().cloned().unwrap();
        let ran = transform(
            &json!({"pick": ["a"], "rename": {"b.c": "c"}, "merge": {"d": 4}}),
            &vars,
        )
        .unwrap();
        assert_eq!(ran.output, json!({"a": 1, "c": 2, "d": 4}));
        let ran = transform(&json!({"template": "x"}), &vars).unwrap();
        assert_eq!(ran.output, json!("x"));
        assert!(transform(&json!({"pick": "a"}), &vars).is_err());
    }
}
