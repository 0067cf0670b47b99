//! `baton jobs ...`: submit, get, watch, list, cancel, retry, pause, resume.

use super::http::{segment, Api, CtlError};
use super::table::{self, render, text, time};
use super::{exit, watch};
use baton_protocol::job_status;
use clap::Subcommand;
use serde_json::{Map, Value};

#[derive(Subcommand, Debug)]
pub enum JobsCmd {
    /// Create a job: `baton jobs submit echo message=hello count:=3` (`key=value` is a
    /// string, `key:=value` JSON), or `--data '{"message": "hello"}'` (`@file`, `-` for
    /// stdin). Prints the job id (the answer with --json).
    Submit {
        /// The blueprint's name (`baton blueprints list`).
        blueprint: String,
        /// Fields of the job's initial data: `key=string` or `key:=json`.
        fields: Vec<String>,
        /// The whole initial data as JSON, `@file` or `-` (fields are added to it).
        #[arg(long)]
        data: Option<String>,
        /// Follow the job to its end like `watch` (the exit status tells how it ended).
        #[arg(long)]
        wait: bool,
        /// With --wait: give up after this many seconds (exit 5).
        #[arg(long, value_name = "SECONDS")]
        timeout: Option<f64>,
    },
    /// A job's status, state, result or error, tasks and history.
    Get { id: String },
    /// Follow a job to its end with a line per change (exit 0 finished, 4 failed).
    Watch {
        id: String,
        /// Give up after this many seconds (exit 5).
        #[arg(long, value_name = "SECONDS")]
        timeout: Option<f64>,
    },
    /// Jobs newest first (a client token: its own; the admin token: everyone's).
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        blueprint: Option<String>,
        /// A client's name (admin token only).
        #[arg(long)]
        client: Option<String>,
        /// Created within this long: `90s`, `15m`, `2h`, `7d`.
        #[arg(long, value_name = "DURATION")]
        since: Option<String>,
        /// Created at or after (RFC 3339 or epoch ms).
        #[arg(long)]
        from: Option<String>,
        /// Created at or before (RFC 3339 or epoch ms).
        #[arg(long)]
        to: Option<String>,
        /// Text in the job id.
        #[arg(long = "id")]
        id_text: Option<String>,
        /// Jobs per page (1 to 500).
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Continue after a previous page (its `next_cursor`).
        #[arg(long)]
        cursor: Option<String>,
        /// Every page, not just the first.
        #[arg(long)]
        all: bool,
    },
    /// Cancel a job (its running task is told to stop).
    Cancel { id: String },
    /// Run a failed or quarantined job again from the state that failed.
    Retry { id: String },
    /// Pause a job: running tasks finish, nothing new starts.
    Pause { id: String },
    /// Resume a paused job.
    Resume { id: String },
}

pub async fn run(api: &Api, cmd: JobsCmd) -> Result<u8, CtlError> {
    match cmd {
        JobsCmd::Submit {
            blueprint,
            fields,
            data,
            wait,
            timeout,
        } => submit(api, &blueprint, &fields, data, wait, timeout).await,
        JobsCmd::Get { id } => get(api, &id).await,
        JobsCmd::Watch { id, timeout } => watch::follow(api, &id, timeout).await,
        JobsCmd::List {
            status,
            blueprint,
            client,
            since,
            from,
            to,
            id_text,
            limit,
            cursor,
            all,
        } => {
            let mut q = vec![("limit", limit.to_string())];
            let since = since.map(|s| since_ms(&s)).transpose()?;
            for (k, v) in [
                ("status", status),
                ("blueprint", blueprint),
                ("client", client),
                ("from", from.or(since.map(|ms| ms.to_string()))),
                ("to", to),
                ("q", id_text),
                ("cursor", cursor),
            ] {
                if let Some(v) = v {
                    q.push((k, v));
                }
            }
            list(api, q, all).await
        }
        JobsCmd::Cancel { id } => act(api, &id, "cancel").await,
        JobsCmd::Retry { id } => act(api, &id, "retry").await,
        JobsCmd::Pause { id } => act(api, &id, "pause").await,
        JobsCmd::Resume { id } => act(api, &id, "resume").await,
    }
}

/// The initial data from `--data` and `key=value` / `key:=json` fields.
pub fn initial_data(data: Option<String>, fields: &[String]) -> Result<Value, CtlError> {
    let mut obj = match data {
        None => Map::new(),
        Some(raw) => {
            let text = if raw == "-" {
                std::io::read_to_string(std::io::stdin())
                    .map_err(|e| CtlError::Usage(format!("cannot read stdin: {e}")))?
            } else if let Some(path) = raw.strip_prefix('@') {
                std::fs::read_to_string(path)
                    .map_err(|e| CtlError::Usage(format!("cannot read {path}: {e}")))?
            } else {
                raw
            };
            match serde_json::from_str(&text) {
                Ok(Value::Object(m)) => m,
                Ok(_) => return Err(CtlError::Usage("--data must be a JSON object".into())),
                Err(e) => return Err(CtlError::Usage(format!("--data is not JSON: {e}"))),
            }
        }
    };
    for field in fields {
        let (key, value) = if let Some((k, v)) = field.split_once(":=") {
            let v = serde_json::from_str(v)
                .map_err(|e| CtlError::Usage(format!("`{field}`: the value is not JSON: {e}")))?;
            (k, v)
        } else if let Some((k, v)) = field.split_once('=') {
            (k, Value::String(v.to_string()))
        } else {
            return Err(CtlError::Usage(format!(
                "`{field}`: a field is key=value (a string) or key:=json"
            )));
        };
        if key.is_empty() {
            return Err(CtlError::Usage(format!("`{field}`: empty key")));
        }
        obj.insert(key.to_string(), value);
    }
    Ok(Value::Object(obj))
}

async fn submit(
    api: &Api,
    blueprint: &str,
    fields: &[String],
    data: Option<String>,
    wait: bool,
    timeout: Option<f64>,
) -> Result<u8, CtlError> {
    let initial = initial_data(data, fields)?;
    // The blueprint names its endpoint; an unknown name is a clear 404 here.
    let bp = api
        .get(&format!("/api/v1/blueprints/{}", segment(blueprint)))
        .await
        .map_err(|e| match e {
            CtlError::NotFound { .. } => CtlError::NotFound {
                message: format!("no blueprint `{blueprint}` (baton blueprints list)"),
            },
            e => e,
        })?;
    let endpoint = bp["endpoint"]
        .as_str()
        .ok_or_else(|| CtlError::Server {
            status: 200,
            message: format!("blueprint `{blueprint}` has no endpoint: {bp}"),
        })?
        .to_string();
    let answer = api
        .post(&endpoint, &serde_json::json!({ "initial_data": initial }))
        .await?;
    let id = answer["job_id"].as_str().unwrap_or_default().to_string();
    if wait {
        if !api.json {
            eprintln!("job {id} accepted");
        }
        return watch::follow(api, &id, timeout).await;
    }
    if api.json {
        outln!("{answer}");
    } else {
        outln!("{id}");
    }
    Ok(exit::OK)
}

/// The exit status a job's status calls for.
pub fn outcome(status: &str) -> u8 {
    match status {
        job_status::FAILED | job_status::QUARANTINED | job_status::CANCELLED | "error" => {
            exit::JOB_FAILED
        }
        _ => exit::OK,
    }
}

async fn get(api: &Api, id: &str) -> Result<u8, CtlError> {
    let view = api.get(&format!("/api/v1/jobs/{}", segment(id))).await?;
    let status = text(&view["status"]);
    if api.json {
        outln!("{view}");
        return Ok(outcome(&status));
    }
    let history = api
        .get(&format!("/api/v1/jobs/{}/history", segment(id)))
        .await
        .unwrap_or(Value::Null);
    outln!("{}", describe(&view, &history));
    Ok(outcome(&status))
}

/// A job for people: a summary, its tasks and its history with durations.
fn describe(view: &Value, history: &Value) -> String {
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("{k:<12}{v}\n"));
    line("id", text(&view["id"]));
    line("blueprint", text(&view["blueprint_name"]));
    line("client", text(&view["client"]));
    line("status", text(&view["status"]));
    line("state", text(&view["state"]));
    line("run", text(&view["run"]));
    line("attempt", text(&view["attempt"]));
    line("created", time(&view["created_at"]));
    line("updated", time(&view["updated_at"]));
    if let Some(p) = view["progress"].as_f64() {
        line(
            "progress",
            format!("{:.0}% {}", p * 100.0, text(&view["progress_message"])),
        );
    }
    if let Some(h) = view["hint"].as_str() {
        line("hint", h.to_string());
    }
    if !view["error"].is_null() {
        line("error", text(&view["error"]));
    }
    if !view["result"].is_null() {
        line("result", view["result"].to_string());
    }
    let tasks: Vec<Vec<String>> = view["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            [
                &t["task_id"],
                &t["task_type"],
                &t["status"],
                &t["worker_id"],
                &t["attempt"],
            ]
            .into_iter()
            .map(text)
            .collect()
        })
        .collect();
    if !tasks.is_empty() {
        out.push_str("\ntasks\n");
        out.push_str(&render(
            &["TASK", "SKILL", "STATUS", "WORKER", "ATTEMPT"],
            &tasks,
        ));
        out.push('\n');
    }
    let events = history.as_array().map(Vec::as_slice).unwrap_or_default();
    if !events.is_empty() {
        out.push_str("\nhistory\n");
        out.push_str(&render(
            &["TIME", "+", "EVENT", "STATE", "DETAIL"],
            &history_rows(events),
        ));
        out.push('\n');
    }
    out.trim_end().to_string()
}

/// One row per event, with the time since the previous one.
fn history_rows(events: &[Value]) -> Vec<Vec<String>> {
    let mut prev: Option<i64> = None;
    events
        .iter()
        .map(|e| {
            let at = e["timestamp_ms"].as_i64();
            let delta = match (prev, at) {
                (Some(p), Some(a)) => table::duration_ms(a - p),
                _ => "".into(),
            };
            prev = at.or(prev);
            let detail = ["worker_id", "task_type", "error", "decision", "next_state"]
                .iter()
                .filter_map(|k| {
                    e[*k]
                        .as_str()
                        .filter(|s| !s.is_empty())
                        .map(|v| format!("{k}={v}"))
                })
                .collect::<Vec<_>>()
                .join(" ");
            vec![
                time(&e["timestamp"]),
                delta,
                text(&e["event_type"]),
                text(&e["state"]),
                detail,
            ]
        })
        .collect()
}

async fn list(api: &Api, mut q: Vec<(&str, String)>, all: bool) -> Result<u8, CtlError> {
    let mut rows = Vec::new();
    let mut pages = Vec::new();
    let next = loop {
        let query: Vec<String> = q
            .iter()
            .map(|(k, v)| format!("{k}={}", segment(v)))
            .collect();
        let page = api
            .get(&format!("/api/v1/jobs?{}", query.join("&")))
            .await?;
        for j in page["jobs"].as_array().into_iter().flatten() {
            rows.push(vec![
                text(&j["id"]),
                text(&j["status"]),
                text(&j["blueprint_name"]),
                text(&j["client"]),
                time(&j["created_at"]),
                time(&j["updated_at"]),
            ]);
        }
        let next = page["next_cursor"].as_str().map(String::from);
        pages.push(page);
        match (&next, all) {
            (Some(c), true) => {
                q.retain(|(k, _)| *k != "cursor");
                q.push(("cursor", c.clone()));
            }
            _ => break next,
        }
    };
    if api.json {
        // One page: the orchestrator's answer; every page: the jobs in one list.
        if all {
            let jobs: Vec<Value> = pages
                .iter()
                .flat_map(|p| p["jobs"].as_array().cloned().unwrap_or_default())
                .collect();
            outln!(
                "{}",
                serde_json::json!({ "jobs": jobs, "next_cursor": null })
            );
        } else if let Some(page) = pages.first() {
            outln!("{page}");
        }
        return Ok(exit::OK);
    }
    outln!(
        "{}",
        render(
            &["ID", "STATUS", "BLUEPRINT", "CLIENT", "CREATED", "UPDATED"],
            &rows
        )
    );
    if let Some(c) = next {
        eprintln!("(more: --cursor {c}, or --all)");
    }
    Ok(exit::OK)
}

/// `15m`-style durations, as the epoch ms that long ago.
fn since_ms(s: &str) -> Result<i64, CtlError> {
    let bad = || {
        CtlError::Usage(format!(
            "--since {s:?}: a number and a unit (s, m, h, d), e.g. 15m"
        ))
    };
    let unit = s.chars().last().ok_or_else(bad)?;
    let n: u32 = s[..s.len() - unit.len_utf8()].parse().map_err(|_| bad())?;
    let secs = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        _ => return Err(bad()),
    };
    let now = baton_protocol::clock::now_ms();
    Ok(now - i64::from(n) * secs * 1000)
}

async fn act(api: &Api, id: &str, action: &str) -> Result<u8, CtlError> {
    let answer = api
        .post(
            &format!("/api/v1/jobs/{}/{action}", segment(id)),
            &Value::Object(Map::new()),
        )
        .await?;
    if api.json {
        outln!("{answer}");
    } else {
        let status = answer["status"].as_str().or(answer["job_status"].as_str());
        match status {
            Some(s) => outln!("{id}: {action} done ({s})"),
            None => outln!("{id}: {action} done"),
        }
    }
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_are_strings_or_json() {
        let v = initial_data(
            Some(r#"{"a": 1}"#.into()),
            &[
                "message=hello".into(),
                "n:=3".into(),
                "tags:=[\"x\"]".into(),
                "eq=a=b".into(),
            ],
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"a": 1, "message": "hello", "n": 3, "tags": ["x"], "eq": "a=b"})
        );
        for bad in ["novalue", "=x", "n:=nope"] {
            assert!(initial_data(None, &[bad.into()]).is_err(), "{bad}");
        }
        assert!(initial_data(Some("[1]".into()), &[]).is_err());
    }

    #[test]
    fn since_takes_a_unit() {
        let now = baton_protocol::clock::now_ms();
        let t = since_ms("15m").unwrap();
        assert!((now - t - 900_000).abs() < 5_000);
        for bad in ["15", "m", "15w", "-1h", ""] {
            assert!(since_ms(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn failed_quarantined_and_cancelled_jobs_exit_4() {
        assert_eq!(outcome("finished"), 0);
        assert_eq!(outcome("running"), 0);
        for s in ["failed", "quarantined", "cancelled"] {
            assert_eq!(outcome(s), exit::JOB_FAILED);
        }
    }
}
