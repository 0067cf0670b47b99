//! `baton workers`, `baton queues`, `baton blueprints list|graph`.

use super::exit;
use super::http::{segment, Api, CtlError};
use super::table::{epoch_ms, render, text};
use clap::{Subcommand, ValueEnum};
use serde_json::Value;

#[derive(Subcommand, Debug)]
pub enum BlueprintsCmd {
    /// Every blueprint: its endpoint, states and skills.
    List,
    /// A blueprint's state graph: Graphviz DOT (pipe it to `dot -Tsvg`) or JSON.
    Graph {
        name: String,
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum GraphFormat {
    Dot,
    Json,
}

pub async fn workers(api: &Api) -> Result<u8, CtlError> {
    let list = api.get("/api/v1/workers").await?;
    if api.json {
        outln!("{list}");
        return Ok(exit::OK);
    }
    let now = baton_protocol::clock::now_ms();
    let rows: Vec<Vec<String>> = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|w| {
            let tasks = w["current_tasks"].as_array().map_or(0, Vec::len);
            let seen = epoch_ms(&w["last_seen"])
                .map(|t| format!("{}s ago", (now - t).max(0) / 1000))
                .unwrap_or_else(|| "-".into());
            vec![
                text(&w["worker_id"]),
                text(&w["worker_type"]),
                text(&w["status"]),
                tasks.to_string(),
                seen,
                join(&w["skills"]),
            ]
        })
        .collect();
    outln!(
        "{}",
        render(
            &["WORKER", "TYPE", "STATUS", "TASKS", "SEEN", "SKILLS"],
            &rows
        )
    );
    Ok(exit::OK)
}

pub async fn queues(api: &Api) -> Result<u8, CtlError> {
    let dash = api.get("/api/v1/dashboard").await?;
    if api.json {
        outln!("{}", dash["queues"]);
        return Ok(exit::OK);
    }
    let rows: Vec<Vec<String>> = dash["queues"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(skill, q)| {
            let oldest = q["oldest_task_age_seconds"]
                .as_f64()
                .map(|s| format!("{s:.1}s"))
                .unwrap_or_else(|| "-".into());
            vec![skill.clone(), text(&q["depth"]), oldest]
        })
        .collect();
    outln!("{}", render(&["SKILL", "WAITING", "OLDEST"], &rows));
    Ok(exit::OK)
}

pub async fn blueprints(api: &Api, cmd: BlueprintsCmd) -> Result<u8, CtlError> {
    match cmd {
        BlueprintsCmd::List => {
            let list = api.get("/api/v1/blueprints").await?;
            if api.json {
                outln!("{list}");
                return Ok(exit::OK);
            }
            let rows: Vec<Vec<String>> = list
                .as_array()
                .into_iter()
                .flatten()
                .map(|b| {
                    vec![
                        text(&b["name"]),
                        text(&b["endpoint"]),
                        join(&b["skills"]),
                        text(&b["description"]),
                    ]
                })
                .collect();
            outln!(
                "{}",
                render(&["NAME", "ENDPOINT", "SKILLS", "DESCRIPTION"], &rows)
            );
        }
        BlueprintsCmd::Graph { name, format } => {
            let path = format!("/api/v1/blueprints/{}/graph", segment(&name));
            match (format, api.json) {
                (GraphFormat::Json, _) | (_, true) => {
                    outln!("{}", api.get(&format!("{path}?format=json")).await?)
                }
                (GraphFormat::Dot, false) => out!("{}", api.get_text(&path).await?),
            }
        }
    }
    Ok(exit::OK)
}

fn join(list: &Value) -> String {
    let items: Vec<&str> = list
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if items.is_empty() {
        "-".into()
    } else {
        items.join(",")
    }
}
