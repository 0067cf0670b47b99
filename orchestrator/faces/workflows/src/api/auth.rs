//! `POST /v1/auth/login`: a user id and password for a signed token.

use super::schemas::{ErrorEnvelope, LoginAnswer, LoginRequest};
use super::{answer, body, ctx, json, serve, Ctx};
use crate::error::{WfError, WfResult};
use crate::rate::Limited;
use crate::FaceRef;
use baton_protocol::clock::now_ms;
use bytes::Bytes;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

pub fn routes(face: FaceRef) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("v1" / "auth" / "login")
        .and(warp::post())
        .and(body(&face))
        .and(ctx(face))
        .then(|b, c: Ctx| serve(c, move |c| login(c, b)))
}

/// Exchanges credentials for a bearer token.
#[utoipa::path(
    post,
    path = "/v1/auth/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in.", body = LoginAnswer),
        (status = 400, description = "The body is not JSON.", body = ErrorEnvelope),
        (status = 401, description = "`AUTH_FAILED`: unknown user or wrong password.", body = ErrorEnvelope),
        (status = 422, description = "The body lacks `user_id` or `password`.", body = ErrorEnvelope),
        (status = 429, description = "`RATE_LIMITED`: over the login limit for this IP (5/minute by default).", body = ErrorEnvelope),
    ),
)]
async fn login(c: Ctx, b: Result<Bytes, baton_http::ApiError>) -> WfResult<Response> {
    // Counted before the password is checked: the limit is what stops guessing.
    c.limit(Limited::Login).await?;
    let req: LoginRequest = json(b)?;
    if !c.face.cfg.credentials.check(&req.user_id, &req.password) {
        tracing::info!(user = %req.user_id, ip = %c.client_ip, "login refused");
        return Err(WfError::auth_failed("Invalid credentials"));
    }
    let ttl = c.face.cfg.token_ttl_seconds;
    let token = c.face.signer.issue(&req.user_id, now_ms() / 1000, ttl);
    tracing::info!(user = %req.user_id, ip = %c.client_ip, "login");
    answer(
        StatusCode::OK,
        &LoginAnswer {
            access_token: token,
            token_type: "bearer".into(),
            expires_in: ttl,
        },
    )
}
