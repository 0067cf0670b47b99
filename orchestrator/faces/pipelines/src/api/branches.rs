//! Branches of a project's origin: `GET /projects/{id}/branches` →
//! `{"branches": [..]}` and `POST /projects/{id}/branches/{branch}/delete` with
//! `{"confirm": true}`. The branch is the rest of the path (it may hold `/`,
//! percent-encoded or not).
//!
//! **Git runs in the orchestrator process** ([`crate::repo`]), not as a job:
//! the seed's semantics are synchronous and about this host ("409 when the repo is
//! unavailable locally"), both calls are short (a fetch, a push), and a job would need a
//! worker that happens to hold the checkout, with a request waiting on a queue that may
//! have no such worker. The cost: `git` must be installed on the orchestrator host (503
//! naming the problem when it is not), and the host must see the checkout: the project's
//! `local_path` (set by onboarding) or a clone under `BATON_PROJECTS_ROOT`. Listing clones
//! into the projects root when there is no checkout; deleting never clones (409).
//! Each call writes an event on the project's setup run (`branches_listed`,
//! `branch_deleted`), as events belong to runs.

use super::onboarding_schemas::{BranchList, DeleteBranch};
use super::schemas::ActionAnswer;
use super::{conflict, ctx, parse_id, reply, serve, Ctx};
use crate::onboarding::ensure_setup_run;
use crate::repo::{self, RepoError};
use crate::AppRef;
use crate::Project;
use baton_http::body;
use baton_http::ApiError;
use baton_http::ErrorBody;
use bytes::Bytes;
use serde_json::json;
use warp::http::StatusCode;
use warp::path::Tail;
use warp::reply::Response;
use warp::{Filter, Rejection};

pub fn routes(app: AppRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let limit = app.cfg.max_body_bytes;
    let list = warp::path!("projects" / String / "branches")
        .and(warp::get())
        .and(ctx(app.clone()))
        .then(|id: String, c: Ctx| async move { serve(&c, list_branches(&c, &id)).await });
    let delete = warp::path("projects")
        .and(warp::path::param::<String>())
        .and(warp::path("branches"))
        .and(warp::path::tail())
        .and(warp::post())
        .and(ctx(app))
        .and(body(limit))
        .then(
            |id: String, tail: Tail, c: Ctx, b: Result<Bytes, ApiError>| async move {
                serve(&c, delete_branch(&c, &id, tail.as_str(), b)).await
            },
        );
    list.or(delete).unify()
}

/// `%XX` sequences decoded (a branch `a/b` may come as `a%2Fb`); 400 if not UTF-8.
fn percent_decode(raw: &str) -> Result<String, ApiError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| ApiError::bad_request("the branch is not UTF-8"))
}

fn git_error(e: RepoError) -> ApiError {
    match e {
        RepoError::NoGit(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            baton_http::codes::UNAVAILABLE,
            e.to_string(),
        ),
        RepoError::Invalid(m) => ApiError::bad_request(m),
        RepoError::Failed { ref stderr, .. } if stderr.contains("remote ref does not exist") => {
            ApiError::not_found(format!("no such branch on origin: {stderr}"))
        }
        other => ApiError::new(
            StatusCode::BAD_GATEWAY,
            baton_http::codes::GIT_FAILED,
            other.to_string(),
        ),
    }
}

async fn load_project(c: &Ctx, id: &str) -> Result<Project, ApiError> {
    let id = parse_id(id, "project")?;
    c.check_project(id).await?;
    Ok(c.app.records.get_project(id).await?)
}

/// The branches of the project's origin.
#[utoipa::path(
    get,
    path = "/projects/{id}/branches",
    tag = "pipelines",
    params(("id" = u64, Path, description = "Project id.")),
    responses(
        (status = 200, description = "The branches of origin (fetched now), sorted.", body = BranchList),
        (status = 400, description = "The id is not an integer.", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer or project token.", body = ErrorBody),
        (status = 404, description = "No such project.", body = ErrorBody),
        (status = 409, description = "The repository is not available on the orchestrator host and cannot be cloned.", body = ErrorBody),
        (status = 502, description = "git failed against origin.", body = ErrorBody),
        (status = 503, description = "Store unavailable, or git not installed on the orchestrator host.", body = ErrorBody),
    ),
    security(("api_token" = [])),
)]
async fn list_branches(c: &Ctx, id: &str) -> Result<Response, ApiError> {
    let project = load_project(c, id).await?;
    let root = &c.app.cfg.projects_root;
    let (checkout, cloned) = match repo::locate_or_clone(&project, root).await {
        Ok(found) => found,
        Err(e @ RepoError::NoGit(_)) => return Err(git_error(e)),
        Err(e) => {
            return Err(conflict(format!(
                "the repository of project {} is not available on the orchestrator host: {e}",
                project.id
            )))
        }
    };
    let branches = repo::remote_branches(&checkout).await.map_err(git_error)?;
    let run = ensure_setup_run(c.app.records.as_ref(), &project).await?;
    c.event(
        run.id,
        None,
        "branches_listed",
        format!("{} branch(es) on origin", branches.len()),
        Some(json!({"checkout": checkout.display().to_string(), "cloned": cloned})),
    )
    .await?;
    reply(StatusCode::OK, &BranchList { branches })
}

/// Deletes a branch on the project's origin.
#[utoipa::path(
    post,
    path = "/projects/{id}/branches/{branch}/delete",
    tag = "pipelines",
    params(
        ("id" = u64, Path, description = "Project id."),
        ("branch" = String, Path, description = "The branch; may hold `/` (the rest of the path before `/delete`)."),
    ),
    request_body = DeleteBranch,
    responses(
        (status = 200, description = "Deleted on origin.", body = ActionAnswer),
        (status = 400, description = "Bad id, body without `\"confirm\": true`, or invalid branch name.", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer or project token.", body = ErrorBody),
        (status = 404, description = "No such project, or no such branch on origin.", body = ErrorBody),
        (status = 409, description = "The repository is not available on the orchestrator host, or the branch is the project's base branch.", body = ErrorBody),
        (status = 502, description = "git failed against origin.", body = ErrorBody),
        (status = 503, description = "Store unavailable, or git not installed on the orchestrator host.", body = ErrorBody),
    ),
    security(("api_token" = [])),
)]
async fn delete_branch(
    c: &Ctx,
    id: &str,
    tail: &str,
    body: Result<Bytes, ApiError>,
) -> Result<Response, ApiError> {
    let Some(raw) = tail.strip_suffix("/delete") else {
        return Err(ApiError::not_found(format!("no branch action at `{tail}`")));
    };
    let branch = percent_decode(raw)?;
    let project = load_project(c, id).await?;
    let body = body?;
    let req: DeleteBranch = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!("invalid body: {e} (send {{\"confirm\": true}})"))
    })?;
    if !req.confirm {
        return Err(ApiError::bad_request(
            "deleting a branch needs {\"confirm\": true}",
        ));
    }
    repo::check_branch(&branch).map_err(git_error)?;
    if branch == project.base_branch {
        return Err(conflict(format!(
            "`{branch}` is the project's base branch: not deleted"
        )));
    }
    let Some(checkout) = repo::locate(&project, &c.app.cfg.projects_root) else {
        return Err(conflict(format!(
            "the repository of project {} is not available on the orchestrator host (no checkout at its local_path or under the projects root): run its onboarding first",
            project.id
        )));
    };
    repo::delete_remote_branch(&checkout, &branch)
        .await
        .map_err(git_error)?;
    let run = ensure_setup_run(c.app.records.as_ref(), &project).await?;
    c.event(
        run.id,
        None,
        "branch_deleted",
        format!("branch {branch} deleted on origin"),
        Some(json!({"branch": branch})),
    )
    .await?;
    reply(
        StatusCode::OK,
        &ActionAnswer {
            message: format!("branch {branch} deleted"),
            job: None,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branches_are_percent_decoded() {
        assert_eq!(
            percent_decode("feature%2Fx").ok().as_deref(),
            Some("feature/x")
        );
        assert_eq!(percent_decode("a/b").ok().as_deref(), Some("a/b"));
        assert_eq!(percent_decode("100%").ok().as_deref(), Some("100%"));
        assert!(percent_decode("%ff").is_err());
    }
}
