//! The route: 503 at once when the bounded pool is full; the kit's body checks (415, 413
//! over 8 MiB); the body read within its deadline (408) and the body budget (503); then
//! a place in the pool (503 when it filled up meanwhile), then the computation. The body
//! is read before a place is taken, so a client that is slow to send it holds none.

use std::collections::BTreeMap;

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
    // A full pool sheds before the body is read (no memory spent on a body that would be
    // refused); one that fills up while the body arrives sheds after.
    if pool.is_full() {
        return Err(overloaded());
    }
    let JsonBytes(body, reservation) =
        JsonBytes::from_request(&request, &mut payload.into_inner()).await?;
    let admission = pool.try_admit().ok_or_else(overloaded)?;
    let outcome = admission.run(move || process_body(&body)).await?;
    drop(admission);
    // The body's bytes are gone with the work; give their budget back.
    drop(reservation);
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, HeaderValue::from_static(JSON_CONTENT_TYPE)))
        .body(outcome?))
}

/// The computation's refusals, as the contract answers them: 413 for too many records,
/// 400 for the rest, each with its message.
impl From<BodyError> for ApiError {
    fn from(error: BodyError) -> Self {
        match error {
            BodyError::TooManyRecords => ApiError::ContentTooLarge(error.message()),
            BodyError::InvalidJson | BodyError::NotAnObject | BodyError::RecordsRequired => {
                ApiError::BadRequest(error.message().into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use actix_web::http::StatusCode;
    use actix_web::http::header::{ALLOW, RETRY_AFTER};
    use actix_web::{App, test};

    use super::super::shedding::ProcessSettings;
    use super::*;

    /// The process route alone, with its own pool.
    macro_rules! process_app {
        ($pool:expr) => {
            test::init_service(
                App::new()
                    .app_data($pool)
                    .service(web::resource("/api/v1/process").route(web::post().to(process))),
            )
        };
    }

    async fn read(
        response: actix_web::dev::ServiceResponse,
    ) -> (StatusCode, actix_web::http::header::HeaderMap, String) {
        let status = response.status();
        let headers = response.headers().clone();
        let body = test::read_body(response).await;
        (status, headers, String::from_utf8(body.to_vec()).unwrap())
    }

    macro_rules! call {
        ($app:expr, $request:expr $(,)?) => {
            read(test::call_service($app, $request.to_request()).await)
        };
    }

    fn post(body: impl Into<Vec<u8>>) -> test::TestRequest {
        test::TestRequest::post()
            .uri("/api/v1/process")
            .insert_header((CONTENT_TYPE, "application/json"))
            .set_payload(body.into())
    }

    #[actix_web::test]
    async fn the_route_answers_as_the_contract_says() {
        let pool = web::Data::new(ProcessPool::from_settings(&ProcessSettings::default()));
        let app = test::init_service(
            App::new()
                .app_data(pool)
                .configure(crate::routes::configure),
        )
        .await;
        let (status, headers, body) = call!(&app, post(r#"{"records":[1]}"#)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers.get(CONTENT_TYPE).unwrap(), JSON_CONTENT_TYPE);
        assert!(body.starts_with(r#"{"records":1,"valid":0,"#), "{body}");

        let (status, headers, _) =
            call!(&app, test::TestRequest::get().uri("/api/v1/process")).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(headers.get(ALLOW).unwrap(), "POST");

        let (status, _, body) = call!(
            &app,
            test::TestRequest::post()
                .uri("/api/v1/process")
                .insert_header((CONTENT_TYPE, "text/plain"))
                .set_payload("{}"),
        )
        .await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");

        for (payload, status, message) in [
            ("{", StatusCode::BAD_REQUEST, "Invalid JSON body"),
            ("[]", StatusCode::BAD_REQUEST, "Body must be a JSON object"),
            (
                r#"{"records":[]}"#,
                StatusCode::BAD_REQUEST,
                "Body must have a non-empty records array",
            ),
        ] {
            let (got, _, body) = call!(&app, post(payload)).await;
            assert_eq!(got, status);
            assert!(body.starts_with(&format!(r#"{{"error":"{message}","request_id":"#)));
        }
        let many = format!(r#"{{"records":[{}1]}}"#, "1,".repeat(10_000));
        let (status, headers, body) = call!(&app, post(many)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(headers.get(CONTENT_TYPE).unwrap(), JSON_CONTENT_TYPE);
        // The contract's error body, exactly: the message and the request id, nothing else.
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        let members: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(members, ["error", "request_id"], "{body}");
        assert_eq!(body["error"], "Too many records");
        assert!(body["request_id"].is_string(), "{body}");

        // 8 MiB is allowed, one byte more is not.
        let limit = 8 * 1024 * 1024;
        let mut big = br#"{"records":[1],"pad":""#.to_vec();
        big.resize(limit - 2, b'x');
        big.extend_from_slice(b"\"}");
        let (status, _, _) = call!(&app, post(big.clone())).await;
        assert_eq!(status, StatusCode::OK);
        big.insert(1, b' ');
        let (status, _, body) = call!(&app, post(big)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(
            body.starts_with(r#"{"error":"Payload too large","#),
            "{body}"
        );
    }

    #[actix_web::test]
    async fn a_full_pool_sheds_at_once() {
        let pool = web::Data::new(ProcessPool::new(1, 1, Duration::from_secs(4)));
        let app = process_app!(pool.clone()).await;
        let held = (pool.try_admit().unwrap(), pool.try_admit().unwrap());
        let (status, headers, body) = call!(&app, post(r#"{"records":[1]}"#)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(headers.get(RETRY_AFTER).unwrap(), "1");
        assert!(body.starts_with(r#"{"error":"Overloaded","#), "{body}");
        drop(held);
        let (status, _, _) = call!(&app, post(r#"{"records":[1]}"#)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(pool.admitted(), 0);
    }

    /// The pool is each app's own state: filling one app's pool leaves another app in
    /// the same process serving (with a process-wide pool, both would shed).
    #[actix_web::test]
    async fn two_apps_in_one_process_have_their_own_pools() {
        let settings = ProcessSettings {
            slots: 1,
            queue_per_slot: 0,
            queue_wait_ms: 4000,
        };
        let full = web::Data::new(ProcessPool::from_settings(&settings));
        let free = web::Data::new(ProcessPool::from_settings(&settings));
        let full_app = process_app!(full.clone()).await;
        let free_app = process_app!(free).await;
        let _held = full.try_admit().unwrap();
        let (status, _, _) = call!(&full_app, post(r#"{"records":[1]}"#)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        let (status, _, body) = call!(&free_app, post(r#"{"records":[1]}"#)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}
