//! The error every handler returns, and its mapping to the contract's error body.
//!
//! Body, for every 4xx and 5xx: `{"error": "<short human message>", "request_id": "<id>"}`
//! with optional `fields` (422) and `checks` (readiness). A 5xx never carries driver, SQL
//! or stack text: the cause is logged with the request id and the client gets a short,
//! fixed message.

use std::collections::BTreeMap;
use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::db::deadline::DeadlineExceeded;
#[cfg(feature = "pipelined")]
use crate::db::pipelined::ReadError;
use crate::db::unavailable::Unavailability;

/// What went wrong, in terms a client can act on.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    /// Missing (`invalid_token == false`) or unverifiable bearer token.
    #[error("{message}")]
    Unauthorized {
        message: &'static str,
        invalid_token: bool,
    },
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(&'static str),
    #[error("Method not allowed")]
    MethodNotAllowed { allow: &'static str },
    #[error("{0}")]
    Conflict(&'static str),
    #[error("Validation failed")]
    Validation {
        fields: BTreeMap<&'static str, &'static str>,
    },
    /// The body is over its byte limit (`http::json::BodyLimit`).
    #[error("Payload too large")]
    PayloadTooLarge,
    /// A 413 for a limit other than the body's bytes, its message naming that limit
    /// (`Too many records`).
    #[error("{0}")]
    ContentTooLarge(&'static str),
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    #[error("Request header fields too large")]
    HeadTooLarge,
    /// The body did not arrive within its deadline (`http::json::BodyDeadline`).
    #[error("Request timeout")]
    RequestTimeout,
    /// A dependency is down or we are shedding load; the client may retry soon.
    #[error("{message}")]
    Unavailable {
        message: &'static str,
        retry_after_secs: u32,
    },
    /// A bug or an unexpected failure; the cause is logged, never sent.
    #[error("Internal server error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        ApiError::Internal(cause.into())
    }

    /// The 503 of a dependency that is down or a load we shed: every 503 is built here,
    /// so each carries the same `Retry-After`.
    pub fn unavailable(message: &'static str) -> Self {
        ApiError::Unavailable {
            message,
            retry_after_secs: 1,
        }
    }

    /// The database cannot answer now ([`crate::db::unavailable`]); `cause` is logged,
    /// never sent.
    pub fn database_unavailable(cause: &dyn std::error::Error) -> Self {
        tracing::warn!(error = %cause, "database unavailable");
        ApiError::unavailable("Database unavailable")
    }

    /// A 422 naming one field.
    pub fn invalid_field(field: &'static str, reason: &'static str) -> Self {
        ApiError::Validation {
            fields: BTreeMap::from([(field, reason)]),
        }
    }
}

/// The contract's error body.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a, Extra: Serialize = ()> {
    pub error: &'a str,
    pub request_id: String,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Serialize)]
struct FieldsExtra<'a> {
    fields: &'a BTreeMap<&'static str, &'static str>,
}

/// An error response with the contract's body; `extra` members follow `request_id`.
pub fn error_response(status: StatusCode, message: &str, extra: impl Serialize) -> HttpResponse {
    let body = ErrorBody {
        error: message,
        request_id: crate::http::request_id::current(),
        extra,
    };
    HttpResponse::build(status)
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static(crate::http::JSON_CONTENT_TYPE),
        ))
        .body(serde_json::to_vec(&body).unwrap_or_default())
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PayloadTooLarge | ApiError::ContentTooLarge(_) => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::HeadTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let message = self.to_string();
        let mut response = match self {
            ApiError::Validation { fields } => {
                error_response(status, &message, FieldsExtra { fields })
            }
            ApiError::Internal(cause) => {
                tracing::error!(error = %DisplayChain(cause), "internal error");
                error_response(status, &message, ())
            }
            _ => error_response(status, &message, ()),
        };
        let headers = response.headers_mut();
        match self {
            ApiError::Unauthorized { invalid_token, .. } => {
                let challenge = if *invalid_token {
                    r#"Bearer error="invalid_token""#
                } else {
                    "Bearer"
                };
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(challenge),
                );
            }
            ApiError::MethodNotAllowed { allow } => {
                headers.insert(header::ALLOW, HeaderValue::from_static(allow));
            }
            ApiError::Unavailable {
                retry_after_secs, ..
            } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            _ => {}
        }
        response
    }
}

/// An error with its causes, `a: b: c`, for logs.
pub struct DisplayChain<'a>(pub &'a anyhow::Error);

impl fmt::Display for DisplayChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

/// Database failures, whichever driver met them: unavailability is a 503 the client may
/// retry; the rest is a bug.
impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        if error.is_unavailable() {
            ApiError::database_unavailable(&error)
        } else {
            ApiError::internal(error)
        }
    }
}

#[cfg(feature = "pipelined")]
impl From<ReadError> for ApiError {
    fn from(error: ReadError) -> Self {
        if error.is_unavailable() {
            ApiError::database_unavailable(&error)
        } else {
            ApiError::internal(error)
        }
    }
}

impl From<DeadlineExceeded> for ApiError {
    fn from(error: DeadlineExceeded) -> Self {
        ApiError::database_unavailable(&error)
    }
}
