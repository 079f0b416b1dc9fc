//! Example exchanges kept for the reports: the request and the three responses, bodies cut to
//! a few KiB, and credentials masked (`Authorization`, `Proxy-Authorization`, cookies), so
//! that a report can be shared.

use serde::Serialize;

use super::request::ShadowRequest;
use super::response::{Captured, CapturedBody};

/// How many bytes of each body an example shows.
pub const EXAMPLE_BODY_BYTES: usize = 2048;

/// Examples kept per endpoint and field.
pub const EXAMPLES_PER_FIELD: usize = 5;

#[derive(Debug, Clone, Serialize)]
pub struct ExampleRequest {
    pub method: String,
    pub path: String,
    /// `[name, value]` pairs, credentials masked.
    pub headers: Vec<[String; 2]>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExampleResponse {
    pub status: u16,
    pub headers: Vec<[String; 2]>,
    /// The body's first bytes as text (invalid UTF-8 replaced).
    pub body: String,
    /// The whole body's length.
    pub body_bytes: u64,
    /// True when `body` is not all of it.
    pub body_truncated: bool,
    /// Hex SHA-256, for bodies over the limit (compared by digest).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_sha256: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Example {
    pub request: ExampleRequest,
    pub primary: ExampleResponse,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secondary: Option<ExampleResponse>,
    pub candidate: ExampleResponse,
}

impl Example {
    pub fn new(
        request: &ShadowRequest,
        primary: &Captured,
        secondary: Option<&Captured>,
        candidate: &Captured,
    ) -> Example {
        Example {
            request: ExampleRequest {
                method: request.method.clone(),
                path: request.path.clone(),
                headers: masked(&request.headers),
            },
            primary: response(primary),
            secondary: secondary.map(response),
            candidate: response(candidate),
        }
    }
}

fn response(captured: &Captured) -> ExampleResponse {
    let kept = captured.body.kept();
    let shown = &kept[..kept.len().min(EXAMPLE_BODY_BYTES)];
    let body_sha256 = match &captured.body {
        CapturedBody::Held(_) => None,
        CapturedBody::Digest { sha256, .. } => {
            Some(sha256.iter().map(|byte| format!("{byte:02x}")).collect())
        }
    };
    ExampleResponse {
        status: captured.status,
        headers: masked(&captured.headers),
        body: String::from_utf8_lossy(shown).into_owned(),
        body_bytes: captured.body.len(),
        body_truncated: (shown.len() as u64) < captured.body.len(),
        body_sha256,
    }
}

/// Header pairs with credential values masked: `Bearer ***`, `***` for cookies.
pub fn masked(headers: &[(String, String)]) -> Vec<[String; 2]> {
    headers
        .iter()
        .map(|(name, value)| [name.clone(), mask(name, value)])
        .collect()
}

fn mask(name: &str, value: &str) -> String {
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "authorization" | "proxy-authorization" => match value.split_once(' ') {
            Some((scheme, _)) => format!("{scheme} ***"),
            None => "***".to_string(),
        },
        "cookie" | "set-cookie" => "***".to_string(),
        _ => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_masked() {
        let headers = vec![
            ("Authorization".to_string(), "Bearer abc.def".to_string()),
            ("cookie".to_string(), "session=1".to_string()),
            ("accept".to_string(), "*/*".to_string()),
        ];
        assert_eq!(
            masked(&headers),
            [
                ["Authorization".to_string(), "Bearer ***".to_string()],
                ["cookie".to_string(), "***".to_string()],
                ["accept".to_string(), "*/*".to_string()],
            ]
        );
    }
}
