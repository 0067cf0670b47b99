//! Building answers and reading bodies: JSON replies, the body limit (413 past it,
//! announced or actual), JSON parsing with messages that say what is wrong.

use crate::error::ApiError;
use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use serde_json::Value;
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection};

/// Maps a handler result to a response.
pub fn respond(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(ApiError::into_response)
}

/// A JSON answer: a handler's documented type (or a `Value` where the body is free-form).
pub fn json_response(status: StatusCode, body: &impl serde::Serialize) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    raw_json_response(status, bytes)
}

pub fn raw_json_response(status: StatusCode, body: impl Into<Bytes>) -> Response {
    let mut resp = Response::new(body.into().into());
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

pub fn ok_json(body: &impl serde::Serialize) -> Result<Response, ApiError> {
    Ok(json_response(StatusCode::OK, body))
}

/// A typed answer with a status: the type a handler documents is the one it sends.
pub fn reply(status: StatusCode, body: &impl serde::Serialize) -> Result<Response, ApiError> {
    let bytes = serde_json::to_vec(body).map_err(ApiError::internal)?;
    Ok(raw_json_response(status, bytes))
}

/// The request body, refused with 413 past `limit` bytes (announced or actual).
pub fn body(
    limit: usize,
) -> impl Filter<Extract = (Result<Bytes, ApiError>,), Error = Rejection> + Clone {
    warp::header::optional::<u64>("content-length")
        .and(warp::body::stream())
        .then(move |announced: Option<u64>, stream| async move {
            if announced.is_some_and(|n| n > limit as u64) {
                return Err(ApiError::too_large(limit));
            }
            collect_limited(stream, limit).await
        })
}

async fn collect_limited<S, B>(stream: S, limit: usize) -> Result<Bytes, ApiError>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let mut stream = std::pin::pin!(stream);
    let mut buf = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let mut chunk =
            chunk.map_err(|e| ApiError::bad_request(format!("cannot read body: {e}")))?;
        if buf.len() + chunk.remaining() > limit {
            return Err(ApiError::too_large(limit));
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            buf.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
    }
    Ok(buf.freeze())
}

/// Parses a JSON body with a message that says what is wrong.
pub fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("malformed JSON body: {e}")))
}

/// Deserializes a JSON value into a wire type, naming the offending field.
pub fn from_value<T: serde::de::DeserializeOwned>(
    value: &Value,
    what: &str,
) -> Result<T, ApiError> {
    T::deserialize(value).map_err(|e| ApiError::bad_request(format!("invalid {what}: {e}")))
}

/// A JSON body into `T`, 400 naming what is wrong.
pub fn json_body<T: serde::de::DeserializeOwned>(
    body: Result<Bytes, ApiError>,
    what: &str,
) -> Result<T, ApiError> {
    let body = body?;
    serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("invalid {what}: {e}")))
}

/// The Prometheus text exposition of a registry.
pub fn metrics_text(registry: &prometheus::Registry) -> Response {
    use prometheus::Encoder;
    let mut buf = Vec::new();
    let _ = prometheus::TextEncoder::new().encode(&registry.gather(), &mut buf);
    let mut resp = Response::new(buf.into());
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}
