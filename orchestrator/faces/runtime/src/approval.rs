//! `POST /_public/webhooks/approval/{job_id}`: a person's decision on a job waiting in an
//! approval state.
//!
//! `/_public` carries no client token by default, so the caller must prove it may decide:
//! with the owning client's `X-Client-Token`, or with the secret Baton generated for this
//! wait (in the job view under `approval.secret` and in the `approval_requested` webhook),
//! sent as `X-Approval-Secret` or as `secret` in the body. Answers: 200
//! `{"status":"approval_received",...}`, 400 a decision the state does not offer, 401 no
//! proof at all (or an unknown client token), 403 a wrong proof, 404 unknown job, 409 the
//! job is not waiting for a decision.

use super::error::ApiError;
use super::schemas::{ApprovalAnswer, ApprovalRequest, ErrorBody};
use super::{body, from_value, ok_json, parse_json, respond, with_app, AppRef};
use baton_engine::ApprovalProof;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;
use warp::reply::Response;
use warp::{Filter, Rejection};

#[derive(Debug, Deserialize)]
struct Decision {
    decision: String,
    #[serde(default)]
    secret: Option<String>,
    #[serde(default)]
    comment: Option<Value>,
}

pub fn routes(app: AppRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let limit = app.cfg.max_body_bytes;
    warp::path!("_public" / "webhooks" / "approval" / String)
        .and(warp::post())
        .and(warp::header::optional::<String>(
            baton_protocol::HEADER_CLIENT_TOKEN,
        ))
        .and(warp::header::optional::<String>("x-approval-secret"))
        .and(body(limit))
        .and(with_app(app))
        .then(
            |job_id: String,
             token: Option<String>,
             secret: Option<String>,
             body: Result<Bytes, ApiError>,
             app: AppRef| async move {
                respond(Box::pin(decide(&app, &job_id, token, secret, body)).await)
            },
        )
}

#[utoipa::path(
    post,
    path = "/_public/webhooks/approval/{job_id}",
    tag = "public",
    params(
        ("job_id" = String, Path, description = "The job waiting for a decision."),
        ("X-Approval-Secret" = Option<String>, Header, description = "The wait's secret (job view `approval.secret`, or the `approval_requested` webhook); or send `secret` in the body, or the owner's `X-Client-Token`."),
        ("X-Client-Token" = Option<String>, Header, description = "The owning client's token: proof enough without a secret."),
    ),
    request_body = ApprovalRequest,
    responses(
        (status = 200, description = "The decision was applied; the job moved on.", body = ApprovalAnswer),
        (status = 400, description = "Malformed body, or a decision the state does not offer.", body = ErrorBody),
        (status = 401, description = "Neither a client token nor a secret, or an unknown client token.", body = ErrorBody),
        (status = 403, description = "A wrong secret, or another client's token.", body = ErrorBody),
        (status = 404, description = "No such job.", body = ErrorBody),
        (status = 409, description = "The job is not waiting for a decision.", body = ErrorBody),
        (status = 503, description = "Store unavailable.", body = ErrorBody),
    ),
)]
pub(super) async fn decide(
    app: &AppRef,
    job_id: &str,
    token: Option<String>,
    header_secret: Option<String>,
    body: Result<Bytes, ApiError>,
) -> Result<Response, ApiError> {
    let value = parse_json(&body?)?;
    let req: Decision = from_value(&value, "decision body")?;
    if req.decision.trim().is_empty() {
        return Err(ApiError::bad_request("`decision` must not be empty"));
    }
    let client = match token.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => Some(
            app.auth
                .client(Some(t))
                .map(str::to_string)
                .map_err(super::error::client_auth)?,
        ),
        None => None,
    };
    let secret = header_secret.filter(|s| !s.is_empty()).or(req.secret);
    if client.is_none() && secret.is_none() {
        return Err(super::error::client_auth(
            crate::auth::AuthError::MissingToken("X-Client-Token or X-Approval-Secret"),
        ));
    }
    let proof = ApprovalProof { client, secret };
    let next = app
        .engine
        .approve(job_id, &req.decision, &proof, req.comment)
        .await?;
    ok_json(&ApprovalAnswer {
        status: "approval_received".into(),
        job_id: job_id.to_string(),
        decision: req.decision,
        next_state: next,
    })
}
