//! A blueprint's state machine as a graph: its states (with their kind and what they
//! run) and the transitions between them, labelled with the outcome that takes each (a
//! branch's with its condition). Rendered as Graphviz DOT for people with Graphviz, and
//! served as JSON for the dashboard, which lays it out itself.

use baton_blueprint::{Blueprint, Branches, StateKind};
use serde::Serialize;
use utoipa::ToSchema;

/// One state.
#[derive(Debug, Serialize, ToSchema)]
pub struct GraphNode {
    pub id: String,
    /// `dispatch`, `approval`, `branch`, `parallel`, `sub_job` or `end`.
    pub kind: String,
    /// What it does: the task, the branches, the child blueprint, the end status.
    pub detail: String,
    pub start: bool,
}

/// One transition.
#[derive(Debug, Serialize, ToSchema)]
pub struct GraphEdge {
    pub from: String,
    pub to: String,
    pub label: String,
}

/// The state machine.
#[derive(Debug, Serialize, ToSchema)]
pub struct Graph {
    pub name: String,
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
}

fn detail(kind: &StateKind) -> String {
    match kind {
        StateKind::Dispatch(d) => format!("task: {}", d.task),
        StateKind::End(e) => format!("({})", e.status.as_str()),
        StateKind::Approval(_) => "(approval)".into(),
        StateKind::Branch(_) => String::new(),
        StateKind::Parallel(p) => match &p.branches {
            Branches::Fixed(list) => format!("parallel: {} tasks", list.len()),
            Branches::Map { items, task } => format!("parallel: {} per item of {items}", task.task),
        },
        StateKind::SubJob(s) => format!("sub-job: {}", s.blueprint),
    }
}

/// The label of the edge a state takes on `outcome`: a branch case names its condition
/// (`when amount > 100`) rather than its position.
fn edge_label(kind: &StateKind, outcome: &str) -> String {
    if let StateKind::Branch(b) = kind {
        let case = outcome
            .strip_prefix("when ")
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| b.cases.get(n.wrapping_sub(1)));
        if let Some((condition, _)) = case {
            return format!("when {condition}");
        }
    }
    outcome.to_string()
}

impl Graph {
    pub fn of(bp: &Blueprint) -> Graph {
        let nodes = bp
            .states
            .iter()
            .map(|(name, state)| GraphNode {
                id: name.clone(),
                kind: state.kind.name().to_string(),
                detail: detail(&state.kind),
                start: *name == bp.start,
            })
            .collect();
        let edges = bp
            .states
            .iter()
            .flat_map(|(name, state)| {
                state
                    .transitions
                    .iter()
                    .map(move |(outcome, target)| GraphEdge {
                        from: name.clone(),
                        to: target.clone(),
                        label: edge_label(&state.kind, outcome),
                    })
            })
            .collect();
        Graph {
            name: bp.name.clone(),
            nodes,
            edges,
        }
    }
}

/// The blueprint as a Graphviz digraph: the start state bold, end states double circles,
/// edges labelled with the outcome (or condition) that takes them.
pub fn to_dot(bp: &Blueprint) -> String {
    // Quotes and backslashes of names and conditions are escaped; `\n` is ours.
    let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let q = |s: &str| format!("\"{}\"", esc(s));
    let graph = Graph::of(bp);
    let mut out = format!("digraph {} {{\n  rankdir=LR;\n", q(&bp.name));
    for n in &graph.nodes {
        let shape = match n.kind.as_str() {
            "dispatch" => "box",
            "end" => "doublecircle",
            "approval" => "house",
            "branch" => "diamond",
            "parallel" => "box3d",
            _ => "component",
        };
        let label = if n.detail.is_empty() {
            q(&n.id)
        } else {
            // The line break is DOT's own escape, put between the escaped parts.
            format!("\"{}\\n{}\"", esc(&n.id), esc(&n.detail))
        };
        let bold = if n.start { ", style=bold" } else { "" };
        out.push_str(&format!(
            "  {} [shape={shape}, label={label}{bold}];\n",
            q(&n.id)
        ));
    }
    for e in &graph.edges {
        out.push_str(&format!(
            "  {} -> {} [label={}];\n",
            q(&e.from),
            q(&e.to),
            q(&e.label)
        ));
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_graph_has_every_state_and_edge() {
        let bp = baton_blueprint::load_str(
            "x.yaml",
            "name: g\nendpoint: /jobs/g\nstates:\n  a:\n    type: dispatch\n    start: true\n    task: t\n    transitions: {success: done}\n  done:\n    type: end\n    status: finished\n",
        )
        .unwrap();
        let dot = to_dot(&bp);
        assert!(dot.starts_with("digraph \"g\" {"), "{dot}");
        assert!(
            dot.contains("\"a\" -> \"done\" [label=\"success\"]"),
            "{dot}"
        );
        assert!(dot.contains("style=bold"), "{dot}");
        assert!(
            dot.contains("label=\"a\\ntask: t\""),
            "one line break escape in labels: {dot}"
        );
    }

    #[test]
    fn branch_edges_name_their_condition() {
        let bp = baton_blueprint::load_str(
            "b.yaml",
            "name: b\nendpoint: /jobs/b\nstates:\n  pick:\n    type: branch\n    start: true\n    cases:\n      - when: {path: initial_data.amount, gt: 100}\n        next: big\n    default: small\n  big:\n    type: end\n    status: finished\n  small:\n    type: end\n    status: finished\n",
        )
        .unwrap();
        let g = Graph::of(&bp);
        let labels: Vec<&str> = g.edges.iter().map(|e| e.label.as_str()).collect();
        assert!(
            labels.contains(&"when initial_data.amount > 100"),
            "{labels:?}"
        );
        assert!(labels.contains(&"default"), "{labels:?}");
        assert!(to_dot(&bp).contains("label=\"when initial_data.amount > 100\""));
        let pick = g.nodes.iter().find(|n| n.id == "pick").unwrap();
        assert_eq!((pick.kind.as_str(), pick.start), ("branch", true));
    }
}
