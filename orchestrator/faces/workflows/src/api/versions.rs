//! Workflow versions: `/v1/workflows/{workflow_name}/versions` (save, list, get, compare,
//! activate, delete), `/v1/workflows/{workflow_name}/rollback` and
//! `/v1/workflow-versions` (see [`crate::versions`]).

use super::schemas::{
    ErrorEnvelope, RolledBack, SaveVersion, Success, VersionActivated, VersionComparison,
    VersionSaved, VersionView, VersionedWorkflow,
};
use super::{answer, body, ctx, json, path_id, serve, Ctx};
use crate::error::{WfError, WfResult};
use crate::store::StoredWorkflow;
use crate::versions::{self, semver, Version, VersionSet};
use crate::FaceRef;
use baton_protocol::clock::{now_ms, rfc3339};
use bytes::Bytes;
use std::collections::HashMap;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

type Body = Result<Bytes, baton_http::ApiError>;
type Query = HashMap<String, String>;

pub fn routes(face: FaceRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let q = || warp::query::<Query>();
    let save = warp::path!("v1" / "workflows" / String / "versions")
        .and(warp::post())
        .and(body(&face))
        .and(ctx(face.clone()))
        .then(|n: String, b: Body, c: Ctx| serve(c, move |c| save_version(c, n, b)));
    let list = warp::path!("v1" / "workflows" / String / "versions")
        .and(warp::get())
        .and(q())
        .and(ctx(face.clone()))
        .then(|n: String, q: Query, c: Ctx| serve(c, move |c| list_versions(c, n, q)));
    let compare = warp::path!("v1" / "workflows" / String / "versions" / "compare")
        .and(warp::get())
        .and(q())
        .and(ctx(face.clone()))
        .then(|n: String, q: Query, c: Ctx| serve(c, move |c| compare_versions(c, n, q)));
    let get = warp::path!("v1" / "workflows" / String / "versions" / String)
        .and(warp::get())
        .and(ctx(face.clone()))
        .then(|n: String, v: String, c: Ctx| serve(c, move |c| get_version(c, n, v)));
    let delete = warp::path!("v1" / "workflows" / String / "versions" / String)
        .and(warp::delete())
        .and(ctx(face.clone()))
        .then(|n: String, v: String, c: Ctx| serve(c, move |c| delete_version(c, n, v)));
    let activate = warp::path!("v1" / "workflows" / String / "versions" / String / "activate")
        .and(warp::post())
        .and(ctx(face.clone()))
        .then(|n: String, v: String, c: Ctx| serve(c, move |c| activate_version(c, n, v)));
    let rollback = warp::path!("v1" / "workflows" / String / "rollback")
        .and(warp::post())
        .and(ctx(face.clone()))
        .then(|n: String, c: Ctx| serve(c, move |c| rollback(c, n)));
    let all = warp::path!("v1" / "workflow-versions")
        .and(warp::get())
        .and(ctx(face))
        .then(|c: Ctx| serve(c, versioned_workflows));
    compare
        .or(save)
        .unify()
        .or(list)
        .unify()
        .or(get)
        .unify()
        .or(delete)
        .unify()
        .or(activate)
        .unify()
        .or(rollback)
        .unify()
        .or(all)
        .unify()
}

fn view(set: &VersionSet, v: &Version) -> VersionView {
    let (major, minor, patch) = semver(&v.version).unwrap_or_default();
    VersionView {
        id: v.id,
        workflow_name: set.name.clone(),
        version: v.version.clone(),
        version_major: major,
        version_minor: minor,
        version_patch: patch,
        content: v.content.clone(),
        content_hash: v.content_hash.clone(),
        description: v.description.clone(),
        author: v.author.clone(),
        created_at: rfc3339(v.created_ms),
        is_active: set.active.as_deref() == Some(v.version.as_str()),
        metadata: v.metadata.clone(),
    }
}

fn strict(v: &str) -> WfResult<()> {
    semver(v).map(|_| ()).ok_or_else(|| {
        WfError::bad_request(format!(
            "version `{v}` is not `major.minor.patch` (e.g. 1.2.0)"
        ))
        .with("field", "version")
    })
}

fn not_found(name: &str, v: &str) -> WfError {
    WfError::not_found(format!("workflow `{name}` has no version `{v}`"))
}

/// Saves a version (identical content answers the existing version).
#[utoipa::path(post, path = "/v1/workflows/{workflow_name}/versions", tag = "versions",
    params(("workflow_name" = String, Path, description = "The workflow's id.")),
    request_body = SaveVersion,
    responses(
        (status = 200, description = "Saved (or the existing version with this content).", body = VersionSaved),
        (status = 400, description = "`VALIDATION`: not JSON, or a version that is not `major.minor.patch`.", body = ErrorEnvelope),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 409, description = "`CONFLICT`: this version exists with other content.", body = ErrorEnvelope),
        (status = 422, description = "`VALIDATION`: the content is not a valid workflow.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])))]
async fn save_version(c: Ctx, name: String, b: Body) -> WfResult<Response> {
    let user = c.user()?;
    let name = path_id(&name, "workflow")?;
    let req: SaveVersion = json(b)?;
    strict(&req.version)?;
    let wf = versions::parse_content(&name, &req.content)?;
    let hash = versions::content_hash(&req.content);
    let (version, is_active) = versions::update(&c.face, &name, |set| {
        if let Some(same) = set.versions.iter().find(|v| v.content_hash == hash) {
            let active = set.active.as_deref() == Some(same.version.as_str());
            return Ok((same.version.clone(), active));
        }
        if set.get(&req.version).is_some() {
            return Err(WfError::conflict(format!(
                "version {} of `{name}` exists with other content",
                req.version
            )));
        }
        set.versions.push(Version {
            id: set.next_id,
            version: req.version.clone(),
            content: req.content.clone(),
            content_hash: hash.clone(),
            description: req.description.clone(),
            author: req.author.clone().or_else(|| Some(user.sub.clone())),
            created_ms: now_ms(),
            metadata: req.metadata.clone(),
        });
        set.next_id += 1;
        if req.activate || set.active.is_none() {
            set.active = Some(req.version.clone());
        }
        Ok((
            req.version.clone(),
            set.active.as_deref() == Some(req.version.as_str()),
        ))
    })
    .await?;
    // A version of a name with no workflow yet makes the workflow.
    let exists =
        c.face.yaml.contains_key(&name) || c.face.records.get_workflow(&name).await?.is_some();
    if !exists {
        let now = now_ms();
        let record = StoredWorkflow {
            workflow: wf,
            created_at: now,
            updated_at: now,
        };
        c.face.records.create_workflow(&record).await?;
    }
    tracing::info!(workflow = %name, version = %version, active = is_active, user = %user.sub, "workflow version saved");
    answer(
        StatusCode::OK,
        &VersionSaved {
            status: "success".into(),
            workflow_name: name,
            version,
            is_active,
        },
    )
}

/// A workflow's versions, newest first.
#[utoipa::path(get, path = "/v1/workflows/{workflow_name}/versions", tag = "versions",
    params(
        ("workflow_name" = String, Path, description = "The workflow's id."),
        ("limit" = Option<u64>, Query, description = "1 to 1000 (default 50)."),
        ("offset" = Option<u64>, Query, description = "Versions to skip (default 0)."),
    ),
    responses(
        (status = 200, description = "The versions (empty for a name with none).", body = [VersionView]),
        (status = 400, description = "`VALIDATION`: a bad limit or offset.", body = ErrorEnvelope),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])))]
async fn list_versions(c: Ctx, name: String, q: Query) -> WfResult<Response> {
    c.user()?;
    let name = path_id(&name, "workflow")?;
    let limit = super::executions::number(&q, "limit", 50, 1000)? as usize;
    let offset = match q.get("offset").map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => 0,
        Some(v) => v.parse::<usize>().map_err(|_| {
            WfError::bad_request(format!("`offset` must be a whole number, not `{v}`"))
                .with("field", "offset")
        })?,
    };
    let (set, _) = versions::read(&c.face, &name).await?;
    let out: Vec<VersionView> = set
        .sorted()
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|v| view(&set, v))
        .collect();
    answer(StatusCode::OK, &out)
}

/// One version.
#[utoipa::path(get, path = "/v1/workflows/{workflow_name}/versions/{version}", tag = "versions",
    params(("workflow_name" = String, Path, description = "The workflow's id."), ("version" = String, Path, description = "`major.minor.patch`.")),
    responses(
        (status = 200, description = "The version.", body = VersionView),
        (status = 400, description = "`VALIDATION`: not `major.minor.patch`.", body = ErrorEnvelope),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])))]
async fn get_version(c: Ctx, name: String, v: String) -> WfResult<Response> {
    c.user()?;
    let name = path_id(&name, "workflow")?;
    strict(&v)?;
    let (set, _) = versions::read(&c.face, &name).await?;
    let found = set.get(&v).ok_or_else(|| not_found(&name, &v))?;
    answer(StatusCode::OK, &view(&set, found))
}

/// Two versions compared.
#[utoipa::path(get, path = "/v1/workflows/{workflow_name}/versions/compare", tag = "versions",
    params(
        ("workflow_name" = String, Path, description = "The workflow's id."),
        ("from_version" = String, Query, description = "The base version."),
        ("to_version" = String, Query, description = "The target version."),
    ),
    responses(
        (status = 200, description = "The comparison.", body = VersionComparison),
        (status = 400, description = "`VALIDATION`: a missing or malformed version.", body = ErrorEnvelope),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`: a version the workflow does not have.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])))]
async fn compare_versions(c: Ctx, name: String, q: Query) -> WfResult<Response> {
    c.user()?;
    let name = path_id(&name, "workflow")?;
    let pick = |key: &str| -> WfResult<String> {
        let v = q.get(key).cloned().ok_or_else(|| {
            WfError::bad_request(format!("`{key}` is required")).with("field", key)
        })?;
        strict(&v)?;
        Ok(v)
    };
    let (from, to) = (pick("from_version")?, pick("to_version")?);
    let (set, _) = versions::read(&c.face, &name).await?;
    let a = set.get(&from).ok_or_else(|| not_found(&name, &from))?;
    let b = set.get(&to).ok_or_else(|| not_found(&name, &to))?;
    let (unified_diff, added_lines, removed_lines, changed_sections) = versions::compare(a, b);
    answer(
        StatusCode::OK,
        &VersionComparison {
            workflow_name: name,
            from_version: from,
            to_version: to,
            has_changes: a.content != b.content,
            added_lines,
            removed_lines,
            changed_sections,
            unified_diff,
        },
    )
}

/// Makes a version the one executions run.
#[utoipa::path(post, path = "/v1/workflows/{workflow_name}/versions/{version}/activate", tag = "versions",
    params(("workflow_name" = String, Path, description = "The workflow's id."), ("version" = String, Path, description = "`major.minor.patch`.")),
    responses(
        (status = 200, description = "Active.", body = VersionActivated),
        (status = 400, description = "`VALIDATION`: not `major.minor.patch`.", body = ErrorEnvelope),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])))]
async fn activate_version(c: Ctx, name: String, v: String) -> WfResult<Response> {
    let user = c.user()?;
    let name = path_id(&name, "workflow")?;
    strict(&v)?;
    versions::update(&c.face, &name, |set| {
        if set.get(&v).is_none() {
            return Err(not_found(&name, &v));
        }
        set.active = Some(v.clone());
        Ok(())
    })
    .await?;
    tracing::info!(workflow = %name, version = %v, user = %user.sub, "workflow version activated");
    answer(
        StatusCode::OK,
        &VersionActivated {
            status: "success".into(),
            workflow_name: name,
            active_version: v,
        },
    )
}

/// Activates the version just below the active one.
#[utoipa::path(post, path = "/v1/workflows/{workflow_name}/rollback", tag = "versions",
    params(("workflow_name" = String, Path, description = "The workflow's id.")),
    responses(
        (status = 200, description = "Rolled back.", body = RolledBack),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`: no versions.", body = ErrorEnvelope),
        (status = 409, description = "`CONFLICT`: no version below the active one.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])))]
async fn rollback(c: Ctx, name: String) -> WfResult<Response> {
    let user = c.user()?;
    let name = path_id(&name, "workflow")?;
    let to = versions::update(&c.face, &name, |set| {
        let active = set.active.as_deref().and_then(semver).ok_or_else(|| {
            WfError::not_found(format!("workflow `{name}` has no active version"))
        })?;
        let below = set
            .sorted()
            .into_iter()
            .find(|v| semver(&v.version).is_some_and(|s| s < active))
            .map(|v| v.version.clone())
            .ok_or_else(|| {
                WfError::conflict(format!("no version of `{name}` below the active one"))
            })?;
        set.active = Some(below.clone());
        Ok(below)
    })
    .await?;
    tracing::info!(workflow = %name, version = %to, user = %user.sub, "workflow rolled back");
    answer(
        StatusCode::OK,
        &RolledBack {
            status: "success".into(),
            workflow_name: name,
            rolled_back_to: to,
        },
    )
}

/// Deletes a version (not the active one).
#[utoipa::path(delete, path = "/v1/workflows/{workflow_name}/versions/{version}", tag = "versions",
    params(("workflow_name" = String, Path, description = "The workflow's id."), ("version" = String, Path, description = "`major.minor.patch`.")),
    responses(
        (status = 200, description = "Deleted.", body = Success),
        (status = 400, description = "`VALIDATION`: not `major.minor.patch`.", body = ErrorEnvelope),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 404, description = "`NOT_FOUND`.", body = ErrorEnvelope),
        (status = 409, description = "`CONFLICT`: the active version.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])))]
async fn delete_version(c: Ctx, name: String, v: String) -> WfResult<Response> {
    c.user()?;
    let name = path_id(&name, "workflow")?;
    strict(&v)?;
    versions::update(&c.face, &name, |set| {
        if set.get(&v).is_none() {
            return Err(not_found(&name, &v));
        }
        if set.active.as_deref() == Some(v.as_str()) {
            return Err(WfError::conflict(format!(
                "version {v} is active: activate another first"
            )));
        }
        set.versions.retain(|x| x.version != v);
        Ok(())
    })
    .await?;
    answer(StatusCode::OK, &Success::default())
}

/// Every workflow that has versions.
#[utoipa::path(get, path = "/v1/workflow-versions", tag = "versions",
    responses(
        (status = 200, description = "By name.", body = [VersionedWorkflow]),
        (status = 401, description = "`AUTH_FAILED`.", body = ErrorEnvelope),
        (status = 503, description = "Store unavailable.", body = ErrorEnvelope),
    ),
    security(("bearer_token" = [])))]
async fn versioned_workflows(c: Ctx) -> WfResult<Response> {
    c.user()?;
    let mut out = Vec::new();
    for raw in c.face.records.list_versions().await? {
        let set: VersionSet = serde_json::from_str(&raw).map_err(WfError::internal)?;
        out.push(VersionedWorkflow {
            latest_version: set.sorted().first().map(|v| v.version.clone()),
            active_version: set.active.clone(),
            total_versions: set.versions.len() as u64,
            workflow_name: set.name,
        });
    }
    answer(StatusCode::OK, &out)
}
