//! `x-request-id`: every response carries one.
//!
//! An incoming id of 1–64 characters of `[A-Za-z0-9._-]` is kept (so a caller can trace
//! its own id through our logs); anything else is replaced by a fresh UUID v7. The id is
//! in a task-local for the request's task (the [`RequestId`] extractor, and code that has
//! no request at hand: error bodies, see [`current`]), and on the response.

use std::future::{Ready, ready};
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::dev::Payload;
use actix_web::http::header::{HeaderName, HeaderValue, InvalidHeaderValue};
use actix_web::{FromRequest, HttpRequest};
use tokio::task::futures::TaskLocalFuture;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    static CURRENT: RequestScope;
}

/// The longest id the contract accepts.
const MAX_LEN: usize = 64;

/// The id of the request being served: at most 64 ASCII bytes, kept inline so that
/// making, copying and scoping one never allocates (a fresh UUID v7 is encoded straight
/// into the buffer, not through `to_string`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RequestId {
    len: u8,
    bytes: [u8; MAX_LEN],
}

/// What the log formatter needs about the request this task serves (see
/// `crate::telemetry::request_context`): scoped for the request's task by
/// `super::request_telemetry`.
#[derive(Debug, Clone, Copy)]
pub struct RequestScope {
    pub id: RequestId,
    pub method: &'static str,
}

impl RequestId {
    /// A UUID v7 from the clock's milliseconds and 74 random bits (RFC 9562's plain
    /// method). Not `Uuid::now_v7`: its process-wide ordering (a mutex-guarded counter,
    /// 128-bit clock arithmetic) was 0.49k of the 0.62k instructions a fresh id cost
    /// (callgrind, README), and a request id needs no order finer than the millisecond.
    /// The bits come from rand's thread-local CSPRNG, not a `getrandom` system call per id.
    fn fresh() -> Self {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let millis = since_epoch.as_secs() * 1000 + u64::from(since_epoch.subsec_millis());
        let random: [u8; 10] = rand::random();
        let mut bytes = [0; MAX_LEN];
        let len = uuid::Builder::from_unix_timestamp_millis(millis, &random)
            .into_uuid()
            .hyphenated()
            .encode_lower(&mut bytes)
            .len();
        RequestId::inline(len, bytes)
    }

    fn inline(len: usize, bytes: [u8; MAX_LEN]) -> Self {
        let len = u8::try_from(len).expect("a request id is at most 64 bytes: MAX_LEN");
        RequestId { len, bytes }
    }

    /// Keeps an acceptable incoming id, or makes a fresh one.
    pub fn from_header(value: Option<&HeaderValue>) -> Self {
        match value.map(HeaderValue::as_bytes) {
            Some(id) if is_acceptable_bytes(id) => {
                let mut bytes = [0; MAX_LEN];
                bytes[..id.len()].copy_from_slice(id);
                RequestId::inline(id.len(), bytes)
            }
            _ => RequestId::fresh(),
        }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)])
            .expect("a request id is ASCII: checked by is_acceptable or encoded from a UUID")
    }
}

impl std::fmt::Debug for RequestId {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_tuple("RequestId")
            .field(&self.as_str())
            .finish()
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// 1–64 characters of `[A-Za-z0-9._-]`, as the contract allows.
pub fn is_acceptable(id: &str) -> bool {
    is_acceptable_bytes(id.as_bytes())
}

fn is_acceptable_bytes(id: &[u8]) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
}

/// The id of the request this task serves, or a fresh one outside any request.
pub fn current() -> String {
    CURRENT
        .try_with(|scope| scope.id)
        .unwrap_or_else(|_| RequestId::fresh())
        .to_string()
}

/// The request this task serves, if any.
pub fn current_scope() -> Option<RequestScope> {
    CURRENT.try_with(|scope| *scope).ok()
}

impl FromRequest for RequestId {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    /// The id of the request this task serves; without the request telemetry
    /// middleware, the one its header gives.
    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let id = current_scope()
            .map(|scope| scope.id)
            .unwrap_or_else(|| RequestId::from_header(request.headers().get(HEADER)));
        ready(Ok(id))
    }
}

/// Runs `f` (the next service's `call`) with `scope` as the task's request.
pub(crate) fn sync_scoped<R>(scope: RequestScope, f: impl FnOnce() -> R) -> R {
    CURRENT.sync_scope(scope, f)
}

/// `future` polled, and dropped, with `scope` as the task's request: handlers' and
/// extractors' errors are rendered inside it (see `crate::error`), and so are the lines
/// logged while the request is served.
pub(crate) fn scoped<F: Future>(
    scope: RequestScope,
    future: F,
) -> TaskLocalFuture<RequestScope, F> {
    CURRENT.scope(scope, future)
}

/// The `x-request-id` of the response: the caller's own header when its id was kept
/// (sharing its bytes), else the fresh id.
pub(crate) fn header_value(
    incoming: Option<&HeaderValue>,
    id: &RequestId,
) -> Result<HeaderValue, InvalidHeaderValue> {
    match incoming {
        Some(value) if value.as_bytes() == id.as_str().as_bytes() => Ok(value.clone()),
        _ => HeaderValue::from_str(id.as_str()),
    }
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
        assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122);
        // Its timestamp is the clock's, to the millisecond.
        let (seconds, _) = parsed
            .get_timestamp()
            .expect("a v7 has a timestamp")
            .to_unix();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(now.abs_diff(seconds) <= 1, "{seconds} vs {now}");
        let other = RequestId::from_header(None);
        assert_ne!(id, other, "the random bits differ");
    }

    #[actix_web::test]
    async fn the_extractor_gives_the_scoped_id_else_the_header() {
        let request = actix_web::test::TestRequest::default()
            .insert_header((HEADER, "from-the-header"))
            .to_http_request();
        let extract = || RequestId::extract(&request).into_inner().unwrap();
        assert_eq!(extract().as_str(), "from-the-header");
        let scope = RequestScope {
            id: RequestId::from_header(None),
            method: "GET",
        };
        assert_eq!(sync_scoped(scope, extract), scope.id);
    }

    #[test]
    fn keeps_an_acceptable_incoming_id_as_is() {
        let longest = "a".repeat(64);
        let id = RequestId::from_header(Some(&HeaderValue::from_str(&longest).unwrap()));
        assert_eq!(id.as_str(), longest);
        assert_eq!(format!("{id:?}"), format!("RequestId({longest:?})"));
    }
}
