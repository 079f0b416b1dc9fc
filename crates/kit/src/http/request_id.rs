//! `x-request-id`: every response carries one.
//!
//! An incoming id of 1–64 characters of `[A-Za-z0-9._-]` is kept (so a caller can trace
//! its own id through our logs); anything else is replaced by a fresh UUID v7. The id is
//! in the request's extensions ([`RequestId`] extractor), in a task-local for code that
//! has no request at hand (error bodies, see [`current`]), and on the response.

use std::future::{Ready, ready};

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest};

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    static CURRENT: RequestId;
}

/// The id of the request being served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    fn fresh() -> Self {
        RequestId(uuid::Uuid::now_v7().to_string())
    }

    /// Keeps an acceptable incoming id, or makes a fresh one.
    pub fn from_header(value: Option<&HeaderValue>) -> Self {
        match value.and_then(|value| value.to_str().ok()) {
            Some(id) if is_acceptable(id) => RequestId(id.to_owned()),
            _ => RequestId::fresh(),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// 1–64 characters of `[A-Za-z0-9._-]`, as the contract allows.
pub fn is_acceptable(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
}

/// The id of the request this task serves, or a fresh one outside any request.
pub fn current() -> String {
    CURRENT
        .try_with(|id| id.0.clone())
        .unwrap_or_else(|_| RequestId::fresh().0)
}

impl FromRequest for RequestId {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let id = request
            .extensions()
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId::from_header(request.headers().get(HEADER)));
        ready(Ok(id))
    }
}

/// Middleware (outermost): assigns the id, scopes it for the request's task and puts it
/// on the response, whatever produced that response.
pub async fn middleware(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = RequestId::from_header(request.headers().get(HEADER));
    request.extensions_mut().insert(id.clone());
    let header = HeaderValue::from_str(id.as_str());
    // Handlers' and extractors' errors arrive here as responses already (actix renders
    // them inside this scope); only a middleware returning `Err` escapes, and none of ours
    // does. (Keeping a clone of the request to render it here would break routing, which
    // needs the request uniquely owned.)
    let mut response = CURRENT.scope(id, next.call(request)).await?;
    if let Ok(value) = header {
        response.headers_mut().insert(HEADER, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_contract_alphabet_and_length() {
        assert!(is_acceptable("abc-123_X.y"));
        assert!(is_acceptable(&"a".repeat(64)));
        assert!(!is_acceptable(&"a".repeat(65)));
        assert!(!is_acceptable(""));
        assert!(!is_acceptable("has space"));
        assert!(!is_acceptable("semi;colon"));
        assert!(!is_acceptable("ünïcode"));
    }

    #[test]
    fn replaces_unacceptable_ids_with_uuid_v7() {
        let id = RequestId::from_header(Some(&HeaderValue::from_static("bad id!")));
        let parsed = uuid::Uuid::parse_str(id.as_str()).expect("a fresh id is a UUID");
        assert_eq!(parsed.get_version_num(), 7);
    }
}
