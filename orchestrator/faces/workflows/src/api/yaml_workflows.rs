//! `/v1/yaml-workflows`: the workflows loaded from the workflows directory at start.

use super::schemas::{ErrorEnvelope, YamlWorkflowDetail, YamlWorkflowList, YamlWorkflowSummary};
use super::{answer, ctx, serve, Ctx};
use crate::error::{WfError, WfResult};
use crate::FaceRef;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

pub fn routes(face: FaceRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let list = warp::path!("v1" / "yaml-workflows")
        .and(warp::get())
        .and(ctx(face.clone()))
        .then(|c: Ctx| serve(c, list));
    let get = warp::path!("v1" / "yaml-workflows" / String)
        .and(warp::get())
        .and(ctx(face))
        .then(|id: String, c: Ctx| serve(c, move |c| get(c, id)));
    list.or(get).unify()
}

/// The YAML workflows, by id.
#[utoipa::path(
    get,
    path = "/v1/yaml-workflows",
    tag = "workflows",
    responses(
        (status = 200, description = "The loaded YAML workflows.", body = YamlWorkflowList),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])),
)]
async fn list(c: Ctx) -> WfResult<Response> {
    c.user()?;
    let workflows = c
        .face
        .yaml
        .values()
        .map(|y| YamlWorkflowSummary {
            id: y.workflow.id.clone(),
            name: y.workflow.name.clone(),
            description: y.workflow.description.clone(),
            version: y.workflow.version.clone(),
            path: y.path.display().to_string(),
        })
        .collect();
    answer(StatusCode::OK, &YamlWorkflowList { workflows })
}

/// One YAML workflow with its definition.
#[utoipa::path(
    get,
    path = "/v1/yaml-workflows/{workflow_id}",
    tag = "workflows",
    params(("workflow_id" = String, Path, description = "Workflow id (the file name without `.yaml` unless the file sets `id`).")),
    responses(
        (status = 200, description = "The workflow.", body = YamlWorkflowDetail),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])),
)]
async fn get(c: Ctx, id: String) -> WfResult<Response> {
    c.user()?;
    let y = c
        .face
        .yaml
        .get(&id)
        .ok_or_else(|| WfError::not_found(format!("no YAML workflow `{id}`")))?;
    answer(
        StatusCode::OK,
        &YamlWorkflowDetail {
            workflow: y.workflow.clone(),
            path: y.path.display().to_string(),
        },
    )
}
