//! What every HTTP face of Baton shares, so that a face is its routes and handlers only:
//!
//! - [`server`]: the HTTP/1.1 accept loop with draining shutdown;
//! - [`face`]: the [`Face`] trait and [`serve_faces`], which wraps the composed routes
//!   with the readiness gate, rejection mapping, the protocol header and request metrics;
//! - [`error`]: [`ApiError`], the one error type, which never sends internal text;
//! - [`reply`]: JSON answers, the body limit, JSON parsing;
//! - [`routes`]: route tables and the metric label of a request;
//! - [`request_id`]: `X-Request-ID` and constant-time token comparison;
//! - [`openapi`]: document modifiers the faces share.

pub mod error;
pub mod face;
pub mod openapi;
pub mod reply;
pub mod request_id;
pub mod routes;
pub mod server;

pub use error::{codes, ApiError, ErrorBody};
pub use face::{serve_faces, Face, Faces, Gate, HttpMetrics};
pub use reply::{
    body, from_value, json_body, json_response, metrics_text, ok_json, parse_json,
    raw_json_response, reply, respond,
};
pub use request_id::{request_id, stamp, tokens_match, REQUEST_ID};
pub use routes::{CatchAll, RouteTable};
pub use server::PeerAddr;
