//! JSON request bodies, checked in the contract's order: content type (415), size (413),
//! syntax (400), shape (400 unless an object). Field validation (422) is the handler's.
//!
//! The size limit is 64 KiB unless a route sets [`BodyLimit`] in its app data
//! (`/api/v1/process` allows 8 MiB).

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use serde_json::{Map, Value};

use crate::error::ApiError;

/// The default JSON body limit of the contract.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// A route's body limit in bytes, as app data.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// A request body that is a JSON object.
#[derive(Debug)]
pub struct JsonObject(pub Map<String, Value>);

/// A request body that is valid JSON of any shape, read within the limit.
#[derive(Debug)]
pub struct JsonBytes(pub web::Bytes);

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

/// Reads the body after checking content type and declared size.
async fn read_limited(request: &HttpRequest, mut payload: Payload) -> Result<web::Bytes, ApiError> {
    if !is_json(request) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let limit = request
        .app_data::<BodyLimit>()
        .or_else(|| {
            request
                .app_data::<web::Data<BodyLimit>>()
                .map(|data| data.get_ref())
        })
        .map_or(DEFAULT_BODY_LIMIT, |limit| limit.0);
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(ApiError::PayloadTooLarge);
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(1024).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|error| ApiError::BadRequest(format!("Could not read the body: {error}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

impl FromRequest for JsonBytes {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let request = request.clone();
        let payload = payload.take();
        Box::pin(async move { read_limited(&request, payload).await.map(JsonBytes) })
    }
}

impl FromRequest for JsonObject {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let request = request.clone();
        let payload = payload.take();
        Box::pin(async move {
            let bytes = read_limited(&request, payload).await?;
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(object)) => Ok(JsonObject(object)),
                Ok(_) => Err(ApiError::BadRequest("Body must be a JSON object".into())),
                Err(_) => Err(ApiError::BadRequest("Invalid JSON body".into())),
            }
        })
    }
}
