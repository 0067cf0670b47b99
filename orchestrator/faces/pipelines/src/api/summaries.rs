//! Summaries the upstream TUI shows beside a run and a project, read from the records
//! (nothing is stored for them):
//!
//! - `GET /protocols/{id}/spec`: the run's `template_config.protocol_spec` and its
//!   `spec_hash`, with how it was validated: `valid` when a plan or a CodeMachine import
//!   produced it (`plan_completed`, `codemachine_imported`: both check the steps they
//!   create), `invalid` with the reason when one was refused (`plan_invalid`,
//!   `codemachine_import_failed`), `null` for a spec a client wrote itself (nothing
//!   checked it), each from the newest such event.
//! - `GET /protocols/{id}/ci/summary`: what CI last said about the run's branch, from the
//!   newest CI event (`ci_*`, `pr_merged`, `mr_merged`; see `pipelines::ci`): provider,
//!   status and conclusion as the provider sent them, check name; the PR number and
//!   commit are the newest any CI event named, and `pr_url` follows from the project's
//!   `git_url` when it is a web-hosted remote.
//! - `GET /projects/{id}/policy/findings`: what stands in the project's way under its
//!   policy pack: no pack chosen (`policy.pack.defaulted`, warning), a stored
//!   classification this version does not know (`policy.pack.missing`, warning), and
//!   each open blocking clarification (`policy.clarification.blocking_open`, error: it
//!   gates work, see [`super::gates`]).

use super::protocols::load_run;
use super::{ctx, parse_id, reply, serve, Ctx};
use crate::policy::PolicyPack;
use crate::store::MAX_EVENTS;
use crate::AppRef;
use crate::{ClarificationScope, ClarificationStatus, Event};
use baton_http::ApiError;
use baton_http::ErrorBody;
use baton_protocol::clock::rfc3339;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

pub fn routes(app: AppRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let spec = warp::path!("protocols" / String / "spec")
        .and(warp::get())
        .and(ctx(app.clone()))
        .then(|id: String, c: Ctx| async move { serve(&c, protocol_spec(&c, &id)).await });
    let ci = warp::path!("protocols" / String / "ci" / "summary")
        .and(warp::get())
        .and(ctx(app.clone()))
        .then(|id: String, c: Ctx| async move { serve(&c, ci_summary(&c, &id)).await });
    let findings = warp::path!("projects" / String / "policy" / "findings")
        .and(warp::get())
        .and(ctx(app))
        .then(|id: String, c: Ctx| async move { serve(&c, policy_findings(&c, &id)).await });
    spec.or(ci).unify().or(findings).unify()
}

/// `GET /protocols/{id}/spec`.
#[derive(Serialize, ToSchema)]
pub struct ProtocolSpec {
    pub protocol_run_id: u64,
    pub protocol_name: String,
    pub project_id: u64,
    /// `template_config.protocol_spec`, or null.
    #[schema(value_type = Option<Object>)]
    pub spec: Option<Value>,
    pub spec_hash: Option<String>,
    /// `valid`, `invalid`, or null when nothing validated it.
    pub validation_status: Option<String>,
    pub validation_errors: Option<Vec<String>>,
    /// RFC 3339.
    pub validated_at: Option<String>,
}

/// `GET /protocols/{id}/ci/summary`.
#[derive(Serialize, ToSchema)]
pub struct CiSummary {
    pub protocol_run_id: u64,
    /// `github` or `gitlab`; null before any CI event.
    pub provider: Option<String>,
    pub pr_number: Option<u64>,
    pub pr_url: Option<String>,
    pub sha: Option<String>,
    /// As the provider sent it (e.g. `completed`, `success`, `failed`).
    pub status: Option<String>,
    pub conclusion: Option<String>,
    pub check_name: Option<String>,
    pub last_event_type: Option<String>,
    /// RFC 3339.
    pub last_event_at: Option<String>,
}

/// One item of `GET /projects/{id}/policy/findings`.
#[derive(Serialize, ToSchema)]
pub struct PolicyFinding {
    /// E.g. `policy.clarification.blocking_open`.
    pub code: String,
    /// `error` (holds work back) or `warning`.
    pub severity: String,
    /// `project`.
    pub scope: String,
    pub message: String,
    pub suggested_fix: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

/// The newest events of a run (newest first).
async fn events_of(c: &Ctx, run: u64) -> Result<Vec<Event>, ApiError> {
    Ok(c.app.records.list_events(run, MAX_EVENTS).await?)
}

/// A run's protocol spec, its hash and how it was validated.
#[utoipa::path(
    get,
    path = "/protocols/{id}/spec",
    tag = "pipelines",
    params(("id" = u64, Path, description = "Protocol run id.")),
    responses(
        (status = 200, description = "The spec (null when the run has none) and its validation.", body = ProtocolSpec),
        (status = 400, description = "The id is not an integer.", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer or project token.", body = ErrorBody),
        (status = 404, description = "No such run.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("api_token" = [])),
)]
async fn protocol_spec(c: &Ctx, id: &str) -> Result<Response, ApiError> {
    let run = load_run(c, id).await?;
    let events = events_of(c, run.id).await?;
    let verdict = events.iter().find_map(|e| match e.event_type.as_str() {
        "plan_completed" | "codemachine_imported" => Some(("valid", None, e.created_at)),
        "plan_invalid" | "codemachine_import_failed" => {
            Some(("invalid", Some(vec![e.message.clone()]), e.created_at))
        }
        _ => None,
    });
    let spec = run
        .template_config
        .as_ref()
        .and_then(|t| t.get("protocol_spec"))
        .cloned();
    let body = ProtocolSpec {
        protocol_run_id: run.id,
        protocol_name: run.protocol_name.clone(),
        project_id: run.project_id,
        spec,
        spec_hash: run.spec_hash(),
        validation_status: verdict.as_ref().map(|v| v.0.to_string()),
        validation_errors: verdict.as_ref().and_then(|v| v.1.clone()),
        validated_at: verdict.map(|v| rfc3339(v.2)),
    };
    reply(StatusCode::OK, &body)
}

fn is_ci_event(kind: &str) -> bool {
    kind.starts_with("ci_") || kind == "pr_merged" || kind == "mr_merged"
}

/// The web address of a repository from its remote (`https://host/o/r.git`,
/// `git@host:o/r.git`, `ssh://git@host/o/r.git`); `None` for a local path.
pub fn web_base(git_url: &str) -> Option<String> {
    let url = git_url.trim();
    let rest = if let Some(r) = url.strip_prefix("https://") {
        r.to_string()
    } else if let Some(r) = url.strip_prefix("ssh://") {
        r.split_once('@').map_or(r, |(_, h)| h).to_string()
    } else if let Some(r) = url.strip_prefix("git@") {
        r.replacen(':', "/", 1)
    } else {
        return None;
    };
    let rest = rest.trim_end_matches('/');
    let rest = rest.strip_suffix(".git").unwrap_or(rest);
    let (host, path) = rest.split_once('/')?;
    (!host.is_empty() && path.contains('/')).then(|| format!("https://{host}/{path}"))
}

fn pr_url(base: Option<&str>, provider: Option<&str>, number: Option<u64>) -> Option<String> {
    let (base, n) = (base?, number?);
    match provider? {
        "github" => Some(format!("{base}/pull/{n}")),
        "gitlab" => Some(format!("{base}/-/merge_requests/{n}")),
        _ => None,
    }
}

/// What CI last said about a run's branch.
#[utoipa::path(
    get,
    path = "/protocols/{id}/ci/summary",
    tag = "pipelines",
    params(("id" = u64, Path, description = "Protocol run id.")),
    responses(
        (status = 200, description = "The newest CI result (all fields but `protocol_run_id` null before any).", body = CiSummary),
        (status = 400, description = "The id is not an integer.", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer or project token.", body = ErrorBody),
        (status = 404, description = "No such run.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("api_token" = [])),
)]
async fn ci_summary(c: &Ctx, id: &str) -> Result<Response, ApiError> {
    let run = load_run(c, id).await?;
    let project = c.app.records.get_project(run.project_id).await?;
    let events = events_of(c, run.id).await?;
    let ci: Vec<&Event> = events
        .iter()
        .filter(|e| is_ci_event(&e.event_type))
        .collect();
    let meta = |e: &Event, key: &str| -> Option<Value> {
        e.metadata
            .as_ref()
            .and_then(|m| m.get(key))
            .filter(|v| !v.is_null())
            .cloned()
    };
    let text = |v: Option<Value>| v.and_then(|v| v.as_str().map(str::to_string));
    let newest = ci.first().copied();
    let provider = newest.and_then(|e| text(meta(e, "provider")));
    let pr_number = ci
        .iter()
        .find_map(|e| meta(e, "pr_number"))
        .and_then(|v| v.as_u64());
    let body = CiSummary {
        protocol_run_id: run.id,
        pr_url: pr_url(
            web_base(&project.git_url).as_deref(),
            provider.as_deref(),
            pr_number,
        ),
        provider,
        pr_number,
        sha: text(ci.iter().find_map(|e| meta(e, "sha"))),
        status: newest.and_then(|e| text(meta(e, "provider_status").or_else(|| meta(e, "status")))),
        conclusion: newest.and_then(|e| text(meta(e, "conclusion"))),
        check_name: newest.and_then(|e| text(meta(e, "check_name"))),
        last_event_type: newest.map(|e| e.event_type.clone()),
        last_event_at: newest.map(|e| rfc3339(e.created_at)),
    };
    reply(StatusCode::OK, &body)
}

/// What stands in a project's way under its policy pack.
#[utoipa::path(
    get,
    path = "/projects/{id}/policy/findings",
    tag = "pipelines",
    params(("id" = u64, Path, description = "Project id.")),
    responses(
        (status = 200, description = "The findings (empty: nothing in the way).", body = [PolicyFinding]),
        (status = 400, description = "The id is not an integer.", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer or project token.", body = ErrorBody),
        (status = 404, description = "No such project.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("api_token" = [])),
)]
async fn policy_findings(c: &Ctx, id: &str) -> Result<Response, ApiError> {
    let id = parse_id(id, "project")?;
    c.check_project(id).await?;
    let project = c.app.records.get_project(id).await?;
    let finding =
        |code: &str, severity: &str, message: String, fix: String, meta: Option<Value>| {
            PolicyFinding {
                code: code.into(),
                severity: severity.into(),
                scope: "project".into(),
                message,
                suggested_fix: Some(fix),
                metadata: meta,
            }
        };
    let mut out = Vec::new();
    match project.project_classification.as_deref() {
        None | Some("") => out.push(finding(
            "policy.pack.defaulted",
            "warning",
            "No policy pack chosen; the `default` pack applies.".into(),
            "Set `project_classification` when creating the project.".into(),
            None,
        )),
        Some(name) if PolicyPack::named(Some(name)).is_err() => out.push(finding(
            "policy.pack.missing",
            "warning",
            format!("The project's classification `{name}` is not a known pack; the `default` pack applies."),
            format!("Use one of: {}.", crate::policy::valid_names().join(", ")),
            Some(serde_json::json!({"project_classification": name})),
        )),
        Some(_) => {}
    }
    let scope = ClarificationScope::Project(id);
    for cl in c.app.records.list_clarifications(scope).await? {
        if cl.blocking && cl.status == ClarificationStatus::Open {
            out.push(finding(
                "policy.clarification.blocking_open",
                "error",
                format!("`{}` is open and blocking: {}", cl.key, cl.question),
                format!("Answer it: POST /projects/{id}/clarifications/{}", cl.key),
                Some(serde_json::json!({"key": cl.key, "applies_to": cl.applies_to})),
            ));
        }
    }
    reply(StatusCode::OK, &out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remotes_have_web_addresses_and_local_paths_none() {
        for (url, want) in [
            (
                "https://github.com/acme/app.git",
                Some("https://github.com/acme/app"),
            ),
            (
                "git@github.com:acme/app.git",
                Some("https://github.com/acme/app"),
            ),
            (
                "ssh://git@gitlab.example.com/g/sub/app.git",
                Some("https://gitlab.example.com/g/sub/app"),
            ),
            (
                "https://gitlab.com/acme/app/",
                Some("https://gitlab.com/acme/app"),
            ),
            ("/tmp/demo.git", None),
            ("https://host-only", None),
        ] {
            assert_eq!(web_base(url).as_deref(), want, "{url}");
        }
        let base = Some("https://github.com/acme/app");
        assert_eq!(
            pr_url(base, Some("github"), Some(7)).as_deref(),
            Some("https://github.com/acme/app/pull/7")
        );
        assert_eq!(
            pr_url(Some("https://gitlab.com/a/b"), Some("gitlab"), Some(11)).as_deref(),
            Some("https://gitlab.com/a/b/-/merge_requests/11")
        );
        assert_eq!(pr_url(base, Some("github"), None), None);
    }
}
