//! JSON request bodies, checked in the contract's order: content type (415), size (413),
//! syntax (400), shape (400 unless an object). Field validation (422) is the handler's.
//!
//! The size limit is `server.body_limit_bytes` (64 KiB), set by the server as app data,
//! unless a route sets its own [`BodyLimit`] (the user-service's `/api/v1/process`
//! allows 8 MiB).
//!
//! A body has a deadline ([`BodyDeadline`], 408 past it): the byte at offset `n` must
//! arrive within `grace + n / min_bytes_per_sec` of the head, so a small body gets the
//! grace period and a large one a minimum rate. What is buffered counts against the
//! server's [`BodyBudget`] (503 past it).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use serde_json::{Map, Value};

use crate::error::ApiError;

use super::body_budget::{BodyBudget, BodyReservation};

/// The contract's JSON body limit: the default of `server.body_limit_bytes`.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// A route's body limit in bytes, as app data.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// How long a body may take, as app data (`server.body_timeout_ms`,
/// `server.body_min_bytes_per_sec`).
#[derive(Debug, Clone, Copy)]
pub struct BodyDeadline {
    pub grace: Duration,
    pub min_bytes_per_sec: u64,
}

impl Default for BodyDeadline {
    fn default() -> Self {
        BodyDeadline {
            grace: Duration::from_secs(5),
            min_bytes_per_sec: 256 * 1024,
        }
    }
}

impl BodyDeadline {
    /// When the byte after the first `received` must have arrived, counted from `start`.
    pub fn next_byte_due(
        &self,
        start: tokio::time::Instant,
        received: usize,
    ) -> tokio::time::Instant {
        let rate = self.min_bytes_per_sec.max(1) as f64;
        start + self.grace + Duration::from_secs_f64(received as f64 / rate)
    }
}

/// A request body that is a JSON object.
#[derive(Debug)]
pub struct JsonObject(pub Map<String, Value>);

/// A request body read within the limit, with its place in the body budget (keep it as
/// long as the bytes, or what is made of them, are held).
#[derive(Debug)]
pub struct JsonBytes(pub web::Bytes, pub BodyReservation);

fn is_json(request: &HttpRequest) -> bool {
    let Some(value) = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
}

fn body_limit(request: &HttpRequest) -> usize {
    request
        .app_data::<BodyLimit>()
        .or_else(|| {
            request
                .app_data::<web::Data<BodyLimit>>()
                .map(|data| data.get_ref())
        })
        .map_or(DEFAULT_BODY_LIMIT, |limit| limit.0)
}

fn reservation(request: &HttpRequest) -> BodyReservation {
    match request.app_data::<web::Data<BodyBudget>>() {
        Some(budget) => BodyBudget::reservation(&Arc::clone(budget)),
        None => BodyReservation::unbounded(),
    }
}

/// Reads the body after checking content type and declared size, within its deadline
/// and the budget. Capacity is reserved before it is allocated, so what the budget
/// counts is what the body holds.
async fn read_limited(
    request: &HttpRequest,
    mut payload: Payload,
) -> Result<(web::Bytes, BodyReservation), ApiError> {
    let start = tokio::time::Instant::now();
    if !is_json(request) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let limit = body_limit(request);
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(ApiError::PayloadTooLarge);
    }
    let deadline = request
        .app_data::<web::Data<BodyDeadline>>()
        .map_or_else(BodyDeadline::default, |deadline| *deadline.get_ref());
    // A body never outgrows its `Content-Length` (actix frames it by that length), so
    // the buffer (and its reservation) never doubles past it.
    let ceiling = declared.unwrap_or(limit);
    let mut reservation = reservation(request);
    // A `Vec`, not `BytesMut`: `reserve_exact` allocates what was reserved, no more.
    let mut body: Vec<u8> = Vec::new();
    loop {
        let due = deadline.next_byte_due(start, body.len());
        let chunk = match tokio::time::timeout_at(due, payload.next()).await {
            Err(_) => return Err(ApiError::RequestTimeout),
            Ok(None) => break,
            Ok(Some(chunk)) => chunk.map_err(|error| {
                ApiError::BadRequest(format!("Could not read the body: {error}"))
            })?,
        };
        let needed = body.len() + chunk.len();
        if needed > limit {
            return Err(ApiError::PayloadTooLarge);
        }
        if needed > body.capacity() {
            // Doubling from what has arrived (not from the announced length, which a
            // slow client would hold reserved); never past the limit or the length.
            let target = needed
                .max(body.capacity() * 2)
                .max(8 * 1024)
                .min(ceiling)
                .max(needed);
            reservation.grow(target - body.capacity())?;
            body.reserve_exact(target - body.len());
        }
        body.extend_from_slice(&chunk);
    }
    Ok((web::Bytes::from(body), reservation))
}

impl FromRequest for JsonBytes {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let request = request.clone();
        let payload = payload.take();
        Box::pin(async move {
            let (bytes, reservation) = read_limited(&request, payload).await?;
            Ok(JsonBytes(bytes, reservation))
        })
    }
}

impl FromRequest for JsonObject {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let request = request.clone();
        let payload = payload.take();
        Box::pin(async move {
            let (bytes, _reservation) = read_limited(&request, payload).await?;
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(object)) => Ok(JsonObject(object)),
                Ok(_) => Err(ApiError::BadRequest("Body must be a JSON object".into())),
                Err(_) => Err(ApiError::BadRequest("Invalid JSON body".into())),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use actix_web::error::PayloadError;
    use actix_web::test::TestRequest;
    use futures_util::stream;

    use super::*;

    #[actix_web::test]
    async fn a_body_of_known_length_reserves_its_length_and_no_more() {
        let budget = BodyBudget::new(1024 * 1024);
        let length = 100_000;
        let request = TestRequest::post()
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .insert_header((header::CONTENT_LENGTH, length))
            .app_data(web::Data::from(Arc::clone(&budget)))
            .app_data(BodyLimit(512 * 1024))
            .to_http_request();
        // In chunks, as a socket gives it: doubling from 8 KiB would reserve 128 KiB.
        let chunks = (0..length / 10_000)
            .map(|_| Ok::<_, PayloadError>(web::Bytes::from(vec![b' '; 10_000])));
        let payload = Payload::from(Box::pin(stream::iter(chunks))
            as Pin<Box<dyn futures_util::Stream<Item = Result<web::Bytes, PayloadError>>>>);
        let (body, reservation) = read_limited(&request, payload)
            .await
            .expect("a body within the limit and the budget");
        assert_eq!(body.len(), length);
        assert_eq!(budget.used(), length, "reserved: the body's length");
        drop(reservation);
        assert_eq!(budget.used(), 0, "given back with the reservation");
    }
}
