//! HAR files as browsers export them (`log.entries[].request`). Headers that describe one
//! connection (`Host`, `Connection`, `Content-Length`, HTTP/2 pseudo-headers…) are dropped,
//! and so is `Accept-Encoding`, so that the bodies compared are the bodies as served.

use anyhow::{Context, Result, bail};
use base64::Engine;
use bytes::Bytes;
use serde::Deserialize;

use super::super::request::{ShadowRequest, origin_form};

#[derive(Deserialize)]
struct Har {
    log: Log,
}

#[derive(Deserialize)]
struct Log {
    entries: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    request: Request,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    method: String,
    url: String,
    #[serde(default)]
    headers: Vec<NameValue>,
    #[serde(default)]
    post_data: Option<PostData>,
}

#[derive(Deserialize)]
struct NameValue {
    name: String,
    value: String,
}

#[derive(Deserialize)]
struct PostData {
    #[serde(default)]
    text: Option<String>,
    /// Not in HAR 1.2, but written by several exporters for binary bodies.
    #[serde(default)]
    encoding: Option<String>,
}

const DROPPED_HEADERS: &[&str] = &[
    "host",
    "connection",
    "content-length",
    "transfer-encoding",
    "keep-alive",
    "accept-encoding",
    "upgrade",
    "te",
];

pub fn parse_har(bytes: &[u8]) -> Result<Vec<ShadowRequest>> {
    let har: Har = serde_json::from_slice(bytes).context("not a HAR file")?;
    if har.log.entries.is_empty() {
        bail!("the HAR file has no entries");
    }
    let mut requests = Vec::with_capacity(har.log.entries.len());
    for (index, entry) in har.log.entries.into_iter().enumerate() {
        let number = index + 1;
        let request = entry.request;
        let (host, path) = origin_form(&request.url);
        if host.is_none() {
            bail!("entry {number}: `{}` is not an absolute URL", request.url);
        }
        let mut shadow = ShadowRequest::new(&request.method, &path, number);
        shadow.host = host.map(str::to_string);
        shadow.headers = request
            .headers
            .into_iter()
            .filter(|header| {
                let name = header.name.to_ascii_lowercase();
                !name.starts_with(':') && !DROPPED_HEADERS.contains(&name.as_str())
            })
            .map(|header| (header.name, header.value))
            .collect();
        if let Some(PostData {
            text: Some(text),
            encoding,
        }) = request.post_data
        {
            shadow.body = match encoding.as_deref() {
                Some("base64") => Bytes::from(
                    base64::engine::general_purpose::STANDARD
                        .decode(text.as_bytes())
                        .with_context(|| format!("entry {number}: the base64 body is invalid"))?,
                ),
                _ => Bytes::from(text),
            };
        }
        requests.push(shadow);
    }
    Ok(requests)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_become_requests_without_connection_headers() {
        let har = br#"{"log": {"version": "1.2", "entries": [
          {"request": {"method": "GET", "url": "https://api.example.com/users/7?x=1",
            "headers": [{"name": ":authority", "value": "api.example.com"},
                        {"name": "Accept", "value": "application/json"},
                        {"name": "Accept-Encoding", "value": "gzip"}]}},
          {"request": {"method": "POST", "url": "http://h/users", "headers": [],
            "postData": {"mimeType": "application/octet-stream", "text": "AAH/", "encoding": "base64"}}}
        ]}}"#;
        let requests = parse_har(har).unwrap();
        assert_eq!(requests[0].path, "/users/7?x=1");
        assert_eq!(requests[0].host.as_deref(), Some("api.example.com"));
        assert_eq!(
            requests[0].headers,
            [("Accept".to_string(), "application/json".to_string())]
        );
        assert_eq!(requests[1].body.as_ref(), [0u8, 1, 0xff]);
    }
}
