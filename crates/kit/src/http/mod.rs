//! HTTP plumbing every service shares: request ids, spans and metrics, limits, JSON
//! bodies and their budget, deadlines for slow clients, the connection cap, and the
//! server itself.

pub mod body_budget;
pub mod body_memory;
pub mod connection_cap;
pub mod head_deadline;
pub mod json;
pub mod limits;
pub mod observe;
pub mod request_duration;
pub mod request_id;
pub mod request_telemetry;
pub mod server;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, HeaderValue};

/// The content type of every JSON body we send.
pub const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// A JSON response with the contract's content type.
pub fn json_response(status: StatusCode, body: &impl serde::Serialize) -> HttpResponse {
    match serde_json::to_vec(body) {
        Ok(bytes) => rendered_json_response(status, bytes.into()),
        Err(error) => actix_web::ResponseError::error_response(&crate::ApiError::internal(error)),
    }
}

/// A response whose JSON body was rendered before (a cached representation).
pub fn rendered_json_response(status: StatusCode, body: actix_web::web::Bytes) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((CONTENT_TYPE, HeaderValue::from_static(JSON_CONTENT_TYPE)))
        .body(body)
}

/// The 503 of a server shedding load (a spent body budget, a full pool): `Overloaded`
/// with `Retry-After: 1`.
pub fn overloaded() -> crate::ApiError {
    crate::ApiError::unavailable("Overloaded")
}

/// An id in the only form the contract accepts in a path (the fuzzed `parsing` crate's).
pub use parsing::id::parse_hyphenated_uuid;
