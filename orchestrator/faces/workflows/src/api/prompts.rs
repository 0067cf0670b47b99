//! `/v1/prompts`: prompt templates, created, listed, read and deleted; `ai-prompt` steps
//! use them by `prompt_id` (resolved when an execution starts, so a running execution
//! keeps the text it started with).

use super::schemas::{ErrorEnvelope, PromptSaved, PromptSummary, Success};
use super::{answer, body, ctx, json, path_id, serve, Ctx};
use crate::error::{WfError, WfResult};
use crate::model::Prompt;
use crate::store::Written;
use crate::FaceRef;
use bytes::Bytes;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

type Body = Result<Bytes, baton_http::ApiError>;

pub fn routes(face: FaceRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let list = warp::path!("v1" / "prompts")
        .and(warp::get())
        .and(ctx(face.clone()))
        .then(|c: Ctx| serve(c, list_prompts));
    let create = warp::path!("v1" / "prompts")
        .and(warp::post())
        .and(body(&face))
        .and(ctx(face.clone()))
        .then(|b: Body, c: Ctx| serve(c, move |c| create_prompt(c, b)));
    let get = warp::path!("v1" / "prompts" / String)
        .and(warp::get())
        .and(ctx(face.clone()))
        .then(|id: String, c: Ctx| serve(c, move |c| get_prompt(c, id)));
    let delete = warp::path!("v1" / "prompts" / String)
        .and(warp::delete())
        .and(ctx(face))
        .then(|id: String, c: Ctx| serve(c, move |c| delete_prompt(c, id)));
    list.or(create).unify().or(get).unify().or(delete).unify()
}

/// A prompt by id, for the API and for executions.
pub async fn find(face: &FaceRef, id: &str) -> WfResult<Option<Prompt>> {
    match face.records.get_prompt(id).await? {
        Some(raw) => serde_json::from_str(&raw)
            .map(Some)
            .map_err(WfError::internal),
        None => Ok(None),
    }
}

/// Every prompt template.
#[utoipa::path(
    get,
    path = "/v1/prompts",
    tag = "prompts",
    responses(
        (status = 200, description = "By id.", body = [PromptSummary]),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])),
)]
async fn list_prompts(c: Ctx) -> WfResult<Response> {
    c.user()?;
    let mut out = Vec::new();
    for raw in c.face.records.list_prompts().await? {
        let p: Prompt = serde_json::from_str(&raw).map_err(WfError::internal)?;
        out.push(PromptSummary {
            id: p.id,
            name: p.name,
            description: p.description,
        });
    }
    answer(StatusCode::OK, &out)
}

/// Saves a prompt template.
#[utoipa::path(
    post,
    path = "/v1/prompts",
    tag = "prompts",
    request_body = Prompt,
    responses(
        (status = 200, description = "Saved.", body = PromptSaved),
        (status = 400, description = "The body is not JSON.", body = ErrorEnvelope),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 409, description = "`CONFLICT`: the id is taken.", body = ErrorEnvelope),
        (status = 413, description = "Body too large.", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION`: a missing or empty field, a bad id.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])),
)]
async fn create_prompt(c: Ctx, b: Body) -> WfResult<Response> {
    let user = c.user()?;
    let p: Prompt = json(b)?;
    if p.id.len() > crate::validate::MAX_ID_LEN || !baton_protocol::is_identifier(&p.id) {
        return Err(
            WfError::validation("the id must be 1 to 128 letters, digits, `-` or `_`")
                .with("field", "id"),
        );
    }
    for (field, value) in [("name", &p.name), ("template", &p.template)] {
        if value.trim().is_empty() {
            return Err(
                WfError::validation(format!("`{field}` must not be empty")).with("field", field)
            );
        }
    }
    let raw = serde_json::to_string(&p).map_err(WfError::internal)?;
    match c.face.records.create_prompt(&p.id, &raw).await? {
        Written::Done => {
            tracing::info!(prompt = %p.id, user = %user.sub, "prompt created");
            answer(
                StatusCode::OK,
                &PromptSaved {
                    status: "success".into(),
                    template_id: p.id,
                },
            )
        }
        _ => Err(WfError::conflict(format!("a prompt `{}` exists", p.id))),
    }
}

/// One prompt template with its text.
#[utoipa::path(
    get,
    path = "/v1/prompts/{template_id}",
    tag = "prompts",
    params(("template_id" = String, Path, description = "Prompt id.")),
    responses(
        (status = 200, description = "The template.", body = Prompt),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])),
)]
async fn get_prompt(c: Ctx, id: String) -> WfResult<Response> {
    c.user()?;
    let id = path_id(&id, "prompt")?;
    let p = find(&c.face, &id)
        .await?
        .ok_or_else(|| WfError::not_found(format!("no prompt `{id}`")))?;
    answer(StatusCode::OK, &p)
}

/// Deletes a prompt template (executions already started keep its text).
#[utoipa::path(
    delete,
    path = "/v1/prompts/{template_id}",
    tag = "prompts",
    params(("template_id" = String, Path, description = "Prompt id.")),
    responses(
        (status = 200, description = "Deleted.", body = Success),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])),
)]
async fn delete_prompt(c: Ctx, id: String) -> WfResult<Response> {
    let user = c.user()?;
    let id = path_id(&id, "prompt")?;
    if !c.face.records.delete_prompt(&id).await? {
        return Err(WfError::not_found(format!("no prompt `{id}`")));
    }
    tracing::info!(prompt = %id, user = %user.sub, "prompt deleted");
    answer(StatusCode::OK, &Success::default())
}
