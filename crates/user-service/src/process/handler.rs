//! The route: shed load first (before reading the body), then the kit's body checks
//! (415, 413 over 8 MiB), then the computation on the bounded pool.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, HeaderValue};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use utoipa::ToSchema;

use kit::ApiError;
use kit::http::JSON_CONTENT_TYPE;
use kit::http::json::JsonBytes;

use super::shedding::{ProcessPool, overloaded};
use super::{BodyError, process_body};

/// The request body (documentation only: the body is read by `process::parse`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ProcessRequest {
    /// 1 to 10,000 records; an invalid record is listed, not a failure.
    #[schema(min_items = 1, max_items = 10000)]
    records: Vec<ProcessRecord>,
}

/// A payment record; other members are ignored.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ProcessRecord {
    /// Hyphenated UUID, either case.
    #[schema(format = Uuid)]
    user_id: String,
    /// A whole number of cents, 0..=1,000,000,000.
    #[schema(minimum = 0, maximum = 1000000000)]
    amount_cents: u64,
    /// Three ASCII capital letters.
    #[schema(pattern = "^[A-Z]{3}$")]
    currency: String,
    /// 0–8 tags.
    #[schema(max_items = 8, inline)]
    tags: Vec<ProcessTag>,
    /// RFC 3339 date-time (strict profile: real date, no leap second, `T` and `Z`).
    #[schema(format = DateTime)]
    ts: String,
}

/// A tag.
#[derive(ToSchema)]
#[schema(pattern = "^[a-z0-9_-]{1,32}$")]
#[allow(dead_code)]
pub struct ProcessTag(String);

/// Stats over the valid records of a group, in cents.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ProcessStats {
    count: u64,
    sum: u64,
    min: u64,
    max: u64,
    /// floor(sum / count).
    mean: u64,
    /// Nearest rank: the ((50 × count + 99) div 100)-th smallest.
    p50: u64,
    p95: u64,
    p99: u64,
}

/// An invalid record: its index and the first failing field.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct InvalidRecord {
    index: u64,
    /// `invalid record`, `invalid user_id`, `invalid amount_cents`, `invalid currency`,
    /// `invalid tags` or `invalid ts`.
    error: String,
}

/// The result; keys in this order, groups sorted by key.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ProcessResponse {
    /// Records received.
    records: u64,
    /// Valid records.
    valid: u64,
    /// The first 100 invalid records, in index order.
    #[schema(max_items = 100)]
    invalid: Vec<InvalidRecord>,
    by_currency: BTreeMap<String, ProcessStats>,
    /// A record counts once per distinct tag.
    by_tag: BTreeMap<String, ProcessStats>,
    /// Lowercase hex SHA-256 of the canonical JSON of `{"by_currency","by_tag"}`.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    digest: String,
}

#[utoipa::path(
    post, path = "/api/v1/process", tag = "process",
    request_body = ProcessRequest,
    responses(
        (status = 200, description = "Validated and aggregated", body = ProcessResponse),
        (status = 400, description = "Not JSON, not an object, or no non-empty records array", body = crate::routes::openapi::ErrorSchema),
        (status = 413, description = "Body over 8 MiB, or more than 10,000 records", body = crate::routes::openapi::ErrorSchema),
        (status = 415, description = "Not application/json", body = crate::routes::openapi::ErrorSchema),
        (status = 503, description = "Overloaded; `Retry-After` says when to retry", body = crate::routes::openapi::ErrorSchema),
    )
)]
pub async fn process(
    request: HttpRequest,
    payload: web::Payload,
    pool: web::Data<ProcessPool>,
) -> Result<HttpResponse, ApiError> {
    let admission = pool.try_admit().ok_or_else(overloaded)?;
    let JsonBytes(body) = JsonBytes::from_request(&request, &mut payload.into_inner()).await?;
    let outcome = admission.run(move || process_body(&body)).await?;
    drop(admission);
    Ok(match outcome {
        Ok(body) => HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, HeaderValue::from_static(JSON_CONTENT_TYPE)))
            .body(body),
        Err(BodyError::TooManyRecords) => kit::error::error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            BodyError::TooManyRecords.message(),
            (),
        ),
        Err(error) => return Err(ApiError::BadRequest(error.message().into())),
    })
}
