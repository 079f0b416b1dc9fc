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
pub mod request_id;
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
    crate::ApiError::Unavailable {
        message: "Overloaded",
        retry_after_secs: 1,
    }
}

/// Parses an id in the only form the contract accepts in a path: hyphenated
/// 8-4-4-4-12 hex digits, either case (no braces, `urn:uuid:`, or bare hex).
pub fn parse_hyphenated_uuid(text: &str) -> Option<uuid::Uuid> {
    // At 36 bytes, `uuid` accepts only the hyphenated form (braced is 38, URN 45,
    // simple 32), checking hyphen positions and digits in one pass.
    if text.len() != 36 {
        return None;
    }
    uuid::Uuid::try_parse(text).ok()
}

#[cfg(test)]
mod tests {
    use super::parse_hyphenated_uuid;

    #[test]
    fn accepts_only_the_hyphenated_form() {
        assert!(parse_hyphenated_uuid("0192f0c1-8a2b-7c3d-8e4f-000000000001").is_some());
        assert!(parse_hyphenated_uuid("0192F0C1-8A2B-7C3D-8E4F-00000000000A").is_some());
        for bad in [
            "",
            "0192f0c18a2b7c3d8e4f000000000001",
            "{0192f0c1-8a2b-7c3d-8e4f-000000000001}",
            "urn:uuid:0192f0c1-8a2b-7c3d-8e4f-000000000001",
            "0192f0c1-8a2b-7c3d-8e4f-00000000000g",
            "0192f0c1-8a2b-7c3d-8e4f-0000000000011",
            "0192f0c1+8a2b-7c3d-8e4f-000000000001",
            "../../etc/passwd",
        ] {
            assert!(
                parse_hyphenated_uuid(bad).is_none(),
                "{bad:?} must be rejected"
            );
        }
    }
}
