//! Request limits of the contract that the HTTP server does not enforce itself, and the
//! JSON answers for unknown routes and methods.
//!
//! - Request head: at most `server.max_head_bytes` (16 KiB: request line plus header
//!   lines) and `server.max_headers` (64) header fields, else 431. actix-web's parser has fixed, larger limits (a 96-header parse
//!   limit and a bigger buffer), so the contract's tighter ones are checked here.
//! - Slow heads (408) are the server's `client_request_timeout`, see `http::server`.
//! - Body limits are in `http::json`.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, Route, web};

use crate::error::ApiError;

/// The contract's head limits: the defaults of `server.max_head_bytes` and `max_headers`.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
pub const MAX_HEADERS: usize = 64;

/// The head limits of a server, as app data (from `[server]`).
#[derive(Debug, Clone, Copy)]
pub struct HeadLimits {
    pub max_bytes: usize,
    pub max_headers: usize,
}

impl Default for HeadLimits {
    fn default() -> Self {
        HeadLimits {
            max_bytes: MAX_HEAD_BYTES,
            max_headers: MAX_HEADERS,
        }
    }
}

/// The size of the head as sent: request line and `name: value\r\n` lines.
fn head_size(request: &ServiceRequest) -> usize {
    let request_line = request.method().as_str().len() + request.uri().to_string().len() + 12;
    request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum::<usize>()
        + request_line
}

/// Middleware: 431 for heads over the server's [`HeadLimits`].
pub async fn head_limits(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let limits = request
        .app_data::<web::Data<HeadLimits>>()
        .map_or_else(HeadLimits::default, |limits| *limits.get_ref());
    if request.headers().len() > limits.max_headers || head_size(&request) > limits.max_bytes {
        return Ok(request
            .error_response(ApiError::HeadTooLarge)
            .map_into_right_body());
    }
    Ok(next.call(request).await?.map_into_left_body())
}

/// The app's default service: a JSON 404.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound("Not found"))
}

/// A resource's default route: a JSON 405 naming the methods the resource has.
pub fn method_not_allowed(allow: &'static str) -> Route {
    web::route()
        .to(move || async move { Err::<HttpResponse, _>(ApiError::MethodNotAllowed { allow }) })
}
