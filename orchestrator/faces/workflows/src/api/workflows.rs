//! `/v1/workflows`: JSON workflow definitions, created, read, replaced and deleted. A
//! definition is validated whole before anything is saved (422 `VALIDATION` naming the
//! step and field of every problem); ids are unique across JSON and YAML workflows, so
//! an id names one workflow wherever it is executed from.

use super::schemas::{ErrorEnvelope, Success, WorkflowDetail, WorkflowSaved, WorkflowSummary};
use super::{answer, body, ctx, from_value, path_id, serve, Ctx};
use crate::error::{WfError, WfResult};
use crate::model::Workflow;
use crate::store::{StoredWorkflow, Written};
use crate::validate::{self, Problem};
use crate::FaceRef;
use baton_protocol::clock::{now_ms, rfc3339};
use bytes::Bytes;
use serde_json::Value;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

type Body = Result<Bytes, baton_http::ApiError>;

pub fn routes(face: FaceRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let list = warp::path!("v1" / "workflows")
        .and(warp::get())
        .and(ctx(face.clone()))
        .then(|c: Ctx| serve(c, list_workflows));
    let create = warp::path!("v1" / "workflows")
        .and(warp::post())
        .and(body(&face))
        .and(ctx(face.clone()))
        .then(|b: Body, c: Ctx| serve(c, move |c| create_workflow(c, b)));
    let get = warp::path!("v1" / "workflows" / String)
        .and(warp::get())
        .and(ctx(face.clone()))
        .then(|id: String, c: Ctx| serve(c, move |c| get_workflow(c, id)));
    let replace = warp::path!("v1" / "workflows" / String)
        .and(warp::put())
        .and(body(&face))
        .and(ctx(face.clone()))
        .then(|id: String, b: Body, c: Ctx| serve(c, move |c| replace_workflow(c, id, b)));
    let delete = warp::path!("v1" / "workflows" / String)
        .and(warp::delete())
        .and(ctx(face))
        .then(|id: String, c: Ctx| serve(c, move |c| delete_workflow(c, id)));
    list.or(create)
        .unify()
        .or(get)
        .unify()
        .or(replace)
        .unify()
        .or(delete)
        .unify()
}

/// 422 listing every problem; the first one's step and field lead.
pub fn invalid(problems: Vec<Problem>) -> WfError {
    let first = problems.first().cloned();
    let message = match &first {
        Some(p) => match &p.step_id {
            Some(step) => format!("step `{step}`: {}: {}", p.field, p.message),
            None => format!("{}: {}", p.field, p.message),
        },
        None => "invalid workflow".into(),
    };
    let mut e = WfError::validation(message);
    if let Some(p) = first {
        e = e
            .with(
                "step_id",
                p.step_id.map(Value::String).unwrap_or(Value::Null),
            )
            .with("field", p.field);
    }
    e.with(
        "errors",
        serde_json::to_value(&problems).unwrap_or(Value::Array(Vec::new())),
    )
}

/// A definition from a body: parsed (422 naming the field that does not fit) and
/// validated.
fn definition(b: Body, path_id: Option<&str>) -> WfResult<Workflow> {
    let mut value: Value = baton_http::parse_json(&b?)?;
    if let (Some(id), Some(map)) = (path_id, value.as_object_mut()) {
        match map.get("id") {
            None | Some(Value::Null) => {
                map.insert("id".into(), id.into());
            }
            Some(Value::String(given)) if given == id => {}
            Some(_) => {
                return Err(
                    WfError::validation("the body's `id` differs from the path's")
                        .with("field", "id"),
                )
            }
        }
    }
    let wf: Workflow = from_value(value)?;
    let problems = validate::workflow(&wf);
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    Ok(wf)
}

/// Every JSON workflow.
#[utoipa::path(
    get,
    path = "/v1/workflows",
    tag = "workflows",
    responses(
        (status = 200, description = "The workflows, by id.", body = [WorkflowSummary]),
        (status = 401, description = "`AUTH_FAILED`: missing, forged or expired token.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])),
)]
async fn list_workflows(c: Ctx) -> WfResult<Response> {
    c.user()?;
    let list: Vec<WorkflowSummary> = c
        .face
        .records
        .list_workflows()
        .await?
        .into_iter()
        .map(|s| WorkflowSummary {
            id: s.workflow.id,
            name: s.workflow.name,
            description: s.workflow.description,
            version: s.workflow.version,
        })
        .collect();
    answer(StatusCode::OK, &list)
}

/// Saves a new workflow.
#[utoipa::path(
    post,
    path = "/v1/workflows",
    tag = "workflows",
    request_body = Workflow,
    responses(
        (status = 200, description = "Saved.", body = WorkflowSaved),
        (status = 400, description = "The body is not JSON.", body = ErrorEnvelope),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 409, description = "`CONFLICT`: a workflow (JSON or YAML) has this id.", body = ErrorEnvelope),
        (status = 413, description = "Body too large.", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION`: `details` names the step and field of each problem (unknown step type, duplicate id, missing dependency, cycle, ...).", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])),
)]
async fn create_workflow(c: Ctx, b: Body) -> WfResult<Response> {
    let user = c.user()?;
    let wf = definition(b, None)?;
    if c.face.yaml.contains_key(&wf.id) {
        return Err(WfError::conflict(format!(
            "`{}` is a YAML workflow's id",
            wf.id
        )));
    }
    let now = now_ms();
    let id = wf.id.clone();
    let record = StoredWorkflow {
        workflow: wf,
        created_at: now,
        updated_at: now,
    };
    match c.face.records.create_workflow(&record).await? {
        Written::Done => {
            tracing::info!(workflow = %id, user = %user.sub, "workflow created");
            answer(StatusCode::OK, &saved(id))
        }
        _ => Err(WfError::conflict(format!(
            "a workflow `{id}` exists (PUT /v1/workflows/{id} replaces it)"
        ))),
    }
}

fn saved(workflow_id: String) -> WorkflowSaved {
    WorkflowSaved {
        status: "success".into(),
        workflow_id,
    }
}

async fn load(c: &Ctx, raw: &str) -> WfResult<StoredWorkflow> {
    let id = path_id(raw, "workflow")?;
    c.face
        .records
        .get_workflow(&id)
        .await?
        .ok_or_else(|| WfError::not_found(format!("no workflow `{id}`")))
}

/// One workflow with its definition.
#[utoipa::path(
    get,
    path = "/v1/workflows/{workflow_id}",
    tag = "workflows",
    params(("workflow_id" = String, Path, description = "Workflow id.")),
    responses(
        (status = 200, description = "The workflow.", body = WorkflowDetail),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])),
)]
async fn get_workflow(c: Ctx, id: String) -> WfResult<Response> {
    c.user()?;
    let s = load(&c, &id).await?;
    let w = s.workflow;
    answer(
        StatusCode::OK,
        &WorkflowDetail {
            id: w.id,
            name: w.name,
            description: w.description,
            version: w.version,
            inputs: w.inputs,
            outputs: w.outputs,
            variables: w.variables,
            token_budget: w.token_budget,
            timeout_seconds: w.timeout_seconds,
            steps: w.steps,
            created_at: rfc3339(s.created_at),
            updated_at: rfc3339(s.updated_at),
        },
    )
}

/// Replaces a workflow's definition (the body as for creation; its `id`, if given, must
/// be the path's). Executions already running keep the definition they started with.
#[utoipa::path(
    put,
    path = "/v1/workflows/{workflow_id}",
    tag = "workflows",
    params(("workflow_id" = String, Path, description = "Workflow id.")),
    request_body = Workflow,
    responses(
        (status = 200, description = "Replaced.", body = WorkflowSaved),
        (status = 400, description = "The body is not JSON.", body = ErrorEnvelope),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`.", body = ErrorEnvelope),
        (status = 413, description = "Body too large.", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION`, as for creation.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])),
)]
async fn replace_workflow(c: Ctx, id: String, b: Body) -> WfResult<Response> {
    let user = c.user()?;
    let before = load(&c, &id).await?;
    let wf = definition(b, Some(&before.workflow.id))?;
    let record = StoredWorkflow {
        workflow: wf,
        created_at: before.created_at,
        updated_at: now_ms(),
    };
    match c.face.records.replace_workflow(&record).await? {
        Written::Done => {
            tracing::info!(workflow = %id, user = %user.sub, "workflow replaced");
            answer(StatusCode::OK, &saved(record.workflow.id))
        }
        // Deleted between the read and the write.
        _ => Err(WfError::not_found(format!("no workflow `{id}`"))),
    }
}

/// Deletes a workflow. Executions already running keep their definition.
#[utoipa::path(
    delete,
    path = "/v1/workflows/{workflow_id}",
    tag = "workflows",
    params(("workflow_id" = String, Path, description = "Workflow id.")),
    responses(
        (status = 200, description = "Deleted.", body = Success),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])),
)]
async fn delete_workflow(c: Ctx, id: String) -> WfResult<Response> {
    let user = c.user()?;
    let id = path_id(&id, "workflow")?;
    if !c.face.records.delete_workflow(&id).await? {
        return Err(WfError::not_found(format!("no workflow `{id}`")));
    }
    tracing::info!(workflow = %id, user = %user.sub, "workflow deleted");
    answer(StatusCode::OK, &Success::default())
}
