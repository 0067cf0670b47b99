//! `POST /projects/{id}/codemachine/import`: a protocol run from a CodeMachine workspace
//! (`<workspace>/.codemachine/config/*.js` and `template.json`).
//!
//! - `enqueue: false` (default): the orchestrator reads the workspace itself
//!   ([`baton_protocol::codemachine::import_workspace`], on a blocking thread), creates
//!   the run with `template_config` / `template_source`, one step per main agent with its
//!   module policies, and the run is `planned`. A workspace that cannot be read is 400
//!   naming the file and what is wrong, and creates nothing.
//! - `enqueue: true`: the run is created (`template_source.workspace_path` set, status
//!   `planning`) and a `codemachine_import` job is enqueued; a pipeline worker reads the
//!   workspace (the path is the worker's) and the steps are created when the job ends.
//!
//! Answer: `{"protocol_run": run, "job": null | {job_id, job_type, status}, "message"}`.
//! Protocol names are not unique in the store (as with `POST /projects/{id}/protocols`),
//! so there is no 409.

use super::{ctx, json_body, parse_id, reply, serve, views, Ctx};
use crate::codemachine::apply_import;
use crate::jobs::PipelineJob;
use crate::AppRef;
use crate::{NewProtocolRun, ProtocolStatus, Transition};
use baton_http::body;
use baton_http::ApiError;
use baton_http::ErrorBody;
use baton_protocol::codemachine::import_workspace;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::PathBuf;
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

/// `POST /projects/{id}/codemachine/import`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CodemachineImport {
    /// Also the branch name.
    pub protocol_name: String,
    /// The directory holding `.codemachine/` (on the orchestrator's machine when
    /// `enqueue` is false, else on the worker's).
    pub workspace_path: String,
    /// Default `main`.
    #[serde(default)]
    pub base_branch: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Import as a `codemachine_import` job (default false: now, in the orchestrator).
    #[serde(default)]
    pub enqueue: bool,
}

/// The answer of an import.
#[derive(Serialize, ToSchema)]
pub struct ImportAnswer {
    pub protocol_run: super::schemas::ProtocolRunView,
    /// `{job_id, job_type: "codemachine_import_job", status, queue}` when enqueued, else
    /// null.
    #[schema(value_type = Option<Object>)]
    pub job: Option<super::schemas::JobRef>,
    pub message: String,
}

pub fn routes(app: AppRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let limit = app.cfg.max_body_bytes;
    warp::path!("projects" / String / "codemachine" / "import")
        .and(warp::post())
        .and(ctx(app))
        .and(body(limit))
        .then(
            |id: String, c: Ctx, b: Result<Bytes, ApiError>| async move {
                serve(&c, import(&c, &id, b)).await
            },
        )
}

/// Imports a CodeMachine workspace as a protocol run.
#[utoipa::path(
    post,
    path = "/projects/{id}/codemachine/import",
    tag = "pipelines",
    params(("id" = u64, Path, description = "Project id.")),
    request_body = CodemachineImport,
    responses(
        (status = 200, description = "Imported (`job: null`) or enqueued (`job` names the `codemachine_import` job).", body = ImportAnswer),
        (status = 400, description = "Bad body, or (inline) a workspace that cannot be imported: the message names the file and what is wrong.", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer or project token.", body = ErrorBody),
        (status = 404, description = "No such project.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
    security(("api_token" = [])),
)]
pub(super) async fn import(
    c: &Ctx,
    project_id: &str,
    body: Result<Bytes, ApiError>,
) -> Result<Response, ApiError> {
    let project_id = parse_id(project_id, "project")?;
    c.check_project(project_id).await?;
    let req: CodemachineImport = json_body(body, "CodeMachine import")?;
    if req.protocol_name.trim().is_empty() {
        return Err(ApiError::bad_request("`protocol_name` must not be empty"));
    }
    if req.workspace_path.trim().is_empty() {
        return Err(ApiError::bad_request("`workspace_path` must not be empty"));
    }
    let records = &c.app.records;
    let new = NewProtocolRun {
        project_id,
        protocol_name: req.protocol_name.clone(),
        base_branch: req.base_branch.unwrap_or_else(|| "main".into()),
        description: req.description,
        template_source: Some(json!({"workspace_path": req.workspace_path})),
        ..NewProtocolRun::default()
    };
    if req.enqueue {
        let run = records.create_protocol_run(new).await?;
        if let Transition::Conflict { current } = records
            .transition_protocol(run.id, &[ProtocolStatus::Pending], ProtocolStatus::Planning)
            .await?
        {
            tracing::warn!(run = run.id, %current, "new run changed before its import");
        }
        let job = super::enqueue(c, PipelineJob::CodemachineImport, &run, None).await?;
        c.event(
            run.id,
            None,
            "codemachine_import_enqueued",
            format!("CodeMachine import of {} enqueued", req.workspace_path),
            Some(json!({"job_id": job})),
        )
        .await?;
        let run = records.get_protocol_run(run.id).await?;
        let job = super::job_json(PipelineJob::CodemachineImport, &job);
        return reply(
            StatusCode::OK,
            &ImportAnswer {
                protocol_run: views::run(&run),
                job: Some(job),
                message: format!("CodeMachine import enqueued for protocol run {}", run.id),
            },
        );
    }
    // Parse first: a bad workspace creates nothing.
    let path = PathBuf::from(&req.workspace_path);
    let parsed = tokio::task::spawn_blocking(move || import_workspace(&path))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::bad_request(format!("cannot import the workspace: {e}")))?;
    let run = records.create_protocol_run(new).await?;
    let (_, created) = apply_import(
        records.as_ref(),
        run.id,
        parsed.template_config,
        parsed.template_source,
        &parsed.steps,
    )
    .await?;
    tracing::info!(run = run.id, steps = created, request_id = %c.request_id, "CodeMachine workspace imported");
    let run = records.get_protocol_run(run.id).await?;
    reply(
        StatusCode::OK,
        &ImportAnswer {
            protocol_run: views::run(&run),
            job: None,
            message: format!(
                "imported {created} step(s) from {} into protocol run {}",
                req.workspace_path, run.id
            ),
        },
    )
}
