//! The pure computation: request body bytes in, 200 body (or the reason for a 4xx) out.

use std::borrow::Cow;

use super::digest::{push_groups, push_stats_canonical, push_stats_response, push_u64, sha256_hex};
use super::parse::{Batch, Parser, TopLevel};
use super::stats::{Stats, stats};

pub use parsing::process::{MAX_INVALID_LISTED, MAX_RECORDS};

/// Why a body gets no 200 (after the content type and size checks of the HTTP layer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// 400 `Invalid JSON body`: not UTF-8, or not JSON.
    InvalidJson,
    /// 400 `Body must be a JSON object`.
    NotAnObject,
    /// 400 `Body must have a non-empty records array`.
    RecordsRequired,
    /// 413 `Too many records`.
    TooManyRecords,
}

impl BodyError {
    pub fn message(self) -> &'static str {
        match self {
            BodyError::InvalidJson => "Invalid JSON body",
            BodyError::NotAnObject => "Body must be a JSON object",
            BodyError::RecordsRequired => "Body must have a non-empty records array",
            BodyError::TooManyRecords => "Too many records",
        }
    }
}

/// The whole computation: request body bytes in, 200 body out.
pub fn process_body(body: &[u8]) -> Result<Vec<u8>, BodyError> {
    let text = std::str::from_utf8(body).map_err(|_| BodyError::InvalidJson)?;
    match Parser::new(text).body() {
        Err(_) => Err(BodyError::InvalidJson),
        Ok(TopLevel::NotAnObject) => Err(BodyError::NotAnObject),
        Ok(TopLevel::Object(None)) => Err(BodyError::RecordsRequired),
        Ok(TopLevel::Object(Some(batch))) => {
            if batch.records == 0 {
                Err(BodyError::RecordsRequired)
            } else if batch.records > MAX_RECORDS {
                Err(BodyError::TooManyRecords)
            } else {
                Ok(render(batch))
            }
        }
    }
}

fn render(batch: Batch<'_>) -> Vec<u8> {
    let currencies: Vec<([u8; 3], Stats)> = batch
        .by_currency
        .into_iter()
        .map(|(key, mut amounts)| (key, stats(&mut amounts)))
        .collect();
    let tags: Vec<(Cow<'_, str>, Stats)> = batch
        .by_tag
        .into_iter()
        .map(|(key, mut amounts)| (key, stats(&mut amounts)))
        .collect();
    let currency_groups = || currencies.iter().map(|(key, s)| (key.as_slice(), s));
    let tag_groups = || tags.iter().map(|(key, s)| (key.as_bytes(), s));

    let groups = currencies.len() + tags.len();
    let mut canonical = Vec::with_capacity(32 + groups * 140);
    canonical.extend_from_slice(b"{\"by_currency\":");
    push_groups(&mut canonical, currency_groups(), push_stats_canonical);
    canonical.extend_from_slice(b",\"by_tag\":");
    push_groups(&mut canonical, tag_groups(), push_stats_canonical);
    canonical.push(b'}');
    let digest = sha256_hex(&canonical);

    let mut out = Vec::with_capacity(canonical.len() + 128 + batch.invalid.len() * 48);
    out.extend_from_slice(b"{\"records\":");
    push_u64(&mut out, batch.records as u64);
    out.extend_from_slice(b",\"valid\":");
    push_u64(&mut out, (batch.records - batch.invalid_count) as u64);
    out.extend_from_slice(b",\"invalid\":[");
    for (at, (index, error)) in batch.invalid.iter().enumerate() {
        if at > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"index\":");
        push_u64(&mut out, *index as u64);
        out.extend_from_slice(b",\"error\":\"");
        out.extend_from_slice(error.message().as_bytes());
        out.extend_from_slice(b"\"}");
    }
    out.extend_from_slice(b"],\"by_currency\":");
    push_groups(&mut out, currency_groups(), push_stats_response);
    out.extend_from_slice(b",\"by_tag\":");
    push_groups(&mut out, tag_groups(), push_stats_response);
    out.extend_from_slice(b",\"digest\":\"");
    out.extend_from_slice(&digest);
    out.extend_from_slice(b"\"}");
    out
}
