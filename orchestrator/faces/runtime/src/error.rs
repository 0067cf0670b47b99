//! The error shape of the API faces is [`baton_http::ApiError`]; what is added here maps
//! the runtime face's authentication failures onto it.

use crate::auth::AuthError;
pub use baton_http::error::*;

/// Worker-facing auth failures are 403 (what RXON clients expect).
pub fn worker_auth(e: AuthError) -> ApiError {
    ApiError::forbidden(e.to_string())
}

/// Client-facing: a missing or unknown token is 401.
pub fn client_auth(e: AuthError) -> ApiError {
    ApiError::unauthorized(e.to_string())
}
